//! Raw-pointer launches of the batch-norm kernels (`kernels/norm.cu`), and
//! the generic launch helper the other training kernels share.
//!
//! Same contract as [`super::launch`]: device pointers of the stream's
//! context, the loaded [`CudaKernels`], and the parameter struct.

use super::launch::{CudaKernels, driver_err};
use crate::error::Result;
use crate::kernel_sources::entry;
use crate::params::BnParams;
use crate::switches::switched_on;
use cudarc::driver::{CudaStream, DeviceRepr, LaunchConfig, PushKernelArg, sys};

// SAFETY: #[repr(C)], Pod, mirrored by kernels/common.cuh (tests/param_layout.rs).
unsafe impl DeviceRepr for BnParams {}

/// Threads per block of every kernel here (the reductions assume 256).
pub(crate) const THREADS: u32 = 256;

/// A 1-D grid-stride launch over `n` items.
pub(crate) fn grid_stride(n: u64) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(THREADS as u64).clamp(1, 65_535 * 8) as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Grid `(chunks, c)` of 256-thread blocks: the per-channel reductions.
fn per_chunk(p: &BnParams) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (p.chunks, p.x.dims[1], 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One warp per channel (the two finalize kernels), 8 channels a block.
fn warp_per_channel(c: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (c.div_ceil(THREADS / 32).max(1), 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Largest N·H·W the channel-resident kernels take (on float4 views both
/// hold 14336 in one round and take two above it; scalar views take more
/// rounds: see kernels/norm.cu). Up to it one
/// block per channel holds the channel in registers: one launch each way
/// instead of three, x read once. Past it the split reduction fills the GPU
/// better (the resident kernels would need several rounds per channel).
const RESIDENT_MAX_COUNT: u32 = 16_384;

/// `SLIMMABLE_BN_RESIDENT=0` keeps every shape on the split kernels (for
/// A/B timing, and as a way around the resident kernels should they fail).
fn resident(p: &BnParams) -> bool {
    switched_on!("SLIMMABLE_BN_RESIDENT") && p.count <= RESIDENT_MAX_COUNT
}

/// One block of 256 threads per channel (the resident kernels:
/// `BN_RESF_THREADS`, `BN_RESB_THREADS` in kernels/norm.cu), with
/// `shared_mem_bytes` of dynamic shared memory.
fn block_per_channel(p: &BnParams, shared_mem_bytes: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (p.x.dims[1].max(1), 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes,
    }
}

/// Largest N·H·W of the small resident kernels (`BN_SMALL_*` in
/// kernels/norm.cu: 64 threads of 8 float4s, one round): the 4×4 and smaller
/// planes of a MobileNet's last stages, where 256-thread blocks are mostly
/// idle in their reductions and few fit an SM.
const SMALL_MAX_COUNT: u32 = 2048;
/// Threads of the small resident kernels (`BN_SMALL_THREADS`), and the
/// small backward's dynamic shared memory (`BN_SMALL_SMEM`: 8 float4s a
/// thread).
const SMALL_THREADS: u32 = 64;
const SMALL_BACKWARD_SMEM: u32 = SMALL_THREADS * 8 * 16;

/// The resident kernel for `p` and its launch: the small twin up to
/// SMALL_MAX_COUNT (64-thread blocks), else one 256-thread block a channel.
/// `SLIMMABLE_BN_SMALL=0` sends them to the 256-thread kernels (A/B timing).
fn resident_launch(p: &BnParams, forward: bool) -> (&'static str, LaunchConfig) {
    if switched_on!("SLIMMABLE_BN_SMALL") && p.count <= SMALL_MAX_COUNT {
        let cfg = LaunchConfig {
            grid_dim: (p.x.dims[1].max(1), 1, 1),
            block_dim: (SMALL_THREADS, 1, 1),
            shared_mem_bytes: if forward { 0 } else { SMALL_BACKWARD_SMEM },
        };
        let name = if forward {
            entry::BN_FORWARD_RESIDENT_SMALL_F32
        } else {
            entry::BN_BACKWARD_RESIDENT_SMALL_F32
        };
        return (name, cfg);
    }
    if forward {
        (entry::BN_FORWARD_RESIDENT_F32, block_per_channel(p, 0))
    } else {
        (
            entry::BN_BACKWARD_RESIDENT_F32,
            block_per_channel(p, RESIDENT_BACKWARD_SMEM),
        )
    }
}

/// Dynamic shared memory of the resident backward (`BN_RESB_SMEM`: dy, 14
/// float4s for each of 256 threads); CudaKernels::load raises the kernel's
/// limit to it.
pub const RESIDENT_BACKWARD_SMEM: u32 = 256 * 14 * 16;

/// Elements per block of `normalize` / `backward_dx` (`BN_TILE` in
/// kernels/norm.cu): each 256-thread block takes one tile of the
/// channel-major flat order, 16 elements a thread.
const TILE: u64 = 4096;

/// The 1-D grid of the elementwise BN kernels (normalize, backward dx).
fn elementwise(p: &BnParams) -> (BnParams, LaunchConfig) {
    let cfg = LaunchConfig {
        grid_dim: (p.x.numel().div_ceil(TILE).max(1) as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    (*p, cfg)
}

/// Launches `name` with the pointer arguments in order, then the params.
///
/// # Safety
/// The pointers must match the kernel's signature and address live device
/// memory of the stream's context covering everything `p` describes.
pub(crate) unsafe fn launch_raw<P: DeviceRepr>(
    k: &CudaKernels,
    stream: &CudaStream,
    name: &'static str,
    cfg: LaunchConfig,
    ptrs: &[sys::CUdeviceptr],
    p: &P,
) -> Result<()> {
    let mut b = stream.launch_builder(k.function(name)?);
    for ptr in ptrs {
        b.arg(ptr);
    }
    b.arg(p);
    // SAFETY: per the caller's contract.
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(|e| driver_err(name, e))
}

/// Training forward: stats, finalize (and running update), normalize.
///
/// # Safety
/// All pointers are live allocations of `stream`'s context: `x` covers
/// `p.x`, `y` covers `p.y`, γ/β cover `offset + c`, `running` covers both
/// statistics slices, `saved` holds `crate::ops::bn_saved_len` elements;
/// outputs do not alias inputs.
#[allow(clippy::too_many_arguments)]
pub unsafe fn launch_bn_forward_train(
    k: &CudaKernels,
    stream: &CudaStream,
    x: sys::CUdeviceptr,
    gamma: sys::CUdeviceptr,
    beta: sys::CUdeviceptr,
    running: sys::CUdeviceptr,
    saved: sys::CUdeviceptr,
    y: sys::CUdeviceptr,
    p: &BnParams,
) -> Result<()> {
    if resident(p) {
        let (name, cfg) = resident_launch(p, true);
        // SAFETY: per the contract above.
        return unsafe {
            launch_raw(
                k,
                stream,
                name,
                cfg,
                &[x, gamma, beta, running, saved, y],
                p,
            )
        };
    }
    let (norm, cfg) = elementwise(&p.for_train_normalize());
    // SAFETY: per the contract above.
    unsafe {
        launch_raw(k, stream, entry::BN_STATS_F32, per_chunk(p), &[x, saved], p)?;
        launch_raw(
            k,
            stream,
            entry::BN_FINALIZE_F32,
            warp_per_channel(p.x.dims[1]),
            &[saved, running],
            p,
        )?;
        launch_raw(
            k,
            stream,
            entry::BN_NORMALIZE_F32,
            cfg,
            &[x, gamma, beta, saved, y],
            &norm,
        )
    }
}

/// Eval forward from running statistics (`p.flags` has `STATS_ARE_VAR`).
///
/// # Safety
/// As [`launch_bn_forward_train`], with `running` holding the statistics.
#[allow(clippy::too_many_arguments)]
pub unsafe fn launch_bn_forward_eval(
    k: &CudaKernels,
    stream: &CudaStream,
    x: sys::CUdeviceptr,
    gamma: sys::CUdeviceptr,
    beta: sys::CUdeviceptr,
    running: sys::CUdeviceptr,
    y: sys::CUdeviceptr,
    p: &BnParams,
) -> Result<()> {
    let (q, cfg) = elementwise(p);
    // SAFETY: per the contract above.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::BN_NORMALIZE_F32,
            cfg,
            &[x, gamma, beta, running, y],
            &q,
        )
    }
}

/// Backward: partials, finalize (dγ, dβ accumulated), dx (`p.y` is dx).
///
/// # Safety
/// As [`launch_bn_forward_train`]; `saved` holds the forward's statistics;
/// `dgamma`/`dbeta` cover their offsets + c.
#[allow(clippy::too_many_arguments)]
pub unsafe fn launch_bn_backward(
    k: &CudaKernels,
    stream: &CudaStream,
    x: sys::CUdeviceptr,
    dy: sys::CUdeviceptr,
    gamma: sys::CUdeviceptr,
    beta: sys::CUdeviceptr,
    saved: sys::CUdeviceptr,
    dgamma: sys::CUdeviceptr,
    dbeta: sys::CUdeviceptr,
    dx: sys::CUdeviceptr,
    p: &BnParams,
) -> Result<()> {
    if resident(p) {
        let (name, cfg) = resident_launch(p, false);
        let ptrs = [x, dy, gamma, beta, saved, dgamma, dbeta, dx];
        // SAFETY: per the contract above.
        return unsafe { launch_raw(k, stream, name, cfg, &ptrs, p) };
    }
    let (q, cfg) = elementwise(p);
    // SAFETY: per the contract above.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::BN_BACKWARD_PARTIALS_F32,
            per_chunk(p),
            &[x, dy, gamma, beta, saved],
            p,
        )?;
        launch_raw(
            k,
            stream,
            entry::BN_BACKWARD_FINALIZE_F32,
            warp_per_channel(p.x.dims[1]),
            &[saved, dgamma, dbeta],
            p,
        )?;
        launch_raw(
            k,
            stream,
            entry::BN_BACKWARD_DX_F32,
            cfg,
            &[x, dy, gamma, beta, saved, dx],
            &q,
        )
    }
}
