//! Runs a [`crate::models`] description at any width × resolution config:
//! builds the slimmable layers on full-size parameters, then walks the
//! layer list forward on a [`Tape`] (train or eval mode), fusing each batch
//! norm with the activation that follows it.

use super::layers::{BnMode, SlimBatchNorm2d, SlimConv2d, SlimLinear};
use crate::autograd::{Param, Tape, Tensor};
use crate::backend::{Backend, Precision};
use crate::error::{Error, Result};
use crate::models::{self, Architecture, Layer, TensorSpec};
use crate::ops::Activation;
use crate::tensor_io::HostTensor;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One forward pass's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunConfig {
    pub width: f64,
    /// Which set of BN running statistics (one per width×resolution config).
    pub config: usize,
    pub mode: BnMode,
    pub precision: Precision,
}

enum NetLayer {
    Conv(SlimConv2d),
    BatchNorm(SlimBatchNorm2d),
    Activation(Activation),
    Residual {
        body: Vec<NetLayer>,
        shortcut: Vec<NetLayer>,
    },
    GlobalAvgPool,
    Linear(SlimLinear),
}

/// A slimmable network on one backend: full-size parameters with their
/// gradients, per-config BN statistics, and the forward pass.
pub struct SlimNet {
    pub arch: Architecture,
    layers: Vec<NetLayer>,
    params: Vec<(TensorSpec, Rc<Param>)>,
}

fn activation(a: models::Activation) -> Activation {
    match a {
        models::Activation::Relu => Activation::Relu,
        models::Activation::Relu6 => Activation::Relu6,
    }
}

struct Builder<'a> {
    backend: &'a dyn Backend,
    tensors: &'a BTreeMap<String, HostTensor>,
    specs: BTreeMap<String, TensorSpec>,
    params: Vec<(TensorSpec, Rc<Param>)>,
    configs: usize,
}

impl Builder<'_> {
    fn host(&self, name: &str) -> Result<&HostTensor> {
        let spec = &self.specs[name];
        let t = self.tensors.get(name).ok_or_else(|| {
            Error::invalid(
                "model parameters",
                format!("missing tensor '{name}' (shape {:?})", spec.full_shape()),
            )
        })?;
        if t.shape != spec.full_shape() {
            return Err(Error::invalid(
                "model parameters",
                format!(
                    "tensor '{name}' has shape {:?}, the model needs {:?}",
                    t.shape,
                    spec.full_shape()
                ),
            ));
        }
        Ok(t)
    }

    fn param(&mut self, name: String) -> Result<Rc<Param>> {
        let t = self.host(&name)?;
        let p = Rc::new(Param::new(self.backend, &name, &t.shape, &t.data)?);
        self.params.push((self.specs[&name].clone(), Rc::clone(&p)));
        Ok(p)
    }

    fn layers(&mut self, layers: &[Layer]) -> Result<Vec<NetLayer>> {
        layers.iter().map(|l| self.layer(l)).collect()
    }

    fn layer(&mut self, layer: &Layer) -> Result<NetLayer> {
        Ok(match layer {
            Layer::Conv(c) => NetLayer::Conv(SlimConv2d {
                weight: self.param(format!("{}.weight", c.name))?,
                bias: match c.bias {
                    true => Some(self.param(format!("{}.bias", c.name))?),
                    false => None,
                },
                spec: c.clone(),
            }),
            Layer::BatchNorm(b) => {
                let gamma = self.param(format!("{}.weight", b.name))?;
                let beta = self.param(format!("{}.bias", b.name))?;
                let mean = &self.host(&format!("{}.running_mean", b.name))?.data;
                let var = &self.host(&format!("{}.running_var", b.name))?.data;
                NetLayer::BatchNorm(SlimBatchNorm2d::new(
                    self.backend,
                    b.clone(),
                    gamma,
                    beta,
                    mean,
                    var,
                    self.configs,
                )?)
            }
            Layer::Activation(a) => NetLayer::Activation(activation(*a)),
            Layer::Residual { body, shortcut } => NetLayer::Residual {
                body: self.layers(body)?,
                shortcut: self.layers(shortcut)?,
            },
            Layer::GlobalAvgPool => NetLayer::GlobalAvgPool,
            Layer::Linear(l) => NetLayer::Linear(SlimLinear {
                weight: self.param(format!("{}.weight", l.name))?,
                bias: match l.bias {
                    true => Some(self.param(format!("{}.bias", l.name))?),
                    false => None,
                },
                spec: l.clone(),
            }),
        })
    }
}

impl SlimNet {
    /// Uploads the full-size `tensors` (PyTorch names, e.g. a checkpoint's)
    /// with zero gradients; every one of `configs` BN statistics sets
    /// starts from the stored running statistics.
    pub fn new(
        backend: &dyn Backend,
        arch: &Architecture,
        tensors: &BTreeMap<String, HostTensor>,
        configs: usize,
    ) -> Result<Self> {
        let mut b = Builder {
            backend,
            tensors,
            specs: arch
                .tensors()
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            params: Vec::new(),
            configs,
        };
        let layers = b.layers(&arch.layers)?;
        Ok(SlimNet {
            arch: arch.clone(),
            layers,
            params: b.params,
        })
    }

    /// The trainable parameters in PyTorch `state_dict` order.
    pub fn params(&self) -> &[(TensorSpec, Rc<Param>)] {
        &self.params
    }

    /// Every parameter's full-size value, by PyTorch name (for checkpoints;
    /// BN statistics come per config from [`SlimBatchNorm2d::running_stats`]).
    pub fn parameters_to_host(
        &self,
        backend: &dyn Backend,
    ) -> Result<BTreeMap<String, HostTensor>> {
        self.params
            .iter()
            .map(|(spec, p)| {
                let t = HostTensor::new(spec.full_shape(), backend.download(&p.value)?)?;
                Ok((spec.name.clone(), t))
            })
            .collect()
    }

    /// Clears every gradient (once per optimizer step).
    pub fn zero_grad(&self, backend: &dyn Backend) -> Result<()> {
        self.params
            .iter()
            .try_for_each(|(_, p)| p.zero_grad(backend))
    }

    /// Every batch norm, in forward order.
    pub fn batch_norms(&self) -> Vec<&SlimBatchNorm2d> {
        fn walk<'a>(layers: &'a [NetLayer], out: &mut Vec<&'a SlimBatchNorm2d>) {
            for l in layers {
                match l {
                    NetLayer::BatchNorm(b) => out.push(b),
                    NetLayer::Residual { body, shortcut } => {
                        walk(body, out);
                        walk(shortcut, out);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.layers, &mut out);
        out
    }

    /// Bytes of parameters, their gradients and the BN statistics.
    pub fn state_bytes(&self) -> usize {
        let params: usize = self.params.iter().map(|(_, p)| 2 * p.len()).sum();
        let stats: usize = self.batch_norms().iter().map(|b| b.running.len()).sum();
        4 * (params + stats)
    }

    /// The logits `[N, classes, 1, 1]` of `x` (`[N, image channels, r, r]`).
    pub fn forward(&self, tape: &mut Tape, x: &Tensor, run: &RunConfig) -> Result<Tensor> {
        models::check_width(run.width)?;
        self.run(tape, &self.layers, x, run)
    }

    fn run(
        &self,
        tape: &mut Tape,
        layers: &[NetLayer],
        x: &Tensor,
        run: &RunConfig,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        let mut i = 0;
        while i < layers.len() {
            x = match &layers[i] {
                NetLayer::Conv(c) => c.forward(tape, &x, run.width, run.precision)?,
                NetLayer::BatchNorm(b) => {
                    // BN + the activation after it: one kernel.
                    let act = match layers.get(i + 1) {
                        Some(NetLayer::Activation(a)) => {
                            i += 1;
                            *a
                        }
                        _ => Activation::None,
                    };
                    b.forward(tape, &x, run.width, run.config, run.mode, act)?
                }
                NetLayer::Activation(a) => tape.activation(&x, *a)?,
                NetLayer::Residual { body, shortcut } => {
                    let y = self.run(tape, body, &x, run)?;
                    let s = self.run(tape, shortcut, &x, run)?;
                    tape.add(&y, &s)?
                }
                NetLayer::GlobalAvgPool => tape.avg_pool(&x)?,
                NetLayer::Linear(l) => l.forward(tape, &x, run.width)?,
            };
            i += 1;
        }
        Ok(x)
    }
}
