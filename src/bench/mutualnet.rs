//! Bench: one MutualNet iteration of the ImageNet-form slimmable
//! MobileNetV2 (issue 7's throughput target): full width at 224 px with
//! cross-entropy, then width 0.7 and two random widths in [0.7, 1.0] at
//! random resolutions of 224/192/160/128, each distilled from the full
//! network, four backward passes and one SGD step (Nesterov, weight decay),
//! TF32 convolutions, batch 128, synthetic inputs made once per resolution
//! (so the input pipeline is not timed, as in `tools/reference_trainer.py
//! --imagenet`). Off a GPU: batch 2 at 64/56/48/40 px (the case name says so).
//!
//! FLOPs counted: 3 × 2 × MACs of each pass's forward (forward, dgrad,
//! wgrad), summed over the four passes of the sampled configs.

use super::{BenchRow, Peak};
use crate::autograd::{Memory, Tensor};
use crate::backend::Backend;
use crate::error::Result;
use crate::models::{self, Checkpoint, MobileNetV2Config, cost};
use crate::nn::{Pass, Sgd, SlimNet, mutualnet_step};
use crate::rng::Rng;
use crate::train::{TrainConfig, step::sample_configs};
use crate::view::View;

/// Timed repetitions for a requested count: at most 10 (an iteration takes
/// about 0.1 s on an H200, seconds off a GPU).
pub fn timed_runs(iters: usize) -> usize {
    iters.min(10)
}

pub fn run(backend: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let (batch, resolutions) = if backend.on_gpu() {
        (128, vec![224, 192, 160, 128])
    } else {
        (2, vec![64, 56, 48, 40])
    };
    let cfg = TrainConfig {
        model: models::mobilenet_v2::MODEL_NAME.into(),
        model_config: serde_json::to_value(MobileNetV2Config::imagenet()).unwrap_or_default(),
        width_min: 0.7,
        width_max: 1.0,
        resolutions: resolutions.clone(),
        weight_decay: 4e-5,
        ..TrainConfig::fmnist_full()
    };
    let arch = cfg.architecture()?;
    let ckpt = Checkpoint::initial(&arch, &[1.0], &resolutions, 0)?;
    let net = SlimNet::new(backend, &arch, &ckpt.tensors, 1)?;
    let mut opt = Sgd::new(
        backend,
        &net,
        cfg.momentum as f32,
        cfg.weight_decay as f32,
        cfg.nesterov,
    )?;
    let mut rng = Rng::new(7);
    let inputs: Vec<(usize, View, crate::backend::Buffer)> = resolutions
        .iter()
        .map(|&r| {
            let view = View::contiguous([batch, 3, r, r]);
            let buf = backend.upload(&rng.vec_f32(view.numel()))?;
            Ok((r, view, buf))
        })
        .collect::<Result<_>>()?;
    let labels: Vec<f32> = (0..batch).map(|_| rng.below(1000) as f32).collect();
    let labels = backend.upload(&labels)?;
    let held = Memory::new();
    let tensors: Vec<(usize, Tensor)> = inputs
        .into_iter()
        .map(|(r, view, buf)| (r, Tensor::constant(&held.adopt(buf), view)))
        .collect();
    let input = |r: usize| &tensors.iter().find(|(res, _)| *res == r).expect("packed").1;
    let mut flops = Vec::new();
    let mut peak = 0usize;
    let ms = backend.time_ms(iters, &mut || {
        let configs = sample_configs(&cfg, &mut rng);
        let mut f = 0.0;
        for &(w, r) in &configs {
            f += 6.0 * batch as f64 * cost::cost(&arch, w, r)?.macs as f64;
        }
        flops.push(f);
        let memory = Memory::new();
        let full = Pass {
            width: configs[0].0,
            config: 0,
            x: input(configs[0].1),
        };
        let subs: Vec<Pass> = configs[1..]
            .iter()
            .map(|&(w, r)| Pass {
                width: w,
                config: 0,
                x: input(r),
            })
            .collect();
        mutualnet_step(
            backend,
            &memory,
            &net,
            &mut opt,
            0.1,
            cfg.precision(),
            full,
            &labels,
            &subs,
        )?;
        peak = peak.max(memory.peak_bytes());
        Ok(())
    })?;
    let mean_flops = flops.iter().sum::<f64>() / flops.len().max(1) as f64;
    println!(
        "mutualnet: {batch} images per iteration, {:.1} images/s, peak per-iteration device memory {:.2} GiB (tape) + {:.2} GiB parameters and optimizer",
        batch as f64 / ms * 1e3,
        peak as f64 / (1u64 << 30) as f64,
        (net.state_bytes() + opt.state_bytes()) as f64 / (1u64 << 30) as f64
    );
    Ok(vec![BenchRow {
        name: format!(
            "mutualnet/mobilenet_v2_imagenet_b{batch}_r{}",
            resolutions[0]
        ),
        ms,
        bytes: None,
        flops: Some(mean_flops),
        peak: Peak::Tf32,
    }])
}
