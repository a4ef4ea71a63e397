//! The wgpu backend: WGSL kernels on a Vulkan adapter (a GPU, or Mesa's
//! lavapipe on machines without one).

pub mod adapter;
pub mod driver_stats;
pub mod kernels;
pub mod kernels_conv;
pub mod kernels_train;

use super::{
    Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision, SgdSlot, Storage,
    check_write_len, positive_from_env, wrong_storage,
};
use crate::error::{Error, Result};
use crate::params::{
    BnParams, Conv2dParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams,
    ResizePackParams, SgdManyParams, SgdParams, SliceCopyParams,
};
pub use kernels::WgslKernels;

/// The wgpu backend on one adapter.
pub struct WgslBackend {
    adapter_name: String,
    /// A hardware adapter, not a software driver such as lavapipe.
    hardware: bool,
    /// Bound in place of an absent operand (a binding must hold a buffer).
    placeholder: wgpu::Buffer,
    device: wgpu::Device,
    queue: wgpu::Queue,
    kernels: WgslKernels,
    max_buffer_bytes: u64,
    /// Operations recorded and checked but not yet submitted: they go to
    /// the queue together (see [`WgslBackend::flush`]).
    pending: std::sync::Mutex<Vec<wgpu::CommandBuffer>>,
    /// How many recorded operations make a batch.
    submit_every: usize,
}

/// Operations submitted together by default. A submission signals a fence
/// and, on lavapipe, wakes its queue thread: batching took a tiny fill from
/// about 72 to 38 µs an operation there (64 a batch: 33; stop 14; the
/// lavapipe trainer, bound by its kernels, did not change). Untimed on a GPU.
const SUBMIT_EVERY: usize = 16;

/// `SLIMMABLE_WGSL_SUBMIT_EVERY=N` (A/B runs; 1 submits every operation
/// alone, as before stop 14), else [`SUBMIT_EVERY`].
fn submit_every() -> Result<usize> {
    Ok(
        positive_from_env("SLIMMABLE_WGSL_SUBMIT_EVERY", "operations")?
            .map_or(SUBMIT_EVERY, |n| n as usize),
    )
}

impl WgslBackend {
    /// Opens the preferred Vulkan adapter with its own limits (wgpu's default
    /// limits are lower than what lavapipe and real GPUs offer).
    pub fn new() -> Result<Self> {
        let adapter = adapter::select()?;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("slimmable"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::BackendUnavailable {
            backend: "wgpu",
            reason: format!("the adapter refused a device: {e}"),
        })?;
        let placeholder = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("slimmable placeholder"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(WgslBackend {
            adapter_name: adapter.get_info().name,
            hardware: adapter.get_info().device_type != wgpu::DeviceType::Cpu,
            placeholder,
            device,
            queue,
            kernels: WgslKernels::new().with_wgrad_target_workgroups(wgrad_target_workgroups(
                adapter.get_info().device_type,
            )?),
            max_buffer_bytes: (limits.max_storage_buffer_binding_size as u64)
                .min(limits.max_buffer_size),
            pending: std::sync::Mutex::new(Vec::new()),
            submit_every: submit_every()?,
        })
    }

    /// The device, for engines that share it.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue every submission of this backend goes to. Operations are
    /// submitted in batches: call [`Self::flush`] before submitting work of
    /// your own that must run after them.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Submits every operation recorded so far (in order).
    pub fn flush(&self) -> Result<()> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        self.submit_batch(batch)
    }

    fn submit_batch(&self, batch: Vec<wgpu::CommandBuffer>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let count = batch.len();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue.submit(batch);
        match pollster::block_on(scope.pop()) {
            Some(err) => Err(Error::Wgpu {
                context: format!("submitting {count} recorded operations"),
                message: err.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn buffer<'a>(&self, buf: &'a Buffer) -> Result<&'a wgpu::Buffer> {
        match &buf.storage {
            Storage::Wgpu(b) => Ok(b),
            _ => Err(wrong_storage("wgpu")),
        }
    }

    /// Records with `f` into a fresh encoder, reporting validation errors
    /// as an `Error` naming `what`, and queues the command buffer for the
    /// next batch submission (every `submit_every` operations, and before
    /// any write, read or wait).
    fn submit(
        &self,
        what: &str,
        f: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>,
    ) -> Result<()> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        let recorded = f(&mut encoder);
        let commands = encoder.finish();
        // The scope is popped whatever `f` returned.
        let invalid = pollster::block_on(scope.pop());
        recorded?;
        if let Some(err) = invalid {
            return Err(Error::Wgpu {
                context: what.to_string(),
                message: err.to_string(),
            });
        }
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push(commands);
            (pending.len() >= self.submit_every).then(|| std::mem::take(&mut *pending))
        };
        match full {
            Some(batch) => self.submit_batch(batch),
            None => Ok(()),
        }
    }
}

/// Workgroups a split weight gradient aims for on this adapter type, or
/// what `SLIMMABLE_WGSL_WGRAD_WORKGROUPS` says (for A/B runs).
fn wgrad_target_workgroups(device_type: wgpu::DeviceType) -> Result<u64> {
    let default = if device_type == wgpu::DeviceType::Cpu {
        kernels::CPU_WGRAD_TARGET_WORKGROUPS
    } else {
        kernels::GPU_WGRAD_TARGET_WORKGROUPS
    };
    Ok(positive_from_env("SLIMMABLE_WGSL_WGRAD_WORKGROUPS", "workgroups")?.unwrap_or(default))
}

impl Backend for WgslBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wgpu
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn device_name(&self) -> String {
        self.adapter_name.clone()
    }

    fn on_gpu(&self) -> bool {
        self.hardware
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        super::check_alloc_len(len)?;
        let bytes = (len.max(1) * 4) as u64;
        if bytes > self.max_buffer_bytes {
            return Err(Error::invalid(
                "wgpu buffer",
                format!(
                    "{len} f32s ({bytes} bytes) exceed the adapter's storage binding limit of {} bytes; use smaller tensors or the CUDA backend",
                    self.max_buffer_bytes
                ),
            ));
        }
        let b = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Buffer {
            len,
            storage: Storage::Wgpu(b),
        })
    }

    fn upload(&self, host: &[f32]) -> Result<Buffer> {
        let buf = self.alloc(host.len())?;
        self.write(&buf, host)?;
        Ok(buf)
    }

    fn write(&self, buf: &Buffer, host: &[f32]) -> Result<()> {
        check_write_len(buf, host)?;
        // A queued write runs before the next submission: recorded
        // operations that read `buf` must go first.
        self.flush()?;
        if !host.is_empty() {
            self.queue
                .write_buffer(self.buffer(buf)?, 0, bytemuck::cast_slice(host));
        }
        Ok(())
    }

    fn download(&self, buf: &Buffer) -> Result<Vec<f32>> {
        let src = self.buffer(buf)?;
        let bytes = src.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("slimmable readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.submit("readback copy", |enc| {
            enc.copy_buffer_to_buffer(src, 0, &staging, 0, bytes);
            Ok(())
        })?;
        // The copy must be submitted before the staging buffer is mapped.
        self.flush()?;
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.synchronize()?;
        rx.recv()
            .map_err(|e| Error::Wgpu {
                context: "readback".into(),
                message: e.to_string(),
            })?
            .map_err(|e| Error::Wgpu {
                context: "mapping the readback buffer".into(),
                message: e.to_string(),
            })?;
        let data = slice.get_mapped_range().map_err(|e| Error::Wgpu {
            context: "reading the readback buffer".into(),
            message: e.to_string(),
        })?;
        let mut out: Vec<f32> = bytemuck::cast_slice(&data).to_vec();
        drop(data);
        staging.unmap();
        out.truncate(buf.len);
        Ok(out)
    }

    /// On a GPU a wait for the queue costs about as long as a small kernel
    /// runs, so a sample times a batch of runs between two waits (at least
    /// about 2 ms of work) and reports their mean; on lavapipe, one run.
    fn time_ms(&self, iters: usize, run: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
        run()?;
        self.synchronize()?;
        let reps = if self.hardware {
            let one = super::wall_ms_per_run(self, run, 1)?;
            ((2.0 / one.max(1e-3)).ceil() as usize).clamp(1, 64)
        } else {
            1
        };
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters.max(1) {
            times.push(super::wall_ms_per_run(self, run, reps)?);
        }
        Ok(super::median(&mut times))
    }

    fn synchronize(&self) -> Result<()> {
        self.flush()?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Wgpu {
                context: "waiting for the queue".into(),
                message: e.to_string(),
            })
    }

    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()> {
        let (s, d) = (self.buffer(src)?, self.buffer(dst)?);
        if src.same_storage(dst) {
            // One dispatch cannot bind a buffer both read-only and writable:
            // copy the source side out first (the views are disjoint).
            let tmp = self.alloc(src.len)?;
            let t = self.buffer(&tmp)?;
            return self.submit("slice_copy", |enc| {
                enc.copy_buffer_to_buffer(s, 0, t, 0, s.size());
                self.kernels.encode_slice_copy(&self.device, enc, t, d, p)
            });
        }
        self.submit("slice_copy", |enc| {
            self.kernels.encode_slice_copy(&self.device, enc, s, d, p)
        })
    }

    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()> {
        let d = self.buffer(dst)?;
        self.submit("fill", |enc| {
            self.kernels.encode_fill(&self.device, enc, d, p)
        })
    }

    fn conv2d(
        &self,
        pass: ConvPass,
        _precision: Precision,
        b: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()> {
        self.conv2d_variant(pass, b, p, false)
    }

    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> Result<()> {
        let (s, t, d) = (self.buffer(src)?, self.buffer(desc)?, self.buffer(dst)?);
        self.submit("resize_pack", |enc| {
            self.kernels
                .encode_resize_pack(&self.device, enc, s, t, d, p)
        })
    }

    fn bn_forward_train(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        saved: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let b = [x, gamma, beta, running, saved, y]
            .map(|b| self.buffer(b))
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let &[x, g, be, r, s, y] = &b[..] else {
            unreachable!("one handle per buffer")
        };
        self.submit("bn_forward_train", |enc| {
            self.kernels
                .encode_bn_forward_train(&self.device, enc, x, g, be, r, s, y, p)
        })
    }

    fn bn_forward_eval(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let b = [x, gamma, beta, running, y]
            .map(|b| self.buffer(b))
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let &[x, g, be, r, y] = &b[..] else {
            unreachable!("one handle per buffer")
        };
        self.submit("bn_forward_eval", |enc| {
            self.kernels
                .encode_bn_forward_eval(&self.device, enc, x, g, be, r, y, p)
        })
    }

    fn bn_backward(
        &self,
        x: &Buffer,
        dy: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        saved: &Buffer,
        dgamma: &Buffer,
        dbeta: &Buffer,
        dx: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let b = [x, dy, gamma, beta, saved, dgamma, dbeta, dx]
            .map(|b| self.buffer(b))
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let &[x, dy, g, be, s, dg, db, dx] = &b[..] else {
            unreachable!("one handle per buffer")
        };
        self.submit("bn_backward", |enc| {
            self.kernels
                .encode_bn_backward(&self.device, enc, x, dy, g, be, s, dg, db, dx, p)
        })
    }

    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (x, w, b, y) = (
            self.buffer(x)?,
            self.buffer(w)?,
            self.buffer(b)?,
            self.buffer(y)?,
        );
        self.submit("linear_forward", |enc| {
            self.kernels
                .encode_linear_forward(&self.device, enc, x, w, b, y, p)
        })
    }

    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (dy, w, dx) = (self.buffer(dy)?, self.buffer(w)?, self.buffer(dx)?);
        self.submit("linear_backward_data", |enc| {
            self.kernels
                .encode_linear_backward_data(&self.device, enc, dy, w, dx, p)
        })
    }

    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (dy, x, dw) = (self.buffer(dy)?, self.buffer(x)?, self.buffer(dw)?);
        self.submit("linear_backward_weight", |enc| {
            self.kernels
                .encode_linear_backward_weight(&self.device, enc, dy, x, dw, p)
        })
    }

    fn linear_backward_bias(&self, dy: &Buffer, db: &Buffer, p: &LinearParams) -> Result<()> {
        let (dy, db) = (self.buffer(dy)?, self.buffer(db)?);
        self.submit("linear_backward_bias", |enc| {
            self.kernels
                .encode_linear_backward_bias(&self.device, enc, dy, db, p)
        })
    }

    fn eltwise(&self, a: &Buffer, b: &Buffer, y: &Buffer, p: &EltwiseParams) -> Result<()> {
        let (a, b, y) = (self.buffer(a)?, self.buffer(b)?, self.buffer(y)?);
        self.submit("eltwise", |enc| {
            self.kernels.encode_eltwise(&self.device, enc, a, b, y, p)
        })
    }

    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> Result<()> {
        let (x, y) = (self.buffer(x)?, self.buffer(y)?);
        self.submit("avg_pool_forward", |enc| {
            self.kernels
                .encode_avg_pool_forward(&self.device, enc, x, y, p)
        })
    }

    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> Result<()> {
        let (dy, dx) = (self.buffer(dy)?, self.buffer(dx)?);
        self.submit("avg_pool_backward", |enc| {
            self.kernels
                .encode_avg_pool_backward(&self.device, enc, dy, dx, p)
        })
    }

    fn cross_entropy(
        &self,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (z, l) = (self.buffer(logits)?, self.buffer(labels)?);
        let (o, d) = (self.buffer(loss)?, self.buffer(dlogits)?);
        self.submit("cross_entropy", |enc| {
            self.kernels
                .encode_cross_entropy(&self.device, enc, z, l, o, d, p)
        })
    }

    fn kl_div(
        &self,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (s, t) = (self.buffer(student)?, self.buffer(teacher)?);
        let (o, d) = (self.buffer(loss)?, self.buffer(dlogits)?);
        self.submit("kl_div", |enc| {
            self.kernels.encode_kl_div(&self.device, enc, s, t, o, d, p)
        })
    }

    fn sgd_step(
        &self,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()> {
        let (w, g, m) = (
            self.buffer(param)?,
            self.buffer(grad)?,
            self.buffer(momentum)?,
        );
        self.submit("sgd_step", |enc| {
            self.kernels.encode_sgd_step(&self.device, enc, w, g, m, p)
        })
    }

    /// Every slot's dispatch in one encoder and one submit.
    fn sgd_step_many(&self, slots: &[SgdSlot<'_>], p: &SgdManyParams) -> Result<()> {
        self.submit("sgd_step_many", |enc| {
            for s in slots {
                let (w, g, m) = (
                    self.buffer(s.param)?,
                    self.buffer(s.grad)?,
                    self.buffer(s.momentum)?,
                );
                self.kernels
                    .encode_sgd_step(&self.device, enc, w, g, m, &s.params(p))?;
            }
            Ok(())
        })
    }
}

impl WgslBackend {
    /// [`Backend::conv2d`], or with `naive` the one-output-per-invocation
    /// forward kernel (the bench baseline).
    pub fn conv2d_variant(
        &self,
        pass: ConvPass,
        b: &ConvBuffers,
        p: &Conv2dParams,
        naive: bool,
    ) -> Result<()> {
        let bufs = kernels_conv::WgslConvBuffers {
            x: self.buffer(b.x)?,
            w: self.buffer(b.w)?,
            y: self.buffer(b.y)?,
            bias: match b.bias {
                Some(bb) => self.buffer(bb)?,
                None => &self.placeholder,
            },
        };
        self.submit("conv2d", |enc| {
            self.kernels
                .encode_conv2d(&self.device, enc, pass, &bufs, p, naive)
        })
    }
}
