//! Batch norm on a channel slice: training forward (with the running-stat
//! update), eval forward, backward; optional fused ReLU / ReLU6.
//!
//! The slice is the leading `c` channels of full-size γ, β (and dγ, dβ),
//! where `c` is the input view's channel extent. Running statistics are
//! addressed by offsets ([`RunningStats`]), so one buffer can hold a set per
//! width×resolution config and the caller picks one without copying.

use super::checks::{distinct, same_dims, slice_fits};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::{BnParams, act, bn_flags};
use crate::view::View;

/// Activation fused after the normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    Relu6,
}

impl Activation {
    pub(crate) fn code(self) -> u32 {
        match self {
            Activation::None => act::NONE,
            Activation::Relu => act::RELU,
            Activation::Relu6 => act::RELU6,
        }
    }
}

/// Where one set of running statistics lives: mean at
/// `mean_offset..mean_offset + c`, variance at `var_offset..var_offset + c`.
#[derive(Clone, Copy)]
pub struct RunningStats<'a> {
    pub buf: &'a Buffer,
    pub mean_offset: usize,
    pub var_offset: usize,
}

impl<'a> RunningStats<'a> {
    /// Config `config` of a buffer laid out `[configs][mean C_full, var C_full]`.
    pub fn config(buf: &'a Buffer, c_full: usize, config: usize) -> Self {
        RunningStats {
            buf,
            mean_offset: 2 * config * c_full,
            var_offset: 2 * config * c_full + c_full,
        }
    }

    /// Config `config` of a buffer laid out `[mean: configs × C_full][var:
    /// configs × C_full]` (two `[configs, C_full]` tables back to back).
    pub fn planar(buf: &'a Buffer, configs: usize, c_full: usize, config: usize) -> Self {
        RunningStats {
            buf,
            mean_offset: config * c_full,
            var_offset: (configs + config) * c_full,
        }
    }
}

/// How a training forward updates the running statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatsUpdate {
    /// Leave them alone.
    None,
    /// `r = (1 − m)·r + m·batch` (PyTorch `momentum = m`, usually 0.1).
    Momentum(f32),
    /// Cumulative average (PyTorch `momentum = None`), for recalibrating a
    /// config after training: `batches_seen` is how many batches were
    /// already averaged since the reset (0 for the first).
    Cumulative { batches_seen: u64 },
}

/// How many pieces each channel's reduction is split into: about 4K
/// elements each (16 per thread of a 256-thread block, enough blocks to
/// fill an H200 twice over for C = 384 at N·H·W = 12544), at most 128
/// (fills the GPU when `c` is small).
pub fn bn_chunks(count: usize) -> u32 {
    count.div_ceil(4096).clamp(1, 128) as u32
}

/// Length of the `saved` buffer a training forward writes and its backward
/// reads, for `c` channels and `count = N·H·W`: mean, inv-std, two backward
/// sums, and the reduction partials.
pub fn bn_saved_len(c: usize, count: usize) -> usize {
    4 * c + 3 * bn_chunks(count) as usize * c
}

fn base_params(x_view: &View, y_view: &View, eps: f32, act: Activation) -> BnParams {
    let count = x_view.dims[0] * x_view.dims[2] * x_view.dims[3];
    BnParams {
        x: x_view.to_params(),
        y: y_view.to_params(),
        dy: y_view.to_params(),
        chunks: bn_chunks(count),
        act: act.code(),
        count: count as u32,
        eps,
        ..Default::default()
    }
}

fn check_affine(op: &str, gamma: &Buffer, beta: &Buffer, c: usize) -> Result<()> {
    slice_fits(&format!("{op} gamma"), gamma, 0, c)?;
    slice_fits(&format!("{op} beta"), beta, 0, c)
}

fn check_eps(op: &str, eps: f32) -> Result<()> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::invalid(
            op,
            format!("eps = {eps}; give a small positive value such as 1e-5"),
        ));
    }
    Ok(())
}

/// Training forward: `y = act((x − mean)/sqrt(var + eps)·γ + β)` with batch
/// statistics (biased variance), saved to `saved` (length
/// [`bn_saved_len`]) for the backward; updates `running` per `update`
/// (running variance with the unbiased batch variance, as PyTorch).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train(
    backend: &dyn Backend,
    x: &Buffer,
    x_view: &View,
    gamma: &Buffer,
    beta: &Buffer,
    running: RunningStats,
    update: StatsUpdate,
    saved: &Buffer,
    y: &Buffer,
    y_view: &View,
    eps: f32,
    act: Activation,
) -> Result<()> {
    let op = "batch_norm_train";
    x_view.check_within("batch_norm_train x", x.len())?;
    y_view.check_within("batch_norm_train y", y.len())?;
    same_dims(op, ("x", x_view), ("y", y_view))?;
    check_eps(op, eps)?;
    let c = x_view.dims[1];
    let count = x_view.dims[0] * x_view.dims[2] * x_view.dims[3];
    if count < 2 {
        return Err(Error::invalid(
            op,
            "one value per channel (N·H·W = 1) has no batch variance; PyTorch refuses it too: train with N·H·W ≥ 2, or use batch_norm_eval",
        ));
    }
    check_affine(op, gamma, beta, c)?;
    slice_fits(
        "batch_norm_train running mean",
        running.buf,
        running.mean_offset,
        c,
    )?;
    slice_fits(
        "batch_norm_train running var",
        running.buf,
        running.var_offset,
        c,
    )?;
    if saved.len() < bn_saved_len(c, count) {
        return Err(Error::invalid(
            op,
            format!(
                "saved holds {} elements; allocate bn_saved_len(c, N·H·W) = {}",
                saved.len(),
                bn_saved_len(c, count)
            ),
        ));
    }
    let args = [
        ("x", x),
        ("gamma", gamma),
        ("beta", beta),
        ("running", running.buf),
        ("saved", saved),
        ("y", y),
    ];
    distinct(
        op,
        &[("running", running.buf), ("saved", saved), ("y", y)],
        &args,
    )?;
    let p = bn_train_params(x_view, y_view, &running, update, eps, act)?;
    backend.bn_forward_train(x, gamma, beta, running.buf, saved, y, &p)
}

/// The kernel parameters [`batch_norm_train`] passes its backend (for raw
/// launches; the views and buffers are not checked here).
pub fn bn_train_params(
    x_view: &View,
    y_view: &View,
    running: &RunningStats,
    update: StatsUpdate,
    eps: f32,
    act: Activation,
) -> Result<BnParams> {
    let count = x_view.dims[0] * x_view.dims[2] * x_view.dims[3];
    let mut p = base_params(x_view, y_view, eps, act);
    p.mean_offset = running.mean_offset as u32;
    p.var_offset = running.var_offset as u32;
    p.unbias = count as f32 / (count as f32 - 1.0);
    match update {
        StatsUpdate::None => {}
        StatsUpdate::Momentum(m) => {
            if !(0.0..=1.0).contains(&m) {
                return Err(Error::invalid(
                    "batch_norm_train",
                    format!("momentum {m} is outside [0, 1]; PyTorch's default is 0.1"),
                ));
            }
            p.flags |= bn_flags::UPDATE_RUNNING;
            p.factor = m;
        }
        StatsUpdate::Cumulative { batches_seen } => {
            p.flags |= bn_flags::UPDATE_RUNNING;
            p.factor = (1.0 / (batches_seen as f64 + 1.0)) as f32;
        }
    }
    Ok(p)
}

/// The kernel parameters [`batch_norm_backward`] passes its backend.
pub fn bn_backward_params(
    x_view: &View,
    dy_view: &View,
    dx_view: &View,
    act: Activation,
) -> BnParams {
    let mut p = base_params(x_view, dx_view, 1.0, act);
    p.dy = dy_view.to_params();
    p
}

/// Eval forward from running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_eval(
    backend: &dyn Backend,
    x: &Buffer,
    x_view: &View,
    gamma: &Buffer,
    beta: &Buffer,
    running: RunningStats,
    y: &Buffer,
    y_view: &View,
    eps: f32,
    act: Activation,
) -> Result<()> {
    let op = "batch_norm_eval";
    x_view.check_within("batch_norm_eval x", x.len())?;
    y_view.check_within("batch_norm_eval y", y.len())?;
    same_dims(op, ("x", x_view), ("y", y_view))?;
    check_eps(op, eps)?;
    let c = x_view.dims[1];
    check_affine(op, gamma, beta, c)?;
    slice_fits(
        "batch_norm_eval running mean",
        running.buf,
        running.mean_offset,
        c,
    )?;
    slice_fits(
        "batch_norm_eval running var",
        running.buf,
        running.var_offset,
        c,
    )?;
    let args = [
        ("x", x),
        ("gamma", gamma),
        ("beta", beta),
        ("running", running.buf),
        ("y", y),
    ];
    distinct(op, &[("y", y)], &args)?;
    let mut p = base_params(x_view, y_view, eps, act);
    p.mean_offset = running.mean_offset as u32;
    p.var_offset = running.var_offset as u32;
    p.flags = bn_flags::STATS_ARE_VAR;
    backend.bn_forward_eval(x, gamma, beta, running.buf, y, &p)
}

/// Backward of [`batch_norm_train`] (same x, γ, β, `saved`, activation):
/// writes `dx`, adds into `dgamma[0..c]` and `dbeta[0..c]` (full-size
/// gradient buffers; everything else in them is left untouched).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    backend: &dyn Backend,
    x: &Buffer,
    x_view: &View,
    dy: &Buffer,
    dy_view: &View,
    gamma: &Buffer,
    beta: &Buffer,
    saved: &Buffer,
    dgamma: &Buffer,
    dbeta: &Buffer,
    dx: &Buffer,
    dx_view: &View,
    act: Activation,
) -> Result<()> {
    let op = "batch_norm_backward";
    x_view.check_within("batch_norm_backward x", x.len())?;
    dy_view.check_within("batch_norm_backward dy", dy.len())?;
    dx_view.check_within("batch_norm_backward dx", dx.len())?;
    same_dims(op, ("x", x_view), ("dy", dy_view))?;
    same_dims(op, ("x", x_view), ("dx", dx_view))?;
    let c = x_view.dims[1];
    let count = x_view.dims[0] * x_view.dims[2] * x_view.dims[3];
    check_affine(op, gamma, beta, c)?;
    slice_fits("batch_norm_backward dgamma", dgamma, 0, c)?;
    slice_fits("batch_norm_backward dbeta", dbeta, 0, c)?;
    if saved.len() < bn_saved_len(c, count) {
        return Err(Error::invalid(
            op,
            format!(
                "saved holds {} elements; pass the buffer batch_norm_train wrote (bn_saved_len = {})",
                saved.len(),
                bn_saved_len(c, count)
            ),
        ));
    }
    let args = [
        ("x", x),
        ("dy", dy),
        ("gamma", gamma),
        ("beta", beta),
        ("saved", saved),
        ("dgamma", dgamma),
        ("dbeta", dbeta),
        ("dx", dx),
    ];
    distinct(
        op,
        &[
            ("saved", saved),
            ("dgamma", dgamma),
            ("dbeta", dbeta),
            ("dx", dx),
        ],
        &args,
    )?;
    let p = bn_backward_params(x_view, dy_view, dx_view, act);
    backend.bn_backward(x, dy, gamma, beta, saved, dgamma, dbeta, dx, &p)
}
