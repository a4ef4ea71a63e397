// slimmable: softmax cross-entropy and distillation KL (WGSL twin of
// kernels/loss.cu): one workgroup of 256 for the whole batch, each
// invocation owns rows r ≡ index (mod 256); the loss is summed in workgroup
// memory (f32: WGSL has no f64). Not multiplied by T².
// Bindings: 0 params, 1 logits (student), 2 labels, 3 teacher, 4 loss, 5 dlogits.

@group(0) @binding(0) var<uniform> lp: LossParams;
@group(0) @binding(1) var<storage, read> loss_logits: array<f32>;
@group(0) @binding(2) var<storage, read> loss_labels: array<f32>;
@group(0) @binding(3) var<storage, read> loss_teacher: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss_dlogits: array<f32>;

var<workgroup> loss_sh: array<f32, 256>;

fn loss_index(v: ViewParams, r: u32, k: u32) -> u32 {
    return v.offset + r * v.strides.x + k * v.strides.y;
}

fn loss_reduce_store(t: u32, v: f32, n: u32) {
    loss_sh[t] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (t < s) { loss_sh[t] += loss_sh[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) { loss_out[lp.loss_offset] = loss_sh[0] / f32(n); }
}

@compute @workgroup_size(256)
fn slimmable_cross_entropy_f32(@builtin(local_invocation_index) t: u32) {
    let n = lp.logits.dims.x;
    let k = lp.logits.dims.y;
    let eps = lp.smoothing;
    let inv_n = 1.0 / f32(n);
    let nan = bitcast<f32>(0x7fc00000u);
    var total = 0.0;
    for (var r = t; r < n; r += 256u) {
        var m = loss_logits[loss_index(lp.logits, r, 0u)];
        for (var j = 1u; j < k; j++) { m = max(m, loss_logits[loss_index(lp.logits, r, j)]); }
        var se = 0.0;
        for (var j = 0u; j < k; j++) { se += exp(loss_logits[loss_index(lp.logits, r, j)] - m); }
        let lse = m + log(se);
        let label = loss_labels[lp.labels_offset + r];
        let valid = label >= 0.0 && label < f32(k) && floor(label) == label;
        var lab = 0u;
        if (valid) { lab = u32(label); }
        var row = 0.0;
        for (var j = 0u; j < k; j++) {
            let z = loss_logits[loss_index(lp.logits, r, j)];
            let q = select(0.0, 1.0 - eps, valid && j == lab) + eps / f32(k);
            row += q * (lse - z);
            loss_dlogits[loss_index(lp.dlogits, r, j)] = select(nan, (exp(z - lse) - q) * inv_n, valid);
        }
        total += select(nan, row, valid);
    }
    loss_reduce_store(t, total, n);
}

@compute @workgroup_size(256)
fn slimmable_kl_div_f32(@builtin(local_invocation_index) t: u32) {
    let n = lp.logits.dims.x;
    let k = lp.logits.dims.y;
    let inv_t = 1.0 / lp.temperature;
    let scale = inv_t / f32(n);
    var total = 0.0;
    for (var r = t; r < n; r += 256u) {
        var ms = loss_logits[loss_index(lp.logits, r, 0u)] * inv_t;
        var mt = loss_teacher[loss_index(lp.teacher, r, 0u)] * inv_t;
        for (var j = 1u; j < k; j++) {
            ms = max(ms, loss_logits[loss_index(lp.logits, r, j)] * inv_t);
            mt = max(mt, loss_teacher[loss_index(lp.teacher, r, j)] * inv_t);
        }
        var ss = 0.0;
        var st = 0.0;
        for (var j = 0u; j < k; j++) {
            ss += exp(loss_logits[loss_index(lp.logits, r, j)] * inv_t - ms);
            st += exp(loss_teacher[loss_index(lp.teacher, r, j)] * inv_t - mt);
        }
        let lse_s = ms + log(ss);
        let lse_t = mt + log(st);
        var row = 0.0;
        for (var j = 0u; j < k; j++) {
            let ls = loss_logits[loss_index(lp.logits, r, j)] * inv_t - lse_s;
            let lt = loss_teacher[loss_index(lp.teacher, r, j)] * inv_t - lse_t;
            let pt = exp(lt);
            if (pt > 0.0) { row += pt * (lt - ls); }
            loss_dlogits[loss_index(lp.dlogits, r, j)] = (exp(ls) - pt) * scale;
        }
        total += row;
    }
    loss_reduce_store(t, total, n);
}
