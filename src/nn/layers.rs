//! Slimmable layers on full-size parameters: each slices its active block
//! by the width rules of its [`crate::models`] description and runs the
//! recorded ops of [`crate::autograd`].

use crate::autograd::{BnStats, ConvSpec, Param, Tape, Tensor};
use crate::backend::{Backend, Buffer, Precision};
use crate::error::{Error, Result};
use crate::models::{self, layers::BN_EPS, layers::BN_MOMENTUM};
use crate::ops::{Activation, StatsUpdate};
use std::rc::Rc;

fn wrong_input(layer: &str, got: usize, want: usize, width: f64) -> Error {
    Error::invalid(
        format!("layer {layer}"),
        format!(
            "input has {got} channels but width {width} gives this layer {want}; run every layer at the same width"
        ),
    )
}

/// A conv whose weight `[O_full, I_full/groups, k, k]` is sliced to
/// `[oc, ic, k, k]` (depthwise: `[c, 1, k, k]` with `groups = c`).
pub struct SlimConv2d {
    pub spec: models::Conv,
    pub weight: Rc<Param>,
    pub bias: Option<Rc<Param>>,
}

impl SlimConv2d {
    pub fn forward(
        &self,
        tape: &mut Tape,
        x: &Tensor,
        width: f64,
        precision: Precision,
    ) -> Result<Tensor> {
        let (ic, oc) = (
            self.spec.in_channels.at(width),
            self.spec.out_channels.at(width),
        );
        if x.dims()[1] != ic {
            return Err(wrong_input(&self.spec.name, x.dims()[1], ic, width));
        }
        let spec = ConvSpec {
            out_channels: oc,
            groups: if self.spec.depthwise { oc } else { 1 },
            stride: self.spec.stride,
            padding: self.spec.padding,
            precision,
        };
        tape.conv2d(x, &self.weight, self.bias.as_ref(), spec)
    }
}

/// How a batch norm runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BnMode {
    /// Batch statistics; the config's running statistics updated per the rule.
    Train(StatsUpdate),
    /// The config's running statistics.
    Eval,
}

impl BnMode {
    /// Training with PyTorch's default momentum (0.1).
    pub fn train() -> Self {
        BnMode::Train(StatsUpdate::Momentum(BN_MOMENTUM as f32))
    }
}

/// Batch norm with γ, β shared by every width (sliced to the active
/// channels) and one set of running statistics per width×resolution
/// config, laid out `[config][mean C_full, var C_full]`.
pub struct SlimBatchNorm2d {
    pub spec: models::BatchNorm,
    pub gamma: Rc<Param>,
    pub beta: Rc<Param>,
    pub running: Buffer,
    pub configs: usize,
}

impl SlimBatchNorm2d {
    /// Every config's statistics start from `mean` and `var` (full size).
    pub fn new(
        backend: &dyn Backend,
        spec: models::BatchNorm,
        gamma: Rc<Param>,
        beta: Rc<Param>,
        mean: &[f32],
        var: &[f32],
        configs: usize,
    ) -> Result<Self> {
        let c_full = spec.channels.full();
        if mean.len() != c_full || var.len() != c_full {
            return Err(Error::invalid(
                format!("batch norm {}", spec.name),
                format!(
                    "running mean and variance hold {} and {} values; give the full width's {c_full} each",
                    mean.len(),
                    var.len()
                ),
            ));
        }
        let table: Vec<f32> = (0..configs.max(1))
            .flat_map(|_| mean.iter().chain(var).copied())
            .collect();
        Ok(SlimBatchNorm2d {
            spec,
            gamma,
            beta,
            running: backend.upload(&table)?,
            configs: configs.max(1),
        })
    }

    fn stats(&self, config: usize) -> Result<BnStats<'_>> {
        if config >= self.configs {
            return Err(Error::invalid(
                format!("batch norm {}", self.spec.name),
                format!(
                    "config {config} has no running statistics (the model holds {}); build it with more configs",
                    self.configs
                ),
            ));
        }
        let c = self.spec.channels.full();
        Ok(BnStats {
            buf: &self.running,
            mean_offset: 2 * config * c,
            var_offset: 2 * config * c + c,
        })
    }

    /// `act(bn(x))` at `x`'s width, with config `config`'s statistics.
    pub fn forward(
        &self,
        tape: &mut Tape,
        x: &Tensor,
        width: f64,
        config: usize,
        mode: BnMode,
        act: Activation,
    ) -> Result<Tensor> {
        let c = self.spec.channels.at(width);
        if x.dims()[1] != c {
            return Err(wrong_input(&self.spec.name, x.dims()[1], c, width));
        }
        let stats = self.stats(config)?;
        let eps = BN_EPS as f32;
        match mode {
            BnMode::Train(update) => {
                tape.batch_norm_train(x, &self.gamma, &self.beta, stats, update, eps, act)
            }
            BnMode::Eval => tape.batch_norm_eval(x, &self.gamma, &self.beta, stats, eps, act),
        }
    }

    /// Config `config`'s running mean and variance (full size).
    pub fn running_stats(
        &self,
        backend: &dyn Backend,
        config: usize,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let s = self.stats(config)?;
        let all = backend.download(&self.running)?;
        let c = self.spec.channels.full();
        Ok((
            all[s.mean_offset..s.mean_offset + c].to_vec(),
            all[s.var_offset..s.var_offset + c].to_vec(),
        ))
    }

    /// Overwrites the leading channels of config `config`'s statistics.
    pub fn set_running_stats(
        &self,
        backend: &dyn Backend,
        config: usize,
        mean: &[f32],
        var: &[f32],
    ) -> Result<()> {
        let s = self.stats(config)?;
        let c = self.spec.channels.full();
        if mean.len() > c || var.len() != mean.len() {
            return Err(Error::invalid(
                format!("batch norm {} statistics", self.spec.name),
                format!(
                    "{} means and {} variances for {c} channels",
                    mean.len(),
                    var.len()
                ),
            ));
        }
        let mut all = backend.download(&self.running)?;
        all[s.mean_offset..s.mean_offset + mean.len()].copy_from_slice(mean);
        all[s.var_offset..s.var_offset + var.len()].copy_from_slice(var);
        backend.write(&self.running, &all)
    }
}

/// A linear layer on the leading `out × in` block of `[out_full, in_full]`.
pub struct SlimLinear {
    pub spec: models::Linear,
    pub weight: Rc<Param>,
    pub bias: Option<Rc<Param>>,
}

impl SlimLinear {
    /// `x`: `[N, in, 1, 1]`.
    pub fn forward(&self, tape: &mut Tape, x: &Tensor, width: f64) -> Result<Tensor> {
        let i = self.spec.in_features.at(width);
        if x.dims()[1] != i || x.dims()[2] != 1 || x.dims()[3] != 1 {
            return Err(wrong_input(&self.spec.name, x.dims()[1], i, width));
        }
        tape.linear(
            x,
            &self.weight,
            self.bias.as_ref(),
            self.spec.out_features.at(width),
        )
    }
}
