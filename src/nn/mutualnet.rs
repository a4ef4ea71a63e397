//! One MutualNet iteration (README.md, "Training"): the full network
//! with cross-entropy, then each sub-network distilled from the full
//! network's detached logits (KL, batchmean, T = 1); the gradients of all
//! passes accumulate before one optimizer step. Which widths and
//! resolutions (the sandwich rule's random draws) is the caller's choice.

use super::{BnMode, RunConfig, Sgd, SlimNet};
use crate::autograd::{DeviceBuffer, Memory, Tape, Tensor};
use crate::backend::{Backend, Buffer, Precision};
use crate::error::Result;
use std::rc::Rc;

/// One forward/backward pass: width, BN statistics config, input batch.
pub struct Pass<'a> {
    pub width: f64,
    pub config: usize,
    pub x: &'a Tensor,
}

/// Runs the passes, full network first, and one SGD step at `lr`. Returns
/// each pass's loss on the device (read them when logging: reading waits).
#[allow(clippy::too_many_arguments)]
pub fn mutualnet_step(
    backend: &dyn Backend,
    memory: &Rc<Memory>,
    net: &SlimNet,
    opt: &mut Sgd,
    lr: f32,
    precision: Precision,
    full: Pass,
    labels: &Buffer,
    subs: &[Pass],
) -> Result<Vec<Rc<DeviceBuffer>>> {
    let run = |p: &Pass| RunConfig {
        width: p.width,
        config: p.config,
        mode: BnMode::train(),
        precision,
    };
    // The previous step's SGD launch cleared the gradients as it read them.
    if !opt.left_grads_zeroed() {
        net.zero_grad(backend)?;
    }
    opt.grads_written();
    let mut tape = Tape::new(backend, memory);
    let logits = net.forward(&mut tape, full.x, &run(&full))?;
    let loss = tape.cross_entropy(&logits, labels)?;
    let teacher = logits.detach();
    drop(logits);
    tape.backward(&loss)?;
    let mut losses = vec![loss.value];
    for sub in subs {
        let mut tape = Tape::new(backend, memory);
        let student = net.forward(&mut tape, sub.x, &run(sub))?;
        let loss = tape.kl_div(&student, &teacher, 1.0)?;
        drop(student);
        tape.backward(&loss)?;
        losses.push(loss.value);
    }
    opt.step(backend, net, lr)?;
    Ok(losses)
}
