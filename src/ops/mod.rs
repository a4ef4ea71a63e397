//! Checked entry points for every operator: validate views and shapes against
//! the buffers, build the kernel's parameter struct, call the backend.
//! Everything above the backends (autograd, layers, CLI) calls these.

pub mod conv;
pub mod copy;
pub mod resize;

pub use conv::{ConvArgs, ConvGeometry, conv2d, weight_block};
pub use copy::{fill, slice_copy};
