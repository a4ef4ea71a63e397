//! Slimmable network architectures as data (no device code): the layer list
//! with full-size shapes, PyTorch parameter names and width rules
//! ([`width`]), the models ([`mobilenet_v2`], [`resnet`]), their cost in
//! multiply-adds and parameters at any width×resolution ([`cost()`]), initial
//! weights ([`init`]) and checkpoints ([`checkpoint`]).
//!
//! The same models exist in PyTorch in `tools/reference_models.py`, with the
//! same parameter names, so checkpoints move between the two.

pub mod checkpoint;
pub mod cost;
pub mod init;
pub mod layers;
pub mod mobilenet_v2;
pub mod resnet;
pub mod width;

pub use checkpoint::Checkpoint;
pub use cost::{Cost, LayerCost, cost, cost_per_layer};
pub use layers::{Activation, BatchNorm, Conv, Layer, Linear, TensorRole, TensorSpec};
pub use mobilenet_v2::MobileNetV2Config;
pub use resnet::ResNetConfig;
pub use width::{Channels, check_width, make_divisible};

use crate::error::{Error, Result};

/// A slimmable network: its name, the configuration it was built from, and
/// its layers in forward order.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// Model family, written into checkpoints (e.g. `slimmable_mobilenet_v2`).
    pub model: String,
    /// The builder's configuration as JSON (integers only, so it compares
    /// exactly with what PyTorch writes).
    pub config: serde_json::Value,
    pub image_channels: usize,
    pub classes: usize,
    pub layers: Vec<Layer>,
}

impl Architecture {
    /// Every stored tensor in PyTorch `state_dict` order.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        for l in &self.layers {
            l.push_tensors(&mut out);
        }
        out
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms(&self) -> Vec<&BatchNorm> {
        let mut out = Vec::new();
        for l in &self.layers {
            l.push_batch_norms(&mut out);
        }
        out
    }
}

/// Upper bounds on a model configuration's numbers, far above any real
/// network's (ImageNet MobileNetV2: 1280 channels, 4 repeats, expansion 6):
/// a configuration read from a damaged or hostile checkpoint must not make
/// `build` loop or allocate without end, nor overflow the channel counts.
pub const MAX_CHANNELS: usize = 1 << 16;
pub const MAX_REPEATS: usize = 1024;
pub const MAX_EXPANSION: usize = 64;

/// Fails unless `value` (named `what`) is at most `limit`.
pub(crate) fn within_limit(what: &str, value: usize, limit: usize) -> Result<()> {
    if value > limit {
        return Err(Error::invalid(
            "model configuration",
            format!(
                "{what} {value} is beyond this crate's limit of {limit}; a checkpoint that holds it is damaged or not a slimmable one"
            ),
        ));
    }
    Ok(())
}

/// Builds a model from the name and configuration stored in a checkpoint.
pub fn build(model: &str, config: &serde_json::Value) -> Result<Architecture> {
    let parse_err = |e: serde_json::Error| {
        Error::invalid(format!("configuration of model '{model}'"), e.to_string())
    };
    match model {
        mobilenet_v2::MODEL_NAME => serde_json::from_value::<MobileNetV2Config>(config.clone())
            .map_err(parse_err)?
            .build(),
        resnet::MODEL_NAME => serde_json::from_value::<ResNetConfig>(config.clone())
            .map_err(parse_err)?
            .build(),
        other => Err(Error::invalid(
            "model",
            format!(
                "'{other}' is not a known model; known: {}, {}",
                mobilenet_v2::MODEL_NAME,
                resnet::MODEL_NAME
            ),
        )),
    }
}
