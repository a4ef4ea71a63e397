//! SGD with momentum, Nesterov and per-parameter weight decay: one fused
//! kernel per parameter buffer (PyTorch semantics, see `kernels/sgd.cu`).

use super::checks::{distinct, slice_fits};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::{SgdParams, sgd_flags};

/// Hyper-parameters of one parameter's update. MutualNet: weight decay on
/// conv and linear weights only; pass `weight_decay: 0.0` for BN, biases and
/// depthwise weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
}

/// Updates `param[offset..offset + len]` from `grad` and the momentum
/// buffer at the same positions. `first_step`: the momentum buffer is
/// initialised to the step's gradient (PyTorch's first step), whatever it
/// held.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step(
    backend: &dyn Backend,
    param: &Buffer,
    grad: &Buffer,
    momentum_buf: &Buffer,
    offset: usize,
    len: usize,
    cfg: &SgdConfig,
    first_step: bool,
) -> Result<()> {
    let op = "sgd_step";
    slice_fits("sgd_step param", param, offset, len)?;
    slice_fits("sgd_step grad", grad, offset, len)?;
    slice_fits("sgd_step momentum buffer", momentum_buf, offset, len)?;
    if cfg.nesterov && cfg.momentum <= 0.0 {
        return Err(Error::invalid(
            op,
            "Nesterov needs momentum > 0 (as in PyTorch)",
        ));
    }
    for (name, v) in [
        ("lr", cfg.lr),
        ("momentum", cfg.momentum),
        ("weight_decay", cfg.weight_decay),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(Error::invalid(
                op,
                format!("{name} = {v}; give a finite value ≥ 0"),
            ));
        }
    }
    let args = [
        ("param", param),
        ("grad", grad),
        ("momentum buffer", momentum_buf),
    ];
    distinct(
        op,
        &[("param", param), ("momentum buffer", momentum_buf)],
        &args,
    )?;
    let mut flags = 0;
    if cfg.nesterov {
        flags |= sgd_flags::NESTEROV;
    }
    if first_step {
        flags |= sgd_flags::FIRST_STEP;
    }
    let p = SgdParams {
        offset: offset as u32,
        len: len as u32,
        flags,
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        ..Default::default()
    };
    backend.sgd_step(param, grad, momentum_buf, &p)
}
