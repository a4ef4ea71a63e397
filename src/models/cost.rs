//! Multiply-adds and parameters of a width×resolution config, counted as
//! the MobileNet papers count them: one MAC per weight use in conv and
//! linear layers (`out_c · out_h · out_w · in_c/groups · k²`, and
//! `in · out`); batch norm, activations, pooling, residual adds and biases
//! cost no MACs. Parameters are the active slices of the trainable tensors
//! (conv and linear weights and biases, BN γ and β); BN running statistics
//! are buffers, not parameters.

use super::Architecture;
use super::layers::Layer;
use super::width::check_width;
use crate::error::{Error, Result};

/// Cost of a whole network at one config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub macs: u64,
    /// Every trainable parameter of the config, BN γ and β included.
    pub params: u64,
    /// The BN γ and β among `params` (some published counts leave them out).
    pub bn_params: u64,
}

/// Cost of one conv, BN or linear layer and the shape it outputs (`[C, H, W]`,
/// `H = W = 1` after pooling).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerCost {
    pub name: String,
    pub macs: u64,
    pub params: u64,
    pub output: [usize; 3],
    pub is_batch_norm: bool,
}

/// Total MACs and parameters at `width` and a square `resolution`.
pub fn cost(arch: &Architecture, width: f64, resolution: usize) -> Result<Cost> {
    let layers = cost_per_layer(arch, width, resolution)?;
    Ok(Cost {
        macs: layers.iter().map(|l| l.macs).sum(),
        params: layers.iter().map(|l| l.params).sum(),
        bn_params: layers
            .iter()
            .filter(|l| l.is_batch_norm)
            .map(|l| l.params)
            .sum(),
    })
}

/// Per-layer MACs, parameters and output shapes, in forward order.
pub fn cost_per_layer(
    arch: &Architecture,
    width: f64,
    resolution: usize,
) -> Result<Vec<LayerCost>> {
    check_width(width)?;
    if resolution == 0 {
        return Err(Error::invalid("resolution", "0 px; give at least 1"));
    }
    let mut out = Vec::new();
    let input = [arch.image_channels, resolution, resolution];
    let shape = walk(&arch.layers, input, width, &mut out)?;
    if shape != [arch.classes, 1, 1] {
        return Err(Error::invalid(
            format!("model '{}'", arch.model),
            format!(
                "ends with shape {shape:?}, not [{}, 1, 1] logits",
                arch.classes
            ),
        ));
    }
    Ok(out)
}

fn trainable_params(layer: &Layer, width: f64) -> u64 {
    let mut specs = Vec::new();
    layer.push_tensors(&mut specs);
    specs
        .iter()
        .filter(|s| s.role.is_trainable())
        .map(|s| s.shape_at(width).iter().product::<usize>() as u64)
        .sum()
}

fn walk(
    layers: &[Layer],
    mut shape: [usize; 3],
    width: f64,
    out: &mut Vec<LayerCost>,
) -> Result<[usize; 3]> {
    for layer in layers {
        let [c, h, w] = shape;
        let mismatch = |name: &str, expects: usize| {
            Error::invalid(
                format!("layer '{name}'"),
                format!("expects {expects} input channels at width {width}, gets {c}"),
            )
        };
        match layer {
            Layer::Conv(conv) => {
                let ic = conv.in_channels.at(width);
                if ic != c {
                    return Err(mismatch(&conv.name, ic));
                }
                let (oh, ow) = match (conv.output_size(h), conv.output_size(w)) {
                    (Some(oh), Some(ow)) => (oh, ow),
                    _ => {
                        return Err(Error::invalid(
                            format!("layer '{}'", conv.name),
                            format!(
                                "a {h}×{w} input is smaller than its {}×{} kernel; use a larger resolution",
                                conv.kernel, conv.kernel
                            ),
                        ));
                    }
                };
                let oc = conv.out_channels.at(width);
                let in_per_group = if conv.depthwise { 1 } else { ic };
                let macs = (oc * oh * ow * in_per_group * conv.kernel * conv.kernel) as u64;
                shape = [oc, oh, ow];
                out.push(LayerCost {
                    name: conv.name.clone(),
                    macs,
                    params: trainable_params(layer, width),
                    output: shape,
                    is_batch_norm: false,
                });
            }
            Layer::BatchNorm(bn) => {
                if bn.channels.at(width) != c {
                    return Err(mismatch(&bn.name, bn.channels.at(width)));
                }
                out.push(LayerCost {
                    name: bn.name.clone(),
                    macs: 0,
                    params: trainable_params(layer, width),
                    output: shape,
                    is_batch_norm: true,
                });
            }
            Layer::Linear(lin) => {
                let i = lin.in_features.at(width);
                if i != c || h != 1 || w != 1 {
                    return Err(Error::invalid(
                        format!("layer '{}'", lin.name),
                        format!("expects [{i}, 1, 1] features at width {width}, gets {shape:?}"),
                    ));
                }
                let o = lin.out_features.at(width);
                shape = [o, 1, 1];
                out.push(LayerCost {
                    name: lin.name.clone(),
                    macs: (i * o) as u64,
                    params: trainable_params(layer, width),
                    output: shape,
                    is_batch_norm: false,
                });
            }
            Layer::Residual { body, shortcut } => {
                let main = walk(body, shape, width, out)?;
                let side = walk(shortcut, shape, width, out)?;
                if main != side {
                    return Err(Error::invalid(
                        "residual block",
                        format!("body gives {main:?} but the shortcut gives {side:?}"),
                    ));
                }
                shape = main;
            }
            Layer::GlobalAvgPool => shape = [c, 1, 1],
            Layer::Activation(_) => {}
        }
    }
    Ok(shape)
}
