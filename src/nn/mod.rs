//! Slimmable layers and the model runner on top of [`crate::autograd`]:
//! [`SlimConv2d`], [`SlimBatchNorm2d`] (shared γ/β, per-config running
//! statistics), [`SlimLinear`], and [`SlimNet`], which runs any
//! [`crate::models`] description at a width × resolution config, forward
//! and backward, on any backend; [`Sgd`] and one [`mutualnet_step`].

mod layers;
mod mutualnet;
mod net;
mod sgd;

pub use layers::{BnMode, SlimBatchNorm2d, SlimConv2d, SlimLinear};
pub use mutualnet::{Pass, mutualnet_step};
pub use net::{RunConfig, SlimNet};
pub use sgd::Sgd;
