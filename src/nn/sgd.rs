//! SGD with momentum (Nesterov optional) over a [`SlimNet`]'s full-size
//! parameters, every parameter in one fused launch that also clears the
//! gradients; weight decay only where the parameter's role takes it (conv
//! and linear weights, not depthwise filters, BN or biases: the MutualNet
//! recipe).

use super::SlimNet;
use crate::backend::{Backend, Buffer, SgdSlot};
use crate::error::{Error, Result};
use crate::ops::{SgdManyStep, sgd_step_many};

pub struct Sgd {
    pub momentum: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
    /// One momentum buffer per parameter, in [`SlimNet::params`] order.
    buffers: Vec<Buffer>,
    steps: u64,
    /// The last step left every gradient of the net at zero (it clears them
    /// as it reads them); false until the first step and after a restore.
    grads_zeroed: bool,
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
            grads_zeroed: false,
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
        self.grads_zeroed = false;
        Ok(())
    }

    /// Whether the net's gradients are known to be zero: the last step
    /// cleared them and nothing has run a backward pass since. The caller
    /// that runs backward passes between steps (as [`super::mutualnet_step`]
    /// does) uses this to skip a separate `zero_grad`.
    pub fn left_grads_zeroed(&self) -> bool {
        self.grads_zeroed
    }

    /// Marks the gradients as written (a backward pass ran).
    pub fn grads_written(&mut self) {
        self.grads_zeroed = false;
    }

    /// Bytes of the momentum buffers.
    pub fn state_bytes(&self) -> usize {
        self.buffers.iter().map(|b| 4 * b.len()).sum()
    }

    /// Updates every parameter of `net` from its accumulated gradient, in
    /// one launch on CUDA, and leaves every gradient at zero (read the
    /// gradients before the step, not after).
    ///
    /// Contract with [`super::mutualnet_step`]: this optimizer records that
    /// the gradients are clear, and the next step skips its `zero_grad`. A
    /// caller that runs its own backward passes on `net` between steps calls
    /// [`Sgd::grads_written`] first; one optimizer serves one net.
    pub fn step(&mut self, backend: &dyn Backend, net: &SlimNet, lr: f32) -> Result<()> {
        let params = net.params();
        if params.len() != self.buffers.len() {
            return Err(Error::invalid(
                "SGD step",
                format!(
                    "the optimizer holds {} momentum buffers but the net has {} parameters; build the optimizer for this net",
                    self.buffers.len(),
                    params.len()
                ),
            ));
        }
        let slots: Vec<SgdSlot> = params
            .iter()
            .zip(&self.buffers)
            .map(|((spec, p), buf)| SgdSlot {
                param: &p.value,
                grad: &p.grad,
                momentum: buf,
                weight_decay: if spec.role.takes_weight_decay() {
                    self.weight_decay
                } else {
                    0.0
                },
            })
            .collect();
        let step = SgdManyStep {
            lr,
            momentum: self.momentum,
            nesterov: self.nesterov,
            first_step: self.steps == 0,
            zero_grad: true,
        };
        sgd_step_many(backend, &slots, &step)?;
        self.steps += 1;
        self.grads_zeroed = true;
        Ok(())
    }
}
