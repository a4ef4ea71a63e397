//! After training: recalibrate the BN statistics of every width ×
//! resolution config (cumulative average over a few training batches, as
//! MutualNet does), measure top-1 accuracy per config, count its MACs, and
//! build the query table — the most accurate config for each MACs budget
//! (the Pareto front).

use super::config::TrainConfig;
use crate::autograd::{Memory, Tape, Tensor};
use crate::backend::Backend;
use crate::data::Dataset;
use crate::data::loader::{BatchOrder, make_batch};
use crate::error::{Error, Result};
use crate::models;
use crate::nn::{BnMode, RunConfig, SlimNet};
use crate::ops::StatsUpdate;
use crate::rng::Rng;
use serde::Serialize;

/// One evaluated config.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConfigResult {
    pub width: f64,
    pub resolution: usize,
    pub macs: u64,
    pub params: u64,
    pub top1: f64,
    /// On the query table's Pareto front.
    pub pareto: bool,
}

/// Replaces config `slot`'s BN statistics by the cumulative average over
/// `batches` training batches at `(width, resolution)`.
pub fn recalibrate(
    be: &dyn Backend,
    net: &SlimNet,
    train: &Dataset,
    cfg: &TrainConfig,
    (width, resolution): (f64, usize),
    slot: usize,
) -> Result<()> {
    let size = recalibration_batch(cfg, train.count)?;
    let order = BatchOrder::shuffled(train.count, cfg.seed ^ 0x5EC0, slot as u64);
    let mut rng = Rng::new(cfg.seed ^ slot as u64);
    for (seen, idx) in order
        .batches(size, true)
        .into_iter()
        .take(cfg.recal_batches)
        .enumerate()
    {
        let memory = Memory::new();
        let batch = make_batch(be, train, idx, &[resolution], None, &mut rng)?;
        let view = batch.view(resolution)?;
        let arena = memory.adopt(batch.arena);
        let mut tape = Tape::no_grad(be, &memory);
        let run = RunConfig {
            width,
            config: slot,
            mode: BnMode::Train(StatsUpdate::Cumulative {
                batches_seen: seen as u64,
            }),
            precision: cfg.precision(),
        };
        net.forward(&mut tape, &Tensor::constant(&arena, view), &run)?;
    }
    Ok(())
}

/// The recalibration batch for a training set of `count` images: the
/// configured size, or the whole set where it holds fewer images (whole
/// batches only would leave no batch, and the statistics untouched).
/// Callers say so where it shrinks ([`recalibration_note`]).
pub fn recalibration_batch(cfg: &TrainConfig, count: usize) -> Result<usize> {
    if count < 2 {
        return Err(Error::invalid(
            "BN recalibration",
            format!(
                "the training set holds {count} image(s); batch norm needs at least 2 to recalibrate each config; use a larger dataset"
            ),
        ));
    }
    Ok(cfg.recal_batch_size.min(count))
}

/// A line for the user where the training set holds fewer images than one
/// recalibration batch, else `None`.
pub fn recalibration_note(cfg: &TrainConfig, count: usize) -> Option<String> {
    (count < cfg.recal_batch_size).then(|| {
        format!(
            "the training set holds {count} images, fewer than a recalibration batch of {}: each config recalibrates on one batch of all {count}",
            cfg.recal_batch_size
        )
    })
}

/// The smallest batch the evaluation runs (the training batch where larger).
pub const EVAL_BATCH: usize = 256;

/// Top-1 accuracy of config `slot` on `test` (eval-mode BN).
pub fn accuracy(
    be: &dyn Backend,
    net: &SlimNet,
    test: &Dataset,
    cfg: &TrainConfig,
    (width, resolution): (f64, usize),
    slot: usize,
) -> Result<f64> {
    let count = if cfg.eval_images == 0 {
        test.count
    } else {
        cfg.eval_images.min(test.count)
    };
    let order = BatchOrder::sequential(count);
    let (mut correct, mut seen) = (0usize, 0usize);
    for idx in order.batches(cfg.batch_size.max(EVAL_BATCH), false) {
        let memory = Memory::new();
        let batch = make_batch(be, test, idx, &[resolution], None, &mut Rng::new(0))?;
        let view = batch.view(resolution)?;
        let arena = memory.adopt(batch.arena);
        let mut tape = Tape::no_grad(be, &memory);
        let run = RunConfig {
            width,
            config: slot,
            mode: BnMode::Eval,
            precision: cfg.precision(),
        };
        let logits = net
            .forward(&mut tape, &Tensor::constant(&arena, view), &run)?
            .to_host(be)?;
        let classes = logits.len() / idx.len();
        for (row, &label) in logits.chunks(classes).zip(&batch.host_labels) {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0);
            correct += (best == label as usize) as usize;
            seen += 1;
        }
    }
    if seen == 0 {
        return Err(Error::invalid(
            "evaluation",
            "no test images were evaluated",
        ));
    }
    Ok(100.0 * correct as f64 / seen as f64)
}

/// Recalibrates and evaluates every config of the grid; marks the Pareto
/// front. `progress` is told each config as it finishes.
pub fn evaluate_grid(
    be: &dyn Backend,
    net: &SlimNet,
    train: &Dataset,
    test: &Dataset,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&ConfigResult),
) -> Result<Vec<ConfigResult>> {
    let arch = cfg.architecture()?;
    let mut results = Vec::new();
    for (slot, &(w, r)) in cfg.grid().iter().enumerate() {
        recalibrate(be, net, train, cfg, (w, r), slot)?;
        let top1 = accuracy(be, net, test, cfg, (w, r), slot)?;
        let cost = models::cost(&arch, w, r)?;
        let res = ConfigResult {
            width: w,
            resolution: r,
            macs: cost.macs,
            params: cost.params,
            top1,
            pareto: false,
        };
        progress(&res);
        results.push(res);
    }
    mark_pareto(&mut results);
    Ok(results)
}

/// A config is on the front when every cheaper (or equally cheap) config is
/// less accurate.
pub fn mark_pareto(results: &mut [ConfigResult]) {
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| {
        results[a]
            .macs
            .cmp(&results[b].macs)
            .then(results[b].top1.total_cmp(&results[a].top1))
    });
    let mut best = f64::NEG_INFINITY;
    for i in order {
        results[i].pareto = results[i].top1 > best;
        best = best.max(results[i].top1);
    }
}

/// The most accurate config within `budget` MACs, if any fits.
pub fn pick_for_budget(results: &[ConfigResult], budget: u64) -> Option<&ConfigResult> {
    results
        .iter()
        .filter(|r| r.macs <= budget)
        .max_by(|a, b| a.top1.total_cmp(&b.top1).then(b.macs.cmp(&a.macs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(macs: u64, top1: f64) -> ConfigResult {
        ConfigResult {
            width: 1.0,
            resolution: 28,
            macs,
            params: 0,
            top1,
            pareto: false,
        }
    }

    #[test]
    fn pareto_front_and_budget_pick() {
        let mut v = vec![
            r(10, 80.0),
            r(20, 79.0),
            r(30, 85.0),
            r(5, 70.0),
            r(30, 84.0),
        ];
        mark_pareto(&mut v);
        let front: Vec<bool> = v.iter().map(|x| x.pareto).collect();
        assert_eq!(front, [true, false, true, true, false]);
        assert_eq!(pick_for_budget(&v, 25).unwrap().macs, 10);
        assert_eq!(pick_for_budget(&v, 30).unwrap().top1, 85.0);
        assert!(pick_for_budget(&v, 4).is_none());
    }
}
