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
    pub _pad: [u32; 2],
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
            total_groups
        }),
    ]
}
