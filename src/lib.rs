//! # slimmable
//!
//! Hand-written CUDA and WGSL kernels for slimmable networks: one set of
//! full-size weights run at many channel widths, each kernel reading and
//! writing channel slices in place through strided views.
//!
//! - [`backend`]: the narrow kernel interface and its three implementations
//!   (CPU reference, CUDA via NVRTC, WGSL via wgpu).
//! - [`ops`]: checked entry points that validate views and call a backend.
//! - [`params`]: the `#[repr(C)]` launch parameter structs shared with
//!   `kernels/*.cu` and `shaders/*.wgsl`.
//! - [`kernel_sources`]: the kernel sources and entry points, for engines
//!   that launch them on their own memory.
//! - [`verify`]: the operator case list every backend runs.
//! - [`models`]: slimmable architectures as data, their cost, checkpoints.
//! - [`autograd`]: the tape (recorded ops, reverse replay into full-size
//!   parameter gradients).
//! - [`nn`]: slimmable layers, the model runner, SGD, the MutualNet step.
//! - [`settings`]: the `SLIMMABLE_*` environment variables, known and removed.

pub mod autograd;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod data;
pub mod error;
pub mod kernel_sources;
pub mod models;
pub mod nn;
pub mod op_runner;
mod op_runner_conv;
mod op_runner_train;
pub mod ops;
pub mod params;
pub mod rng;
pub mod settings;
mod switches;
pub mod tensor_io;
pub mod train;
mod value_names;
pub mod verify;
pub mod view;

pub use backend::{Backend, BackendKind, Buffer};
pub use error::{Error, Result};
pub use view::View;
