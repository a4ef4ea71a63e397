//! Raw-pointer launches of the conv2d kernels (`kernels/conv2d.cu`), for
//! other engines and for [`super::CudaBackend`].

use super::conv_plan::{ConvOperand, ConvPlan, PlannedArg, PlannedLaunch};
use super::launch::{BLOCK as FILL_THREADS, CudaKernels, driver_err, elementwise_blocks};
use super::nvrtc;
use crate::backend::{ConvPass, Precision, positive_from_env};
use crate::error::{Error, Result};
use crate::kernel_sources::entry;
use crate::params::{Conv2dParams, FillParams, ViewParams};
use crate::switches::{forced, opted_in, switched_on};
use cudarc::driver::{CudaStream, LaunchConfig, PushKernelArg, sys};

// SAFETY: #[repr(C)], Pod, mirrored by kernels/common.cuh (tests/param_layout.rs).
unsafe impl cudarc::driver::DeviceRepr for Conv2dParams {}

const THREADS: u32 = 256;
/// Blocks to aim for when splitting a reduction (a few waves on ~132 SMs).
const TARGET_BLOCKS: u64 = SM_COUNT * 4;

/// Device pointers of one conv launch (roles as in [`crate::ops::ConvArgs`]).
#[derive(Clone, Copy, Debug)]
pub struct ConvPointers {
    pub x: sys::CUdeviceptr,
    pub w: sys::CUdeviceptr,
    pub y: sys::CUdeviceptr,
    /// 0 when there is no bias.
    pub bias: sys::CUdeviceptr,
}

impl ConvPointers {
    /// The pointer a plan's argument names.
    pub(crate) fn get(&self, operand: ConvOperand) -> &sys::CUdeviceptr {
        match operand {
            ConvOperand::X => &self.x,
            ConvOperand::W => &self.w,
            ConvOperand::Y => &self.y,
            ConvOperand::Bias => &self.bias,
        }
    }
}

/// Whether the depthwise kernels handle this conv (one input and one output
/// channel per group).
pub fn is_depthwise(p: &Conv2dParams) -> bool {
    p.x.dims[1] == p.groups && p.y.dims[1] == p.groups
}

/// The grid of the grid-stride kernels over `n` items, a thread each.
fn grid_1d(n: u64) -> [u64; 3] {
    [n.div_ceil(THREADS as u64).clamp(1, 1 << 20), 1, 1]
}

/// The grid of the fill kernel over `n` elements (`launch_fill`'s).
fn fill_grid(n: u64) -> [u64; 3] {
    [elementwise_blocks(n), 1, 1]
}

/// Images each z plane of a `slimmable_dwconv2d_wgrad_k3s*` block sums over
/// (`DW3_LANE_IMAGES` in kernels/dwconv2d.cu).
const DW3_LANE_IMAGES: u64 = 8;

/// The 3×3 depthwise kernels' tile for a plane `w` wide: TW × TH × P
/// threads, each computing 4 rows (a block covers TW × 4·TH of each of its
/// P planes), and the forward's and dgrad's entries for stride 1 and 2
/// (the 3×3 wgrad has the 32-wide tile only).
struct Dw3Tile {
    tw: u32,
    th: u32,
    pz: u32,
    fwd: [&'static str; 2],
    dgrad: [&'static str; 2],
}

impl Dw3Tile {
    fn for_width(w: u64) -> Self {
        if w >= 28 {
            Dw3Tile {
                tw: 32,
                th: 8,
                pz: 1,
                fwd: [entry::DWCONV2D_FWD_K3S1_T32, entry::DWCONV2D_FWD_K3S2_T32],
                dgrad: [
                    entry::DWCONV2D_DGRAD_K3S1_T32,
                    entry::DWCONV2D_DGRAD_K3S2_T32,
                ],
            }
        } else if w >= 12 {
            Dw3Tile {
                tw: 16,
                th: 4,
                pz: 4,
                fwd: [entry::DWCONV2D_FWD_K3S1_T16, entry::DWCONV2D_FWD_K3S2_T16],
                dgrad: [
                    entry::DWCONV2D_DGRAD_K3S1_T16,
                    entry::DWCONV2D_DGRAD_K3S2_T16,
                ],
            }
        } else {
            Dw3Tile {
                tw: 8,
                th: 2,
                pz: 16,
                fwd: [entry::DWCONV2D_FWD_K3S1_T8, entry::DWCONV2D_FWD_K3S2_T8],
                dgrad: [entry::DWCONV2D_DGRAD_K3S1_T8, entry::DWCONV2D_DGRAD_K3S2_T8],
            }
        }
    }

    /// The grid and block over a `w × h` output with `z_blocks` along z.
    fn shape(&self, w: u64, h: u64, z_blocks: u64) -> ([u64; 3], [u32; 3]) {
        (
            [
                w.div_ceil(self.tw as u64),
                h.div_ceil(4 * self.th as u64),
                z_blocks,
            ],
            [self.tw, self.th, self.pz],
        )
    }
}

/// Outputs a block of the flat 3×3 kernels takes (`DWF_SEG` in
/// kernels/dw3x3s1_flat.cu), and the widest plane and smallest plane they
/// take (`DWF_MAX_W`, `DWF_MIN_PLANE`).
const DWF_SEG: u64 = 1024;
const DWF_MAX_W: u32 = 512;
const DWF_MIN_PLANE: u32 = 4;
/// The widest plane of the flat wgrad (`DWF_WGRAD_MAX_W`: its register
/// staging of the next image's window).
const DWF_WGRAD_MAX_W: u64 = 255;
/// The narrowest plane of the flat wgrad; narrower ones take the narrow
/// wgrad (`DW_NARROW_MAX_W` in kernels/dwconv2d.cu is one less).
const DWF_WGRAD_MIN_W: u64 = 28;

/// Whether this pass of a depthwise conv runs on the flat 3×3 kernels:
/// `dw_flat_fits`, and for wgrad a plane `DWF_WGRAD_MIN_W` (28) to
/// `DWF_WGRAD_MAX_W` wide. On
/// narrower planes the flat wgrad's blocks each sum a few images between
/// barriers and lose to dwconv2d_wgrad_k3 (H200, 2026-11-26: 0.064 vs 0.043
/// ms at 64x384x14x14; at 64x144x56x56 it takes 0.138 ms against the tiled
/// 3x3 wgrad's 0.306).
pub fn dw_flat_route(pass: ConvPass, p: &Conv2dParams) -> bool {
    dw_flat_fits(p)
        && (pass != ConvPass::Wgrad
            || (DWF_WGRAD_MIN_W..=DWF_WGRAD_MAX_W).contains(&u64::from(p.x.dims[3])))
}

/// Whether the flat kernels (all three passes) take their ROW4 twins
/// (`*_flat4`): planes a multiple of 4 wide, so each thread's run of four
/// outputs lies in one row. `SLIMMABLE_DW_FLAT4=0` keeps the general flat
/// kernels (A/B).
pub fn dw_flat_row4(p: &Conv2dParams) -> bool {
    p.x.dims[3].is_multiple_of(4) && switched_on!("SLIMMABLE_DW_FLAT4")
}

/// Whether a depthwise wgrad runs on `slimmable_dwconv2d_wgrad_k3s1_narrow`:
/// 3×3, stride 1, padding 1, planes narrower than the flat wgrad's
/// (`DWF_WGRAD_MIN_W`), at most 65535 channels (grid x).
/// `SLIMMABLE_DW_WGRAD_NARROW=0` turns it off (A/B).
pub fn dw_wgrad_narrow(p: &Conv2dParams) -> bool {
    is_depthwise(p)
        && k3_s1_p1(p)
        && (1..DWF_WGRAD_MIN_W).contains(&u64::from(p.x.dims[3]))
        && p.x.dims[1] <= 65_535
        && switched_on!("SLIMMABLE_DW_WGRAD_NARROW")
}

/// A 3×3 kernel, stride 1, padding 1 (the output planes are the input's).
fn k3_s1_p1(p: &Conv2dParams) -> bool {
    p.w.dims[2] == 3
        && p.w.dims[3] == 3
        && p.stride_h == 1
        && p.stride_w == 1
        && p.pad_h == 1
        && p.pad_w == 1
}

/// Whether the flat forward and dgrad take their ROW2 twins (`*_flat2`):
/// planes of even width that [`dw_flat_row4`] does not take (wgrad keeps
/// the general flat kernel). `SLIMMABLE_DW_FLAT2=0` turns them off (A/B).
pub fn dw_flat_row2(p: &Conv2dParams) -> bool {
    p.x.dims[3].is_multiple_of(2) && !dw_flat_row4(p) && switched_on!("SLIMMABLE_DW_FLAT2")
}

/// Whether a depthwise conv runs on the flat 3×3 stride-1 kernels
/// (`kernels/dw3x3s1_flat.cu`): kernel 3×3, stride 1, padding 1, and both
/// activation views with contiguous planes one after the other (any channel
/// slice of an NCHW buffer). `SLIMMABLE_DW_FLAT=0` turns them off (A/B).
fn dw_flat_fits(p: &Conv2dParams) -> bool {
    let planes_follow =
        |v: &ViewParams| plane_contiguous(v) && v.strides[1] == v.dims[2] * v.dims[3];
    switched_on!("SLIMMABLE_DW_FLAT")
        && k3_s1_p1(p)
        && planes_follow(&p.x)
        && planes_follow(&p.y)
        && p.x.dims[3] <= DWF_MAX_W
        && p.x.dims[2] * p.x.dims[3] >= DWF_MIN_PLANE
        && p.x.dims[0] <= 65_535
}

/// `SLIMMABLE_DW_K3=0` sends 3×3 depthwise passes to the general kernels
/// (for A/B timing against the `*_k3s*` kernels).
fn dw_k3_enabled() -> bool {
    switched_on!("SLIMMABLE_DW_K3")
}

/// Tile shape of the tiled depthwise kernels for a plane `w` wide and `h`
/// high: wide planes 32 x 8, medium 16 x 16, small 8 x 8 with four planes
/// per block (so that small planes still fill the block). Returns the
/// forward entry, the dgrad entries for stride 1 and 2, the grid and the
/// block.
fn dw_tile(w: u64, h: u64, planes: u64) -> ([&'static str; 3], [u64; 3], [u32; 3]) {
    let (tw, th, pz, names) = if w >= 28 {
        (
            32,
            8,
            1,
            [
                entry::DWCONV2D_FWD_T32X8,
                entry::DWCONV2D_DGRAD_T32X8_S1,
                entry::DWCONV2D_DGRAD_T32X8_S2,
            ],
        )
    } else if w >= 12 {
        (
            16,
            16,
            1,
            [
                entry::DWCONV2D_FWD_T16X16,
                entry::DWCONV2D_DGRAD_T16X16_S1,
                entry::DWCONV2D_DGRAD_T16X16_S2,
            ],
        )
    } else {
        (
            8,
            8,
            4,
            [
                entry::DWCONV2D_FWD_T8X8X4,
                entry::DWCONV2D_DGRAD_T8X8X4_S1,
                entry::DWCONV2D_DGRAD_T8X8X4_S2,
            ],
        )
    };
    let grid = [w.div_ceil(tw), h.div_ceil(th), planes.div_ceil(pz)];
    (names, grid, [tw as u32, th as u32, pz as u32])
}

/// Launches one conv2d pass on `stream`: the launches of [`plan_conv2d`]
/// for the loaded kernels' arch, in order.
///
/// # Safety
/// Every pointer must be a live allocation of `stream`'s context holding all
/// elements its view in `p` addresses (the bias pointer only if
/// `p.has_bias`); the written operands must not alias the read ones.
pub unsafe fn launch_conv2d(
    k: &CudaKernels,
    stream: &CudaStream,
    pass: ConvPass,
    precision: Precision,
    ptr: ConvPointers,
    p: &Conv2dParams,
) -> Result<()> {
    let aligned_16 = (ptr.x | ptr.y).is_multiple_of(16);
    let plan = plan_conv2d(k.arch, pass, precision, p, aligned_16)?;
    for launch in &plan.launches {
        let mut b = stream.launch_builder(k.function(launch.entry)?);
        for arg in &launch.args {
            match arg {
                PlannedArg::Pointer(op) => b.arg(ptr.get(*op)),
                PlannedArg::Conv(params) => b.arg(params),
                PlannedArg::Fill(params) => b.arg(params),
                PlannedArg::Count(n) => b.arg(n),
            };
        }
        let cfg = LaunchConfig {
            grid_dim: launch.grid.into(),
            block_dim: launch.block.into(),
            shared_mem_bytes: launch.shared_bytes,
        };
        // SAFETY: plan_conv2d gives each entry the argument list of its
        // signature; the pointers satisfy this function's contract.
        unsafe { b.launch(cfg) }.map_err(|e| driver_err(launch.entry, e))?;
    }
    Ok(())
}

/// The launches that run one conv2d pass on a device of `arch` (as
/// `nvrtc::arch_name` names it: sm_90a for an H100 or H200), after the shape
/// rules of `ops::conv::check_views`: the depthwise kernels when `is_depthwise`,
/// the stem's direct kernels when [`stem_direct`], else the implicit GEMM
/// (`precision` picks exact f32, TF32 or BF16 tensor cores; pointwise convs
/// take its pointwise twins, the 16-byte ones only if `aligned_16`: the x
/// and y device pointers are 16-byte aligned, as a `cuMemAlloc` buffer is
/// and a sub-allocation may not be), with the output zeroed first
/// where a K split adds into it; for wgrad with a bias, then the
/// bias-gradient reduction. The wgrad and bias gradient add into dw and db
/// (zero them first for a plain gradient); `accumulate` only concerns the
/// forward and dgrad. Reads the `SLIMMABLE_*` kernel switches, as every
/// launch does. An unknown arch, a shape the kernels cannot take, or a grid
/// past CUDA's limits is an error.
pub fn plan_conv2d(
    arch: &str,
    pass: ConvPass,
    precision: Precision,
    p: &Conv2dParams,
    aligned_16: bool,
) -> Result<ConvPlan> {
    use ConvOperand::{Bias, W, X, Y};
    let arch = nvrtc::real_arch(arch)?;
    check_plan_params(pass, p)?;
    use PlannedArg::{Conv, Count, Pointer};
    let [n, ic, h, w] = p.x.dims.map(u64::from);
    let [_, oc, ho, wo] = p.y.dims.map(u64::from);
    let khw = u64::from(p.w.dims[2] * p.w.dims[3]);
    let pixels = n * ho * wo;
    let mut launches = Vec::new();
    // Argument lists: the kernels' (x, w, y, bias, params), and (x, w, y,
    // params) for those without a bias.
    let with_bias = || vec![Pointer(X), Pointer(W), Pointer(Y), Pointer(Bias), Conv(*p)];
    let no_bias = || vec![Pointer(X), Pointer(W), Pointer(Y), Conv(*p)];
    let threads_1d = [THREADS, 1, 1];
    // Splits of a reduction of k_len over `tiles` tiles: toward `target`
    // blocks, each split at least per_split_min long.
    let split_for = |target: u64, tiles: u64, k_len: u64, per_split_min: u64| -> u32 {
        (target / tiles.max(1))
            .min(k_len / per_split_min.max(1))
            .clamp(1, 1024) as u32
    };

    if is_depthwise(p) {
        let tiled_ok = p.w.dims[2] <= 7
            && p.w.dims[3] <= 7
            && p.stride_h <= 2
            && p.stride_w <= 2
            && n * ic <= 65_535;
        let k3 = p.w.dims[2] == 3
            && p.w.dims[3] == 3
            && p.stride_h == p.stride_w
            && p.stride_h <= 2
            && dw_k3_enabled();
        // The 3×3 kernels' tiles (by output width; dgrad's output is dx),
        // their z extents (at most 65535) and the stride's entry.
        let (out3, in3) = (Dw3Tile::for_width(wo), Dw3Tile::for_width(w));
        let fwd_z = (n * oc).div_ceil(out3.pz as u64);
        let dgrad_z = (n * ic).div_ceil(in3.pz as u64);
        let wgrad_z = ic * n.div_ceil(DW3_LANE_IMAGES * out3.pz as u64);
        let s3 = if p.stride_h == 1 { 0 } else { 1 };
        // The flat kernels: segments of one image's channels, grid
        // (segments, images). Wgrad sums 8 images a block: sized to leave
        // 1.7 waves, it ran 64x144x56x56 at 31% of copy bandwidth on an
        // H200; its atomics stay few (9 a channel and block).
        let flat = dw_flat_route(pass, p);
        let segments = (ic * h * w).div_ceil(DWF_SEG);
        let flat_grid = |images: u64| [segments, n.div_ceil(images), 1];
        let flat_images = n.clamp(1, 8);
        // The flat entries (fwd, dgrad, wgrad): the ROW4 or ROW2 kernels
        // where they fit.
        let flat_entries = if dw_flat_row4(p) {
            [
                entry::DWCONV2D_FWD_K3S1_FLAT4,
                entry::DWCONV2D_DGRAD_K3S1_FLAT4,
                entry::DWCONV2D_WGRAD_K3S1_FLAT4,
            ]
        } else if dw_flat_row2(p) {
            [
                entry::DWCONV2D_FWD_K3S1_FLAT2,
                entry::DWCONV2D_DGRAD_K3S1_FLAT2,
                entry::DWCONV2D_WGRAD_K3S1_FLAT,
            ]
        } else {
            [
                entry::DWCONV2D_FWD_K3S1_FLAT,
                entry::DWCONV2D_DGRAD_K3S1_FLAT,
                entry::DWCONV2D_WGRAD_K3S1_FLAT,
            ]
        };
        let launch = match pass {
            ConvPass::Forward if flat => {
                PlannedLaunch::new(flat_entries[0], flat_grid(1), threads_1d, 0, with_bias())
            }
            ConvPass::Dgrad if flat => {
                PlannedLaunch::new(flat_entries[1], flat_grid(1), threads_1d, 0, no_bias())
            }
            ConvPass::Wgrad if flat => {
                let mut args = no_bias();
                args.push(Count(flat_images as u32));
                PlannedLaunch::new(flat_entries[2], flat_grid(flat_images), threads_1d, 0, args)
            }
            ConvPass::Forward if k3 && fwd_z <= 65_535 => {
                let (grid, block) = out3.shape(wo, ho, fwd_z);
                PlannedLaunch::new(out3.fwd[s3], grid, block, 0, with_bias())
            }
            ConvPass::Forward if tiled_ok => {
                let (names, grid, block) = dw_tile(wo, ho, n * oc);
                PlannedLaunch::new(names[0], grid, block, 0, with_bias())
            }
            ConvPass::Forward => PlannedLaunch::new(
                entry::DWCONV2D_FWD,
                grid_1d(n * oc * ho * wo),
                threads_1d,
                0,
                with_bias(),
            ),
            ConvPass::Dgrad if k3 && dgrad_z <= 65_535 => {
                let (grid, block) = in3.shape(w, h, dgrad_z);
                PlannedLaunch::new(in3.dgrad[s3], grid, block, 0, no_bias())
            }
            ConvPass::Dgrad if tiled_ok && p.stride_h == p.stride_w => {
                let (names, grid, block) = dw_tile(w, h, n * ic);
                let name = if p.stride_h == 1 { names[1] } else { names[2] };
                PlannedLaunch::new(name, grid, block, 0, no_bias())
            }
            ConvPass::Dgrad => PlannedLaunch::new(
                entry::DWCONV2D_DGRAD,
                grid_1d(n * ic * h * w),
                threads_1d,
                0,
                no_bias(),
            ),
            ConvPass::Wgrad if dw_wgrad_narrow(p) => {
                // Splits of the batch until the grid has a few waves; at
                // least one pass of the block's warps over their images.
                let per_pass = (THREADS as u64 / 32) * (32 / w);
                let splits = (TARGET_BLOCKS / ic.max(1)).clamp(1, n.div_ceil(per_pass).max(1));
                PlannedLaunch::new(
                    entry::DWCONV2D_WGRAD_K3S1_NARROW,
                    [ic, splits, 1],
                    threads_1d,
                    0,
                    no_bias(),
                )
            }
            // The 3×3 wgrad has the 32-wide tile only: on narrower planes
            // its blocks were few and serial (H200, 2026-11-26: up to 2×
            // slower than the kernel below).
            ConvPass::Wgrad if k3 && out3.tw == 32 && wgrad_z <= 65_535 => {
                let (grid, block) = out3.shape(wo, ho, wgrad_z);
                let name = [
                    entry::DWCONV2D_WGRAD_K3S1_T32,
                    entry::DWCONV2D_WGRAD_K3S2_T32,
                ][s3];
                PlannedLaunch::new(name, grid, block, 0, no_bias())
            }
            ConvPass::Wgrad if p.w.dims[2] == p.w.dims[3] && matches!(p.w.dims[2], 3 | 5 | 7) => {
                let splits = split_for(TARGET_BLOCKS, ic, pixels, 4 * THREADS as u64);
                let name = match p.w.dims[2] {
                    3 => entry::DWCONV2D_WGRAD_K3,
                    5 => entry::DWCONV2D_WGRAD_K5,
                    _ => entry::DWCONV2D_WGRAD_K7,
                };
                PlannedLaunch::new(name, [ic, splits.into(), 1], threads_1d, 0, no_bias())
            }
            ConvPass::Wgrad => {
                let splits = split_for(TARGET_BLOCKS, ic * khw, pixels, 4 * THREADS as u64);
                PlannedLaunch::new(
                    entry::DWCONV2D_WGRAD,
                    [ic, khw, splits.into()],
                    threads_1d,
                    0,
                    no_bias(),
                )
            }
        };
        launches.push(launch?);
    } else if stem_direct(pass, p) {
        // The stem's direct kernels (exact f32, whatever precision was
        // asked), each a grid-stride walk over output tiles: forward a
        // thread per output pixel, tiles of 16 x 16, four blocks an SM;
        // wgrad tiles of 16 x 8, two blocks an SM.
        let tiles = n * wo.div_ceil(STEM_TILE.0) * ho.div_ceil(STEM_TILE.1);
        let wgrad_tiles = n * wo.div_ceil(STEM_WGRAD_TILE.0) * ho.div_ceil(STEM_WGRAD_TILE.1);
        let block = [STEM_THREADS, 1, 1];
        launches.push(match pass {
            ConvPass::Forward => PlannedLaunch::new(
                entry::CONV2D_FWD_STEM3,
                [tiles.min(TARGET_BLOCKS), 1, 1],
                block,
                0,
                with_bias(),
            )?,
            _ => PlannedLaunch::new(
                entry::CONV2D_WGRAD_STEM3,
                [wgrad_tiles.min(TARGET_BLOCKS / 2), 1, 1],
                block,
                0,
                no_bias(),
            )?,
        });
    } else {
        let groups = u64::from(p.groups);
        let (icg, ocg) = (ic / groups, oc / groups);
        let (m, cols, k_len) = match pass {
            ConvPass::Forward => (n * ho * wo, ocg, icg * khw),
            ConvPass::Dgrad => (n * h * w, icg, ocg * khw),
            ConvPass::Wgrad => (ocg, icg * khw, pixels),
        };
        // Small N (e.g. the stem's dgrad with 3 image channels) would waste
        // most of a 64-wide tile: use the 128 x 16 twin.
        let narrow = cols <= 16;
        // Tensor cores (mma.sync TF32/BF16) need sm_80; before it the
        // request runs as exact f32, more accurate than asked.
        let precision = if arch == "sm_75" {
            Precision::F32
        } else {
            precision
        };
        let bf16_ldsm = ldsm_bf16_fits(pass, precision, p) && opted_in!("SLIMMABLE_GEMM_LDSM_BF16");
        let square = bf16_ldsm
            || gemm_square_fits(pass, precision, p)
                // SLIMMABLE_GEMM_SQUARE=1 every fitting conv, =0 none (A/B).
                && forced!("SLIMMABLE_GEMM_SQUARE").unwrap_or_else(|| gemm_square_wins(p));
        // The square tiles' ldmatrix twins where they fit and win.
        let ldsm = if bf16_ldsm {
            Some(ldsm_bf16_kernel(pass))
        } else if square
            && ldsm_fits(pass, p)
            && ldsm_wins(pass, m.div_ceil(128) * cols.div_ceil(128) * groups)
        {
            Some(if wgmma_enabled(arch)? {
                wgmma_kernel(pass, wgmma_pipeline()?)
            } else {
                ldsm_kernel(pass)
            })
        } else {
            None
        };
        // (tile M, tile N, threads), as instantiated in kernels/conv2d.cu
        // and kernels/conv2d_ldsm.cu.
        let (tile_m, tile_n, threads) = match (square, narrow, pass) {
            (true, _, _) => (ldsm.as_ref().map_or(128, |k| k.rows), 128, 256),
            (false, true, _) => (128, 16, 128),
            (false, false, ConvPass::Wgrad) => (64, 64, 128),
            (false, false, _) => (128, 64, 256),
        };
        let tiles_m = m.div_ceil(tile_m);
        let tiles_n = cols.div_ceil(tile_n);
        let split: u32 = match pass {
            // Split the pixel reduction until the grid has a few waves.
            ConvPass::Wgrad => split_for(
                wgrad_split_blocks()?,
                tiles_m * tiles_n * groups,
                k_len,
                8 * 32,
            ),
            _ if ldsm.is_some() => ldsm_split_k()?,
            _ => 1,
        };
        if split > 1 && pass != ConvPass::Wgrad && p.accumulate == 0 {
            // The split blocks add into the output: zero it first.
            let (dst, view) = match pass {
                ConvPass::Dgrad => (X, p.x),
                _ => (Y, p.y),
            };
            let zero = FillParams {
                dst: view,
                value: 0.0,
                _pad: [0; 3],
            };
            launches.push(PlannedLaunch::new(
                entry::FILL_F32,
                fill_grid(zero.dst.numel()),
                [FILL_THREADS, 1, 1],
                0,
                vec![Pointer(dst), PlannedArg::Fill(zero)],
            )?);
        }
        // Pointwise convs take the `_pws` twins (same tiles and grid), or
        // the `_pw` ones where their planes allow 16-byte gathers.
        let pointwise = pw_vec_enabled() && pointwise_eligible(p);
        let vec16 = pointwise_vec_eligible(p) && aligned_16;
        let name = if let Some(k) = &ldsm {
            k.name
        } else if square {
            square_entry(pass, pointwise, vec16)
        } else {
            pointwise
                .then(|| pointwise_entry(pass, precision, narrow, vec16))
                .flatten()
                .unwrap_or_else(|| gemm_entry(pass, precision, narrow))
        };
        let mut args = with_bias();
        args.push(Count(split));
        launches.push(PlannedLaunch::new(
            name,
            [tiles_m, tiles_n, groups * u64::from(split)],
            [threads, 1, 1],
            ldsm.as_ref().map_or(0, |k| k.shared_bytes),
            args,
        )?);
    }
    // The wgrad's bias gradient, a kernel of its own after any wgrad.
    if pass == ConvPass::Wgrad && p.has_bias == 1 {
        let splits = split_for(TARGET_BLOCKS, oc, pixels, 4 * THREADS as u64);
        launches.push(PlannedLaunch::new(
            entry::CONV2D_BIAS_GRAD,
            [oc, splits.into(), 1],
            threads_1d,
            0,
            vec![Pointer(Bias), Pointer(Y), Conv(*p)],
        )?);
    }
    Ok(ConvPlan {
        arch,
        pass,
        precision,
        aligned_16,
        launches,
    })
}

/// The shape rules of [`crate::ops::conv::check_views`] on a
/// [`Conv2dParams`] an engine may have filled in itself, and its two flags.
fn check_plan_params(pass: ConvPass, p: &Conv2dParams) -> Result<()> {
    use crate::ops::conv::{ConvGeometry, check_views};
    use crate::view::View;
    for (name, flag) in [("has_bias", p.has_bias), ("accumulate", p.accumulate)] {
        if flag > 1 {
            return Err(Error::invalid(
                "conv2d",
                format!("{name} is {flag}; it is a flag, 0 or 1"),
            ));
        }
    }
    let u = |v: u32| v as usize;
    let geometry = ConvGeometry {
        groups: u(p.groups),
        stride: [u(p.stride_h), u(p.stride_w)],
        padding: [u(p.pad_h), u(p.pad_w)],
    };
    let view = View::from_params;
    check_views(pass, &view(&p.x), &view(&p.w), &view(&p.y), geometry)
}

/// The stem kernels' output tiles in kernels/stem_conv.cu: the forward's
/// (`STEM_TW` × `STEM_TH`, a thread a pixel: `STEM_THREADS`) and the
/// wgrad's (`SWG_TW` × `SWG_TH`, also 256 threads).
const STEM_TILE: (u64, u64) = (16, 16);
const STEM_WGRAD_TILE: (u64, u64) = (16, 8);
const STEM_THREADS: u32 = 256;

/// Whether `pass` of this conv runs on the stem's direct kernels
/// (kernels/stem_conv.cu) where [`stem_direct_fits`]: the forward unless
/// `SLIMMABLE_STEM_DIRECT=0` (H200, run 6: 0.142 ms at 64×3×224² → 32
/// against 0.148 TF32 and 0.180 exact f32 on the GEMM, one tile a block;
/// stop 16's double-buffered walk over tiles: 0.080 ms in run 10); the
/// wgrad unless `SLIMMABLE_STEM_WGRAD_DIRECT=0`. The wgrad is stop 15's
/// register-tiled kernel: run 10, 0.098 ms at 224 px and 0.045 at 128
/// against the split-K GEMM's 0.197 and 0.085.
pub fn stem_direct(pass: ConvPass, p: &Conv2dParams) -> bool {
    stem_direct_fits(pass, p)
        && match pass {
            ConvPass::Wgrad => switched_on!("SLIMMABLE_STEM_WGRAD_DIRECT"),
            _ => switched_on!("SLIMMABLE_STEM_DIRECT"),
        }
}

/// Whether the stem's direct kernels can take `pass`: one group, 3×3,
/// stride 1 or 2, at most 3 input channels, and at most 64 output channels
/// forward, 32 in wgrad (their STEM_* limits); dgrad (which the stem never
/// needs) keeps the GEMM.
pub fn stem_direct_fits(pass: ConvPass, p: &Conv2dParams) -> bool {
    let oc_max = match pass {
        ConvPass::Forward => 64,
        ConvPass::Wgrad => 32,
        ConvPass::Dgrad => return false,
    };
    p.groups == 1
        && p.w.dims[2] == 3
        && p.w.dims[3] == 3
        && matches!(p.stride_h, 1 | 2)
        && matches!(p.stride_w, 1 | 2)
        && p.x.dims[1] <= 3
        && p.y.dims[1] <= oc_max
}

/// Whether a conv GEMM may take the 128 × 128 TF32 tiles (`*_sq` in
/// kernels/conv2d.cu): TF32 forward or dgrad whose GEMM columns (output
/// channels forward, input channels dgrad, per group) fill 128-wide tiles
/// at least as well as 64-wide ones: a multiple of 128, or more than 64
/// past one (144 columns would use 56% of two square tiles against 75% of
/// three 64-wide ones).
///
/// The wgrad needs its rows (output channels) and columns (input
/// channels × taps) to fill them so, and a kernel larger than 1×1
/// (pointwise wgrads have their own k-major kernels).
pub fn gemm_square_fits(pass: ConvPass, precision: Precision, p: &Conv2dParams) -> bool {
    precision == Precision::Tf32 && square_tiles_fill(pass, p)
}

/// The shape half of [`gemm_square_fits`]: whether the pass's GEMM fills
/// 128 × 128 tiles as well as the smaller ones, whatever the precision.
pub fn square_tiles_fill(pass: ConvPass, p: &Conv2dParams) -> bool {
    let groups = p.groups.max(1);
    let fills = |n: u32| n > 64 && (n.is_multiple_of(128) || n % 128 > 64);
    let taps = p.w.dims[2] * p.w.dims[3];
    match pass {
        ConvPass::Forward => fills(p.y.dims[1] / groups),
        ConvPass::Dgrad => fills(p.x.dims[1] / groups),
        ConvPass::Wgrad => {
            taps > 1 && fills(p.y.dims[1] / groups) && fills(p.x.dims[1] / groups * taps)
        }
    }
}

/// Whether a BF16 conv takes the ldmatrix tiles' BF16 twins
/// (`*_bf16_ldsm`, kernels/conv2d_ldsm.cu): a shape the TF32 ldmatrix tiles
/// could take ([`square_tiles_fill`], [`ldsm_fits`]), opted in with
/// `SLIMMABLE_GEMM_LDSM_BF16=1` until timed on a GPU (run 10: `res3x3`
/// w1.0 r224's BF16 forward took 0.299 ms on the 128 × 64 BF16 tiles
/// against 0.188 for the TF32 ldmatrix tiles).
pub fn ldsm_bf16_fits(pass: ConvPass, precision: Precision, p: &Conv2dParams) -> bool {
    precision == Precision::Bf16 && square_tiles_fill(pass, p) && ldsm_fits(pass, p)
}

/// Where the square tiles run by default: on every dense k×k conv they fit,
/// never pointwise. Run 9's A/B (H200, 2026-11-27,
/// `results/2026-11-27-h200-run9`, `SLIMMABLE_GEMM_SQUARE=1` against the
/// rule before it): `res3x3` w1.0 wgrad 0.252 against 0.442 ms at 224 px
/// and 0.107 against 0.156 at 128 px; the r128 forward (128 square blocks)
/// 0.083 against 0.094, where run 6, before stop 15's gathers, had it
/// 1.06× slower; every pointwise case slower (up to 1.20×).
fn gemm_square_wins(p: &Conv2dParams) -> bool {
    !(p.w.dims[2] == 1 && p.w.dims[3] == 1)
}

/// Whether a conv on the square tiles may take their ldmatrix twins
/// (`*_tf32_ldsm`, kernels/conv2d_ldsm.cu): a kernel larger than 1×1;
/// forward weights and wgrad gradients packed as a block of the full-size
/// tensor is, (channel, ky, kx) contiguous, since the forward takes k and
/// the wgrad its column j as the offset in a row; a dgrad at stride 1 (the
/// strided one keeps the square tiles: its divisions would sit in every
/// gather).
pub fn ldsm_fits(pass: ConvPass, p: &Conv2dParams) -> bool {
    let (kh, kw) = (p.w.dims[2], p.w.dims[3]);
    let packed = p.w.strides[3] == 1 && p.w.strides[2] == kw && p.w.strides[1] == kh * kw;
    let unit_stride = p.stride_h == 1 && p.stride_w == 1;
    kh * kw > 1
        && match pass {
            ConvPass::Forward | ConvPass::Wgrad => packed,
            ConvPass::Dgrad => unit_stride,
        }
}

/// Where the ldmatrix twins run by default, given the 128-row grid's
/// `blocks`: every forward and wgrad they fit; a dgrad only where that grid
/// would not fill one wave of two blocks an SM. Run 10 (H200, 2026-11-27,
/// `results/2026-11-27-h200-run10`), `res3x3` w1.0 against the square
/// tiles: forward 0.184 against 0.208 ms at 224 px, 0.068 against 0.084 at
/// 128 px; wgrad 0.183 against 0.251 and 0.090 against 0.107; dgrad 0.196
/// against 0.185 at 224 px (392 blocks) but 0.068 against 0.075 at 128 px
/// (128 blocks). `SLIMMABLE_GEMM_LDSM=1` takes them wherever they fit,
/// `=0` nowhere (A/B).
fn ldsm_wins(pass: ConvPass, blocks: u64) -> bool {
    forced!("SLIMMABLE_GEMM_LDSM").unwrap_or(pass != ConvPass::Dgrad || blocks < 2 * SM_COUNT)
}

/// The ldmatrix forward's and dgrad's K splits (opt-in
/// `SLIMMABLE_GEMM_LDSM_SPLIT=S`, 1 to 8; default 1): S blocks share each
/// output tile's reduction and add into the zeroed output atomically. For
/// grids that leave a wave part full: `res3x3` w1.0 at 224 px has 392
/// 128-row blocks for 264 slots (1.48 waves); split in two they are 784
/// half-length blocks, 2.97 waves. Any other value is an error.
fn ldsm_split_k() -> Result<u32> {
    const VAR: &str = "SLIMMABLE_GEMM_LDSM_SPLIT";
    static SPLIT: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    if let Some(&s) = SPLIT.get() {
        return Ok(s);
    }
    let s = match positive_from_env(VAR, "K splits")? {
        None => 1,
        Some(s) if s <= 8 => s as u32,
        Some(s) => {
            return Err(Error::invalid(
                VAR,
                format!("{s} K splits: at most 8; unset it for one"),
            ));
        }
    };
    Ok(*SPLIT.get_or_init(|| s))
}

/// The blocks the GEMM wgrad's pixel split aims for: `TARGET_BLOCKS`
/// (four a SM, about two waves of the two-block-an-SM tiles), or
/// `SLIMMABLE_WGRAD_SPLIT_BLOCKS=B` (A/B: 264 is one wave of the 128 × 128
/// tiles on an H200, each split twice as long, half the atomic adds into
/// the gradient). Not a positive number: an error.
fn wgrad_split_blocks() -> Result<u64> {
    static BLOCKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    if let Some(&b) = BLOCKS.get() {
        return Ok(b);
    }
    let b = positive_from_env("SLIMMABLE_WGRAD_SPLIT_BLOCKS", "blocks")?.unwrap_or(TARGET_BLOCKS);
    Ok(*BLOCKS.get_or_init(|| b))
}

/// An ldmatrix kernel's launch: entry point, rows of A a block (its
/// tile is that × 128) and dynamic shared memory.
struct LdsmKernel {
    name: &'static str,
    rows: u64,
    shared_bytes: u32,
}

/// Whether the three-stage 128-row TF32 ldmatrix tiles run as their
/// warpgroup-MMA twins (`*_tf32_wgmma`, kernels/conv2d_ldsm.cu): opted in
/// with `SLIMMABLE_GEMM_WGMMA=1` until timed on a GPU, on a device whose
/// kernels are built for sm_90a (the twins trap anywhere else; asking for
/// them there is an error, not a silent fallback).
pub fn wgmma_enabled(arch: &str) -> Result<bool> {
    const VAR: &str = "SLIMMABLE_GEMM_WGMMA";
    if !opted_in!("SLIMMABLE_GEMM_WGMMA") {
        return Ok(false);
    }
    if arch != "sm_90a" {
        return Err(Error::invalid(
            VAR,
            format!(
                "the warpgroup-MMA conv tiles need an sm_90a device (H100, H200); this one runs \
                 {arch} kernels: unset {VAR}"
            ),
        ));
    }
    Ok(true)
}

/// The pipeline of the warpgroup-MMA twins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WgmmaPipeline {
    /// Three K tiles in flight, as the ldmatrix tiles; each tile's MMAs
    /// retired before the next barrier.
    Stages3,
    /// Four (`SLIMMABLE_GEMM_WGMMA_STAGES=4`: 66560 bytes of shared memory
    /// a block; two blocks an SM still fit).
    Stages4,
    /// Four, each tile's MMAs left running across the next barrier and
    /// gathers, which run two tiles ahead (`SLIMMABLE_GEMM_WGMMA_OVERLAP=1`).
    Stages4Overlapped,
    /// Three of 32 k instead of 16 (`SLIMMABLE_GEMM_WGMMA_BK=32`: half the
    /// barriers a reduction; 99840 bytes of shared memory a block).
    Stages3K32,
}

impl WgmmaPipeline {
    /// Its kernels: forward, dgrad and wgrad.
    pub(crate) const fn entries(self) -> [&'static str; 3] {
        match self {
            Self::Stages3 => [
                entry::CONV2D_FWD_TF32_WGMMA,
                entry::CONV2D_DGRAD_TF32_WGMMA,
                entry::CONV2D_WGRAD_TF32_WGMMA,
            ],
            Self::Stages4 => [
                entry::CONV2D_FWD_TF32_WGMMA4,
                entry::CONV2D_DGRAD_TF32_WGMMA4,
                entry::CONV2D_WGRAD_TF32_WGMMA4,
            ],
            Self::Stages4Overlapped => [
                entry::CONV2D_FWD_TF32_WGMMA4O,
                entry::CONV2D_DGRAD_TF32_WGMMA4O,
                entry::CONV2D_WGRAD_TF32_WGMMA4O,
            ],
            Self::Stages3K32 => [
                entry::CONV2D_FWD_TF32_WGMMA_K32,
                entry::CONV2D_DGRAD_TF32_WGMMA_K32,
                entry::CONV2D_WGRAD_TF32_WGMMA_K32,
            ],
        }
    }

    /// Its kernels' dynamic shared memory (launch.rs raises their limit to
    /// it; kernels/conv2d_ldsm.cu `ldsm::WGMMA_SHARED_BYTES`).
    pub(crate) const fn shared_bytes(self) -> u32 {
        match self {
            Self::Stages3 => wgmma_shared_bytes(3, 128, 16),
            Self::Stages4 | Self::Stages4Overlapped => wgmma_shared_bytes(4, 128, 16),
            Self::Stages3K32 => wgmma_shared_bytes(3, 128, 32),
        }
    }
}

/// [`WgmmaPipeline`] from the environment, read once a process (it is
/// asked on every conv launch): `SLIMMABLE_GEMM_WGMMA_STAGES` 3 (default)
/// or 4, `SLIMMABLE_GEMM_WGMMA_OVERLAP=1` (four stages),
/// `SLIMMABLE_GEMM_WGMMA_BK` 16 (default) or 32 (three stages only). Any
/// other stage count or K tile, the overlap with 3 stages, or 32 k with
/// either of the others, is an error.
fn wgmma_pipeline() -> Result<WgmmaPipeline> {
    static PIPELINE: std::sync::OnceLock<WgmmaPipeline> = std::sync::OnceLock::new();
    if let Some(&pipeline) = PIPELINE.get() {
        return Ok(pipeline);
    }
    let pipeline = wgmma_pipeline_from_env()?;
    Ok(*PIPELINE.get_or_init(|| pipeline))
}

/// [`wgmma_pipeline`]'s reading of the environment.
fn wgmma_pipeline_from_env() -> Result<WgmmaPipeline> {
    const VAR: &str = "SLIMMABLE_GEMM_WGMMA_STAGES";
    const BK_VAR: &str = "SLIMMABLE_GEMM_WGMMA_BK";
    let stages = positive_from_env(VAR, "K tiles in flight")?;
    let overlap = opted_in!("SLIMMABLE_GEMM_WGMMA_OVERLAP");
    match positive_from_env(BK_VAR, "k a K tile")? {
        None | Some(16) => {}
        Some(32) if matches!(stages, None | Some(3)) && !overlap => {
            return Ok(WgmmaPipeline::Stages3K32);
        }
        Some(32) => {
            return Err(Error::invalid(
                BK_VAR,
                "K tiles of 32 come with three stages, not overlapped: unset \
                 SLIMMABLE_GEMM_WGMMA_STAGES and SLIMMABLE_GEMM_WGMMA_OVERLAP, or this",
            ));
        }
        Some(k) => {
            return Err(Error::invalid(
                BK_VAR,
                format!("{k} k a K tile: the warpgroup-MMA tiles take 16 or 32; unset it for 16"),
            ));
        }
    }
    match (stages, overlap) {
        (None | Some(4), true) => Ok(WgmmaPipeline::Stages4Overlapped),
        (None | Some(3), false) => Ok(WgmmaPipeline::Stages3),
        (Some(4), false) => Ok(WgmmaPipeline::Stages4),
        (Some(s), _) => Err(Error::invalid(
            VAR,
            format!(
                "{s} K tiles in flight: the warpgroup-MMA tiles have 3 or 4, and 4 with \
                 SLIMMABLE_GEMM_WGMMA_OVERLAP=1; unset it for 3 (4 when overlapped)"
            ),
        )),
    }
}

/// The warpgroup-MMA twin of a pass's three-stage 128-row ldmatrix tiles
/// ([`wgmma_enabled`]) with `pipeline`.
fn wgmma_kernel(pass: ConvPass, pipeline: WgmmaPipeline) -> LdsmKernel {
    let [fwd, dgrad, wgrad] = pipeline.entries();
    LdsmKernel {
        name: match pass {
            ConvPass::Forward => fwd,
            ConvPass::Dgrad => dgrad,
            ConvPass::Wgrad => wgrad,
        },
        rows: 128,
        shared_bytes: pipeline.shared_bytes(),
    }
}

/// The ldmatrix kernel of a pass: 128 × 128 tiles, three K tiles in flight.
/// (Stop 31 removed the two-stage and 64-row twins, opt-in
/// `SLIMMABLE_GEMM_LDSM_STAGES=2` and `SLIMMABLE_GEMM_LDSM_ROWS=64`: both
/// lost to these in run 10, `res3x3` w1.0 forward at 128 px, 128 blocks:
/// 0.072 ms on 64-row tiles, 0.069 on two stages, 0.068 on three.)
fn ldsm_kernel(pass: ConvPass) -> LdsmKernel {
    LdsmKernel {
        name: match pass {
            ConvPass::Forward => entry::CONV2D_FWD_TF32_LDSM,
            ConvPass::Dgrad => entry::CONV2D_DGRAD_TF32_LDSM,
            ConvPass::Wgrad => entry::CONV2D_WGRAD_TF32_LDSM,
        },
        rows: 128,
        shared_bytes: ldsm_shared_bytes(3, 128),
    }
}

/// The BF16 ldmatrix kernel of a pass: 128 × 128 tiles, three stages.
fn ldsm_bf16_kernel(pass: ConvPass) -> LdsmKernel {
    LdsmKernel {
        name: match pass {
            ConvPass::Forward => entry::CONV2D_FWD_BF16_LDSM,
            ConvPass::Dgrad => entry::CONV2D_DGRAD_BF16_LDSM,
            ConvPass::Wgrad => entry::CONV2D_WGRAD_BF16_LDSM,
        },
        rows: 128,
        shared_bytes: ldsm_shared_bytes(3, 128),
    }
}

/// The ldmatrix tiles' dynamic shared memory with `stages` K tiles in
/// flight and `rows` rows of A: A's rows × (16 + 4) floats and B's 128
/// × (16 + 4) a stage (kernels/conv2d_ldsm.cu `ldsm::SHARED_BYTES`).
pub const fn ldsm_shared_bytes(stages: u32, rows: u32) -> u32 {
    stages * (rows + 128) * (16 + 4) * 4
}

/// The same for their warpgroup-MMA twins with K tiles of `k_tile`: a
/// stage is k_tile / 4 chunks of 4 k, each (rows + 128) × 4 floats and 16
/// of padding (`ldsm::WGMMA_SHARED_BYTES`).
const fn wgmma_shared_bytes(stages: u32, rows: u32, k_tile: u32) -> u32 {
    stages * (k_tile / 4) * ((rows + 128) * 4 + 16) * 4
}

/// The H200's and H100's SM count (132), for grid-size rules.
const SM_COUNT: u64 = 132;

/// The square-tile entry of a TF32 pass: the general wgrad; a forward or
/// dgrad general, pointwise with 16-byte runs (`vec16`), or pointwise with
/// 4-byte gathers.
fn square_entry(pass: ConvPass, pointwise: bool, vec16: bool) -> &'static str {
    if pass == ConvPass::Wgrad {
        return entry::CONV2D_WGRAD_TF32_SQ; // never pointwise: gemm_square_fits
    }
    let dgrad = pass == ConvPass::Dgrad;
    match (dgrad, pointwise, vec16) {
        (false, false, _) => entry::CONV2D_FWD_TF32_SQ,
        (false, true, true) => entry::CONV2D_FWD_TF32_PW_SQ,
        (false, true, false) => entry::CONV2D_FWD_TF32_PWS_SQ,
        (true, false, _) => entry::CONV2D_DGRAD_TF32_SQ,
        (true, true, true) => entry::CONV2D_DGRAD_TF32_PW_SQ,
        (true, true, false) => entry::CONV2D_DGRAD_TF32_PWS_SQ,
    }
}

/// The general implicit-GEMM entry of a pass, precision and tile width.
fn gemm_entry(pass: ConvPass, precision: Precision, narrow: bool) -> &'static str {
    match (pass, precision, narrow) {
        (ConvPass::Forward, Precision::F32, false) => entry::CONV2D_FWD_F32,
        (ConvPass::Forward, Precision::Tf32, false) => entry::CONV2D_FWD_TF32,
        (ConvPass::Dgrad, Precision::F32, false) => entry::CONV2D_DGRAD_F32,
        (ConvPass::Dgrad, Precision::Tf32, false) => entry::CONV2D_DGRAD_TF32,
        (ConvPass::Wgrad, Precision::F32, false) => entry::CONV2D_WGRAD_F32,
        (ConvPass::Wgrad, Precision::Tf32, false) => entry::CONV2D_WGRAD_TF32,
        (ConvPass::Forward, Precision::F32, true) => entry::CONV2D_FWD_F32_NARROW,
        (ConvPass::Forward, Precision::Tf32, true) => entry::CONV2D_FWD_TF32_NARROW,
        (ConvPass::Dgrad, Precision::F32, true) => entry::CONV2D_DGRAD_F32_NARROW,
        (ConvPass::Dgrad, Precision::Tf32, true) => entry::CONV2D_DGRAD_TF32_NARROW,
        (ConvPass::Wgrad, Precision::F32, true) => entry::CONV2D_WGRAD_F32_NARROW,
        (ConvPass::Wgrad, Precision::Tf32, true) => entry::CONV2D_WGRAD_TF32_NARROW,
        (ConvPass::Forward, Precision::Bf16, false) => entry::CONV2D_FWD_BF16,
        (ConvPass::Dgrad, Precision::Bf16, false) => entry::CONV2D_DGRAD_BF16,
        (ConvPass::Wgrad, Precision::Bf16, false) => entry::CONV2D_WGRAD_BF16,
        (ConvPass::Forward, Precision::Bf16, true) => entry::CONV2D_FWD_BF16_NARROW,
        (ConvPass::Dgrad, Precision::Bf16, true) => entry::CONV2D_DGRAD_BF16_NARROW,
        (ConvPass::Wgrad, Precision::Bf16, true) => entry::CONV2D_WGRAD_BF16_NARROW,
    }
}

/// The pointwise twin of [`gemm_entry`]: `_pw` (16-byte gathers) if
/// `vec16`, else `_pws` (4-byte gathers). Exact f32 wgrad has none (its FMA
/// loop's reads would conflict in the k-major tiles).
fn pointwise_entry(
    pass: ConvPass,
    precision: Precision,
    narrow: bool,
    vec16: bool,
) -> Option<&'static str> {
    use ConvPass::{Dgrad, Forward, Wgrad};
    use Precision::{Bf16, F32, Tf32};
    let (scalar, vec) = match (pass, precision, narrow) {
        (Forward, F32, false) => (entry::CONV2D_FWD_F32_PWS, entry::CONV2D_FWD_F32_PW),
        (Forward, Tf32, false) => (entry::CONV2D_FWD_TF32_PWS, entry::CONV2D_FWD_TF32_PW),
        (Forward, Bf16, false) => (entry::CONV2D_FWD_BF16_PWS, entry::CONV2D_FWD_BF16_PW),
        (Forward, F32, true) => (
            entry::CONV2D_FWD_F32_PWS_NARROW,
            entry::CONV2D_FWD_F32_PW_NARROW,
        ),
        (Forward, Tf32, true) => (
            entry::CONV2D_FWD_TF32_PWS_NARROW,
            entry::CONV2D_FWD_TF32_PW_NARROW,
        ),
        (Forward, Bf16, true) => (
            entry::CONV2D_FWD_BF16_PWS_NARROW,
            entry::CONV2D_FWD_BF16_PW_NARROW,
        ),
        (Dgrad, F32, false) => (entry::CONV2D_DGRAD_F32_PWS, entry::CONV2D_DGRAD_F32_PW),
        (Dgrad, Tf32, false) => (entry::CONV2D_DGRAD_TF32_PWS, entry::CONV2D_DGRAD_TF32_PW),
        (Dgrad, Bf16, false) => (entry::CONV2D_DGRAD_BF16_PWS, entry::CONV2D_DGRAD_BF16_PW),
        (Dgrad, F32, true) => (
            entry::CONV2D_DGRAD_F32_PWS_NARROW,
            entry::CONV2D_DGRAD_F32_PW_NARROW,
        ),
        (Dgrad, Tf32, true) => (
            entry::CONV2D_DGRAD_TF32_PWS_NARROW,
            entry::CONV2D_DGRAD_TF32_PW_NARROW,
        ),
        (Dgrad, Bf16, true) => (
            entry::CONV2D_DGRAD_BF16_PWS_NARROW,
            entry::CONV2D_DGRAD_BF16_PW_NARROW,
        ),
        (Wgrad, F32, _) => return None,
        (Wgrad, Tf32, false) => (entry::CONV2D_WGRAD_TF32_PWS, entry::CONV2D_WGRAD_TF32_PW),
        (Wgrad, Bf16, false) => (entry::CONV2D_WGRAD_BF16_PWS, entry::CONV2D_WGRAD_BF16_PW),
        (Wgrad, Tf32, true) => (
            entry::CONV2D_WGRAD_TF32_PWS_NARROW,
            entry::CONV2D_WGRAD_TF32_PW_NARROW,
        ),
        (Wgrad, Bf16, true) => (
            entry::CONV2D_WGRAD_BF16_PWS_NARROW,
            entry::CONV2D_WGRAD_BF16_PW_NARROW,
        ),
    };
    Some(if vec16 { vec } else { scalar })
}

/// `SLIMMABLE_PW_VEC=0` sends pointwise convs to the general GEMM kernels
/// (for A/B timing against the `_pws` and `_pw` twins).
fn pw_vec_enabled() -> bool {
    switched_on!("SLIMMABLE_PW_VEC")
}

/// Whether a view's planes are contiguous (W elements a row, one element
/// apart), so that a pixel's offset in its plane is its index.
fn plane_contiguous(v: &ViewParams) -> bool {
    v.strides[3] == 1 && v.strides[2] == v.dims[3]
}

/// Whether a conv can take the pointwise kernels (`_pws`, 4-byte gathers):
/// kernel 1×1, stride 1, no padding, one group, and x and y with contiguous
/// planes, so that a pixel's offset in its plane is its index. Channel
/// slices of wider buffers qualify.
pub fn pointwise_eligible(p: &Conv2dParams) -> bool {
    p.w.dims[2] == 1
        && p.w.dims[3] == 1
        && p.stride_h == 1
        && p.stride_w == 1
        && p.pad_h == 0
        && p.pad_w == 0
        && p.groups == 1
        && plane_contiguous(&p.x)
        && plane_contiguous(&p.y)
}

/// Whether a pointwise conv's views also allow the 16-byte `_pw` kernels
/// (the device pointers must also be 16-byte aligned): pixel count, offset,
/// batch and channel strides of x and y multiples of 4, so that every run
/// of four pixels moved in one copy is aligned and inside one image.
pub fn pointwise_vec_eligible(p: &Conv2dParams) -> bool {
    let vec4 = |v: &ViewParams| {
        (v.dims[2] * v.dims[3]).is_multiple_of(4)
            && v.offset.is_multiple_of(4)
            && v.strides[0].is_multiple_of(4)
            && v.strides[1].is_multiple_of(4)
    };
    pointwise_eligible(p) && vec4(&p.x) && vec4(&p.y)
}
