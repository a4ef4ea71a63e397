//! One MutualNet iteration (DESIGN.md, "The trainer"): the full width at the
//! full resolution with cross-entropy; the smallest width and two random
//! widths, each at a random resolution from the set, distilled from the full
//! network's detached logits (KL, batchmean, T = 1); the four backward
//! passes add into the same full-size gradients; then one SGD step per
//! parameter. Losses stay on the device until someone reads them.

use super::config::TrainConfig;
use crate::autograd::{Loss, Memory, Tape, Tensor};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::nn::{BnMode, RunConfig, SlimNet};
use crate::ops::{self, SgdConfig};
use crate::rng::Rng;
use std::rc::Rc;

/// The sub-networks of one iteration: `(width, resolution)`, teacher first.
pub fn sample_configs(cfg: &TrainConfig, rng: &mut Rng) -> Vec<(f64, usize)> {
    let full = cfg.resolutions[0];
    match cfg.mode.as_str() {
        "alone" => vec![(cfg.width_max, full)],
        mode => {
            let res = |rng: &mut Rng| {
                if mode == "usnet" {
                    full
                } else {
                    cfg.resolutions[rng.below(cfg.resolutions.len() as u64) as usize]
                }
            };
            let mut out = vec![(cfg.width_max, full), (cfg.width_min, res(rng))];
            for _ in 0..2 {
                let w = cfg.width_min + (cfg.width_max - cfg.width_min) * rng.uniform();
                out.push((w, res(rng)));
            }
            out
        }
    }
}

/// The losses of one iteration, on the device.
pub struct StepLosses {
    /// Cross-entropy of the full network.
    pub ce: Loss,
    /// KL of each distilled sub-network.
    pub kl: Vec<Loss>,
    /// The configs run, teacher first.
    pub configs: Vec<(f64, usize)>,
}

impl StepLosses {
    /// Reads the losses (one device synchronization).
    pub fn read(&self, be: &dyn Backend) -> Result<(f32, Vec<f32>)> {
        Ok((
            self.ce.read(be)?,
            self.kl.iter().map(|l| l.read(be)).collect::<Result<_>>()?,
        ))
    }
}

/// Runs the forward and backward passes of one iteration on `batch`,
/// adding into the parameters' gradients (cleared first). BN statistics of
/// training go to slot `train_slot`.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_gradients(
    be: &dyn Backend,
    net: &SlimNet,
    inputs: &[(usize, Tensor)],
    labels: &Buffer,
    configs: &[(f64, usize)],
    cfg: &TrainConfig,
    train_slot: usize,
    memory: &Rc<Memory>,
) -> Result<StepLosses> {
    net.zero_grad(be)?;
    let input = |r: usize| -> Result<Tensor> {
        inputs
            .iter()
            .find(|(res, _)| *res == r)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| Error::invalid("MutualNet step", format!("no input at {r} px")))
    };
    let run = |w: f64| RunConfig {
        width: w,
        config: train_slot,
        mode: BnMode::train(),
        precision: cfg.precision(),
    };
    let (w0, r0) = configs[0];
    let mut tape = Tape::new(be, memory);
    let logits = net.forward(&mut tape, &input(r0)?, &run(w0))?;
    let ce = tape.cross_entropy(&logits, labels)?;
    let teacher = logits.detach();
    drop(logits);
    tape.backward(&ce)?;
    let mut kl = Vec::new();
    for &(w, r) in &configs[1..] {
        let mut tape = Tape::new(be, memory);
        let student = net.forward(&mut tape, &input(r)?, &run(w))?;
        let loss = tape.kl_div(&student, &teacher, 1.0)?;
        drop(student);
        tape.backward(&loss)?;
        kl.push(loss);
    }
    Ok(StepLosses {
        ce,
        kl,
        configs: configs.to_vec(),
    })
}

/// One SGD step on every trainable parameter; weight decay only where the
/// model says so (conv and linear weights, not depthwise, BN or bias).
pub fn sgd_update(
    be: &dyn Backend,
    net: &SlimNet,
    momentum: &[Buffer],
    cfg: &TrainConfig,
    lr: f64,
    first_step: bool,
) -> Result<()> {
    for ((spec, p), m) in net.params().iter().zip(momentum) {
        let decay = if spec.role.takes_weight_decay() {
            cfg.weight_decay as f32
        } else {
            0.0
        };
        let sgd = SgdConfig {
            lr: lr as f32,
            momentum: cfg.momentum as f32,
            weight_decay: decay,
            nesterov: cfg.nesterov,
        };
        ops::sgd_step(be, &p.value, &p.grad, m, 0, p.len(), &sgd, first_step)?;
    }
    Ok(())
}
