//! SGD with momentum, Nesterov and per-parameter weight decay (PyTorch
//! semantics, see `kernels/sgd.cu`): one fused kernel on a parameter range,
//! or on every parameter of a network at once.

use super::checks::{distinct, slice_fits};
use crate::backend::{Backend, Buffer, SgdSlot};
use crate::error::{Error, Result};
use crate::params::{SgdManyParams, SgdParams, sgd_flags};
use std::collections::HashSet;

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
    check_hyper(op, cfg.lr, cfg.momentum, cfg.nesterov)?;
    check_non_negative(op, "weight_decay", cfg.weight_decay)?;
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

fn check_non_negative(op: &str, name: &str, v: f32) -> Result<()> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{name} = {v}; give a finite value ≥ 0"),
        ))
    }
}

fn check_hyper(op: &str, lr: f32, momentum: f32, nesterov: bool) -> Result<()> {
    if nesterov && momentum <= 0.0 {
        return Err(Error::invalid(
            op,
            "Nesterov needs momentum > 0 (as in PyTorch)",
        ));
    }
    check_non_negative(op, "lr", lr)?;
    check_non_negative(op, "momentum", momentum)
}

/// What one [`sgd_step_many`] shares across its parameters (weight decay is
/// each slot's own).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdManyStep {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
    /// The momentum buffers become the step's `d` (PyTorch's first step).
    pub first_step: bool,
    /// Each gradient is cleared once read: the next step's backward passes
    /// accumulate from zero with no separate fill.
    pub zero_grad: bool,
}

/// Updates every whole parameter buffer in `slots` from its gradient and
/// momentum buffer: one launch on CUDA, one submit on WGSL. Every buffer of
/// every slot must be its own (no buffer twice in the list), and each
/// slot's three buffers the same length.
pub fn sgd_step_many(
    backend: &dyn Backend,
    slots: &[SgdSlot<'_>],
    step: &SgdManyStep,
) -> Result<()> {
    let op = "sgd_step_many";
    if slots.is_empty() {
        return Err(Error::invalid(op, "no parameters given; pass at least one"));
    }
    check_hyper(op, step.lr, step.momentum, step.nesterov)?;
    let mut seen = HashSet::with_capacity(3 * slots.len());
    for (i, s) in slots.iter().enumerate() {
        check_non_negative(op, &format!("slot {i} weight_decay"), s.weight_decay)?;
        let len = s.param.len();
        slice_fits(&format!("{op} slot {i} param"), s.param, 0, len)?;
        for (name, b) in [("gradient", s.grad), ("momentum buffer", s.momentum)] {
            if b.len() != len {
                return Err(Error::invalid(
                    op,
                    format!(
                        "slot {i}: the {name} holds {} elements but the parameter {len}; give buffers of the parameter's length",
                        b.len()
                    ),
                ));
            }
        }
        for (name, b) in [
            ("param", s.param),
            ("gradient", s.grad),
            ("momentum buffer", s.momentum),
        ] {
            if !seen.insert(std::ptr::from_ref(b) as usize) {
                return Err(Error::invalid(
                    op,
                    format!(
                        "slot {i}'s {name} appears twice in the list; give each parameter its own buffers"
                    ),
                ));
            }
        }
    }
    let mut flags = 0;
    if step.nesterov {
        flags |= sgd_flags::NESTEROV;
    }
    if step.first_step {
        flags |= sgd_flags::FIRST_STEP;
    }
    if step.zero_grad {
        flags |= sgd_flags::ZERO_GRAD;
    }
    let p = SgdManyParams {
        count: slots.len() as u32,
        flags,
        lr: step.lr,
        momentum: step.momentum,
    };
    backend.sgd_step_many(slots, &p)
}
