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
    ]
}
