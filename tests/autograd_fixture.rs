//! The tiny slimmable MobileNetV2 through the autograd and `nn` on every
//! backend, against PyTorch (float64) in `tests/fixtures/models_tiny_*`:
//! training-mode logits, loss, every parameter gradient and the BN running
//! statistics after the pass, at 1.0×/28 and 0.375×/20; eval-mode logits
//! with the checkpoint's per-config statistics; and gradient accumulation
//! over the two configs equal to the sum of PyTorch's gradients; and a tiny
//! slimmable ResNet's logits, loss and gradients
//! (`models_tiny_resnet_io.safetensors`). Prints the max error per tensor,
//! as llm.c's test_gpt2 does.

mod common;

use slimmable::autograd::{Memory, Tape, Tensor};
use slimmable::backend::{Backend, Precision};
use slimmable::models::{self, Architecture, Checkpoint};
use slimmable::nn::{BnMode, RunConfig, SlimNet};
use slimmable::tensor_io::{self, HostTensor};
use std::collections::HashMap;
use std::path::PathBuf;

/// `|ours − torch| ≤ ATOL·scale + RTOL·|torch|`, `scale` the tensor's
/// largest magnitude (gradients span many orders across layers).
const ATOL: f64 = 2e-5;
const RTOL: f64 = 2e-4;

struct Fixture {
    arch: Architecture,
    ckpt: Checkpoint,
    io: HashMap<String, HostTensor>,
    configs: Vec<(f64, usize)>,
}

fn fixture() -> Fixture {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let ckpt_path = dir.join("models_tiny_mobilenet_v2.safetensors");
    let io_path = dir.join("models_tiny_mobilenet_v2_io.safetensors");
    let meta = tensor_io::read_metadata(&ckpt_path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&meta["model_config"]).unwrap();
    let arch = models::build(&meta["model"], &config).unwrap();
    let ckpt = Checkpoint::load(&ckpt_path, &arch).unwrap();
    let configs =
        serde_json::from_str(&tensor_io::read_metadata(&io_path).unwrap()["configs"]).unwrap();
    Fixture {
        arch,
        ckpt,
        io: tensor_io::read(&io_path).unwrap(),
        configs,
    }
}

fn key(w: f64, r: usize) -> String {
    format!("{w:?}x{r}")
}

/// Max absolute error, and whether every element is within tolerance.
fn compare(ours: &[f32], torch: &[f32]) -> (f64, bool) {
    assert_eq!(ours.len(), torch.len());
    let scale = torch.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    let mut max_err = 0f64;
    let mut ok = true;
    for (&a, &b) in ours.iter().zip(torch) {
        let err = (a as f64 - b as f64).abs();
        max_err = max_err.max(err);
        ok &= err <= ATOL * scale.max(1e-3) + RTOL * (b as f64).abs();
    }
    (max_err, ok)
}

/// Checks and prints one tensor; returns whether it is within tolerance.
fn check(what: &str, ours: &[f32], torch: &[f32]) -> bool {
    let (err, ok) = compare(ours, torch);
    println!(
        "  {} {what}: max error {err:.3e}",
        if ok { "OK " } else { "BAD" }
    );
    ok
}

/// One training-mode forward and backward; returns logits and loss.
fn train_pass(
    be: &dyn Backend,
    net: &SlimNet,
    f: &Fixture,
    labels: &slimmable::Buffer,
    config: usize,
) -> (Vec<f32>, f32) {
    let (w, r) = f.configs[config];
    let memory = Memory::new();
    let x = &f.io[&format!("x/{r}")];
    let x = Tensor::from_host(be, &memory, &x.data, x.dims4("x").unwrap()).unwrap();
    let mut tape = Tape::new(be, &memory);
    let run = RunConfig {
        width: w,
        config,
        mode: BnMode::train(),
        precision: Precision::F32,
    };
    let logits = net.forward(&mut tape, &x, &run).unwrap();
    let loss = tape.cross_entropy(&logits, labels).unwrap();
    let logits_host = logits.to_host(be).unwrap();
    drop(logits);
    tape.backward(&loss).unwrap();
    let value = loss.read(be).unwrap();
    drop((loss, x));
    assert_eq!(
        memory.live_bytes(),
        0,
        "the tape freed every buffer it made"
    );
    (logits_host, value)
}

#[test]
fn tiny_mobilenet_v2_matches_pytorch_on_every_backend() {
    let f = fixture();
    let labels_host = &f.io["labels"].data;
    for be in common::backends() {
        let be = be.as_ref();
        println!("backend {}: {}", be.kind(), be.device_name());
        let labels = be.upload(labels_host).unwrap();
        let mut all_ok = true;
        for (ci, &(w, r)) in f.configs.iter().enumerate() {
            let k = key(w, r);
            println!(" config {k} (train mode)");
            let net = SlimNet::new(be, &f.arch, &f.ckpt.tensors, f.configs.len()).unwrap();
            let (logits, loss) = train_pass(be, &net, &f, &labels, ci);
            all_ok &= check("logits", &logits, &f.io[&format!("logits/{k}")].data);
            all_ok &= check("loss", &[loss], &f.io[&format!("loss/{k}")].data);
            for (spec, p) in net.params() {
                let ours = be.download(&p.grad).unwrap();
                all_ok &= check(
                    &format!("grad {}", spec.name),
                    &ours,
                    &f.io[&format!("grad/{k}/{}", spec.name)].data,
                );
            }
            for bn in net.batch_norms() {
                let (mean, var) = bn.running_stats(be, ci).unwrap();
                let name = &bn.spec.name;
                all_ok &= check(
                    &format!("{name}.running_mean"),
                    &mean,
                    &f.io[&format!("after/{k}/{name}.running_mean")].data,
                );
                all_ok &= check(
                    &format!("{name}.running_var"),
                    &var,
                    &f.io[&format!("after/{k}/{name}.running_var")].data,
                );
            }

            println!(" config {k} (eval mode, recalibrated statistics)");
            let stats = f.ckpt.bn_stats.iter().find(|s| s.key() == k).unwrap();
            for bn in net.batch_norms() {
                let s = &stats.running[&bn.spec.name];
                bn.set_running_stats(be, ci, &s.mean, &s.var).unwrap();
            }
            let memory = Memory::new();
            let xh = &f.io[&format!("x/{r}")];
            let x = Tensor::from_host(be, &memory, &xh.data, xh.dims4("x").unwrap()).unwrap();
            let mut tape = Tape::no_grad(be, &memory);
            let run = RunConfig {
                width: w,
                config: ci,
                mode: BnMode::Eval,
                precision: Precision::F32,
            };
            let logits = net.forward(&mut tape, &x, &run).unwrap();
            assert!(tape.is_empty(), "an eval pass records nothing");
            let loss = tape.cross_entropy(&logits, &labels).unwrap();
            let err = tape
                .backward(&loss)
                .expect_err("no backward without a record");
            assert!(err.to_string().contains("not recorded"), "{err}");
            all_ok &= check(
                "logits",
                &logits.to_host(be).unwrap(),
                &f.io[&format!("logits_recalibrated/{k}")].data,
            );
        }
        assert!(all_ok, "{}: some tensors differ from PyTorch", be.kind());
    }
}

#[test]
fn gradients_accumulate_over_two_configs_to_the_sum() {
    let f = fixture();
    for be in common::backends() {
        let be = be.as_ref();
        println!("backend {}", be.kind());
        let labels = be.upload(&f.io["labels"].data).unwrap();
        let net = SlimNet::new(be, &f.arch, &f.ckpt.tensors, f.configs.len()).unwrap();
        for ci in 0..f.configs.len() {
            train_pass(be, &net, &f, &labels, ci);
        }
        let mut all_ok = true;
        for (spec, p) in net.params() {
            let sum: Vec<f32> = f
                .configs
                .iter()
                .map(|&(w, r)| &f.io[&format!("grad/{}/{}", key(w, r), spec.name)].data)
                .fold(vec![0.0; p.len()], |acc, g| {
                    acc.iter().zip(g).map(|(a, b)| a + b).collect()
                });
            all_ok &= check(
                &format!("grad {} (sum of two configs)", spec.name),
                &be.download(&p.grad).unwrap(),
                &sum,
            );
        }
        assert!(all_ok, "{}: accumulated gradients differ", be.kind());
        // The backward passes left the parameters alone.
        for (name, t) in net.parameters_to_host(be).unwrap() {
            assert_eq!(t, f.ckpt.tensors[&name], "{name} changed");
        }
        net.zero_grad(be).unwrap();
        let cleared = net
            .params()
            .iter()
            .all(|(_, p)| be.download(&p.grad).unwrap().iter().all(|&g| g == 0.0));
        assert!(cleared, "zero_grad clears every gradient");
    }
}

/// The tiny ResNet: identity shortcuts, a 1×1-conv shortcut, and ReLU after
/// the residual add (not fused into a batch norm).
#[test]
fn tiny_resnet_matches_pytorch_on_every_backend() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models_tiny_resnet_io.safetensors");
    let io = tensor_io::read(&path).unwrap();
    let meta = tensor_io::read_metadata(&path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&meta["model_config"]).unwrap();
    let arch = models::build(&meta["model"], &config).unwrap();
    let configs: Vec<(f64, usize)> = serde_json::from_str(&meta["configs"]).unwrap();
    let tensors = io
        .iter()
        .filter_map(|(k, t)| Some((k.strip_prefix("init/")?.to_string(), t.clone())))
        .collect();
    for be in common::backends() {
        let be = be.as_ref();
        println!("backend {}: {}", be.kind(), be.device_name());
        let labels = be.upload(&io["labels"].data).unwrap();
        let mut all_ok = true;
        for (ci, &(w, r)) in configs.iter().enumerate() {
            let k = key(w, r);
            println!(" config {k} (train mode)");
            let net = SlimNet::new(be, &arch, &tensors, configs.len()).unwrap();
            let memory = Memory::new();
            let xh = &io[&format!("x/{r}")];
            let x = Tensor::from_host(be, &memory, &xh.data, xh.dims4("x").unwrap()).unwrap();
            let mut tape = Tape::new(be, &memory);
            let run = RunConfig {
                width: w,
                config: ci,
                mode: BnMode::train(),
                precision: Precision::F32,
            };
            let logits = net.forward(&mut tape, &x, &run).unwrap();
            let loss = tape.cross_entropy(&logits, &labels).unwrap();
            all_ok &= check(
                "logits",
                &logits.to_host(be).unwrap(),
                &io[&format!("logits/{k}")].data,
            );
            tape.backward(&loss).unwrap();
            all_ok &= check(
                "loss",
                &[loss.read(be).unwrap()],
                &io[&format!("loss/{k}")].data,
            );
            for (spec, p) in net.params() {
                all_ok &= check(
                    &format!("grad {}", spec.name),
                    &be.download(&p.grad).unwrap(),
                    &io[&format!("grad/{k}/{}", spec.name)].data,
                );
            }
        }
        assert!(
            all_ok,
            "{}: some ResNet tensors differ from PyTorch",
            be.kind()
        );
    }
}
