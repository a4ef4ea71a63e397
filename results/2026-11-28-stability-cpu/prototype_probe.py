import sys, torch, torch.nn.functional as F, math
sys.path.insert(0, '/work/main/tools')
import reference_models as rm, reference_trainer as rt
torch.set_num_threads(int(__import__('os').environ.get('T','2')))
dev='cpu'
train_x, train_y, _, _ = rt.load('/usr/share/datasets/fashion-mnist', dev)
def run(name, mode='mutualnet', lr=0.1, iters=12, warmup=0, total=5616, scale=1.0, wd=5e-4, momentum=0.9, zero_last_bn=False, seed=0, clip=None):
    torch.manual_seed(seed)
    net = rm.build("slimmable_mobilenet_v2", rm.mobilenet_v2_small_image(1, 10)).train()
    rm.reset_parameters(net)
    if zero_last_bn:
        for m in net.modules():
            if isinstance(m, rm.InvertedResidual) and m.residual:
                torch.nn.init.zeros_(m.body[-1].weight)
    opt = rt.make_optimizer(net, lr, wd, momentum, True)
    order = rt.shuffled(train_x.shape[0], seed, 0) + rt.shuffled(train_x.shape[0], seed, 1)
    ces=[]; gn=[]
    for it in range(iters):
        idx = order[it*128:(it+1)*128]
        rng = rt.SplitMix64(seed ^ ((it * 0x2545F4914F6CDD1D) & rt.MASK))
        configs = rt.sample_configs(rng, mode)
        x = rt.augmented_batch(train_x, idx, rng, dev)
        y = train_y[torch.tensor(idx)]
        cache={}
        def bf(r):
            if r not in cache: cache[r]=rm.resize(x,r)
            return cache[r]
        cur=rt.learning_rate(lr, it, total, warmup)
        for g in opt.param_groups: g['lr']=cur
        opt.zero_grad(set_to_none=True)
        (w0,r0),subs=configs[0],configs[1:]
        rm.set_width(net,w0); logits=net(bf(r0)); ce=F.cross_entropy(logits,y); (ce*scale).backward()
        t=logits.detach()
        for w,r in subs:
            rm.set_width(net,w); o=net(bf(r))
            (scale*F.kl_div(F.log_softmax(o,1),F.softmax(t,1),reduction='batchmean')).backward()
        tot = math.sqrt(sum(float((p.grad**2).sum()) for p in net.parameters() if p.grad is not None))
        lin = float(net.classifier[0].weight.grad.norm())
        if clip: torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step(); ces.append(round(ce.item(),2)); gn.append((round(tot,2), round(lin,2)))
        if it%10==9: print(name, it+1, 'lr %.4f'%cur, 'ce(last10)', ces[-10:], 'stem|w| %.2f'%float(net.features[0][0].weight.norm()), 'grad', gn[-1], flush=True)
    print(name, ces, flush=True); print('   grad norm (all, linear):', gn[:8], flush=True)
for spec in sys.argv[1:]:
    kw = eval('dict(%s)' % spec)
    run(spec, **kw)
