//! Three MutualNet iterations of the tiny MobileNetV2 on every backend
//! against PyTorch (`tests/fixtures/models_tiny_mutualnet_steps.safetensors`,
//! float64): the loss of each of the four passes and every parameter after
//! each SGD step (Nesterov 0.9, weight decay on conv/linear weights only).
//! Each step after the first starts from the fixture's stored state
//! (parameters and momentum, float32): the tiny network's trajectory is too
//! chaotic for float32 runs to follow float64 over several steps (see
//! `mutualnet_steps` in tools/reference_models.py).
//! Prints max errors per tensor and the peak device memory of a step.
//! Also: the steps without restoring state (the SGD launch clears the
//! gradients, so `mutualnet_step` skips its `zero_grad`) give the same bits
//! as with a `zero_grad` before every step.

mod common;

use slimmable::autograd::{DeviceBuffer, Memory, Tensor};
use slimmable::backend::{Backend, Precision};
use slimmable::models::{self, Architecture, Checkpoint};
use slimmable::nn::{Pass, Sgd, SlimNet, mutualnet_step};
use slimmable::tensor_io::{self, HostTensor};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

const ATOL: f64 = 2e-5;
const RTOL: f64 = 2e-4;

/// Max absolute error, and whether each element is within
/// `ATOL·max|torch| + RTOL·|torch|`.
fn check(what: &str, ours: &[f32], torch: &[f32]) -> bool {
    assert_eq!(ours.len(), torch.len(), "{what}");
    let scale = torch.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    let (mut max_err, mut ok) = (0f64, true);
    for (&a, &b) in ours.iter().zip(torch) {
        let err = (a as f64 - b as f64).abs();
        max_err = max_err.max(err);
        ok &= err <= ATOL * scale + RTOL * (b as f64).abs();
    }
    println!(
        "  {} {what}: max error {max_err:.3e}",
        if ok { "OK " } else { "BAD" }
    );
    ok
}

/// The fixtures: the tiny MobileNetV2, its checkpoint, the three steps'
/// inputs and results, and the distinct width×resolution configs (one set
/// of BN statistics each).
struct Fixture {
    arch: Architecture,
    tensors: BTreeMap<String, HostTensor>,
    fx: HashMap<String, HostTensor>,
    passes: Vec<Vec<(f64, usize)>>,
    lrs: Vec<f32>,
    momentum: f32,
    weight_decay: f32,
    configs: Vec<(f64, usize)>,
}

impl Fixture {
    fn load() -> Fixture {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let ckpt_path = dir.join("models_tiny_mobilenet_v2.safetensors");
        let steps_path = dir.join("models_tiny_mutualnet_steps.safetensors");
        let meta = tensor_io::read_metadata(&ckpt_path).unwrap();
        let config: serde_json::Value = serde_json::from_str(&meta["model_config"]).unwrap();
        let arch = models::build(&meta["model"], &config).unwrap();
        let tensors = Checkpoint::load(&ckpt_path, &arch).unwrap().tensors;
        let fx = tensor_io::read(&steps_path).unwrap();
        let smeta = tensor_io::read_metadata(&steps_path).unwrap();
        let passes: Vec<Vec<(f64, usize)>> = serde_json::from_str(&smeta["passes"]).unwrap();
        let mut configs: Vec<(f64, usize)> = passes.iter().flatten().copied().collect();
        configs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        configs.dedup();
        Fixture {
            arch,
            tensors,
            passes,
            lrs: serde_json::from_str(&smeta["lrs"]).unwrap(),
            momentum: smeta["momentum"].parse().unwrap(),
            weight_decay: smeta["weight_decay"].parse().unwrap(),
            configs,
            fx,
        }
    }

    /// The checkpoint with the steps' starting parameters ("start/...").
    fn start_tensors(&self) -> BTreeMap<String, HostTensor> {
        let mut tensors = self.tensors.clone();
        for (k, t) in &self.fx {
            if let Some(name) = k.strip_prefix("start/") {
                tensors.insert(name.to_string(), t.clone());
            }
        }
        tensors
    }

    /// Step `i`'s inputs as device tensors.
    fn inputs(&self, be: &dyn Backend, memory: &Rc<Memory>, i: usize) -> Vec<Tensor> {
        self.passes[i]
            .iter()
            .map(|&(_, r)| {
                let x = &self.fx[&format!("x/{i}/{r}")];
                Tensor::from_host(be, memory, &x.data, x.dims4("x").unwrap()).unwrap()
            })
            .collect()
    }

    /// Step `i`'s passes on `inputs`: the full network's, then the others.
    fn step_passes<'a>(&self, i: usize, inputs: &'a [Tensor]) -> (Pass<'a>, Vec<Pass<'a>>) {
        let mut pass = self.passes[i].iter().zip(inputs).map(|(c, x)| Pass {
            width: c.0,
            config: self.configs.iter().position(|k| k == c).unwrap(),
            x,
        });
        let full = pass.next().unwrap();
        (full, pass.collect())
    }

    /// Runs step `i` (its labels, inputs and passes) at `lr`, the peak of
    /// `memory` counted from after the inputs' upload; the passes' losses.
    fn run_step(
        &self,
        be: &dyn Backend,
        memory: &Rc<Memory>,
        net: &SlimNet,
        opt: &mut Sgd,
        i: usize,
        lr: f32,
    ) -> Vec<Rc<DeviceBuffer>> {
        let labels = be.upload(&self.fx[&format!("labels/{i}")].data).unwrap();
        let inputs = self.inputs(be, memory, i);
        let (full, subs) = self.step_passes(i, &inputs);
        memory.reset_peak();
        mutualnet_step(
            be,
            memory,
            net,
            opt,
            lr,
            Precision::F32,
            full,
            &labels,
            &subs,
        )
        .unwrap()
    }
}

#[test]
fn three_mutualnet_iterations_match_pytorch_on_every_backend() {
    let f = Fixture::load();
    let (arch, fx, configs) = (&f.arch, &f.fx, &f.configs);
    let tensors = f.start_tensors();

    for be in common::backends() {
        let be = be.as_ref();
        println!("backend {}: {}", be.kind(), be.device_name());
        let net = SlimNet::new(be, arch, &tensors, configs.len()).unwrap();
        let mut opt = Sgd::new(be, &net, f.momentum, f.weight_decay, true).unwrap();
        let memory = Memory::new();
        let mut all_ok = true;
        for (i, (step, &lr)) in f.passes.iter().zip(&f.lrs).enumerate() {
            println!(" iteration {i}: {step:?}, lr {lr}");
            if i > 0 {
                let (mut momentum, prev) = (Vec::new(), i - 1);
                for (spec, p) in net.params() {
                    let name = &spec.name;
                    be.write(&p.value, &fx[&format!("param/{prev}/{name}")].data)
                        .unwrap();
                    momentum.push(fx[&format!("momentum/{prev}/{name}")].data.as_slice());
                }
                opt.restore(be, &momentum, i as u64).unwrap();
            }
            let losses = f.run_step(be, &memory, &net, &mut opt, i, lr);
            println!(
                "  peak device memory of the step: {} KiB of activations, gradients and inputs (+ {} KiB parameters, gradients, BN statistics, {} KiB momentum)",
                memory.peak_bytes() / 1024,
                net.state_bytes() / 1024,
                opt.state_bytes() / 1024
            );
            for (j, l) in losses.iter().enumerate() {
                let ours = be.download(l).unwrap();
                all_ok &= check(
                    &format!("loss of pass {j}"),
                    &ours,
                    &fx[&format!("loss/{i}/{j}")].data,
                );
            }
            for (spec, p) in net.params() {
                all_ok &= check(
                    &format!("{} after step {i}", spec.name),
                    &be.download(&p.value).unwrap(),
                    &fx[&format!("param/{i}/{}", spec.name)].data,
                );
            }
        }
        assert!(all_ok, "{}: the MutualNet iterations differ", be.kind());
    }
}

#[test]
fn skipping_zero_grad_after_a_step_matches_clearing_it() {
    let f = Fixture::load();

    for be in common::backends() {
        let be = be.as_ref();
        // Run the fixture's three steps from the same start: `force` marks
        // the gradients as written before each step, so `mutualnet_step`
        // zeroes them itself; otherwise it relies on the SGD launch.
        let run = |force: bool| -> Vec<Vec<f32>> {
            let net = SlimNet::new(be, &f.arch, &f.tensors, f.configs.len()).unwrap();
            let mut opt = Sgd::new(be, &net, 0.9, 5e-4, true).unwrap();
            let memory = Memory::new();
            for (i, &lr) in f.lrs.iter().enumerate() {
                if force {
                    opt.grads_written();
                } else if i > 0 {
                    assert!(opt.left_grads_zeroed(), "the step did not record the clear");
                }
                f.run_step(be, &memory, &net, &mut opt, i, lr);
            }
            let mut out: Vec<Vec<f32>> = net
                .params()
                .iter()
                .map(|(_, p)| be.download(&p.value).unwrap())
                .collect();
            // The last step left every gradient at zero.
            for (spec, p) in net.params() {
                let g = be.download(&p.grad).unwrap();
                assert!(
                    g.iter().all(|&v| v == 0.0),
                    "{}: gradient not cleared",
                    spec.name
                );
            }
            out.extend(opt.buffers().iter().map(|b| be.download(b).unwrap()));
            out
        };
        let (skipped, zeroed, again) = (run(false), run(true), run(true));
        assert_eq!(skipped.len(), zeroed.len());
        let same_bits =
            |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        // A backend whose weight gradients add split-K partials with atomics
        // (CUDA) does not repeat its own bits from run to run; there the
        // skipped clear must stay within rounding of the cleared run. A
        // gradient left uncleared would add a whole step's gradient again,
        // far outside this bound.
        let reproducible = zeroed.iter().zip(&again).all(|(a, b)| same_bits(a, b));
        for (k, (a, b)) in skipped.iter().zip(&zeroed).enumerate() {
            if reproducible {
                assert!(
                    same_bits(a, b),
                    "{}: tensor {k} differs when zero_grad is skipped",
                    be.kind()
                );
            } else {
                let (atol, rtol) = (1e-5f32, 1e-3f32);
                let worst = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs() - rtol * y.abs())
                    .fold(f32::NEG_INFINITY, f32::max);
                assert!(
                    worst <= atol,
                    "{}: tensor {k} moves by {worst:e} beyond rtol {rtol:e} when zero_grad is skipped (bound {atol:e})",
                    be.kind()
                );
            }
        }
        if reproducible {
            println!("{}: {} tensors bit-identical", be.kind(), skipped.len());
        } else {
            println!(
                "{}: not bit-reproducible run to run; {} tensors within 1e-5 + 1e-3·|ref| of the cleared run",
                be.kind(),
                skipped.len()
            );
        }
    }
}
