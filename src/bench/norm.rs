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
use crate::backend::{Backend, Buffer};
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

/// Batch norm's buffers for one NCHW shape (random input and output
/// gradient, unit scale, running statistics at their start), with the
/// training forward and backward on them: shared by `slimmable bench bn`
/// and the criterion benches.
pub struct BnPass {
    pub dims: [usize; 4],
    view: View,
    x: Buffer,
    dy: Buffer,
    /// The forward's output; the fused case writes it.
    pub y: Buffer,
    dx: Buffer,
    gamma: Buffer,
    beta: Buffer,
    dgamma: Buffer,
    dbeta: Buffer,
    running: Buffer,
    saved: Buffer,
}

impl BnPass {
    pub fn new(be: &dyn Backend, dims: [usize; 4], seed: u64) -> Result<BnPass> {
        let [n, c, h, w] = dims;
        let numel = n * c * h * w;
        let mut rng = Rng::new(seed);
        Ok(BnPass {
            dims,
            view: View::contiguous(dims),
            x: be.upload(&rng.vec_f32(numel))?,
            dy: be.upload(&rng.vec_f32(numel))?,
            y: be.alloc(numel)?,
            dx: be.alloc(numel)?,
            gamma: be.upload(&vec![1.0; c])?,
            beta: be.upload(&vec![0.1; c])?,
            dgamma: be.upload(&vec![0.0; c])?,
            dbeta: be.upload(&vec![0.0; c])?,
            running: be.upload(&[vec![0.0; c], vec![1.0; c]].concat())?,
            saved: be.alloc(ops::bn_saved_len(c, n * h * w))?,
        })
    }

    /// Issue 4's minimal traffic: the forward reads x twice (statistics,
    /// then normalize) and writes y; the backward reads x and dy and
    /// writes dx. Six tensors; the resident kernels move five (x read once
    /// forward).
    pub fn min_bytes(&self) -> f64 {
        6.0 * 4.0 * self.dims.iter().product::<usize>() as f64
    }

    /// The training forward into `out`, `act` fused.
    pub fn forward(&self, be: &dyn Backend, out: &Buffer, act: Activation) -> Result<()> {
        let stats = RunningStats::config(&self.running, self.dims[1], 0);
        let v = &self.view;
        ops::batch_norm_train(
            be,
            &self.x,
            v,
            &self.gamma,
            &self.beta,
            stats,
            StatsUpdate::Momentum(0.1),
            &self.saved,
            out,
            v,
            1e-5,
            act,
        )
    }

    /// The backward of the last forward from output gradient `g` into `dx`.
    pub fn backward(
        &self,
        be: &dyn Backend,
        g: &Buffer,
        dx: &Buffer,
        act: Activation,
    ) -> Result<()> {
        let v = &self.view;
        ops::batch_norm_backward(
            be,
            &self.x,
            v,
            g,
            v,
            &self.gamma,
            &self.beta,
            &self.saved,
            &self.dgamma,
            &self.dbeta,
            dx,
            v,
            act,
        )
    }

    /// Forward then backward with `act` fused into both.
    pub fn training_pass(&self, be: &dyn Backend, act: Activation) -> Result<()> {
        self.forward(be, &self.y, act)?;
        self.backward(be, &self.dy, &self.dx, act)
    }
}

fn shape(be: &dyn Backend, iters: usize, dims: [usize; 4]) -> Result<Vec<BenchRow>> {
    let [n, c, h, w] = dims;
    let pass = BnPass::new(be, dims, 1)?;
    let tmp = be.alloc(n * c * h * w)?;
    let plain = be.time_ms(iters, &mut || pass.training_pass(be, Activation::None))?;
    let fused = be.time_ms(iters, &mut || pass.training_pass(be, Activation::Relu6))?;
    // BN, then ReLU6 as its own kernel; backward: ReLU6's mask, then BN.
    let separate = be.time_ms(iters, &mut || {
        let v = &pass.view;
        pass.forward(be, &tmp, Activation::None)?;
        ops::relu6(be, &tmp, v, &pass.y, v)?;
        ops::relu6_backward(be, &tmp, v, &pass.dy, v, &pass.dx, v)?;
        pass.backward(be, &pass.dx, &pass.y, Activation::None)
    })?;
    let bytes = Some(pass.min_bytes());
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
