//! Bench: batch-norm training forward + backward (the two shapes of the
//! issue: N=64, C=32, 112×112 and N=64, C=384, 14×14), plain, with ReLU6
//! fused, and with ReLU6 as separate forward and backward kernels. Off a
//! GPU the batch is 8 (lavapipe's storage bindings stop at 128 MiB, and it
//! is slow); the case name carries the batch.
//!
//! Bytes counted are issue 4's minimal traffic: the forward reads x twice
//! and writes y, the backward reads x and dy and writes dx (6 tensors),
//! whatever the variant, so GB/s compares the variants directly. (Before
//! 2026-11-26 run 3 this counted 5 tensors; BENCHMARKS.md gives both.)

use super::{BenchRow, Peak};
use crate::backend::Backend;
use crate::error::Result;
use crate::ops::{self, Activation, RunningStats, StatsUpdate};
use crate::rng::Rng;
use crate::view::View;

/// Batch on a GPU (the shapes) and elsewhere (lavapipe).
const GPU_BATCH: usize = 64;
const OTHER_BATCH: usize = 8;

pub fn run(backend: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let n = if backend.on_gpu() {
        GPU_BATCH
    } else {
        OTHER_BATCH
    };
    let mut rows = Vec::new();
    for (c, hw) in [(32, 112), (384, 14)] {
        rows.extend(shape(backend, iters, [n, c, hw, hw])?);
    }
    Ok(rows)
}

fn shape(be: &dyn Backend, iters: usize, dims: [usize; 4]) -> Result<Vec<BenchRow>> {
    let [n, c, h, w] = dims;
    let numel = n * c * h * w;
    let mut rng = Rng::new(1);
    let v = View::contiguous(dims);
    let x = be.upload(&rng.vec_f32(numel))?;
    let dy = be.upload(&rng.vec_f32(numel))?;
    let (y, dx, tmp) = (be.alloc(numel)?, be.alloc(numel)?, be.alloc(numel)?);
    let gamma = be.upload(&vec![1.0; c])?;
    let beta = be.upload(&vec![0.1; c])?;
    let (dg, db) = (be.upload(&vec![0.0; c])?, be.upload(&vec![0.0; c])?);
    let running = be.upload(&[vec![0.0; c], vec![1.0; c]].concat())?;
    let stats = RunningStats::config(&running, c, 0);
    let saved = be.alloc(ops::bn_saved_len(c, n * h * w))?;
    let upd = StatsUpdate::Momentum(0.1);
    let fwd = |out: &crate::Buffer, act| {
        ops::batch_norm_train(
            be, &x, &v, &gamma, &beta, stats, upd, &saved, out, &v, 1e-5, act,
        )
    };
    let bwd = |g: &crate::Buffer, act| {
        ops::batch_norm_backward(
            be, &x, &v, g, &v, &gamma, &beta, &saved, &dg, &db, &dx, &v, act,
        )
    };
    let plain = be.time_ms(iters, &mut || {
        fwd(&y, Activation::None)?;
        bwd(&dy, Activation::None)
    })?;
    let fused = be.time_ms(iters, &mut || {
        fwd(&y, Activation::Relu6)?;
        bwd(&dy, Activation::Relu6)
    })?;
    // BN, then ReLU6 as its own kernel; backward: ReLU6's mask, then BN.
    let separate = be.time_ms(iters, &mut || {
        fwd(&tmp, Activation::None)?;
        ops::relu6(be, &tmp, &v, &y, &v)?;
        ops::relu6_backward(be, &tmp, &v, &dy, &v, &dx, &v)?;
        ops::batch_norm_backward(
            be,
            &x,
            &v,
            &dx,
            &v,
            &gamma,
            &beta,
            &saved,
            &dg,
            &db,
            &y,
            &v,
            Activation::None,
        )
    })?;
    // Issue 4's minimal traffic: the forward reads x twice (statistics, then
    // normalize) and writes y; the backward reads x and dy and writes dx.
    // Six tensors; the resident kernels move five (x read once forward).
    let bytes = Some(6.0 * 4.0 * numel as f64);
    let tag = format!("{n}x{c}x{h}x{w}");
    Ok(vec![
        BenchRow {
            name: format!("bn/fwd_bwd_{tag}"),
            ms: plain,
            bytes,
            flops: None,
            peak: Peak::F32,
        },
        BenchRow {
            name: format!("bn/relu6_fused_fwd_bwd_{tag}"),
            ms: fused,
            bytes,
            flops: None,
            peak: Peak::F32,
        },
        BenchRow {
            name: format!("bn/relu6_separate_fwd_bwd_{tag}"),
            ms: separate,
            bytes,
            flops: None,
            peak: Peak::F32,
        },
    ])
}
