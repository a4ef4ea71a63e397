//! Raw-pointer launches of the other training kernels: linear, elementwise
//! and pooling, the losses, and the SGD step. Same contract as
//! [`super::launch`]: pointers of the stream's context, loaded kernels, the
//! parameter struct; every pointer must cover what the struct describes and
//! outputs must not alias inputs.

use super::launch::CudaKernels;
use super::launch_norm::{grid_stride, launch_raw};
use crate::error::Result;
use crate::kernel_sources::entry;
use crate::params::{EltwiseParams, LinearParams, LossParams, PoolParams, SgdParams};
use cudarc::driver::{CudaStream, DeviceRepr, LaunchConfig, sys};

// SAFETY: #[repr(C)], Pod, mirrored by kernels/common.cuh (tests/param_layout.rs).
unsafe impl DeviceRepr for LinearParams {}
unsafe impl DeviceRepr for EltwiseParams {}
unsafe impl DeviceRepr for PoolParams {}
unsafe impl DeviceRepr for LossParams {}
unsafe impl DeviceRepr for SgdParams {}

/// `y = x·Wᵀ (+ b)`.
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_linear_forward(
    k: &CudaKernels,
    stream: &CudaStream,
    x: sys::CUdeviceptr,
    w: sys::CUdeviceptr,
    b: sys::CUdeviceptr,
    y: sys::CUdeviceptr,
    p: &LinearParams,
) -> Result<()> {
    // 32 x 32 output tiles of 256 threads (LIN_TILE, LIN_THREADS in
    // kernels/linear.cu).
    let cfg = LaunchConfig {
        grid_dim: (p.y.dims[1].div_ceil(32), p.x.dims[0].div_ceil(32), 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::LINEAR_FORWARD_F32, cfg, &[x, w, b, y], p) }
}

/// `dx = dy·W` (written; `p.x` is the dx view).
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_linear_backward_data(
    k: &CudaKernels,
    stream: &CudaStream,
    dy: sys::CUdeviceptr,
    w: sys::CUdeviceptr,
    dx: sys::CUdeviceptr,
    p: &LinearParams,
) -> Result<()> {
    let n = p.x.numel();
    let cfg = grid_stride(n);
    // SAFETY: see the module documentation.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::LINEAR_BACKWARD_DATA_F32,
            cfg,
            &[dy, w, dx],
            p,
        )
    }
}

/// `dW[block] += dyᵀ·x`.
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_linear_backward_weight(
    k: &CudaKernels,
    stream: &CudaStream,
    dy: sys::CUdeviceptr,
    x: sys::CUdeviceptr,
    dw: sys::CUdeviceptr,
    p: &LinearParams,
) -> Result<()> {
    let cfg = grid_stride(p.x.dims[1] as u64 * p.y.dims[1] as u64);
    // SAFETY: see the module documentation.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::LINEAR_BACKWARD_WEIGHT_F32,
            cfg,
            &[dy, x, dw],
            p,
        )
    }
}

/// `db[slice] += Σ_n dy`.
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_linear_backward_bias(
    k: &CudaKernels,
    stream: &CudaStream,
    dy: sys::CUdeviceptr,
    db: sys::CUdeviceptr,
    p: &LinearParams,
) -> Result<()> {
    let cfg = grid_stride(p.y.dims[1] as u64);
    // SAFETY: see the module documentation.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::LINEAR_BACKWARD_BIAS_F32,
            cfg,
            &[dy, db],
            p,
        )
    }
}

/// Elementwise op `p.op` over the views.
///
/// # Safety
/// See the module documentation (`a` and `b` may be the same pointer).
pub unsafe fn launch_eltwise(
    k: &CudaKernels,
    stream: &CudaStream,
    a: sys::CUdeviceptr,
    b: sys::CUdeviceptr,
    y: sys::CUdeviceptr,
    p: &EltwiseParams,
) -> Result<()> {
    let cfg = grid_stride(p.y.numel());
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::ELTWISE_F32, cfg, &[a, b, y], p) }
}

/// Global average pool forward.
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_avg_pool_forward(
    k: &CudaKernels,
    stream: &CudaStream,
    x: sys::CUdeviceptr,
    y: sys::CUdeviceptr,
    p: &PoolParams,
) -> Result<()> {
    let cfg = grid_stride(p.y.numel());
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::AVG_POOL_FORWARD_F32, cfg, &[x, y], p) }
}

/// Global average pool backward (dx written).
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_avg_pool_backward(
    k: &CudaKernels,
    stream: &CudaStream,
    dy: sys::CUdeviceptr,
    dx: sys::CUdeviceptr,
    p: &PoolParams,
) -> Result<()> {
    let cfg = grid_stride(p.x.numel());
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::AVG_POOL_BACKWARD_F32, cfg, &[dy, dx], p) }
}

/// The losses' single block: LOSS_THREADS (kernels/loss.cu), a warp a row.
fn one_block() -> LaunchConfig {
    LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (1024, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Softmax cross-entropy: loss and dlogits.
///
/// # Safety
/// See the module documentation; `labels` holds N values at `labels_offset`.
pub unsafe fn launch_cross_entropy(
    k: &CudaKernels,
    stream: &CudaStream,
    logits: sys::CUdeviceptr,
    labels: sys::CUdeviceptr,
    loss: sys::CUdeviceptr,
    dlogits: sys::CUdeviceptr,
    p: &LossParams,
) -> Result<()> {
    let ptrs = [logits, labels, loss, dlogits];
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::CROSS_ENTROPY_F32, one_block(), &ptrs, p) }
}

/// Distillation KL: loss and d(student).
///
/// # Safety
/// See the module documentation.
pub unsafe fn launch_kl_div(
    k: &CudaKernels,
    stream: &CudaStream,
    student: sys::CUdeviceptr,
    teacher: sys::CUdeviceptr,
    loss: sys::CUdeviceptr,
    dlogits: sys::CUdeviceptr,
    p: &LossParams,
) -> Result<()> {
    let ptrs = [student, teacher, loss, dlogits];
    // SAFETY: see the module documentation.
    unsafe { launch_raw(k, stream, entry::KL_DIV_F32, one_block(), &ptrs, p) }
}

/// One fused SGD step.
///
/// # Safety
/// See the module documentation; the three buffers cover `offset + len`.
pub unsafe fn launch_sgd_step(
    k: &CudaKernels,
    stream: &CudaStream,
    param: sys::CUdeviceptr,
    grad: sys::CUdeviceptr,
    momentum: sys::CUdeviceptr,
    p: &SgdParams,
) -> Result<()> {
    let cfg = grid_stride(p.len as u64);
    // SAFETY: see the module documentation.
    unsafe {
        launch_raw(
            k,
            stream,
            entry::SGD_STEP_F32,
            cfg,
            &[param, grad, momentum],
            p,
        )
    }
}
