//! The CUDA backend: one context and stream per device, kernels compiled at
//! run time by NVRTC for the device's own architecture.
//!
//! cudarc panics when libcuda is missing, so [`CudaBackend::new`] checks
//! `is_culib_present()` before anything else touches the driver.

pub mod conv_plan;
pub mod cubin_cache;
pub mod launch;
pub mod launch_conv;
pub mod launch_norm;
pub mod launch_resize;
pub mod launch_train;
pub mod nvrtc;

use super::{
    Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision, SgdSlot, Storage,
    check_write_len, wrong_storage,
};
use crate::error::{Error, Result};
use crate::params::{
    BnParams, Conv2dParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams,
    ResizePackParams, SgdManyParams, SgdParams, SliceCopyParams,
};
use cudarc::driver::{CudaContext, CudaEvent, CudaSlice, CudaStream, DevicePtr, SyncOnDrop, sys};
use launch::{CudaKernels, driver_err};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What `slimmable devices` reports about a CUDA device.
#[derive(Clone, Debug)]
pub struct CudaDeviceInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub sm_count: i32,
    pub total_memory_bytes: usize,
}

/// Fails with a clear reason unless the CUDA driver library can be loaded.
pub fn ensure_driver() -> Result<()> {
    // SAFETY: only tries to dlopen libcuda by its usual names.
    if unsafe { sys::is_culib_present() } {
        Ok(())
    } else {
        Err(Error::BackendUnavailable {
            backend: "cuda",
            reason: "libcuda.so was not found: no NVIDIA driver is installed on this machine \
                     (install the driver, or use --backend wgpu / cpu)"
                .into(),
        })
    }
}

/// Describes device `ordinal` without compiling anything.
/// A context on device `ordinal`, or why there is none.
fn open_context(ordinal: usize) -> Result<Arc<CudaContext>> {
    ensure_driver()?;
    let count = CudaContext::device_count().map_err(|e| driver_err("cuDeviceGetCount", e))?;
    if ordinal as i32 >= count {
        return Err(Error::BackendUnavailable {
            backend: "cuda",
            reason: format!(
                "the driver reports {count} CUDA device(s); device {ordinal} does not exist"
            ),
        });
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| driver_err("cuCtxCreate", e))?;
    Ok(ctx)
}

pub fn device_info(ordinal: usize) -> Result<CudaDeviceInfo> {
    let ctx = open_context(ordinal)?;
    Ok(CudaDeviceInfo {
        ordinal,
        name: ctx.name().map_err(|e| driver_err("cuDeviceGetName", e))?,
        compute_capability: ctx
            .compute_capability()
            .map_err(|e| driver_err("cuDeviceGetAttribute", e))?,
        sm_count: ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|e| driver_err("cuDeviceGetAttribute", e))?,
        total_memory_bytes: ctx
            .total_mem()
            .map_err(|e| driver_err("cuDeviceTotalMem", e))?,
    })
}

/// The CUDA backend on one device.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    kernels: CudaKernels,
    /// Device copies of multi-tensor SGD tables, keyed by their words: a
    /// network's table is the same every step, so it is uploaded once (the
    /// upload synchronizes) and reused.
    sgd_tables: Mutex<HashMap<Vec<u64>, CudaSlice<u64>>>,
    /// The second stream of `conv2d_backward`, made on first use.
    backward: std::sync::OnceLock<BackwardStreams>,
}

/// What running a conv's wgrad beside its dgrad takes: a stream of its own
/// and the two events that fence it in (re-recorded each time).
struct BackwardStreams {
    side: Arc<CudaStream>,
    fork: CudaEvent,
    join: CudaEvent,
}

/// Whether `conv2d_backward` runs the weight gradient on a second stream
/// beside the data gradient (opt-in `SLIMMABLE_CONV_BACKWARD_STREAMS=1`
/// until a GPU times it). Where one pass's grid leaves SMs or block slots
/// idle (`res3x3` at 128 px: 128 dgrad blocks for 132 SMs of two slots)
/// the other's blocks can fill them.
fn backward_streams_enabled() -> bool {
    crate::switches::opted_in!("SLIMMABLE_CONV_BACKWARD_STREAMS")
}

/// Distinct SGD tables kept before the cache starts over (a process trains
/// one or two networks; this only bounds a caller that keeps changing them).
const SGD_TABLES_KEPT: usize = 8;

impl CudaBackend {
    /// Opens device `ordinal` and compiles the kernels for it (or loads
    /// them as cubins, which needs no NVRTC: `cubin_cache`).
    pub fn new(ordinal: usize) -> Result<Self> {
        ensure_driver()?;
        let ctx = open_context(ordinal)?;
        // SAFETY: this backend launches everything on one stream, so cudarc's
        // per-buffer events (cross-stream ordering) are not needed; without
        // them a launch costs no extra event record/wait calls.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        let kernels = CudaKernels::load(&ctx)?;
        Ok(CudaBackend {
            ctx,
            stream,
            kernels,
            sgd_tables: Mutex::new(HashMap::new()),
            backward: std::sync::OnceLock::new(),
        })
    }

    fn backward_streams(&self) -> Result<&BackwardStreams> {
        if let Some(b) = self.backward.get() {
            return Ok(b);
        }
        let untimed = Some(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING);
        let event = || {
            self.ctx
                .new_event(untimed)
                .map_err(|e| driver_err("cuEventCreate", e))
        };
        let made = BackwardStreams {
            side: self
                .ctx
                .new_stream()
                .map_err(|e| driver_err("cuStreamCreate", e))?,
            fork: event()?,
            join: event()?,
        };
        Ok(self.backward.get_or_init(|| made))
    }

    /// One conv pass launched on `stream`.
    fn conv2d_on(
        &self,
        stream: &CudaStream,
        pass: ConvPass,
        precision: Precision,
        b: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()> {
        let (x, _gx) = self.slice(b.x)?.device_ptr(stream);
        let (w, _gw) = self.slice(b.w)?.device_ptr(stream);
        let (y, _gy) = self.slice(b.y)?.device_ptr(stream);
        let bias_slice = b.bias.map(|bb| self.slice(bb)).transpose()?;
        let bias_ptr = bias_slice.map(|s| s.device_ptr(stream));
        let ptr = launch_conv::ConvPointers {
            x,
            w,
            y,
            bias: bias_ptr.as_ref().map_or(0, |(p, _)| *p),
        };
        // SAFETY: crate::ops checked every view against its buffer and that
        // written buffers are not read through another operand.
        unsafe { launch_conv::launch_conv2d(&self.kernels, stream, pass, precision, ptr, p) }
    }

    /// The context, for engines that share it.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// The stream every launch of this backend goes to.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The loaded kernels, for raw launches on this context.
    pub fn kernels(&self) -> &CudaKernels {
        &self.kernels
    }

    fn slice<'a>(&self, buf: &'a Buffer) -> Result<&'a CudaSlice<f32>> {
        match &buf.storage {
            Storage::Cuda(s) => Ok(s),
            _ => Err(wrong_storage("cuda")),
        }
    }

    /// Device pointers of `bufs`, with the guards that keep them in order on
    /// the stream (drop them after the launch).
    fn ptrs<'a>(
        &'a self,
        bufs: &[&'a Buffer],
    ) -> Result<(Vec<sys::CUdeviceptr>, Vec<SyncOnDrop<'a>>)> {
        let mut ptrs = Vec::with_capacity(bufs.len());
        let mut guards = Vec::with_capacity(bufs.len());
        for b in bufs {
            let (p, g) = self.slice(b)?.device_ptr(&self.stream);
            ptrs.push(p);
            guards.push(g);
        }
        Ok((ptrs, guards))
    }
}

impl Backend for CudaBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn device_name(&self) -> String {
        let name = self.ctx.name().unwrap_or_else(|_| "CUDA device".into());
        format!("{name} ({})", self.kernels.arch)
    }

    fn on_gpu(&self) -> bool {
        true
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        super::check_alloc_len(len)?;
        // SAFETY: f32 has no invalid bit patterns; callers treat the contents
        // as unspecified until written.
        let s = unsafe { self.stream.alloc::<f32>(len.max(1)) }
            .map_err(|e| driver_err("cuMemAlloc", e))?;
        Ok(Buffer {
            len,
            storage: Storage::Cuda(s),
        })
    }

    fn upload(&self, host: &[f32]) -> Result<Buffer> {
        let buf = self.alloc(host.len())?;
        if !host.is_empty() {
            self.write(&buf, host)?;
        }
        Ok(buf)
    }

    fn write(&self, buf: &Buffer, host: &[f32]) -> Result<()> {
        check_write_len(buf, host)?;
        let s = self.slice(buf)?;
        let (ptr, _sync) = s.device_ptr(&self.stream);
        // SAFETY: `ptr` holds `buf.len` f32s; the copy is synchronous
        // w.r.t. the host buffer (cuMemcpyHtoD blocks on pageable memory).
        unsafe { cudarc::driver::result::memcpy_htod_sync(ptr, host) }
            .map_err(|e| driver_err("cuMemcpyHtoD", e))
    }

    fn download(&self, buf: &Buffer) -> Result<Vec<f32>> {
        let s = self.slice(buf)?;
        let mut out = self
            .stream
            .clone_dtoh(s)
            .map_err(|e| driver_err("cuMemcpyDtoH", e))?;
        self.synchronize()?;
        out.truncate(buf.len);
        Ok(out)
    }

    fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| driver_err("cuStreamSynchronize", e))
    }

    fn time_ms(&self, iters: usize, run: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
        run()?;
        self.synchronize()?;
        let timing = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters.max(1) {
            // One untimed run first, so that the timed one is queued behind
            // it and the start event does not count the first launch's
            // latency at an idle GPU (tools/bench_torch.py does the same).
            run()?;
            let start = self
                .stream
                .record_event(timing)
                .map_err(|e| driver_err("cuEventRecord", e))?;
            run()?;
            let end = self
                .stream
                .record_event(timing)
                .map_err(|e| driver_err("cuEventRecord", e))?;
            let ms = start
                .elapsed_ms(&end)
                .map_err(|e| driver_err("cuEventElapsedTime", e))?;
            times.push(ms as f64);
        }
        Ok(super::median(&mut times))
    }

    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()> {
        let (s, d) = (self.slice(src)?, self.slice(dst)?);
        let (sp, _g1) = s.device_ptr(&self.stream);
        let (dp, _g2) = d.device_ptr(&self.stream);
        // SAFETY: crate::ops checked both views against the buffer lengths
        // and for overlap.
        unsafe { launch::launch_slice_copy(&self.kernels, &self.stream, sp, dp, p) }
    }

    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()> {
        let d = self.slice(dst)?;
        let (dp, _g) = d.device_ptr(&self.stream);
        // SAFETY: crate::ops checked the view against the buffer length.
        unsafe { launch::launch_fill(&self.kernels, &self.stream, dp, p) }
    }

    fn conv2d(
        &self,
        pass: ConvPass,
        precision: Precision,
        b: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()> {
        self.conv2d_on(&self.stream, pass, precision, b, p)
    }

    fn conv2d_backward(
        &self,
        precision: Precision,
        dgrad: (&ConvBuffers, &Conv2dParams),
        wgrad: (&ConvBuffers, &Conv2dParams),
    ) -> Result<()> {
        if !backward_streams_enabled() {
            return super::conv2d_backward_in_turn(self, precision, dgrad, wgrad);
        }
        let b = self.backward_streams()?;
        let err = |what| move |e| driver_err(what, e);
        // The side stream starts after everything queued so far (dy, x and
        // the gradient slice are written by then) ...
        b.fork.record(&self.stream).map_err(err("cuEventRecord"))?;
        b.side.wait(&b.fork).map_err(err("cuStreamWaitEvent"))?;
        // ... the dgrad is queued first, so its blocks go out first, and
        // the wgrad's fill the slots it leaves ...
        self.conv2d_on(&self.stream, ConvPass::Dgrad, precision, dgrad.0, dgrad.1)?;
        let wgrad_result = self.conv2d_on(&b.side, ConvPass::Wgrad, precision, wgrad.0, wgrad.1);
        // ... and everything queued after waits for both (joined even when
        // the wgrad's launch failed, so that the streams stay in step).
        b.join.record(&b.side).map_err(err("cuEventRecord"))?;
        self.stream
            .wait(&b.join)
            .map_err(err("cuStreamWaitEvent"))?;
        wgrad_result
    }

    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> Result<()> {
        let (s, t, d) = (self.slice(src)?, self.slice(desc)?, self.slice(dst)?);
        let (sp, _g1) = s.device_ptr(&self.stream);
        let (tp, _g2) = t.device_ptr(&self.stream);
        let (dp, _g3) = d.device_ptr(&self.stream);
        // SAFETY: crate::ops::resize built the table for `p` and checked the
        // source and arena lengths and that they are distinct buffers.
        unsafe { launch_resize::launch_resize_pack(&self.kernels, &self.stream, sp, tp, dp, p) }
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
        let (q, _g) = self.ptrs(&[x, gamma, beta, running, saved, y])?;
        let k = &self.kernels;
        // SAFETY: crate::ops checked every view and slice against its buffer.
        unsafe {
            launch_norm::launch_bn_forward_train(
                k,
                &self.stream,
                q[0],
                q[1],
                q[2],
                q[3],
                q[4],
                q[5],
                p,
            )
        }
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
        let (q, _g) = self.ptrs(&[x, gamma, beta, running, y])?;
        // SAFETY: crate::ops checked every view and slice against its buffer.
        unsafe {
            launch_norm::launch_bn_forward_eval(
                &self.kernels,
                &self.stream,
                q[0],
                q[1],
                q[2],
                q[3],
                q[4],
                p,
            )
        }
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
        let (q, _g) = self.ptrs(&[x, dy, gamma, beta, saved, dgamma, dbeta, dx])?;
        let k = &self.kernels;
        // SAFETY: crate::ops checked every view and slice against its buffer.
        unsafe {
            launch_norm::launch_bn_backward(
                k,
                &self.stream,
                q[0],
                q[1],
                q[2],
                q[3],
                q[4],
                q[5],
                q[6],
                q[7],
                p,
            )
        }
    }

    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[x, w, b, y])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_linear_forward(
                &self.kernels,
                &self.stream,
                q[0],
                q[1],
                q[2],
                q[3],
                p,
            )
        }
    }

    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[dy, w, dx])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_linear_backward_data(
                &self.kernels,
                &self.stream,
                q[0],
                q[1],
                q[2],
                p,
            )
        }
    }

    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[dy, x, dw])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_linear_backward_weight(
                &self.kernels,
                &self.stream,
                q[0],
                q[1],
                q[2],
                p,
            )
        }
    }

    fn linear_backward_bias(&self, dy: &Buffer, db: &Buffer, p: &LinearParams) -> Result<()> {
        let (q, _g) = self.ptrs(&[dy, db])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_linear_backward_bias(&self.kernels, &self.stream, q[0], q[1], p)
        }
    }

    fn eltwise(&self, a: &Buffer, b: &Buffer, y: &Buffer, p: &EltwiseParams) -> Result<()> {
        let (q, _g) = self.ptrs(&[a, b, y])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe { launch_train::launch_eltwise(&self.kernels, &self.stream, q[0], q[1], q[2], p) }
    }

    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> Result<()> {
        let (q, _g) = self.ptrs(&[x, y])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe { launch_train::launch_avg_pool_forward(&self.kernels, &self.stream, q[0], q[1], p) }
    }

    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> Result<()> {
        let (q, _g) = self.ptrs(&[dy, dx])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_avg_pool_backward(&self.kernels, &self.stream, q[0], q[1], p)
        }
    }

    fn cross_entropy(
        &self,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[logits, labels, loss, dlogits])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_cross_entropy(
                &self.kernels,
                &self.stream,
                q[0],
                q[1],
                q[2],
                q[3],
                p,
            )
        }
    }

    fn kl_div(
        &self,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[student, teacher, loss, dlogits])?;
        // SAFETY: crate::ops checked every view against its buffer.
        unsafe {
            launch_train::launch_kl_div(&self.kernels, &self.stream, q[0], q[1], q[2], q[3], p)
        }
    }

    fn sgd_step(
        &self,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()> {
        let (q, _g) = self.ptrs(&[param, grad, momentum])?;
        // SAFETY: crate::ops checked the range against every buffer.
        unsafe { launch_train::launch_sgd_step(&self.kernels, &self.stream, q[0], q[1], q[2], p) }
    }

    fn sgd_step_many(&self, slots: &[SgdSlot<'_>], p: &SgdManyParams) -> Result<()> {
        // SLIMMABLE_SGD_MANY=0: one launch per parameter (A/B timing).
        if !crate::switches::switched_on!("SLIMMABLE_SGD_MANY") {
            return super::sgd_step_each(self, slots, p);
        }
        let bufs: Vec<&Buffer> = slots
            .iter()
            .flat_map(|s| [s.param, s.grad, s.momentum])
            .collect();
        let (q, _g) = self.ptrs(&bufs)?;
        let list: Vec<_> = slots
            .iter()
            .zip(q.chunks_exact(3))
            .map(|(s, q)| (q[0], q[1], q[2], s.param.len(), s.weight_decay))
            .collect();
        let (table, blocks) = launch_train::sgd_many_table(&list)?;
        let words: Vec<u64> = bytemuck::cast_slice(&table).to_vec();
        let mut cache = self.sgd_tables.lock().map_err(|_| {
            Error::invalid(
                "sgd_step_many",
                "a previous step panicked mid-update; reopen the backend",
            )
        })?;
        if !cache.contains_key(&words) {
            if cache.len() >= SGD_TABLES_KEPT {
                // Dropping a slice frees it in stream order, after any
                // launch that still reads it.
                cache.clear();
            }
            // SAFETY: u64 has no invalid bit patterns; written right below.
            let dev = unsafe { self.stream.alloc::<u64>(words.len()) }
                .map_err(|e| driver_err("cuMemAlloc", e))?;
            let (ptr, sync) = dev.device_ptr(&self.stream);
            // SAFETY: `ptr` holds `words.len()` u64s.
            unsafe { cudarc::driver::result::memcpy_htod_sync(ptr, &words) }
                .map_err(|e| driver_err("cuMemcpyHtoD", e))?;
            drop(sync);
            cache.insert(words.clone(), dev);
        }
        let (tptr, _tg) = cache[&words].device_ptr(&self.stream);
        let p = SgdManyParams {
            count: table.len() as u32,
            ..*p
        };
        // SAFETY: crate::ops checked every slot (lengths, distinct buffers);
        // the table was built from those slots' pointers.
        unsafe { launch_train::launch_sgd_many(&self.kernels, &self.stream, tptr, blocks, &p) }
    }
}
