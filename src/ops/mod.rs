//! Checked entry points for every operator: validate views and shapes against
//! the buffers, build the kernel's parameter struct, call the backend.
//! Everything above the backends (autograd, layers, CLI) calls these.

pub mod copy;
pub mod resize;

pub use copy::{fill, slice_copy};
