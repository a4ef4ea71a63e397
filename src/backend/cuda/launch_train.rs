//! Raw-pointer launches of the other training kernels: linear, elementwise
//! and pooling, the losses, and the SGD step. Same contract as
//! [`super::launch`]: pointers of the stream's context, loaded kernels, the
//! parameter struct; every pointer must cover what the struct describes and
//! outputs must not alias inputs.

use super::launch::CudaKernels;
use super::launch_norm::{grid_stride, launch_raw};
use crate::error::Error;
use crate::error::Result;
use crate::kernel_sources::entry;
use crate::params::{
    EltwiseParams, LinearParams, LossParams, PoolParams, SGD_MANY_CHUNK, SgdManyParams, SgdParams,
    SgdSlotEntry,
};
use cudarc::driver::{CudaStream, DeviceRepr, LaunchConfig, sys};

// SAFETY: #[repr(C)], Pod, mirrored by kernels/common.cuh (tests/param_layout.rs).
unsafe impl DeviceRepr for LinearParams {}
unsafe impl DeviceRepr for EltwiseParams {}
unsafe impl DeviceRepr for PoolParams {}
unsafe impl DeviceRepr for LossParams {}
unsafe impl DeviceRepr for SgdParams {}
unsafe impl DeviceRepr for SgdManyParams {}

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

/// Threads of a `slimmable_sgd_many_f32` block.
const SGD_MANY_THREADS: u32 = 256;

/// The device table of a multi-tensor SGD launch, one entry per
/// `(param, grad, momentum, len, weight decay)`, each given
/// `ceil(len / SGD_MANY_CHUNK)` consecutive blocks; and the number of
/// blocks in all (the launch's grid). Fails on an empty list, an empty or
/// over-long parameter, or more blocks than a grid holds.
pub fn sgd_many_table(
    slots: &[(
        sys::CUdeviceptr,
        sys::CUdeviceptr,
        sys::CUdeviceptr,
        usize,
        f32,
    )],
) -> Result<(Vec<SgdSlotEntry>, u32)> {
    let op = "sgd_step_many";
    if slots.is_empty() {
        return Err(Error::invalid(op, "no parameters given; pass at least one"));
    }
    let mut table = Vec::with_capacity(slots.len());
    let mut blocks: u64 = 0;
    for &(param, grad, momentum, len, weight_decay) in slots {
        if len == 0 || len > u32::MAX as usize {
            return Err(Error::invalid(
                op,
                format!("a parameter of {len} elements; each must hold 1 to 2^32 - 1"),
            ));
        }
        table.push(SgdSlotEntry {
            param,
            grad,
            momentum,
            len: len as u32,
            weight_decay,
            first_block: blocks as u32,
            _pad: 0,
        });
        blocks += (len as u64).div_ceil(SGD_MANY_CHUNK as u64);
        if blocks > i32::MAX as u64 {
            return Err(Error::invalid(
                op,
                "the parameters need more blocks than one grid holds; split them into groups",
            ));
        }
    }
    Ok((table, blocks as u32))
}

/// Every slot of a table built by [`sgd_many_table`] in one launch.
///
/// # Safety
/// `table` points at the device copy of the entries (`p.count` of them),
/// `blocks` is what [`sgd_many_table`] returned, and every entry's three
/// pointers cover `len` elements, with param and momentum buffers distinct
/// from every other buffer of the table.
pub unsafe fn launch_sgd_many(
    k: &CudaKernels,
    stream: &CudaStream,
    table: sys::CUdeviceptr,
    blocks: u32,
    p: &SgdManyParams,
) -> Result<()> {
    let cfg = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (SGD_MANY_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: per the contract above.
    unsafe { launch_raw(k, stream, entry::SGD_MANY_F32, cfg, &[table], p) }
}
