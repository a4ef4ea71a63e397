//! SGD with momentum (Nesterov optional) over a [`SlimNet`]'s full-size
//! parameters, one fused kernel per parameter; weight decay only where the
//! parameter's role takes it (conv and linear weights, not depthwise
//! filters, BN or biases: the MutualNet recipe).

use super::SlimNet;
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::ops::{SgdConfig, sgd_step};

pub struct Sgd {
    pub momentum: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
    /// One momentum buffer per parameter, in [`SlimNet::params`] order.
    buffers: Vec<Buffer>,
    steps: u64,
}

impl Sgd {
    /// Momentum buffers for `net` (filled by the first step, as PyTorch does).
    pub fn new(
        backend: &dyn Backend,
        net: &SlimNet,
        momentum: f32,
        weight_decay: f32,
        nesterov: bool,
    ) -> Result<Self> {
        let buffers = net
            .params()
            .iter()
            .map(|(_, p)| backend.alloc(p.len()))
            .collect::<Result<_>>()?;
        Ok(Sgd {
            momentum,
            weight_decay,
            nesterov,
            buffers,
            steps: 0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The momentum buffers, in [`SlimNet::params`] order (to save them).
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    /// Restores saved state: one momentum buffer per parameter and the
    /// number of steps taken (resuming, or starting a check mid-run).
    pub fn restore(
        &mut self,
        backend: &dyn Backend,
        momentum: &[&[f32]],
        steps: u64,
    ) -> Result<()> {
        if momentum.len() != self.buffers.len() {
            return Err(Error::invalid(
                "SGD state",
                format!(
                    "{} momentum buffers given for {} parameters; save and restore the same model",
                    momentum.len(),
                    self.buffers.len()
                ),
            ));
        }
        for (buf, host) in self.buffers.iter().zip(momentum) {
            backend.write(buf, host)?;
        }
        self.steps = steps;
        Ok(())
    }

    /// Bytes of the momentum buffers.
    pub fn state_bytes(&self) -> usize {
        self.buffers.iter().map(|b| 4 * b.len()).sum()
    }

    /// Updates every parameter of `net` from its accumulated gradient.
    pub fn step(&mut self, backend: &dyn Backend, net: &SlimNet, lr: f32) -> Result<()> {
        for ((spec, p), buf) in net.params().iter().zip(&self.buffers) {
            let cfg = SgdConfig {
                lr,
                momentum: self.momentum,
                weight_decay: if spec.role.takes_weight_decay() {
                    self.weight_decay
                } else {
                    0.0
                },
                nesterov: self.nesterov,
            };
            sgd_step(
                backend,
                &p.value,
                &p.grad,
                buf,
                0,
                p.len(),
                &cfg,
                self.steps == 0,
            )?;
        }
        self.steps += 1;
        Ok(())
    }
}
