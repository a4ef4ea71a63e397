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
/// `kernels/conv2d.cu`: sliced conv2d, forward, dgrad, wgrad; depthwise.
pub const CUDA_CONV2D: &str = include_str!("../kernels/conv2d.cu");
/// `kernels/resize_pack.cu`: fused multi-resolution resize, normalize, pack.
pub const CUDA_RESIZE_PACK: &str = include_str!("../kernels/resize_pack.cu");

/// `shaders/common.wgsl`: parameter structs and view helpers.
pub const WGSL_COMMON: &str = include_str!("../shaders/common.wgsl");
/// `shaders/copy.wgsl`: strided slice copy.
pub const WGSL_COPY: &str = include_str!("../shaders/copy.wgsl");
/// `shaders/fill.wgsl`: fill a view.
pub const WGSL_FILL: &str = include_str!("../shaders/fill.wgsl");
/// `shaders/conv2d.wgsl`: sliced conv2d, forward, dgrad, wgrad; depthwise.
pub const WGSL_CONV2D: &str = include_str!("../shaders/conv2d.wgsl");
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
        file: "conv2d.cu",
        source: CUDA_CONV2D,
        entries: &[
            entry::CONV2D_FWD_F32,
            entry::CONV2D_FWD_TF32,
            entry::CONV2D_DGRAD_F32,
            entry::CONV2D_DGRAD_TF32,
            entry::CONV2D_WGRAD_F32,
            entry::CONV2D_WGRAD_TF32,
            entry::CONV2D_FWD_F32_NARROW,
            entry::CONV2D_FWD_TF32_NARROW,
            entry::CONV2D_DGRAD_F32_NARROW,
            entry::CONV2D_DGRAD_TF32_NARROW,
            entry::CONV2D_WGRAD_F32_NARROW,
            entry::CONV2D_WGRAD_TF32_NARROW,
            entry::DWCONV2D_FWD,
            entry::DWCONV2D_FWD_TILED,
            entry::DWCONV2D_DGRAD,
            entry::DWCONV2D_WGRAD,
            entry::DWCONV2D_WGRAD_K3,
            entry::DWCONV2D_WGRAD_K5,
            entry::DWCONV2D_WGRAD_K7,
            entry::CONV2D_BIAS_GRAD,
        ],
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

    // conv2d. CUDA GEMM kernels: `(x, w, y, bias, Conv2dParams, split_k: u32)`,
    // grid (ceil(M/BM), ceil(N/BN), groups·split_k) with BM × BN and threads:
    // forward and dgrad 128 × 64, 256 threads; wgrad 64 × 64, 128 threads;
    // the `_narrow` twins 128 × 16, 128 threads (for N ≤ 16). split_k > 1
    // only for wgrad (atomic adds). WGSL: bindings 0 params, 1 x, 2 w, 3 y,
    // 4 bias, workgroups (ceil(M/64), ceil(N/64), groups) of 256.
    /// Dense/grouped forward, exact f32.
    pub const CONV2D_FWD_F32: &str = "slimmable_conv2d_fwd_f32";
    /// Dense/grouped forward, TF32 tensor cores (CUDA only).
    pub const CONV2D_FWD_TF32: &str = "slimmable_conv2d_fwd_tf32";
    /// Dense/grouped data gradient, exact f32.
    pub const CONV2D_DGRAD_F32: &str = "slimmable_conv2d_dgrad_f32";
    /// Dense/grouped data gradient, TF32 (CUDA only).
    pub const CONV2D_DGRAD_TF32: &str = "slimmable_conv2d_dgrad_tf32";
    /// Dense/grouped weight gradient into the full-size gradient slice, f32.
    pub const CONV2D_WGRAD_F32: &str = "slimmable_conv2d_wgrad_f32";
    /// Dense/grouped weight gradient, TF32 (CUDA only).
    pub const CONV2D_WGRAD_TF32: &str = "slimmable_conv2d_wgrad_tf32";
    /// Tall-narrow twins (128 × 16 tiles) of the GEMM kernels.
    pub const CONV2D_FWD_F32_NARROW: &str = "slimmable_conv2d_fwd_f32_narrow";
    pub const CONV2D_FWD_TF32_NARROW: &str = "slimmable_conv2d_fwd_tf32_narrow";
    pub const CONV2D_DGRAD_F32_NARROW: &str = "slimmable_conv2d_dgrad_f32_narrow";
    pub const CONV2D_DGRAD_TF32_NARROW: &str = "slimmable_conv2d_dgrad_tf32_narrow";
    pub const CONV2D_WGRAD_F32_NARROW: &str = "slimmable_conv2d_wgrad_f32_narrow";
    pub const CONV2D_WGRAD_TF32_NARROW: &str = "slimmable_conv2d_wgrad_tf32_narrow";
    /// Depthwise forward: CUDA `(x, w, y, bias, Conv2dParams)`, 1-D grid.
    pub const DWCONV2D_FWD: &str = "slimmable_dwconv2d_fwd";
    /// Depthwise forward, tiled through shared memory (k ≤ 7, stride ≤ 2):
    /// CUDA only, block (32, 8), grid (ceil(Wo/32), ceil(Ho/8), N·C).
    pub const DWCONV2D_FWD_TILED: &str = "slimmable_dwconv2d_fwd_tiled";
    /// Depthwise wgrad with the k×k tap sums in registers (square k = 3, 5,
    /// 7): CUDA only, `(x, dw, dy, Conv2dParams)`, grid (C, splits).
    pub const DWCONV2D_WGRAD_K3: &str = "slimmable_dwconv2d_wgrad_k3";
    pub const DWCONV2D_WGRAD_K5: &str = "slimmable_dwconv2d_wgrad_k5";
    pub const DWCONV2D_WGRAD_K7: &str = "slimmable_dwconv2d_wgrad_k7";
    /// Depthwise dgrad: CUDA `(dx, w, dy, Conv2dParams)`, 1-D grid.
    pub const DWCONV2D_DGRAD: &str = "slimmable_dwconv2d_dgrad";
    /// Depthwise wgrad: CUDA `(x, dw, dy, Conv2dParams)`, grid (C, kh·kw, splits).
    pub const DWCONV2D_WGRAD: &str = "slimmable_dwconv2d_wgrad";
    /// Bias gradient: CUDA `(db, dy, Conv2dParams)`, grid (oc, splits).
    pub const CONV2D_BIAS_GRAD: &str = "slimmable_conv2d_bias_grad";
    /// WGSL only: naive forward, one invocation per output (bench baseline).
    pub const CONV2D_FWD_NAIVE: &str = "slimmable_conv2d_fwd_naive";

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
