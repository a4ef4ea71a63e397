//! Slimmable layers and the model runner on top of [`crate::autograd`]:
//! [`SlimConv2d`], [`SlimBatchNorm2d`] (shared γ/β, per-config running
//! statistics), [`SlimLinear`], and [`SlimNet`], which runs any
//! [`crate::models`] description at a width × resolution config, forward
//! and backward, on any backend.

mod layers;
mod net;

pub use layers::{BnMode, SlimBatchNorm2d, SlimConv2d, SlimLinear};
pub use net::{RunConfig, SlimNet};
