//! The kernel sources and entry-point names, public so that other engines can
//! compile and launch them on their own memory.
//!
//! CUDA: each `.cu` file starts with `#include "common.cuh"`; compile it with
//! `kernels/` on the include path, or use [`cuda_source`], which inlines the
//! header. WGSL has no includes: [`wgsl_source`] prepends `common.wgsl`.
//! Parameter layouts are documented in [`crate::params`].

/// `kernels/common.cuh`: parameter structs and view helpers.
pub const CUDA_COMMON: &str = include_str!("../kernels/common.cuh");
/// `kernels/copy.cu`: strided slice copy and fill.
pub const CUDA_COPY: &str = include_str!("../kernels/copy.cu");
/// `kernels/resize_pack.cu`: fused multi-resolution resize, normalize, pack.
pub const CUDA_RESIZE_PACK: &str = include_str!("../kernels/resize_pack.cu");

/// `shaders/common.wgsl`: parameter structs and view helpers.
pub const WGSL_COMMON: &str = include_str!("../shaders/common.wgsl");
/// `shaders/copy.wgsl`: strided slice copy.
pub const WGSL_COPY: &str = include_str!("../shaders/copy.wgsl");
/// `shaders/fill.wgsl`: fill a view.
pub const WGSL_FILL: &str = include_str!("../shaders/fill.wgsl");
/// `shaders/resize_pack.wgsl`: fused multi-resolution resize, normalize, pack.
pub const WGSL_RESIZE_PACK: &str = include_str!("../shaders/resize_pack.wgsl");

/// One CUDA translation unit and the entry points it exports.
pub struct CudaUnit {
    pub file: &'static str,
    pub source: &'static str,
    pub entries: &'static [&'static str],
}

/// Every CUDA translation unit. Add new `kernels/*.cu` files here (a test
/// fails if a file on disk is missing from this list).
pub const CUDA_UNITS: &[CudaUnit] = &[
    CudaUnit {
        file: "copy.cu",
        source: CUDA_COPY,
        entries: &[entry::SLICE_COPY_F32, entry::FILL_F32],
    },
    CudaUnit {
        file: "resize_pack.cu",
        source: CUDA_RESIZE_PACK,
        entries: &[entry::RESIZE_PACK, entry::RESIZE_PACK_MUTUALNET],
    },
];

/// Entry points. CUDA and WGSL share the names.
pub mod entry {
    /// `(src: *const f32, dst: *mut f32, SliceCopyParams)`; WGSL bindings 0 params, 1 src, 2 dst.
    pub const SLICE_COPY_F32: &str = "slimmable_slice_copy_f32";
    /// `(dst: *mut f32, FillParams)`; WGSL bindings 0 params, 1 dst.
    pub const FILL_F32: &str = "slimmable_fill_f32";
    /// `(src: *const u8 (f32 for the f32 format), desc: *const u32, dst: *mut f32,
    /// ResizePackParams)`; WGSL bindings 0 params, 1 src (`array<u32>`),
    /// 2 desc (`array<u32>`), 3 dst.
    pub const RESIZE_PACK: &str = "slimmable_resize_pack";
    /// The MutualNet order of `resize_pack` (`ResizePackParams::cascade` = 1),
    /// same arguments and bindings.
    pub const RESIZE_PACK_MUTUALNET: &str = "slimmable_resize_pack_mutualnet";
}

/// A CUDA translation unit with `#include "common.cuh"` replaced by the header,
/// ready for NVRTC without include paths.
pub fn cuda_source(unit: &str) -> String {
    unit.replace("#include \"common.cuh\"", CUDA_COMMON)
}

/// A WGSL shader with the shared declarations prepended.
pub fn wgsl_source(shader: &str) -> String {
    format!("{WGSL_COMMON}\n{shader}")
}
