//! A minimal autograd for slimmable networks (micrograd-sized).
//!
//! - [`Tensor`]: a view into a shared device buffer; [`Param`]: a full-size
//!   value with its full-size gradient (kernels touch only the active block).
//! - [`Tape`]: records each op's backward as a closure; [`Tape::backward`]
//!   replays them in reverse from a [`Loss`], adding into gradients, and
//!   frees each op's saved tensors once it has run.
//! - Parameter gradients accumulate across backward passes (MutualNet runs
//!   four per step) until [`Param::zero_grad`].
//! - Inputs and detached tensors need no gradient: nothing is computed for them.
//! - [`Memory`] counts the bytes of every buffer the tape allocates, for a
//!   step's peak.
//!
//! Backend-agnostic: only `&dyn Backend` and [`crate::ops`].

mod ops;
mod tape;
mod tensor;

pub use ops::{BnStats, ConvSpec};
pub use tape::{Grad, GradContext, Loss, Tape};
pub use tensor::{DeviceBuffer, Memory, Param, Tensor};
