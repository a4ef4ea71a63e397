//! The tape: recorded operations replayed in reverse.
//!
//! Each recorded op names the tensor it produced and keeps, in a closure,
//! exactly what its backward needs (shared handles, so the forward's other
//! intermediates can go). `backward` walks the ops from last to first; when
//! it reaches an op, every consumer of that op's output has already
//! contributed, so the output's gradient is complete: the closure adds into
//! its inputs' gradients and parameters' full-size gradient buffers, then
//! the closure (with its saved tensors) and the output's gradient are dropped.

use super::tensor::{DeviceBuffer, Memory, Tensor};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::ops;
use crate::view::View;
use std::collections::HashMap;
use std::rc::Rc;

/// A tensor's gradient: a view into a (possibly shared) buffer.
#[derive(Clone)]
pub struct Grad {
    pub buf: Rc<DeviceBuffer>,
    pub view: View,
}

pub(crate) type BackwardFn = Box<dyn FnOnce(&mut GradContext<'_>, &Grad) -> Result<()>>;

struct Node {
    output: u64,
    backward: BackwardFn,
}

/// Records operations (when enabled) for one forward pass.
pub struct Tape<'a> {
    pub(crate) backend: &'a dyn Backend,
    pub(crate) memory: Rc<Memory>,
    recording: bool,
    nodes: Vec<Node>,
}

/// A scalar loss and the gradient its kernel already wrote for the logits
/// (the seed of the backward pass).
pub struct Loss {
    /// One element: the batch-mean loss.
    pub value: Rc<DeviceBuffer>,
    pub(crate) logits_id: u64,
    pub(crate) dlogits: Grad,
}

impl Loss {
    /// Reads the loss back (waits for the device).
    pub fn read(&self, backend: &dyn Backend) -> Result<f32> {
        Ok(backend.download(&self.value)?[0])
    }
}

impl<'a> Tape<'a> {
    /// A tape that records, counting its buffers in `memory`.
    pub fn new(backend: &'a dyn Backend, memory: &Rc<Memory>) -> Self {
        Tape {
            backend,
            memory: Rc::clone(memory),
            recording: true,
            nodes: Vec::new(),
        }
    }

    /// A tape that records nothing (evaluation, teacher-only passes).
    pub fn no_grad(backend: &'a dyn Backend, memory: &Rc<Memory>) -> Self {
        Tape {
            recording: false,
            ..Tape::new(backend, memory)
        }
    }

    pub fn backend(&self) -> &'a dyn Backend {
        self.backend
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Number of ops waiting for the backward pass.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A fresh contiguous output tensor; it needs a gradient if the tape
    /// records and the op's inputs or parameters need one.
    pub(crate) fn output(&self, dims: [usize; 4], needs_grad: bool) -> Result<Tensor> {
        let view = View::contiguous(dims);
        let buf = self.memory.alloc(self.backend, view.numel())?;
        Ok(Tensor::new(buf, view, self.recording && needs_grad))
    }

    /// Records `backward` for `output` (nothing when not recording or when
    /// the output needs no gradient).
    pub(crate) fn record(&mut self, output: &Tensor, backward: BackwardFn) {
        if self.recording && output.requires_grad {
            self.nodes.push(Node {
                output: output.id,
                backward,
            });
        }
    }

    /// Runs the backward pass of `loss`, adding into every parameter's
    /// gradient. Consumes the tape: its saved tensors are freed as it goes.
    pub fn backward(self, loss: &Loss) -> Result<()> {
        if !self.nodes.iter().any(|n| n.output == loss.logits_id) {
            return Err(Error::invalid(
                "backward",
                "the loss's logits were not recorded on this tape (another tape, or a no_grad one); call backward on the tape that computed them",
            ));
        }
        let mut ctx = GradContext {
            backend: self.backend,
            memory: self.memory,
            grads: HashMap::new(),
        };
        ctx.grads.insert(loss.logits_id, loss.dlogits.clone());
        for node in self.nodes.into_iter().rev() {
            // An output that does not reach the loss has no gradient.
            let Some(dy) = ctx.grads.remove(&node.output) else {
                continue;
            };
            (node.backward)(&mut ctx, &dy)?;
        }
        Ok(())
    }
}

/// The gradients of tensors during one backward pass, and how an op adds to
/// them. A gradient buffer may be shared (the residual add hands the same
/// dy to both inputs); it is copied before anyone writes to it.
pub struct GradContext<'a> {
    pub backend: &'a dyn Backend,
    memory: Rc<Memory>,
    grads: HashMap<u64, Grad>,
}

impl GradContext<'_> {
    /// A fresh contiguous buffer with `t`'s extents.
    fn fresh(&self, t: &Tensor) -> Result<Grad> {
        let view = View::contiguous(t.view.dims);
        Ok(Grad {
            buf: self.memory.alloc(self.backend, view.numel())?,
            view,
        })
    }

    /// `t`'s gradient, owned by nobody else, so it may be written in place.
    fn unique(&mut self, t: &Tensor) -> Result<Option<Grad>> {
        let Some(g) = self.grads.get(&t.id) else {
            return Ok(None);
        };
        if Rc::strong_count(&g.buf) == 1 {
            return Ok(Some(g.clone()));
        }
        let copy = self.fresh(t)?;
        ops::slice_copy(self.backend, &g.buf, &g.view, &copy.buf, &copy.view)?;
        self.grads.insert(t.id, copy.clone());
        Ok(Some(copy))
    }

    /// Adds a gradient computed by `write`, a kernel that overwrites its
    /// output: straight into a fresh buffer for the first contribution,
    /// through a temporary and an accumulate for later ones.
    pub fn add_written(
        &mut self,
        t: &Tensor,
        write: impl FnOnce(&dyn Backend, &Buffer, &View) -> Result<()>,
    ) -> Result<()> {
        if !t.requires_grad {
            return Ok(());
        }
        let tmp = self.fresh(t)?;
        write(self.backend, &tmp.buf, &tmp.view)?;
        self.add_grad(t, tmp)
    }

    /// Adds a gradient computed by `write(backend, dst, view, accumulate)`,
    /// a kernel that can add into its output (conv dgrad): no temporary.
    pub fn add_accumulated(
        &mut self,
        t: &Tensor,
        write: impl FnOnce(&dyn Backend, &Buffer, &View, bool) -> Result<()>,
    ) -> Result<()> {
        if !t.requires_grad {
            return Ok(());
        }
        match self.unique(t)? {
            Some(g) => write(self.backend, &g.buf, &g.view, true),
            None => {
                let g = self.fresh(t)?;
                write(self.backend, &g.buf, &g.view, false)?;
                self.grads.insert(t.id, g);
                Ok(())
            }
        }
    }

    /// Adds `g` to `t`'s gradient; the first contribution is kept as is
    /// (shared with the caller, not copied).
    pub fn add_grad(&mut self, t: &Tensor, g: Grad) -> Result<()> {
        if !t.requires_grad {
            return Ok(());
        }
        match self.unique(t)? {
            Some(dst) => ops::accumulate(self.backend, &g.buf, &g.view, &dst.buf, &dst.view),
            None => {
                self.grads.insert(t.id, g);
                Ok(())
            }
        }
    }

    /// A scratch buffer of `len` elements, counted like the rest.
    pub fn scratch(&self, len: usize) -> Result<Rc<DeviceBuffer>> {
        self.memory.alloc(self.backend, len)
    }
}
