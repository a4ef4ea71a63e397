//! A checkpoint written by `slimmable train` (the main job's) loads into the
//! PyTorch reference model (tools/reference_interop.py, strict names) and
//! both give the same eval-mode logits at two width × resolution configs,
//! each with its own recalibrated BN statistics.

mod common;

use slimmable::autograd::{Memory, Tape, Tensor};
use slimmable::backend::Precision;
use slimmable::models::{self, Checkpoint};
use slimmable::nn::{BnMode, RunConfig, SlimNet};
use slimmable::tensor_io;
use std::path::PathBuf;

#[test]
fn our_checkpoint_gives_pytorchs_logits() {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = PathBuf::from(root).join("tests/fixtures");
    let ckpt_path = dir.join("interop_ours_checkpoint.safetensors");
    let torch_path = dir.join("interop_torch_logits.safetensors");
    let meta = tensor_io::read_metadata(&ckpt_path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&meta["model_config"]).unwrap();
    let arch = models::build(&meta["model"], &config).unwrap();
    let ckpt = Checkpoint::load(&ckpt_path, &arch).unwrap();
    let torch = tensor_io::read(&torch_path).unwrap();
    let configs: Vec<(f64, usize)> =
        serde_json::from_str(&tensor_io::read_metadata(&torch_path).unwrap()["configs"]).unwrap();
    for be in common::backends() {
        let be = be.as_ref();
        let net = SlimNet::new(be, &arch, &ckpt.tensors, configs.len()).unwrap();
        for (slot, &(w, r)) in configs.iter().enumerate() {
            let key = format!("{w:?}x{r}");
            let stats = ckpt
                .bn_stats
                .iter()
                .find(|s| s.key() == key)
                .expect("config stats");
            for bn in net.batch_norms() {
                let s = &stats.running[&bn.spec.name];
                bn.set_running_stats(be, slot, &s.mean, &s.var).unwrap();
            }
            let memory = Memory::new();
            let xh = &torch[&format!("x/{key}")];
            let x = Tensor::from_host(be, &memory, &xh.data, xh.dims4("x").unwrap()).unwrap();
            let mut tape = Tape::no_grad(be, &memory);
            let run = RunConfig {
                width: w,
                config: slot,
                mode: BnMode::Eval,
                precision: Precision::F32,
            };
            let ours = net
                .forward(&mut tape, &x, &run)
                .unwrap()
                .to_host(be)
                .unwrap();
            let want = &torch[&format!("logits/{key}")].data;
            assert_eq!(ours.len(), want.len());
            let err = ours
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs() as f64)
                .fold(0.0, f64::max);
            println!("{} {key}: max abs error {err:.2e}", be.kind());
            for (a, b) in ours.iter().zip(want) {
                assert!(
                    ((a - b).abs() as f64) <= 1e-4 + 1e-4 * b.abs() as f64,
                    "{} {key}: {a} vs PyTorch {b}",
                    be.kind()
                );
            }
        }
    }
}
