//! Raw-pointer launch of `slimmable_resize_pack` (see [`super::launch`] for
//! the conventions).

use super::launch::{CudaKernels, driver_err};
use crate::error::Result;
use crate::kernel_sources::entry;
use crate::ops::resize::Filter;
use crate::params::ResizePackParams;
use crate::switches::{opted_in, switched_on};
use cudarc::driver::{CudaStream, LaunchConfig, PushKernelArg, sys};

// SAFETY: #[repr(C)], Pod, mirrored byte for byte by kernels/common.cuh
// (checked by tests/param_layout.rs).
unsafe impl cudarc::driver::DeviceRepr for ResizePackParams {}

/// Threads per block: a column of up to `GROUP_ROWS` output pixels (all
/// channels) each. `slimmable_resize_pack` is compiled with
/// `__launch_bounds__(256, 3)`: larger blocks would fail to launch.
const BLOCK: u32 = 256;

/// Blocks of the per-column kernels (a grid-stride loop covers the rest).
fn per_column_blocks(p: &ResizePackParams) -> u32 {
    (p.total_groups as u64)
        .div_ceil(BLOCK as u64)
        .clamp(1, 65_535 * 8) as u32
}

/// Threads of a `slimmable_resize_pack_bilinear` block (`RPBL_THREADS`): a
/// tile's 32 columns, each thread all 8 rows.
const BILINEAR_BLOCK: u32 = 32;
/// Threads of a `slimmable_resize_pack_aa` block (`RPB_THREADS`): a tile's
/// 32 columns, each thread 4 of its 8 rows.
const AA_BLOCK: u32 = 64;

/// Taps along an axis the antialias tile kernel holds (`RPS_TAPS`): shrinks
/// by up to about 3.5×.
pub const AA_TILE_MAX_TAPS: u32 = 8;

/// Which kernel runs a resize-pack launch: the MutualNet order's own; for
/// the direct order, the bilinear tile kernel for `Filter::Bilinear`
/// (unless `SLIMMABLE_RESIZE_BILINEAR=0`), the antialias tile kernel for
/// `Filter::BilinearAntialias` when every axis fits its taps (unless
/// `SLIMMABLE_RESIZE_AA_TILE=0`), else the per-column kernel. Returns the
/// entry point, blocks and threads a block.
///
/// Stop 31 removed three opt-in routes that lost on the H200: the
/// bilinear tiles with two warps (`SLIMMABLE_RESIZE_BILINEAR_WARP=0`; run 9
/// 0.284 against one warp's 0.236 ms on the 224-px batch), the antialias
/// tiles' staged twin (`SLIMMABLE_RESIZE_AA_STAGE=1`; run 9 0.515 against
/// 0.501) and the 256-thread tiled kernel (`SLIMMABLE_RESIZE_TILED=1`; 14%
/// slower than the per-column kernel).
pub fn resize_route(p: &ResizePackParams) -> (&'static str, u32, u32) {
    if p.cascade != 0 {
        (entry::RESIZE_PACK_MUTUALNET, per_column_blocks(p), BLOCK)
    } else if p.filter_mode == Filter::Bilinear.code() && switched_on!("SLIMMABLE_RESIZE_BILINEAR")
    {
        (
            entry::RESIZE_PACK_BILINEAR,
            p.total_tiles.max(1),
            BILINEAR_BLOCK,
        )
    } else if p.filter_mode == Filter::BilinearAntialias.code()
        && p.max_taps <= AA_TILE_MAX_TAPS
        && switched_on!("SLIMMABLE_RESIZE_AA_TILE")
    {
        (entry::RESIZE_PACK_AA, p.total_tiles.max(1), AA_BLOCK)
    } else {
        (entry::RESIZE_PACK, per_column_blocks(p), BLOCK)
    }
}

/// Launches the kernel [`resize_route`] picks.
///
/// # Safety
/// `src` must hold every image the descriptor table names (bytes for the
/// `u8` formats, 4-byte aligned `f32`s for the `f32` format), `desc` the
/// table built by [`crate::ops::resize::plan`] for `p`, and `dst` every arena
/// element of the outputs; all live allocations of `stream`'s context, `dst`
/// not overlapping the others.
pub unsafe fn launch_resize_pack(
    k: &CudaKernels,
    stream: &CudaStream,
    src: sys::CUdeviceptr,
    desc: sys::CUdeviceptr,
    dst: sys::CUdeviceptr,
    p: &ResizePackParams,
) -> Result<()> {
    let (name, blocks, threads) = resize_route(p);
    // A/B timing of the tile kernels' same-size path, staged spans and
    // image-major block order.
    let p = &ResizePackParams {
        same_size: p.same_size * u32::from(switched_on!("SLIMMABLE_RESIZE_SAME")),
        staged: p.staged * u32::from(switched_on!("SLIMMABLE_RESIZE_STAGE")),
        tile_runs: p.tile_runs * u32::from(opted_in!("SLIMMABLE_RESIZE_IMAGE_MAJOR")),
        ..*p
    };
    let cfg = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut b = stream.launch_builder(k.function(name)?);
    b.arg(&src).arg(&desc).arg(&dst).arg(p);
    // SAFETY: argument types match the kernel signature; pointers per contract.
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(|e| driver_err(name, e))
}
