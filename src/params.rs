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
    ]
}
