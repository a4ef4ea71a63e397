//! The narrow backend interface: device buffers and the kernels, nothing more.
//!
//! Three implementations: [`cpu`] (the reference: plain loops, f64 where
//! arithmetic happens), [`cuda`] (NVRTC-compiled `kernels/*.cu`) and [`wgsl`]
//! (wgpu running `shaders/*.wgsl`). Callers validate shapes through
//! [`crate::ops`], which builds the parameter structs; a backend only runs
//! them. Autograd, layers and the trainer sit above and never name a backend.

pub mod cpu;
pub mod cuda;
pub mod profiled;
pub mod wgsl;

use crate::error::{Error, Result};
use crate::params::{
    BnParams, Conv2dParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams,
    ResizePackParams, SgdManyParams, SgdParams, SliceCopyParams,
};
use std::fmt;

/// Which backend to use. `Auto` picks CUDA if a device works, else a wgpu
/// adapter, else the CPU reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    Auto,
    Cuda,
    Wgpu,
    Cpu,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Auto => "auto",
            BackendKind::Cuda => "cuda",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cpu => "cpu",
        })
    }
}

/// Environment variable that chooses the backend when no `--backend` is given.
pub const BACKEND_ENV: &str = "SLIMMABLE_BACKEND";

/// A flat `f32` buffer on some backend. Views address into it.
pub struct Buffer {
    pub(crate) len: usize,
    pub(crate) storage: Storage,
}

pub(crate) enum Storage {
    Cpu(std::sync::RwLock<Vec<f32>>),
    Cuda(cudarc::driver::CudaSlice<f32>),
    Wgpu(::wgpu::Buffer),
}

impl Buffer {
    /// Length in `f32` elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether two handles name the same storage.
    pub fn same_storage(&self, other: &Buffer) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Which conv2d pass to run (see [`Conv2dParams`] for the buffer roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPass {
    /// `y = conv(x, w) + b`.
    Forward,
    /// `dx = convᵀ(dy, w)`; `x` is written, `y` holds dy.
    Dgrad,
    /// `dw += Σ dy·x`, `db += Σ dy`; `w` and `bias` are written, `y` holds dy.
    Wgrad,
}

/// Arithmetic precision of the matmul-class conv kernels. `F32` is exact
/// f32 everywhere. `Tf32` lets CUDA use TF32 tensor cores (inputs rounded to
/// 10-bit mantissas, f32 accumulation); `Bf16` BF16 tensor cores (inputs
/// rounded to bfloat16's 7-bit mantissas as they are loaded, f32
/// accumulation; tensors stay f32 in memory). Backends without tensor cores
/// compute in f32 (at least as accurate as asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    F32,
    Tf32,
    Bf16,
}

/// The buffers of one conv2d launch; which are written depends on the pass.
pub struct ConvBuffers<'a> {
    pub x: &'a Buffer,
    pub w: &'a Buffer,
    pub y: &'a Buffer,
    pub bias: Option<&'a Buffer>,
}

/// Refuses a buffer the kernels could not index (their offsets are 32-bit)
/// before anything is allocated: a size computed from a user's tensor file
/// must end in an error, not in the allocator aborting the process.
pub fn check_alloc_len(len: usize) -> Result<()> {
    if len > u32::MAX as usize + 1 {
        return Err(crate::error::Error::invalid(
            "buffer",
            format!(
                "{len} elements exceed the kernels' 32-bit indexing (at most 2^32); use smaller tensors or split the work"
            ),
        ));
    }
    Ok(())
}

/// The kernels every backend provides. Parameters are already validated.
pub trait Backend {
    /// Which implementation this is (never `Auto`).
    fn kind(&self) -> BackendKind;
    /// Human-readable device description, e.g. "NVIDIA H200 (sm_90)".
    fn device_name(&self) -> String;
    /// For reaching backend-specific extras (e.g. the WGSL bench baseline).
    fn as_any(&self) -> &dyn std::any::Any;
    /// Whether the kernels run on a GPU (CUDA, or wgpu on a hardware
    /// adapter), not on the host (the CPU reference, lavapipe): benches then
    /// run the full-size suites.
    fn on_gpu(&self) -> bool;

    /// A buffer of `len` elements with unspecified contents.
    fn alloc(&self, len: usize) -> Result<Buffer>;
    /// A buffer holding a copy of `host`.
    fn upload(&self, host: &[f32]) -> Result<Buffer>;
    /// A buffer holding `bytes` packed 4 per 32-bit word, little-endian (the
    /// last word padded with zeros): how `u8` images reach the kernels.
    fn upload_u8(&self, bytes: &[u8]) -> Result<Buffer> {
        self.upload(&crate::ops::resize::pack_u8(bytes))
    }
    /// A buffer holding `u32` words (descriptor tables), bit for bit.
    fn upload_u32(&self, words: &[u32]) -> Result<Buffer> {
        self.upload(&crate::ops::resize::pack_u32(words))
    }
    /// Overwrites the whole buffer with `host` (same length).
    fn write(&self, buf: &Buffer, host: &[f32]) -> Result<()>;
    /// Copies the whole buffer back to the host (waits for pending work).
    fn download(&self, buf: &Buffer) -> Result<Vec<f32>>;
    /// Waits until all submitted work is done.
    fn synchronize(&self) -> Result<()>;

    /// Median milliseconds of `run` over `iters` timed repetitions (after one
    /// warm-up), measured on the device where it can (CUDA events), else by
    /// the wall clock around a synchronize.
    fn time_ms(&self, iters: usize, run: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
        run()?;
        self.synchronize()?;
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters.max(1) {
            times.push(wall_ms_per_run(self, run, 1)?);
        }
        Ok(median(&mut times))
    }

    /// `dst[p.dst] = src[p.src]`.
    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()>;
    /// `dst[p.dst] = p.value`.
    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()>;

    /// One conv2d pass on the views in `p`.
    fn conv2d(
        &self,
        pass: ConvPass,
        precision: Precision,
        bufs: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()>;

    /// A conv's two backward passes, checked by
    /// [`crate::ops::conv2d_backward`]: the data gradient into `dgrad`'s x
    /// and the weight gradient into `wgrad`'s w (and bias). Neither writes
    /// what the other reads, so a backend may run them at the same time;
    /// by default they run one after the other.
    fn conv2d_backward(
        &self,
        precision: Precision,
        dgrad: (&ConvBuffers, &Conv2dParams),
        wgrad: (&ConvBuffers, &Conv2dParams),
    ) -> Result<()> {
        conv2d_backward_in_turn(self, precision, dgrad, wgrad)
    }

    /// Resize, normalize and pack images from `src` into `dst` as described
    /// by the descriptor table `desc` (see [`crate::ops::resize`]).
    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> Result<()>;

    /// Batch-norm training forward on a channel slice: batch statistics into
    /// `saved` (mean, inv-std), running-stat update (if flagged), `y`.
    #[allow(clippy::too_many_arguments)]
    fn bn_forward_train(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        saved: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()>;
    /// Batch-norm eval forward from the statistics in `running`.
    fn bn_forward_eval(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()>;
    /// Batch-norm backward: writes `dx`, accumulates into `dgamma`/`dbeta`.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<()>;

    /// `y = x·Wᵀ (+ b)` on the active block of `w`.
    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()>;
    /// `dx = dy·W` (written). `p.x` is the dx view, `p.y` the dy view.
    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()>;
    /// `dW[block] += dyᵀ·x`.
    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()>;
    /// `db[slice] += Σ_n dy`.
    fn linear_backward_bias(&self, dy: &Buffer, db: &Buffer, p: &LinearParams) -> Result<()>;

    /// Elementwise op (`p.op`, see [`crate::params::eltwise_op`]).
    fn eltwise(&self, a: &Buffer, b: &Buffer, y: &Buffer, p: &EltwiseParams) -> Result<()>;
    /// Global average pool forward (`p.x` input, `p.y` output).
    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> Result<()>;
    /// Global average pool backward (`p.x` is dx, `p.y` is dy; dx written).
    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> Result<()>;

    /// Softmax cross-entropy, mean over the batch: loss and dlogits.
    fn cross_entropy(
        &self,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()>;
    /// KL(softmax(teacher/T) ‖ log_softmax(student/T)), batchmean: loss and
    /// d(student logits).
    fn kl_div(
        &self,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()>;

    /// One fused SGD step on a parameter range.
    fn sgd_step(
        &self,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()>;

    /// One SGD step on many whole parameter buffers that share `lr`,
    /// momentum and flags. CUDA runs it as one launch; this default runs
    /// [`Backend::sgd_step`] once per slot (`sgd_step_each`).
    fn sgd_step_many(&self, slots: &[SgdSlot<'_>], p: &SgdManyParams) -> Result<()> {
        sgd_step_each(self, slots, p)
    }
}

/// The default `conv2d_backward`: the dgrad, then the wgrad (also CUDA's
/// when its second stream is not asked for).
pub(crate) fn conv2d_backward_in_turn<B: Backend + ?Sized>(
    be: &B,
    precision: Precision,
    dgrad: (&ConvBuffers, &Conv2dParams),
    wgrad: (&ConvBuffers, &Conv2dParams),
) -> Result<()> {
    be.conv2d(ConvPass::Dgrad, precision, dgrad.0, dgrad.1)?;
    be.conv2d(ConvPass::Wgrad, precision, wgrad.0, wgrad.1)
}

/// [`Backend::sgd_step_many`] as one [`Backend::sgd_step`] per slot.
pub(crate) fn sgd_step_each<B: Backend + ?Sized>(
    backend: &B,
    slots: &[SgdSlot<'_>],
    p: &SgdManyParams,
) -> Result<()> {
    for s in slots {
        backend.sgd_step(s.param, s.grad, s.momentum, &s.params(p))?;
    }
    Ok(())
}

/// One parameter of [`Backend::sgd_step_many`]: three buffers of the same
/// length, and the parameter's own weight decay.
#[derive(Clone, Copy)]
pub struct SgdSlot<'a> {
    pub param: &'a Buffer,
    pub grad: &'a Buffer,
    pub momentum: &'a Buffer,
    pub weight_decay: f32,
}

impl SgdSlot<'_> {
    /// The single-parameter step of this slot: the whole buffer, `p`'s
    /// shared hyper-parameters, the slot's weight decay.
    pub fn params(&self, p: &SgdManyParams) -> SgdParams {
        SgdParams {
            offset: 0,
            len: self.param.len() as u32,
            flags: p.flags,
            lr: p.lr,
            momentum: p.momentum,
            weight_decay: self.weight_decay,
            ..Default::default()
        }
    }
}

/// A positive count set in the environment variable `var` (for A/B runs),
/// `None` when unset, an error naming `unit` when it is anything else.
pub(crate) fn positive_from_env(var: &str, unit: &str) -> Result<Option<u64>> {
    match std::env::var(var) {
        Err(_) => Ok(None),
        Ok(v) => crate::settings::positive_count(&v)
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(
                    var,
                    format!("'{v}' is not a positive number of {unit}; unset it for the default"),
                )
            }),
    }
}

/// Checks that `host` can overwrite `buf` entirely.
pub(crate) fn check_write_len(buf: &Buffer, host: &[f32]) -> Result<()> {
    if buf.len != host.len() {
        return Err(Error::invalid(
            "buffer write",
            format!(
                "buffer holds {} elements but {} were given; write exactly the buffer's length",
                buf.len,
                host.len()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn wrong_storage(backend: &str) -> Error {
    Error::invalid(
        "buffer",
        format!(
            "this buffer was not allocated by the {backend} backend; allocate buffers on the backend that uses them"
        ),
    )
}

/// Opens the backend `kind`; `Auto` tries CUDA, then wgpu, then CPU.
pub fn open(kind: BackendKind) -> Result<Box<dyn Backend>> {
    match kind {
        BackendKind::Cpu => Ok(Box::new(cpu::CpuBackend::new())),
        BackendKind::Cuda => Ok(Box::new(cuda::CudaBackend::new(0)?)),
        BackendKind::Wgpu => Ok(Box::new(wgsl::WgslBackend::new()?)),
        BackendKind::Auto => {
            if let Ok(b) = cuda::CudaBackend::new(0) {
                return Ok(Box::new(b));
            }
            if let Ok(b) = wgsl::WgslBackend::new() {
                return Ok(Box::new(b));
            }
            Ok(Box::new(cpu::CpuBackend::new()))
        }
    }
}

/// The backend named by [`BACKEND_ENV`], or `Auto`.
pub fn kind_from_env() -> Result<BackendKind> {
    match std::env::var(BACKEND_ENV) {
        Err(_) => Ok(BackendKind::Auto),
        Ok(s) => <BackendKind as clap::ValueEnum>::from_str(&s, true).map_err(|_| {
            Error::invalid(
                BACKEND_ENV,
                format!("'{s}' is not a backend; use auto, cuda, wgpu or cpu"),
            )
        }),
    }
}

/// Median of a non-empty list (sorts it).
/// Wall-clock milliseconds per run of `reps` runs of `run` up to a
/// synchronize (a sample of [`Backend::time_ms`]).
pub(crate) fn wall_ms_per_run<B: Backend + ?Sized>(
    be: &B,
    run: &mut dyn FnMut() -> Result<()>,
    reps: usize,
) -> Result<f64> {
    let t0 = std::time::Instant::now();
    for _ in 0..reps {
        run()?;
    }
    be.synchronize()?;
    Ok(t0.elapsed().as_secs_f64() * 1e3 / reps as f64)
}

/// The middle value (the upper one of an even count); NaN for no values
/// rather than a panic.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
