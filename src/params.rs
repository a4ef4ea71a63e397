//! Per-launch parameter structs, one per kernel.
//!
//! Each is `#[repr(C)]` and `bytemuck::Pod`, and its byte layout is mirrored
//! exactly by a struct of the same name in `kernels/common.cuh` (passed by
//! value as a kernel argument) and in `shaders/common.wgsl` (bound as a
//! uniform buffer, so vectors are 16-byte aligned and every struct's size is a
//! multiple of 16). `tests/param_layout.rs` checks both mirrors against
//! [`param_layouts`].
//!
//! Engines that launch our kernels themselves fill these structs directly.

use bytemuck::{Pod, Zeroable};
use std::mem::{offset_of, size_of};

/// A strided 4-D view (NCHW) into a flat `f32` buffer, all in elements.
/// 48 bytes: `dims` at 0, `strides` at 16, `offset` at 32, padding to 48.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ViewParams {
    pub dims: [u32; 4],
    pub strides: [u32; 4],
    pub offset: u32,
    pub _pad: [u32; 3],
}

impl ViewParams {
    /// Number of elements the view addresses.
    pub fn numel(&self) -> u64 {
        self.dims.iter().map(|&d| d as u64).product()
    }

    /// Whether each image of the view is one packed run of C·H·W floats
    /// whose start is 16-byte aligned (buffers start aligned) and whose
    /// length is a multiple of 4: what the 4-wide copy kernels need.
    pub fn packed_vec4_runs(&self) -> bool {
        let [_, c, h, w] = self.dims;
        let [sn, sc, sh, sw] = self.strides;
        sw == 1
            && sh == w
            && sc == h * w
            && self.offset.is_multiple_of(4)
            && sn.is_multiple_of(4)
            && (c * h * w).is_multiple_of(4)
    }
}

/// `slice_copy`: `dst[view] = src[view]`, elementwise over equal extents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SliceCopyParams {
    pub src: ViewParams,
    pub dst: ViewParams,
}

/// `fill`: `dst[view] = value`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FillParams {
    pub dst: ViewParams,
    pub value: f32,
    pub _pad: [u32; 3],
}

/// `conv2d` (all three passes), 176 bytes. The views hold the *active*
/// block with the full tensors' strides:
/// - `x`: input activation `[N, ic, H, W]` (written by dgrad: dx);
/// - `w`: weight block `[oc, ic/groups, kh, kw]` of the full-size
///   `[O_full, I_full/groups, kh, kw]` weight (written by wgrad: dw);
/// - `y`: output activation `[N, oc, Ho, Wo]` (read as dy by dgrad, wgrad).
///
/// The bias (db in wgrad) is `bias[bias_offset + o]` when `has_bias` is 1.
/// `accumulate` = 1 adds the result into the output (forward, dgrad);
/// wgrad always accumulates into dw/db. Dilation is 1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Conv2dParams {
    pub x: ViewParams,
    pub w: ViewParams,
    pub y: ViewParams,
    pub bias_offset: u32,
    pub has_bias: u32,
    pub groups: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub pad_h: u32,
    pub pad_w: u32,
    pub accumulate: u32,
}

/// `resize_pack`: resize, crop, flip, normalize and pack a batch of images
/// into several resolutions in one launch (80 bytes). The per-image and
/// per-output descriptors live in a `u32` table beside it (see
/// [`crate::ops::resize`] for the word layout).
///
/// Output value: `v · scale[c] + bias[c]`, where `v` is the resized source
/// value; the normalization `(v/255 − mean) / std` folded into one multiply-add
/// (no divisions per pixel): `scale = 1 / (255·std)`, `bias = −mean / std`
/// for `u8` input, `scale = 1 / std` for `f32` input.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ResizePackParams {
    pub scale: [f32; 4],
    pub bias: [f32; 4],
    pub num_images: u32,
    pub num_outputs: u32,
    pub channels: u32,
    /// 0 = `u8` HWC, 1 = `u8` CHW, 2 = `f32` CHW.
    pub format: u32,
    /// 0 = nearest, 1 = bilinear, 2 = bilinear with antialias.
    pub filter_mode: u32,
    pub align_corners: u32,
    /// 0 = resize each output from the source; 1 = MutualNet order (resize
    /// to `full_h × full_w`, then bilinear `align_corners=True` to each output).
    pub cascade: u32,
    pub full_h: u32,
    pub full_w: u32,
    /// Threads over all outputs (see `GROUP_ROWS` in `ops::resize`): the
    /// launch size.
    pub total_groups: u32,
    /// Tiles over all outputs (see `TILE_W`/`TILE_H` in `ops::resize`):
    /// the launch size of the tile kernels (`slimmable_resize_pack_bilinear`,
    /// `slimmable_resize_pack_aa`).
    pub total_tiles: u32,
    /// The most taps any output coordinate's filter has along either axis,
    /// over every image and output (antialias widens it when shrinking):
    /// whether a kernel with a fixed tap budget may take the launch.
    pub max_taps: u32,
    /// 1: the tile kernels copy an image whose crop is the output's size
    /// with one read an output (`ops::resize` sets it; the CUDA launcher
    /// clears it under `SLIMMABLE_RESIZE_SAME=0`, for A/B timing).
    pub same_size: u32,
    /// 1: the CUDA bilinear and antialias tile kernels copy a tile's `u8`
    /// HWC source span into shared memory first (one round trip a tile, or
    /// a chunk of an antialias tile's rows) where it fits
    /// (`ops::resize` sets it; the CUDA launcher clears it under
    /// `SLIMMABLE_RESIZE_STAGE=0`, for A/B timing). WGSL ignores it.
    pub staged: u32,
    /// CUDA's tile kernels: the (output, image) runs in the descriptor's
    /// tile-run table (`ops::resize`), ordered image by image: every
    /// output's tiles of one source image are consecutive blocks, so the
    /// other outputs read the image from L2 instead of memory. 0: blocks go
    /// output by output through each output's `tile_start` (`ops::resize`
    /// sets the count; the CUDA launcher sets 0 unless opted in with
    /// `SLIMMABLE_RESIZE_IMAGE_MAJOR=1` until it is timed). WGSL ignores it.
    pub tile_runs: u32,
    /// The word where the tile-run table starts in the descriptor.
    pub tile_runs_at: u32,
}

/// Fused activation after batch norm (and the elementwise ops' kinds).
pub mod act {
    pub const NONE: u32 = 0;
    pub const RELU: u32 = 1;
    pub const RELU6: u32 = 2;
}

/// Flags of [`BnParams::flags`].
pub mod bn_flags {
    /// Training forward: update the running statistics on the slice.
    pub const UPDATE_RUNNING: u32 = 1;
    /// `normalize`: the statistics buffer holds variances (eval: running
    /// stats), not inverse standard deviations (training: saved stats).
    pub const STATS_ARE_VAR: u32 = 2;
    /// `normalize` / `backward_dx`: grid (blocks per plane, planes) walks
    /// each (n, c) plane directly instead of dividing every flat index; set
    /// by the WGSL launchers via [`super::BnParams::elementwise_launch`]
    /// (the CUDA kernels ignore it: they always walk planes).
    pub const PLANES: u32 = 4;
}

/// Every batch-norm kernel (training forward: stats, finalize, normalize;
/// eval forward: normalize; backward: partials, finalize, dx).
///
/// `x` is the input slice `[N, c, H, W]`; `y` is the output (forward) or `dx`
/// (backward); `dy` the upstream gradient (backward only; forward sets it to
/// `y`). γ, β (and dγ, dβ) are read at `gamma_offset + ch`, `beta_offset + ch`.
/// Running (or eval) statistics at `mean_offset + ch`, `var_offset + ch` of
/// their buffer, so one buffer can hold a set per width×resolution config.
/// The saved buffer is `[mean c][invstd c][Σdy c][Σdy·x̂ c][partials 3·chunks·c]`.
/// `count` = N·H·W; each channel's reduction is split into `chunks` pieces.
/// Running update: `r = (1 − factor)·r + factor·stat`, the variance scaled
/// by `unbias = count/(count − 1)` (PyTorch).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BnParams {
    pub x: ViewParams,
    pub y: ViewParams,
    pub dy: ViewParams,
    pub gamma_offset: u32,
    pub beta_offset: u32,
    pub mean_offset: u32,
    pub var_offset: u32,
    pub chunks: u32,
    pub act: u32,
    pub flags: u32,
    pub count: u32,
    pub eps: f32,
    pub factor: f32,
    pub unbias: f32,
    pub _pad: u32,
}

impl BnParams {
    /// The parameters of the normalize step of a training forward: its
    /// statistics are the saved mean (at 0) and inv-std (at `c`).
    pub fn for_train_normalize(&self) -> BnParams {
        BnParams {
            mean_offset: 0,
            var_offset: self.x.dims[1],
            flags: self.flags & !bn_flags::STATS_ARE_VAR,
            ..*self
        }
    }
}

impl BnParams {
    /// Whether the WGSL `_vec4` normalize and dx kernels can run: x, y and
    /// dy with contiguous planes, H·W a multiple of 4, and every plane start
    /// 16-byte aligned. Their grid: 256-wide blocks over the 4-float groups.
    pub fn vec4_launch(&self) -> Option<(u32, u32)> {
        let aligned = |v: &ViewParams| {
            let [_, _, h, w] = v.dims;
            let [sn, sc, sh, sw] = v.strides;
            sw == 1
                && sh == w
                && (h * w).is_multiple_of(4)
                && v.offset.is_multiple_of(4)
                && sn.is_multiple_of(4)
                && sc.is_multiple_of(4)
        };
        (aligned(&self.x) && aligned(&self.y) && aligned(&self.dy)).then(|| {
            let groups = (self.x.numel() / 4).div_ceil(256).clamp(1, 65_535);
            (groups as u32, 1)
        })
    }

    /// The parameters and grid `(x, y)` of 256-wide blocks for the
    /// elementwise BN kernels (normalize, backward dx): planes of at least
    /// 256 elements get the plane walk (no per-element division), smaller
    /// ones a flat grid-stride loop.
    pub fn elementwise_launch(&self) -> (BnParams, (u32, u32)) {
        let hw = self.x.dims[2] as u64 * self.x.dims[3] as u64;
        let planes = self.x.dims[0] as u64 * self.x.dims[1] as u64;
        if hw >= 256 {
            let p = BnParams {
                flags: self.flags | bn_flags::PLANES,
                ..*self
            };
            (
                p,
                (
                    hw.div_ceil(256).min(65_535) as u32,
                    planes.min(65_535) as u32,
                ),
            )
        } else {
            let p = BnParams {
                flags: self.flags & !bn_flags::PLANES,
                ..*self
            };
            (p, (self.x.numel().div_ceil(256).clamp(1, 65_535) as u32, 1))
        }
    }
}

/// Linear layer on a slice. `x` is `[N, in, 1, 1]` (input or dx), `y` is
/// `[N, out, 1, 1]` (output or dy). The weight's active block is
/// `w[w_offset + o·w_ld + i]` for `o < out`, `i < in` (`w_ld` = full input
/// features); the bias (and db) at `b_offset + o`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LinearParams {
    pub x: ViewParams,
    pub y: ViewParams,
    pub w_offset: u32,
    pub w_ld: u32,
    pub b_offset: u32,
    /// 1 if the forward adds the bias.
    pub has_bias: u32,
}

/// Kinds of [`EltwiseParams::op`].
pub mod eltwise_op {
    /// `y = max(a, 0)`
    pub const RELU: u32 = 0;
    /// `y = min(max(a, 0), 6)`
    pub const RELU6: u32 = 1;
    /// `y = b · [a > 0]` (a = forward input, b = dy)
    pub const RELU_BACKWARD: u32 = 2;
    /// `y = b · [0 < a < 6]`
    pub const RELU6_BACKWARD: u32 = 3;
    /// `y = a + b`
    pub const ADD: u32 = 4;
    /// `y += a` (gradient accumulation, e.g. the residual add's backward)
    pub const ACCUMULATE: u32 = 5;
}

/// Elementwise ops over three views of equal extents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct EltwiseParams {
    pub a: ViewParams,
    pub b: ViewParams,
    pub y: ViewParams,
    pub op: u32,
    pub _pad: [u32; 3],
}

/// Global average pool: `x` is `[N, C, H, W]` (input, or dx in backward),
/// `y` is `[N, C, 1, 1]` (output, or dy).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PoolParams {
    pub x: ViewParams,
    pub y: ViewParams,
}

/// Softmax cross-entropy and distillation KL. `logits` (student) and
/// `teacher` (teacher logits; cross-entropy: unused, = logits) and `dlogits`
/// are `[N, K, 1, 1]`. Labels are f32 class indices at `labels_offset + n`;
/// the loss goes to `loss[loss_offset]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LossParams {
    pub logits: ViewParams,
    pub teacher: ViewParams,
    pub dlogits: ViewParams,
    pub loss_offset: u32,
    pub labels_offset: u32,
    /// Cross-entropy label smoothing ε.
    pub smoothing: f32,
    /// KL temperature T.
    pub temperature: f32,
}

/// Flags of [`SgdParams::flags`].
pub mod sgd_flags {
    pub const NESTEROV: u32 = 1;
    /// First step: the momentum buffer becomes `d` (PyTorch).
    pub const FIRST_STEP: u32 = 2;
    /// Write zero to each gradient element once it is read, so the next
    /// step's backward passes accumulate from zero without a separate fill.
    pub const ZERO_GRAD: u32 = 4;
}

/// One fused SGD update on elements `offset..offset + len` of the parameter,
/// gradient and momentum buffers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SgdParams {
    pub offset: u32,
    pub len: u32,
    pub flags: u32,
    pub _pad0: u32,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub _pad1: u32,
}

/// One parameter of a multi-tensor SGD launch (`slimmable_sgd_many_f32`):
/// an entry of a device table, CUDA only (it holds device pointers). The
/// kernel gives each entry `ceil(len / SGD_MANY_CHUNK)` consecutive blocks,
/// starting at `first_block`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SgdSlotEntry {
    pub param: u64,
    pub grad: u64,
    pub momentum: u64,
    pub len: u32,
    pub weight_decay: f32,
    pub first_block: u32,
    pub _pad: u32,
}

/// Elements of one parameter a block of `slimmable_sgd_many_f32` updates.
pub const SGD_MANY_CHUNK: u32 = 4096;

/// The shared hyper-parameters of a multi-tensor SGD launch, CUDA only
/// (passed by value beside a table of [`SgdSlotEntry`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SgdManyParams {
    /// Entries in the table.
    pub count: u32,
    /// [`sgd_flags`].
    pub flags: u32,
    pub lr: f32,
    pub momentum: f32,
}

/// The byte layout of one parameter struct, as the Rust compiler laid it out.
#[derive(Clone, Debug)]
pub struct StructLayout {
    pub name: &'static str,
    pub size: usize,
    /// Named (non-padding) fields and their byte offsets.
    pub fields: Vec<(&'static str, usize)>,
}

macro_rules! layout {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        StructLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            fields: vec![$((stringify!($field), offset_of!($ty, $field))),*],
        }
    };
}

/// Every parameter struct's layout, for the mirror checks.
pub fn param_layouts() -> Vec<StructLayout> {
    vec![
        layout!(ViewParams {
            dims,
            strides,
            offset
        }),
        layout!(SliceCopyParams { src, dst }),
        layout!(FillParams { dst, value }),
        layout!(Conv2dParams {
            x,
            w,
            y,
            bias_offset,
            has_bias,
            groups,
            stride_h,
            stride_w,
            pad_h,
            pad_w,
            accumulate
        }),
        layout!(ResizePackParams {
            scale,
            bias,
            num_images,
            num_outputs,
            channels,
            format,
            filter_mode,
            align_corners,
            cascade,
            full_h,
            full_w,
            total_groups,
            total_tiles,
            max_taps,
            same_size,
            staged,
            tile_runs,
            tile_runs_at
        }),
        layout!(BnParams {
            x,
            y,
            dy,
            gamma_offset,
            beta_offset,
            mean_offset,
            var_offset,
            chunks,
            act,
            flags,
            count,
            eps,
            factor,
            unbias
        }),
        layout!(LinearParams {
            x,
            y,
            w_offset,
            w_ld,
            b_offset,
            has_bias
        }),
        layout!(EltwiseParams { a, b, y, op }),
        layout!(PoolParams { x, y }),
        layout!(LossParams {
            logits,
            teacher,
            dlogits,
            loss_offset,
            labels_offset,
            smoothing,
            temperature
        }),
        layout!(SgdParams {
            offset,
            len,
            flags,
            lr,
            momentum,
            weight_decay
        }),
    ]
}

/// Layouts of the CUDA-only structs (device tables with pointers, no WGSL
/// mirror), checked against `kernels/common.cuh` alone.
pub fn cuda_only_param_layouts() -> Vec<StructLayout> {
    vec![
        layout!(SgdSlotEntry {
            param,
            grad,
            momentum,
            len,
            weight_decay,
            first_block
        }),
        layout!(SgdManyParams {
            count,
            flags,
            lr,
            momentum
        }),
    ]
}
