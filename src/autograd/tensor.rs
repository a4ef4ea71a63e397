//! What the tape works on: device tensors (a view into a shared, counted
//! buffer), parameters (full-size value and gradient buffers), and the
//! counter of live device memory that reports a step's peak.

use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::view::View;
use std::cell::Cell;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes held by buffers the tape allocated (activations, gradients of
/// activations, saved statistics), now and at most.
#[derive(Debug, Default)]
pub struct Memory {
    live: Cell<usize>,
    peak: Cell<usize>,
}

impl Memory {
    pub fn new() -> Rc<Self> {
        Rc::new(Memory::default())
    }

    /// Bytes allocated through the tape and not yet dropped.
    pub fn live_bytes(&self) -> usize {
        self.live.get()
    }

    /// The largest [`Memory::live_bytes`] seen since creation or the last reset.
    pub fn peak_bytes(&self) -> usize {
        self.peak.get()
    }

    /// Starts a new peak measurement from what is live now.
    pub fn reset_peak(&self) {
        self.peak.set(self.live.get());
    }

    /// Takes ownership of a buffer made elsewhere (e.g. a packed input batch)
    /// so that tensors can view it; it is counted until dropped.
    pub fn adopt(self: &Rc<Self>, buf: Buffer) -> Rc<DeviceBuffer> {
        let live = self.live.get() + 4 * buf.len();
        self.live.set(live);
        self.peak.set(self.peak.get().max(live));
        Rc::new(DeviceBuffer {
            buf,
            memory: Rc::clone(self),
        })
    }

    /// A buffer of `len` elements (unspecified contents), counted until dropped.
    pub fn alloc(self: &Rc<Self>, backend: &dyn Backend, len: usize) -> Result<Rc<DeviceBuffer>> {
        let buf = backend.alloc(len)?;
        let live = self.live.get() + 4 * len;
        self.live.set(live);
        self.peak.set(self.peak.get().max(live));
        Ok(Rc::new(DeviceBuffer {
            buf,
            memory: Rc::clone(self),
        }))
    }
}

/// A device buffer that gives its bytes back to its [`Memory`] when dropped.
pub struct DeviceBuffer {
    buf: Buffer,
    memory: Rc<Memory>,
}

impl Deref for DeviceBuffer {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        &self.buf
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        let live = &self.memory.live;
        live.set(live.get() - 4 * self.buf.len());
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A tensor on the device: a view into a shared buffer. Cloning shares the
/// buffer. `requires_grad` is false for inputs, detached values and
/// anything computed without recording; such tensors receive no gradient.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) buf: Rc<DeviceBuffer>,
    pub view: View,
    pub(crate) id: u64,
    pub requires_grad: bool,
}

impl Tensor {
    pub(crate) fn new(buf: Rc<DeviceBuffer>, view: View, requires_grad: bool) -> Self {
        Tensor {
            buf,
            view,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            requires_grad,
        }
    }

    /// A constant (no gradient) holding `host`, with extents `dims`.
    pub fn from_host(
        backend: &dyn Backend,
        memory: &Rc<Memory>,
        host: &[f32],
        dims: [usize; 4],
    ) -> Result<Self> {
        let view = View::contiguous(dims);
        if view.numel() != host.len() {
            return Err(Error::invalid(
                "tensor upload",
                format!(
                    "extents {dims:?} hold {} elements but {} were given",
                    view.numel(),
                    host.len()
                ),
            ));
        }
        let buf = memory.alloc(backend, host.len())?;
        backend.write(&buf, host)?;
        Ok(Tensor::new(buf, view, false))
    }

    /// A constant view into a buffer (inputs: no gradient flows into it).
    pub fn constant(buf: &Rc<DeviceBuffer>, view: View) -> Self {
        Tensor::new(Rc::clone(buf), view, false)
    }

    /// The same values as a constant: gradients stop here (the teacher's
    /// logits in distillation).
    pub fn detach(&self) -> Tensor {
        Tensor::new(Rc::clone(&self.buf), self.view, false)
    }

    pub fn buffer(&self) -> &Buffer {
        &self.buf
    }

    pub fn dims(&self) -> [usize; 4] {
        self.view.dims
    }

    /// The viewed elements in NCHW order (waits for the device).
    pub fn to_host(&self, backend: &dyn Backend) -> Result<Vec<f32>> {
        let all = backend.download(&self.buf)?;
        // A view past its buffer is a bug upstream; say so instead of panicking.
        self.view.check_within("tensor download", all.len())?;
        Ok(self.view.indices().map(|i| all[i]).collect())
    }
}

/// A trainable tensor at full size with its full-size gradient. Kernels
/// read the active block of `value` and add into the same block of `grad`,
/// so gradients accumulate over backward passes until [`Param::zero_grad`].
pub struct Param {
    pub name: String,
    /// Full extents, padded with trailing 1s to four (OIHW for conv
    /// weights, `[out, in, 1, 1]` for linear weights, `[C, 1, 1, 1]` for vectors).
    pub dims: [usize; 4],
    pub value: Buffer,
    pub grad: Buffer,
}

impl Param {
    /// Uploads `host` (full size) and a zero gradient.
    pub fn new(backend: &dyn Backend, name: &str, shape: &[usize], host: &[f32]) -> Result<Self> {
        if shape.is_empty() || shape.len() > 4 || shape.iter().product::<usize>() != host.len() {
            return Err(Error::invalid(
                format!("parameter {name}"),
                format!(
                    "shape {shape:?} does not describe {} values in at most four dimensions",
                    host.len()
                ),
            ));
        }
        let mut dims = [1; 4];
        dims[..shape.len()].copy_from_slice(shape);
        Ok(Param {
            name: name.to_string(),
            dims,
            value: backend.upload(host)?,
            grad: backend.upload(&vec![0.0; host.len()])?,
        })
    }

    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Clears the gradient (before the first backward pass of a step).
    pub fn zero_grad(&self, backend: &dyn Backend) -> Result<()> {
        crate::ops::fill(
            backend,
            &self.grad,
            &View::contiguous([1, 1, 1, self.len()]),
            0.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;

    #[test]
    fn downloading_a_view_past_its_buffer_is_an_error_not_a_panic() {
        let be = CpuBackend::new();
        let memory = Memory::new();
        let fits = Tensor::from_host(&be, &memory, &[1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2]).unwrap();
        assert_eq!(fits.to_host(&be).unwrap(), [1.0, 2.0, 3.0, 4.0]);
        // Four channels of a buffer that holds one.
        let past = Tensor::new(Rc::clone(&fits.buf), View::contiguous([1, 4, 2, 2]), false);
        let text = past.to_host(&be).expect_err("must be refused").to_string();
        assert!(text.contains("tensor download"), "{text}");
    }
}
