//! Finite-difference check of the autograd and slimmable layers on the CPU
//! reference: a slim stack conv (with bias) → BN → ReLU6 → residual block
//! (depthwise conv → BN → ReLU6 → 1×1 conv → BN, plus identity) → global
//! pool → linear → loss, at width 0.5 of 16 channels, with cross-entropy
//! and with the distillation KL against a fixed teacher. Every active
//! parameter element's gradient is compared with central differences of the
//! loss; every element outside the active blocks must stay exactly zero.
//!
//! Storage is f32 (the CPU reference accumulates in f64), so the step is
//! 1e-3 (1e-4 on a retry) and the tolerance f32-sized. Where a ReLU6 kink
//! lies within the step, the central difference mixes two slopes: the
//! gradient must then match the one-sided difference on its own side
//! (counted, at most 1 in 4).

mod common;

use slimmable::autograd::{Loss, Memory, Tape, Tensor};
use slimmable::backend::{Backend, Precision, cpu::CpuBackend};
use slimmable::models::{
    Architecture, BatchNorm, Channels, Conv, Layer, Linear, init::initial_tensors,
};
use slimmable::nn::{BnMode, RunConfig, SlimNet};
use slimmable::ops::StatsUpdate;
use slimmable::rng::Rng;

const WIDTH: f64 = 0.5;
const STEP: f32 = 1e-3;

fn stack() -> Architecture {
    let c = Channels::sliced(16);
    let conv = |name: &str, i, o, kernel, depthwise, bias| {
        Layer::Conv(Conv {
            name: name.into(),
            in_channels: i,
            out_channels: o,
            kernel,
            stride: 1,
            padding: kernel / 2,
            depthwise,
            bias,
        })
    };
    let bn = |name: &str| {
        Layer::BatchNorm(BatchNorm {
            name: name.into(),
            channels: c,
        })
    };
    let relu6 = || Layer::Activation(slimmable::models::Activation::Relu6);
    Architecture {
        model: "gradcheck_stack".into(),
        config: serde_json::json!({}),
        image_channels: 2,
        classes: 5,
        layers: vec![
            conv("stem", Channels::Fixed(2), c, 3, false, true),
            bn("stem_bn"),
            relu6(),
            Layer::Residual {
                body: vec![
                    conv("dw", c, c, 3, true, false),
                    bn("dw_bn"),
                    relu6(),
                    conv("pw", c, c, 1, false, false),
                    bn("pw_bn"),
                ],
                shortcut: vec![],
            },
            Layer::GlobalAvgPool,
            Layer::Linear(Linear {
                name: "fc".into(),
                in_features: c,
                out_features: Channels::Fixed(5),
                bias: true,
            }),
        ],
    }
}

enum Objective {
    CrossEntropy,
    Distill,
}

struct Problem {
    be: CpuBackend,
    net: SlimNet,
    x: Vec<f32>,
    dims: [usize; 4],
    labels: slimmable::Buffer,
    teacher: Vec<f32>,
}

impl Problem {
    fn loss(&self, tape: &mut Tape, memory: &std::rc::Rc<Memory>, obj: &Objective) -> Loss {
        let x = Tensor::from_host(&self.be, memory, &self.x, self.dims).unwrap();
        let run = RunConfig {
            width: WIDTH,
            config: 0,
            mode: BnMode::Train(StatsUpdate::None),
            precision: Precision::F32,
        };
        let logits = self.net.forward(tape, &x, &run).unwrap();
        match obj {
            Objective::CrossEntropy => tape.cross_entropy(&logits, &self.labels).unwrap(),
            Objective::Distill => {
                let t = Tensor::from_host(&self.be, memory, &self.teacher, logits.dims()).unwrap();
                tape.kl_div(&logits, &t, 1.0).unwrap()
            }
        }
    }

    fn value(&self, obj: &Objective) -> f64 {
        let memory = Memory::new();
        let mut tape = Tape::no_grad(&self.be, &memory);
        self.loss(&mut tape, &memory, obj).read(&self.be).unwrap() as f64
    }
}

#[test]
fn slim_stack_gradients_match_finite_differences() {
    let seed = common::seed();
    let mut rng = Rng::new(seed);
    let arch = stack();
    let mut tensors = initial_tensors(&arch, seed).unwrap();
    // γ, β, biases away from 1/0 so their gradients are not special cases.
    for (name, t) in tensors.iter_mut() {
        if name.ends_with(".bias") || name.ends_with("_bn.weight") {
            let base = if name.ends_with("_bn.weight") {
                1.0
            } else {
                0.0
            };
            t.data
                .iter_mut()
                .for_each(|v| *v = base + rng.uniform_f32(-0.3, 0.3));
        }
        if name == "fc.weight" {
            t.data
                .iter_mut()
                .for_each(|v| *v = rng.uniform_f32(-0.5, 0.5));
        }
    }
    let be = CpuBackend::new();
    let net = SlimNet::new(&be, &arch, &tensors, 1).unwrap();
    let dims = [3, 2, 5, 5];
    let x = (0..dims.iter().product())
        .map(|_| rng.uniform_f32(-2.0, 2.0))
        .collect();
    let labels = be.upload(&[0.0, 3.0, 4.0]).unwrap();
    let teacher = (0..15).map(|_| rng.uniform_f32(-2.0, 2.0)).collect();
    let p = Problem {
        be,
        net,
        x,
        dims,
        labels,
        teacher,
    };

    for (what, obj) in [
        ("cross-entropy", Objective::CrossEntropy),
        ("KL", Objective::Distill),
    ] {
        p.net.zero_grad(&p.be).unwrap();
        let memory = Memory::new();
        let mut tape = Tape::new(&p.be, &memory);
        let loss = p.loss(&mut tape, &memory, &obj);
        tape.backward(&loss).unwrap();
        let (mut checked, mut one_sided) = (0, 0);
        for (spec, param) in p.net.params() {
            let grad = p.be.download(&param.grad).unwrap();
            let mut value = p.be.download(&param.value).unwrap();
            let (full, block) = (spec.full_shape(), spec.shape_at(WIDTH));
            for i in 0..value.len() {
                let inside = {
                    let mut j = i;
                    (0..full.len()).rev().all(|d| {
                        let ok = j % full[d] < block[d];
                        j /= full[d];
                        ok
                    })
                };
                if !inside {
                    assert_eq!(grad[i], 0.0, "{what}: {}[{i}] outside the block", spec.name);
                    continue;
                }
                let at = |v: &mut Vec<f32>, x: f32| {
                    v[i] = x;
                    p.be.write(&param.value, v).unwrap();
                    p.value(&obj)
                };
                let orig = value[i];
                let g = grad[i] as f64;
                let tol = 2e-3 + 2e-2 * g.abs();
                // Central, else one-sided (a ReLU6 kink inside (x − h, x + h):
                // the gradient is the slope on x's side); kinks on both sides
                // happen, so a failure retries with a 10× smaller step.
                let mut verdict = Err(String::new());
                for step in [STEP, STEP / 10.0] {
                    let up = at(&mut value, orig + step);
                    let down = at(&mut value, orig - step);
                    let mid = at(&mut value, orig);
                    let h = step as f64;
                    let (fwd, bwd) = ((up - mid) / h, (mid - down) / h);
                    let fd = (up - down) / (2.0 * h);
                    let kink = (fwd - bwd).abs() > tol;
                    verdict = if (fd - g).abs() <= tol {
                        Ok(false)
                    } else if kink && ((fwd - g).abs() <= tol || (bwd - g).abs() <= tol) {
                        Ok(true)
                    } else {
                        Err(format!(
                            "{what}: {}[{i}]: finite differences {fd} (one-sided {fwd}, {bwd}, step {step}) vs autograd {g} (seed {seed})",
                            spec.name
                        ))
                    };
                    if verdict.is_ok() {
                        break;
                    }
                }
                one_sided += verdict.unwrap_or_else(|e| panic!("{e}")) as usize;
                checked += 1;
            }
        }
        println!(
            "{what}: {checked} gradient elements match ({one_sided} of them one-sided, next to a kink)"
        );
        assert!(
            one_sided * 4 <= checked,
            "{what}: too many kinks ({one_sided})"
        );
    }
}
