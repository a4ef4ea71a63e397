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
/// `kernels/conv2d.cu`: sliced conv2d as implicit GEMMs, forward, dgrad,
/// wgrad (dense, grouped, pointwise; depthwise is [`CUDA_DWCONV2D`]).
pub const CUDA_CONV2D: &str = include_str!("../kernels/conv2d.cu");
/// Depthwise conv2d: forward, dgrad, wgrad (see [`entry`]).
pub const CUDA_DWCONV2D: &str = include_str!("../kernels/dwconv2d.cu");
/// The 3×3 stride-1 depthwise passes on the flat layout of one image.
pub const CUDA_DW3X3S1_FLAT: &str = include_str!("../kernels/dw3x3s1_flat.cu");
/// The stem (dense 3×3 on the image's few channels) as direct convolutions.
pub const CUDA_STEM_CONV: &str = include_str!("../kernels/stem_conv.cu");
/// Dense conv2d on 128 × 128 TF32 tiles with ldmatrix fragment loads.
pub const CUDA_CONV2D_LDSM: &str = include_str!("../kernels/conv2d_ldsm.cu");
/// What the implicit-GEMM conv units share (passes, k decode, MMA wrappers).
pub const CUDA_CONV_GEMM: &str = include_str!("../kernels/conv_gemm.cuh");
/// What the conv units share (geometry, indexing, block sum).
pub const CUDA_CONV_COMMON: &str = include_str!("../kernels/conv_common.cuh");
/// Hopper's warpgroup MMA (the conv tiles' sm_90a twins).
pub const CUDA_WGMMA: &str = include_str!("../kernels/wgmma.cuh");
/// cp.async global->shared copies (the conv units, resize-pack).
pub const CUDA_CP_ASYNC: &str = include_str!("../kernels/cp_async.cuh");
/// `kernels/resize_pack.cu`: fused multi-resolution resize, normalize, pack.
pub const CUDA_RESIZE_PACK: &str = include_str!("../kernels/resize_pack.cu");
/// What the resize-pack units share (taps, fetches, tiles, staging).
pub const CUDA_RESIZE_PACK_SHARED: &str = include_str!("../kernels/resize_pack.cuh");
/// `kernels/norm.cu`: batch norm on a channel slice, fused ReLU/ReLU6.
pub const CUDA_NORM: &str = include_str!("../kernels/norm.cu");
/// `kernels/linear.cu`: linear layer on a weight slice.
pub const CUDA_LINEAR: &str = include_str!("../kernels/linear.cu");
/// `kernels/eltwise.cu`: ReLU, ReLU6, add, accumulate, global average pool.
pub const CUDA_ELTWISE: &str = include_str!("../kernels/eltwise.cu");
/// `kernels/loss.cu`: softmax cross-entropy and distillation KL.
pub const CUDA_LOSS: &str = include_str!("../kernels/loss.cu");
/// `kernels/sgd.cu`: fused SGD step.
pub const CUDA_SGD: &str = include_str!("../kernels/sgd.cu");

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
/// `shaders/norm.wgsl`: batch norm (twin of `kernels/norm.cu`).
pub const WGSL_NORM: &str = include_str!("../shaders/norm.wgsl");
/// `shaders/linear.wgsl`: linear layer on a weight slice.
pub const WGSL_LINEAR: &str = include_str!("../shaders/linear.wgsl");
/// `shaders/eltwise.wgsl`: elementwise ops and the global average pool.
pub const WGSL_ELTWISE: &str = include_str!("../shaders/eltwise.wgsl");
/// `shaders/loss.wgsl`: cross-entropy and distillation KL.
pub const WGSL_LOSS: &str = include_str!("../shaders/loss.wgsl");
/// `shaders/sgd.wgsl`: fused SGD step.
pub const WGSL_SGD: &str = include_str!("../shaders/sgd.wgsl");

/// One CUDA translation unit and the entry points it exports.
pub struct CudaUnit {
    pub file: &'static str,
    pub source: &'static str,
    pub entries: &'static [&'static str],
}

/// The CUDA unit that exports `entry`, if any.
pub fn unit_of(entry: &str) -> Option<&'static CudaUnit> {
    CUDA_UNITS.iter().find(|u| u.entries.contains(&entry))
}

/// Every CUDA translation unit. Add new `kernels/*.cu` files here (a test
/// fails if a file on disk is missing from this list).
pub const CUDA_UNITS: &[CudaUnit] = &[
    CudaUnit {
        file: "copy.cu",
        source: CUDA_COPY,
        entries: &[
            entry::SLICE_COPY_F32,
            entry::SLICE_COPY_RUNS_VEC4_F32,
            entry::FILL_F32,
        ],
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
            entry::CONV2D_FWD_BF16,
            entry::CONV2D_DGRAD_BF16,
            entry::CONV2D_WGRAD_BF16,
            entry::CONV2D_FWD_BF16_NARROW,
            entry::CONV2D_DGRAD_BF16_NARROW,
            entry::CONV2D_WGRAD_BF16_NARROW,
            entry::CONV2D_FWD_F32_PW,
            entry::CONV2D_FWD_F32_PW_NARROW,
            entry::CONV2D_FWD_TF32_PW,
            entry::CONV2D_FWD_TF32_PW_NARROW,
            entry::CONV2D_FWD_BF16_PW,
            entry::CONV2D_FWD_BF16_PW_NARROW,
            entry::CONV2D_DGRAD_F32_PW,
            entry::CONV2D_DGRAD_F32_PW_NARROW,
            entry::CONV2D_DGRAD_TF32_PW,
            entry::CONV2D_DGRAD_TF32_PW_NARROW,
            entry::CONV2D_DGRAD_BF16_PW,
            entry::CONV2D_DGRAD_BF16_PW_NARROW,
            entry::CONV2D_WGRAD_TF32_PW,
            entry::CONV2D_WGRAD_TF32_PW_NARROW,
            entry::CONV2D_WGRAD_BF16_PW,
            entry::CONV2D_WGRAD_BF16_PW_NARROW,
            entry::CONV2D_FWD_F32_PWS,
            entry::CONV2D_FWD_F32_PWS_NARROW,
            entry::CONV2D_FWD_TF32_PWS,
            entry::CONV2D_FWD_TF32_PWS_NARROW,
            entry::CONV2D_FWD_BF16_PWS,
            entry::CONV2D_FWD_BF16_PWS_NARROW,
            entry::CONV2D_DGRAD_F32_PWS,
            entry::CONV2D_DGRAD_F32_PWS_NARROW,
            entry::CONV2D_DGRAD_TF32_PWS,
            entry::CONV2D_DGRAD_TF32_PWS_NARROW,
            entry::CONV2D_DGRAD_BF16_PWS,
            entry::CONV2D_DGRAD_BF16_PWS_NARROW,
            entry::CONV2D_WGRAD_TF32_PWS,
            entry::CONV2D_WGRAD_TF32_PWS_NARROW,
            entry::CONV2D_WGRAD_BF16_PWS,
            entry::CONV2D_WGRAD_BF16_PWS_NARROW,
            entry::CONV2D_FWD_TF32_SQ,
            entry::CONV2D_DGRAD_TF32_SQ,
            entry::CONV2D_WGRAD_TF32_SQ,
            entry::CONV2D_FWD_TF32_PW_SQ,
            entry::CONV2D_DGRAD_TF32_PW_SQ,
            entry::CONV2D_FWD_TF32_PWS_SQ,
            entry::CONV2D_DGRAD_TF32_PWS_SQ,
            entry::CONV2D_BIAS_GRAD,
        ],
    },
    CudaUnit {
        file: "conv2d_ldsm.cu",
        source: CUDA_CONV2D_LDSM,
        entries: &[
            entry::CONV2D_FWD_TF32_LDSM,
            entry::CONV2D_DGRAD_TF32_LDSM,
            entry::CONV2D_WGRAD_TF32_LDSM,
            entry::CONV2D_FWD_BF16_LDSM,
            entry::CONV2D_DGRAD_BF16_LDSM,
            entry::CONV2D_WGRAD_BF16_LDSM,
            entry::CONV2D_FWD_TF32_WGMMA,
            entry::CONV2D_DGRAD_TF32_WGMMA,
            entry::CONV2D_WGRAD_TF32_WGMMA,
            entry::CONV2D_FWD_TF32_WGMMA4,
            entry::CONV2D_DGRAD_TF32_WGMMA4,
            entry::CONV2D_WGRAD_TF32_WGMMA4,
            entry::CONV2D_FWD_TF32_WGMMA4O,
            entry::CONV2D_DGRAD_TF32_WGMMA4O,
            entry::CONV2D_WGRAD_TF32_WGMMA4O,
            entry::CONV2D_FWD_TF32_WGMMA_K32,
            entry::CONV2D_DGRAD_TF32_WGMMA_K32,
            entry::CONV2D_WGRAD_TF32_WGMMA_K32,
        ],
    },
    CudaUnit {
        file: "dwconv2d.cu",
        source: CUDA_DWCONV2D,
        entries: &[
            entry::DWCONV2D_FWD,
            entry::DWCONV2D_FWD_T32X8,
            entry::DWCONV2D_FWD_T16X16,
            entry::DWCONV2D_FWD_T8X8X4,
            entry::DWCONV2D_FWD_K3S1_T32,
            entry::DWCONV2D_FWD_K3S2_T32,
            entry::DWCONV2D_DGRAD_K3S1_T32,
            entry::DWCONV2D_DGRAD_K3S2_T32,
            entry::DWCONV2D_FWD_K3S1_T16,
            entry::DWCONV2D_FWD_K3S2_T16,
            entry::DWCONV2D_DGRAD_K3S1_T16,
            entry::DWCONV2D_DGRAD_K3S2_T16,
            entry::DWCONV2D_FWD_K3S1_T8,
            entry::DWCONV2D_FWD_K3S2_T8,
            entry::DWCONV2D_DGRAD_K3S1_T8,
            entry::DWCONV2D_DGRAD_K3S2_T8,
            entry::DWCONV2D_WGRAD_K3S1_T32,
            entry::DWCONV2D_WGRAD_K3S2_T32,
            entry::DWCONV2D_DGRAD_T32X8_S1,
            entry::DWCONV2D_DGRAD_T16X16_S1,
            entry::DWCONV2D_DGRAD_T8X8X4_S1,
            entry::DWCONV2D_DGRAD_T32X8_S2,
            entry::DWCONV2D_DGRAD_T16X16_S2,
            entry::DWCONV2D_DGRAD_T8X8X4_S2,
            entry::DWCONV2D_DGRAD,
            entry::DWCONV2D_WGRAD,
            entry::DWCONV2D_WGRAD_K3,
            entry::DWCONV2D_WGRAD_K5,
            entry::DWCONV2D_WGRAD_K7,
            entry::DWCONV2D_WGRAD_K3S1_NARROW,
        ],
    },
    CudaUnit {
        file: "stem_conv.cu",
        source: CUDA_STEM_CONV,
        entries: &[entry::CONV2D_FWD_STEM3, entry::CONV2D_WGRAD_STEM3],
    },
    CudaUnit {
        file: "dw3x3s1_flat.cu",
        source: CUDA_DW3X3S1_FLAT,
        entries: &[
            entry::DWCONV2D_FWD_K3S1_FLAT,
            entry::DWCONV2D_DGRAD_K3S1_FLAT,
            entry::DWCONV2D_WGRAD_K3S1_FLAT,
            entry::DWCONV2D_FWD_K3S1_FLAT4,
            entry::DWCONV2D_DGRAD_K3S1_FLAT4,
            entry::DWCONV2D_WGRAD_K3S1_FLAT4,
            entry::DWCONV2D_FWD_K3S1_FLAT2,
            entry::DWCONV2D_DGRAD_K3S1_FLAT2,
        ],
    },
    CudaUnit {
        file: "resize_pack.cu",
        source: CUDA_RESIZE_PACK,
        entries: &[
            entry::RESIZE_PACK,
            entry::RESIZE_PACK_MUTUALNET,
            entry::RESIZE_PACK_BILINEAR,
            entry::RESIZE_PACK_AA,
        ],
    },
    CudaUnit {
        file: "norm.cu",
        source: CUDA_NORM,
        entries: &[
            entry::BN_STATS_F32,
            entry::BN_FINALIZE_F32,
            entry::BN_NORMALIZE_F32,
            entry::BN_BACKWARD_PARTIALS_F32,
            entry::BN_BACKWARD_FINALIZE_F32,
            entry::BN_BACKWARD_DX_F32,
            entry::BN_FORWARD_RESIDENT_F32,
            entry::BN_BACKWARD_RESIDENT_F32,
            entry::BN_FORWARD_RESIDENT_SMALL_F32,
            entry::BN_BACKWARD_RESIDENT_SMALL_F32,
        ],
    },
    CudaUnit {
        file: "linear.cu",
        source: CUDA_LINEAR,
        entries: &[
            entry::LINEAR_FORWARD_F32,
            entry::LINEAR_BACKWARD_DATA_F32,
            entry::LINEAR_BACKWARD_WEIGHT_F32,
            entry::LINEAR_BACKWARD_BIAS_F32,
        ],
    },
    CudaUnit {
        file: "eltwise.cu",
        source: CUDA_ELTWISE,
        entries: &[
            entry::ELTWISE_F32,
            entry::AVG_POOL_FORWARD_F32,
            entry::AVG_POOL_BACKWARD_F32,
        ],
    },
    CudaUnit {
        file: "loss.cu",
        source: CUDA_LOSS,
        entries: &[entry::CROSS_ENTROPY_F32, entry::KL_DIV_F32],
    },
    CudaUnit {
        file: "sgd.cu",
        source: CUDA_SGD,
        entries: &[entry::SGD_STEP_F32, entry::SGD_MANY_F32],
    },
];

/// Entry points. CUDA and WGSL share the names.
pub mod entry {
    /// `(src: *const f32, dst: *mut f32, SliceCopyParams)`; WGSL bindings 0 params, 1 src, 2 dst.
    pub const SLICE_COPY_F32: &str = "slimmable_slice_copy_f32";
    /// The copy for views whose images are packed, 16-byte aligned runs
    /// (`ViewParams::packed_vec4_runs`), as 4-wide vectors: CUDA
    /// `(src: *const float4, dst: *mut float4, SliceCopyParams)`; WGSL
    /// bindings 0 params, 3 src, 4 dst.
    pub const SLICE_COPY_RUNS_VEC4_F32: &str = "slimmable_slice_copy_runs_vec4";
    /// `(dst: *mut f32, FillParams)`; WGSL bindings 0 params, 1 dst.
    pub const FILL_F32: &str = "slimmable_fill_f32";

    // conv2d. CUDA GEMM kernels: `(x, w, y, bias, Conv2dParams, split_k: u32)`,
    // grid (ceil(M/BM), ceil(N/BN), groups·split_k) with BM × BN and threads:
    // forward and dgrad 128 × 64, 256 threads; wgrad 64 × 64, 128 threads;
    // the `_narrow` twins 128 × 16, 128 threads (for N ≤ 16). split_k > 1
    // only for wgrad (atomic adds). WGSL: bindings 0 params (+ split_k), 1 x,
    // 2 w, 3 y, 4 bias, 5 wgrad partials, workgroups (ceil(M/64), ceil(N/64),
    // groups·split_k) of 64 (the f32 `_narrow` entries: 128 × 16 tiles);
    // split_k > 1 only for wgrad, whose partial sums `CONV2D_WGRAD_REDUCE`
    // then adds.
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
    /// BF16 tensor-core twins of the `_tf32` GEMMs (same arguments and
    /// launch geometry): operands rounded to bfloat16, f32 accumulation.
    pub const CONV2D_FWD_BF16: &str = "slimmable_conv2d_fwd_bf16";
    pub const CONV2D_DGRAD_BF16: &str = "slimmable_conv2d_dgrad_bf16";
    pub const CONV2D_WGRAD_BF16: &str = "slimmable_conv2d_wgrad_bf16";
    pub const CONV2D_FWD_BF16_NARROW: &str = "slimmable_conv2d_fwd_bf16_narrow";
    pub const CONV2D_DGRAD_BF16_NARROW: &str = "slimmable_conv2d_dgrad_bf16_narrow";
    pub const CONV2D_WGRAD_BF16_NARROW: &str = "slimmable_conv2d_wgrad_bf16_narrow";
    /// Pointwise twins of the GEMMs (same arguments, tiles and grid) for
    /// 1×1, stride 1, no padding, one group, x and y planes contiguous with
    /// H·W, offsets and batch/channel strides multiples of 4 and 16-byte
    /// aligned pointers: 16-byte gathers along the pixels, no tap decoding
    /// (`launch_conv::pointwise_vec_eligible`). Exact f32 wgrad has none.
    pub const CONV2D_FWD_F32_PW: &str = "slimmable_conv2d_fwd_f32_pw";
    pub const CONV2D_FWD_F32_PW_NARROW: &str = "slimmable_conv2d_fwd_f32_pw_narrow";
    pub const CONV2D_FWD_TF32_PW: &str = "slimmable_conv2d_fwd_tf32_pw";
    pub const CONV2D_FWD_TF32_PW_NARROW: &str = "slimmable_conv2d_fwd_tf32_pw_narrow";
    pub const CONV2D_FWD_BF16_PW: &str = "slimmable_conv2d_fwd_bf16_pw";
    pub const CONV2D_FWD_BF16_PW_NARROW: &str = "slimmable_conv2d_fwd_bf16_pw_narrow";
    pub const CONV2D_DGRAD_F32_PW: &str = "slimmable_conv2d_dgrad_f32_pw";
    pub const CONV2D_DGRAD_F32_PW_NARROW: &str = "slimmable_conv2d_dgrad_f32_pw_narrow";
    pub const CONV2D_DGRAD_TF32_PW: &str = "slimmable_conv2d_dgrad_tf32_pw";
    pub const CONV2D_DGRAD_TF32_PW_NARROW: &str = "slimmable_conv2d_dgrad_tf32_pw_narrow";
    pub const CONV2D_DGRAD_BF16_PW: &str = "slimmable_conv2d_dgrad_bf16_pw";
    pub const CONV2D_DGRAD_BF16_PW_NARROW: &str = "slimmable_conv2d_dgrad_bf16_pw_narrow";
    pub const CONV2D_WGRAD_TF32_PW: &str = "slimmable_conv2d_wgrad_tf32_pw";
    pub const CONV2D_WGRAD_TF32_PW_NARROW: &str = "slimmable_conv2d_wgrad_tf32_pw_narrow";
    pub const CONV2D_WGRAD_BF16_PW: &str = "slimmable_conv2d_wgrad_bf16_pw";
    pub const CONV2D_WGRAD_BF16_PW_NARROW: &str = "slimmable_conv2d_wgrad_bf16_pw_narrow";
    /// The pointwise twins for the other 1×1 convs with contiguous planes
    /// (`launch_conv::pointwise_eligible`, e.g. 7×7 planes): 4-byte gathers
    /// of one pixel, no tap decoding. Exact f32 wgrad has none.
    pub const CONV2D_FWD_F32_PWS: &str = "slimmable_conv2d_fwd_f32_pws";
    pub const CONV2D_FWD_F32_PWS_NARROW: &str = "slimmable_conv2d_fwd_f32_pws_narrow";
    pub const CONV2D_FWD_TF32_PWS: &str = "slimmable_conv2d_fwd_tf32_pws";
    pub const CONV2D_FWD_TF32_PWS_NARROW: &str = "slimmable_conv2d_fwd_tf32_pws_narrow";
    pub const CONV2D_FWD_BF16_PWS: &str = "slimmable_conv2d_fwd_bf16_pws";
    pub const CONV2D_FWD_BF16_PWS_NARROW: &str = "slimmable_conv2d_fwd_bf16_pws_narrow";
    pub const CONV2D_DGRAD_F32_PWS: &str = "slimmable_conv2d_dgrad_f32_pws";
    pub const CONV2D_DGRAD_F32_PWS_NARROW: &str = "slimmable_conv2d_dgrad_f32_pws_narrow";
    pub const CONV2D_DGRAD_TF32_PWS: &str = "slimmable_conv2d_dgrad_tf32_pws";
    pub const CONV2D_DGRAD_TF32_PWS_NARROW: &str = "slimmable_conv2d_dgrad_tf32_pws_narrow";
    pub const CONV2D_DGRAD_BF16_PWS: &str = "slimmable_conv2d_dgrad_bf16_pws";
    pub const CONV2D_DGRAD_BF16_PWS_NARROW: &str = "slimmable_conv2d_dgrad_bf16_pws_narrow";
    pub const CONV2D_WGRAD_TF32_PWS: &str = "slimmable_conv2d_wgrad_tf32_pws";
    pub const CONV2D_WGRAD_TF32_PWS_NARROW: &str = "slimmable_conv2d_wgrad_tf32_pws_narrow";
    pub const CONV2D_WGRAD_BF16_PWS: &str = "slimmable_conv2d_wgrad_bf16_pws";
    pub const CONV2D_WGRAD_BF16_PWS_NARROW: &str = "slimmable_conv2d_wgrad_bf16_pws_narrow";
    /// TF32 forward, dgrad and k×k wgrad on 128 × 128 tiles (256 threads),
    /// general and pointwise (`_pw`, `_pws`), same arguments; where they won
    /// on the GPU (`launch_conv::gemm_square_wins`, `SLIMMABLE_GEMM_SQUARE=0|1`).
    pub const CONV2D_FWD_TF32_SQ: &str = "slimmable_conv2d_fwd_tf32_sq";
    pub const CONV2D_DGRAD_TF32_SQ: &str = "slimmable_conv2d_dgrad_tf32_sq";
    pub const CONV2D_WGRAD_TF32_SQ: &str = "slimmable_conv2d_wgrad_tf32_sq";
    pub const CONV2D_FWD_TF32_PW_SQ: &str = "slimmable_conv2d_fwd_tf32_pw_sq";
    pub const CONV2D_DGRAD_TF32_PW_SQ: &str = "slimmable_conv2d_dgrad_tf32_pw_sq";
    pub const CONV2D_FWD_TF32_PWS_SQ: &str = "slimmable_conv2d_fwd_tf32_pws_sq";
    pub const CONV2D_DGRAD_TF32_PWS_SQ: &str = "slimmable_conv2d_dgrad_tf32_pws_sq";
    /// TF32 forward, dgrad and wgrad of dense k×k convs on 128 × 128 tiles
    /// with ldmatrix fragment loads and truncated operands
    /// (`kernels/conv2d_ldsm.cu`, same arguments and grid as the `_sq` ones,
    /// three K tiles in flight in 61440 bytes of dynamic shared memory;
    /// a K split of the forward and dgrad adds atomically): the default
    /// where `launch_conv::ldsm_fits` and `ldsm_wins` say (since run 10).
    pub const CONV2D_FWD_TF32_LDSM: &str = "slimmable_conv2d_fwd_tf32_ldsm";
    pub const CONV2D_DGRAD_TF32_LDSM: &str = "slimmable_conv2d_dgrad_tf32_ldsm";
    pub const CONV2D_WGRAD_TF32_LDSM: &str = "slimmable_conv2d_wgrad_tf32_ldsm";
    /// BF16 twins of the three-stage ldmatrix tiles (fragments rounded to
    /// bfloat16 in registers): opt-in `SLIMMABLE_GEMM_LDSM_BF16=1`
    /// (`launch_conv::ldsm_bf16_fits`).
    pub const CONV2D_FWD_BF16_LDSM: &str = "slimmable_conv2d_fwd_bf16_ldsm";
    pub const CONV2D_DGRAD_BF16_LDSM: &str = "slimmable_conv2d_dgrad_bf16_ldsm";
    pub const CONV2D_WGRAD_BF16_LDSM: &str = "slimmable_conv2d_wgrad_bf16_ldsm";
    /// Warpgroup-MMA twins of the three-stage ldmatrix TF32 tiles (sm_90a;
    /// trap elsewhere): opt-in `SLIMMABLE_GEMM_WGMMA=1` on compute
    /// capability 9.0 (`launch_conv::wgmma_enabled`).
    pub const CONV2D_FWD_TF32_WGMMA: &str = "slimmable_conv2d_fwd_tf32_wgmma";
    pub const CONV2D_DGRAD_TF32_WGMMA: &str = "slimmable_conv2d_dgrad_tf32_wgmma";
    pub const CONV2D_WGRAD_TF32_WGMMA: &str = "slimmable_conv2d_wgrad_tf32_wgmma";
    /// The same with four K tiles in flight (`SLIMMABLE_GEMM_WGMMA_STAGES=4`).
    pub const CONV2D_FWD_TF32_WGMMA4: &str = "slimmable_conv2d_fwd_tf32_wgmma4";
    pub const CONV2D_DGRAD_TF32_WGMMA4: &str = "slimmable_conv2d_dgrad_tf32_wgmma4";
    pub const CONV2D_WGRAD_TF32_WGMMA4: &str = "slimmable_conv2d_wgrad_tf32_wgmma4";
    /// Four stages, each tile's MMAs in flight across the next barrier
    /// (`SLIMMABLE_GEMM_WGMMA_OVERLAP=1`).
    pub const CONV2D_FWD_TF32_WGMMA4O: &str = "slimmable_conv2d_fwd_tf32_wgmma4o";
    pub const CONV2D_DGRAD_TF32_WGMMA4O: &str = "slimmable_conv2d_dgrad_tf32_wgmma4o";
    pub const CONV2D_WGRAD_TF32_WGMMA4O: &str = "slimmable_conv2d_wgrad_tf32_wgmma4o";
    /// Three stages of 32 k (`SLIMMABLE_GEMM_WGMMA_BK=32`).
    pub const CONV2D_FWD_TF32_WGMMA_K32: &str = "slimmable_conv2d_fwd_tf32_wgmma_k32";
    pub const CONV2D_DGRAD_TF32_WGMMA_K32: &str = "slimmable_conv2d_dgrad_tf32_wgmma_k32";
    pub const CONV2D_WGRAD_TF32_WGMMA_K32: &str = "slimmable_conv2d_wgrad_tf32_wgmma_k32";
    /// Depthwise forward: CUDA `(x, w, y, bias, Conv2dParams)`, 1-D grid.
    pub const DWCONV2D_FWD: &str = "slimmable_dwconv2d_fwd";
    /// Depthwise forward and dgrad tiled through shared memory (k ≤ 7,
    /// stride ≤ 2), CUDA only, same arguments as the untiled kernels; block
    /// (TW, TH, P), grid (ceil(W/TW), ceil(H/TH), ceil(N·C/P)) over the
    /// output (forward) or input (dgrad) plane.
    pub const DWCONV2D_FWD_T32X8: &str = "slimmable_dwconv2d_fwd_t32x8x1";
    pub const DWCONV2D_FWD_T16X16: &str = "slimmable_dwconv2d_fwd_t16x16x1";
    pub const DWCONV2D_FWD_T8X8X4: &str = "slimmable_dwconv2d_fwd_t8x8x4";
    /// Depthwise 3×3 forward (stride 1 / 2; arguments of the tiled forward)
    /// and dgrad (stride 1 / 2; `(dx, w, dy, Conv2dParams)`) by output tile:
    /// `_t32` 32 × 8 × 1 threads, 32 × 32 of one plane; `_t16` 16 × 4 × 4,
    /// 16 × 16 of four planes; `_t8` 8 × 2 × 16, 8 × 8 of sixteen. Grid
    /// (ceil(w/TW), ceil(h/(4·TH)), ceil(n·c/P)) over the pass's output.
    pub const DWCONV2D_FWD_K3S1_T32: &str = "slimmable_dwconv2d_fwd_k3s1_t32";
    /// The stem's direct convolutions (kernels/stem_conv.cu): forward
    /// `(x, w, y, bias, Conv2dParams)`, wgrad `(x, dw, dy, Conv2dParams)`.
    pub const CONV2D_FWD_STEM3: &str = "slimmable_conv2d_fwd_stem3";
    pub const CONV2D_WGRAD_STEM3: &str = "slimmable_conv2d_wgrad_stem3";
    /// The 3×3 stride-1 padding-1 depthwise passes on one image's flat
    /// layout (kernels/dw3x3s1_flat.cu): forward `(x, w, y, bias,
    /// Conv2dParams)`, dgrad `(dx, w, dy, Conv2dParams)`, grid (segments of
    /// 1024 outputs, N); wgrad `(x, dw, dy, Conv2dParams, images)`, grid
    /// (segments, ceil(N / images)), adds into dw.
    pub const DWCONV2D_FWD_K3S1_FLAT: &str = "slimmable_dwconv2d_fwd_k3s1_flat";
    pub const DWCONV2D_DGRAD_K3S1_FLAT: &str = "slimmable_dwconv2d_dgrad_k3s1_flat";
    pub const DWCONV2D_WGRAD_K3S1_FLAT: &str = "slimmable_dwconv2d_wgrad_k3s1_flat";
    /// The three above for planes a multiple of 4 wide (each thread's four
    /// outputs one run of a row), same arguments and grids.
    pub const DWCONV2D_FWD_K3S1_FLAT4: &str = "slimmable_dwconv2d_fwd_k3s1_flat4";
    pub const DWCONV2D_DGRAD_K3S1_FLAT4: &str = "slimmable_dwconv2d_dgrad_k3s1_flat4";
    pub const DWCONV2D_WGRAD_K3S1_FLAT4: &str = "slimmable_dwconv2d_wgrad_k3s1_flat4";
    /// The forward and dgrad for other planes of even width (two runs of two
    /// a thread), same arguments and grids.
    pub const DWCONV2D_FWD_K3S1_FLAT2: &str = "slimmable_dwconv2d_fwd_k3s1_flat2";
    pub const DWCONV2D_DGRAD_K3S1_FLAT2: &str = "slimmable_dwconv2d_dgrad_k3s1_flat2";
    pub const DWCONV2D_FWD_K3S2_T32: &str = "slimmable_dwconv2d_fwd_k3s2_t32";
    pub const DWCONV2D_DGRAD_K3S1_T32: &str = "slimmable_dwconv2d_dgrad_k3s1_t32";
    pub const DWCONV2D_DGRAD_K3S2_T32: &str = "slimmable_dwconv2d_dgrad_k3s2_t32";
    pub const DWCONV2D_FWD_K3S1_T16: &str = "slimmable_dwconv2d_fwd_k3s1_t16";
    pub const DWCONV2D_FWD_K3S2_T16: &str = "slimmable_dwconv2d_fwd_k3s2_t16";
    pub const DWCONV2D_DGRAD_K3S1_T16: &str = "slimmable_dwconv2d_dgrad_k3s1_t16";
    pub const DWCONV2D_DGRAD_K3S2_T16: &str = "slimmable_dwconv2d_dgrad_k3s2_t16";
    pub const DWCONV2D_FWD_K3S1_T8: &str = "slimmable_dwconv2d_fwd_k3s1_t8";
    pub const DWCONV2D_FWD_K3S2_T8: &str = "slimmable_dwconv2d_fwd_k3s2_t8";
    pub const DWCONV2D_DGRAD_K3S1_T8: &str = "slimmable_dwconv2d_dgrad_k3s1_t8";
    pub const DWCONV2D_DGRAD_K3S2_T8: &str = "slimmable_dwconv2d_dgrad_k3s2_t8";
    /// Depthwise 3×3 wgrad, stride 1 / 2, `(x, dw, dy, Conv2dParams)`, on
    /// the forward's 32-wide tile (32×8 threads, one image after another):
    /// grid (ceil(wo/32), ceil(ho/32), c·ceil(n/8)); adds into dw.
    pub const DWCONV2D_WGRAD_K3S1_T32: &str = "slimmable_dwconv2d_wgrad_k3s1_t32";
    pub const DWCONV2D_WGRAD_K3S2_T32: &str = "slimmable_dwconv2d_wgrad_k3s2_t32";
    /// The dgrad twins come per stride (`_s1`, `_s2`, both axes equal).
    pub const DWCONV2D_DGRAD_T32X8_S1: &str = "slimmable_dwconv2d_dgrad_t32x8x1_s1";
    pub const DWCONV2D_DGRAD_T16X16_S1: &str = "slimmable_dwconv2d_dgrad_t16x16x1_s1";
    pub const DWCONV2D_DGRAD_T8X8X4_S1: &str = "slimmable_dwconv2d_dgrad_t8x8x4_s1";
    pub const DWCONV2D_DGRAD_T32X8_S2: &str = "slimmable_dwconv2d_dgrad_t32x8x1_s2";
    pub const DWCONV2D_DGRAD_T16X16_S2: &str = "slimmable_dwconv2d_dgrad_t16x16x1_s2";
    pub const DWCONV2D_DGRAD_T8X8X4_S2: &str = "slimmable_dwconv2d_dgrad_t8x8x4_s2";
    /// Depthwise wgrad with the k×k tap sums in registers (square k = 3, 5,
    /// 7): CUDA `(x, dw, dy, Conv2dParams)`, grid (C, splits). WGSL has the
    /// k = 3 one: workgroups (C, split_k) of 64; with split_k > 1 it writes
    /// partial sums that `CONV2D_WGRAD_REDUCE` adds.
    pub const DWCONV2D_WGRAD_K3: &str = "slimmable_dwconv2d_wgrad_k3";
    pub const DWCONV2D_WGRAD_K5: &str = "slimmable_dwconv2d_wgrad_k5";
    pub const DWCONV2D_WGRAD_K7: &str = "slimmable_dwconv2d_wgrad_k7";
    /// The 3×3 stride-1 padding-1 wgrad on planes at most 27 wide, a lane a
    /// column walking rows: same arguments and grid (C, splits), 256
    /// threads; CUDA only.
    pub const DWCONV2D_WGRAD_K3S1_NARROW: &str = "slimmable_dwconv2d_wgrad_k3s1_narrow";
    /// WGSL only: depthwise 3×3 stride-1 forward and dgrad, four outputs
    /// along a row per invocation, 1-D grid over N·C·rows·ceil(cols/4).
    pub const DWCONV2D_FWD_K3S1_ROW4: &str = "slimmable_dwconv2d_fwd_k3s1_row4";
    pub const DWCONV2D_DGRAD_K3S1_ROW4: &str = "slimmable_dwconv2d_dgrad_k3s1_row4";
    /// WGSL only: depthwise 3×3 stride-1 wgrad, four outputs along a row per
    /// invocation; workgroups (C, split_k) of 64 as `DWCONV2D_WGRAD_K3`, its
    /// splits over N·rows·ceil(cols/4).
    pub const DWCONV2D_WGRAD_K3S1_ROW4: &str = "slimmable_dwconv2d_wgrad_k3s1_row4";
    /// Depthwise dgrad: CUDA `(dx, w, dy, Conv2dParams)`, 1-D grid.
    pub const DWCONV2D_DGRAD: &str = "slimmable_dwconv2d_dgrad";
    /// Depthwise wgrad: CUDA `(x, dw, dy, Conv2dParams)`, grid (C, kh·kw, splits).
    pub const DWCONV2D_WGRAD: &str = "slimmable_dwconv2d_wgrad";
    /// Bias gradient: CUDA `(db, dy, Conv2dParams)`, grid (oc, splits).
    pub const CONV2D_BIAS_GRAD: &str = "slimmable_conv2d_bias_grad";
    /// WGSL only: the narrow wgrad with taps along M and output channels
    /// along N (for ≤ 16 output channels per group and more taps).
    pub const CONV2D_WGRAD_F32_NARROW_TURNED: &str = "slimmable_conv2d_wgrad_f32_narrow_turned";
    /// WGSL only: adds the wgrad GEMM's per-split partial sums (binding 5)
    /// into the gradient slice, flat grid of 256-wide workgroups.
    pub const CONV2D_WGRAD_REDUCE: &str = "slimmable_conv2d_wgrad_reduce";
    /// WGSL only: naive forward, one invocation per output (bench baseline).
    pub const CONV2D_FWD_NAIVE: &str = "slimmable_conv2d_fwd_naive";

    /// `(src: *const u8 (f32 for the f32 format), desc: *const u32, dst: *mut f32,
    /// ResizePackParams)`; WGSL bindings 0 params, 1 src (`array<u32>`),
    /// 2 desc (`array<u32>`), 3 dst.
    pub const RESIZE_PACK: &str = "slimmable_resize_pack";
    /// The MutualNet order of `resize_pack` (`ResizePackParams::cascade` = 1),
    /// same arguments and bindings.
    pub const RESIZE_PACK_MUTUALNET: &str = "slimmable_resize_pack_mutualnet";
    /// CUDA only: the direct order of bilinear filters by tiles, one warp a
    /// tile (`ResizePackParams::total_tiles` blocks of 32), same arguments;
    /// the default for bilinear (`SLIMMABLE_RESIZE_BILINEAR=0` turns the
    /// tile kernels off).
    pub const RESIZE_PACK_BILINEAR: &str = "slimmable_resize_pack_bilinear";
    /// CUDA only: the direct order of antialias filters by tiles, when no
    /// axis has more than `AA_TILE_MAX_TAPS` taps (`ResizePackParams::max_taps`);
    /// `total_tiles` blocks of 64, same arguments; the default there
    /// (`SLIMMABLE_RESIZE_AA_TILE=0` turns it off).
    pub const RESIZE_PACK_AA: &str = "slimmable_resize_pack_aa";
    /// `(x, saved, BnParams)`, grid (chunks, c) × 256: per-chunk Welford partials (chunks in float4 units on the vector path).
    pub const BN_STATS_F32: &str = "slimmable_bn_stats_f32";
    /// `(saved, running, BnParams)`, one warp per channel (ceil(c/8) × 256): mean, inv-std, running update.
    pub const BN_FINALIZE_F32: &str = "slimmable_bn_finalize_f32";
    /// `(x, gamma, beta, stats, y, BnParams)`, 1-D grid of ceil(numel/4096) × 256: normalize + activation.
    pub const BN_NORMALIZE_F32: &str = "slimmable_bn_normalize_f32";
    /// WGSL only: normalize and backward dx on 4-wide vectors, for views
    /// `BnParams::vec4_launch` accepts; x, dy, y/dx bound at 11, 12, 13.
    pub const BN_NORMALIZE_VEC4_F32: &str = "slimmable_bn_normalize_vec4_f32";
    pub const BN_BACKWARD_DX_VEC4_F32: &str = "slimmable_bn_backward_dx_vec4_f32";
    /// WGSL only: the stats and backward partials on 4-wide vectors for the
    /// same views (chunks of whole 4-element groups); x, dy at 11, 12.
    pub const BN_STATS_VEC4_F32: &str = "slimmable_bn_stats_vec4_f32";
    pub const BN_BACKWARD_PARTIALS_VEC4_F32: &str = "slimmable_bn_backward_partials_vec4_f32";
    /// `(x, dy, gamma, beta, saved, BnParams)`, grid (chunks, c) × 256.
    pub const BN_BACKWARD_PARTIALS_F32: &str = "slimmable_bn_backward_partials_f32";
    /// `(saved, dgamma, dbeta, BnParams)`, one warp per channel (ceil(c/8) × 256).
    pub const BN_BACKWARD_FINALIZE_F32: &str = "slimmable_bn_backward_finalize_f32";
    /// `(x, dy, gamma, beta, saved, dx, BnParams)`, 1-D grid of ceil(numel/4096) × 256.
    pub const BN_BACKWARD_DX_F32: &str = "slimmable_bn_backward_dx_f32";
    /// `(x, gamma, beta, running, saved, y, BnParams)`, one 256-thread block
    /// per channel: the whole training forward for N·H·W ≤ 16384.
    pub const BN_FORWARD_RESIDENT_F32: &str = "slimmable_bn_forward_resident_f32";
    /// `(x, dy, gamma, beta, saved, dgamma, dbeta, dx, BnParams)`, one
    /// 256-thread block per channel with 57344 bytes of dynamic shared
    /// memory: the whole backward for N·H·W ≤ 16384.
    pub const BN_BACKWARD_RESIDENT_F32: &str = "slimmable_bn_backward_resident_f32";
    /// Twins of the two resident kernels for N·H·W up to 2048: blocks of
    /// 64 threads (the backward with 8192 bytes of dynamic shared memory).
    pub const BN_FORWARD_RESIDENT_SMALL_F32: &str = "slimmable_bn_forward_resident_small_f32";
    pub const BN_BACKWARD_RESIDENT_SMALL_F32: &str = "slimmable_bn_backward_resident_small_f32";
    /// `(x, w, b, y, LinearParams)`.
    pub const LINEAR_FORWARD_F32: &str = "slimmable_linear_forward_f32";
    /// `(dy, w, dx, LinearParams)`.
    pub const LINEAR_BACKWARD_DATA_F32: &str = "slimmable_linear_backward_data_f32";
    /// `(dy, x, dw, LinearParams)`.
    pub const LINEAR_BACKWARD_WEIGHT_F32: &str = "slimmable_linear_backward_weight_f32";
    /// `(dy, db, LinearParams)`.
    pub const LINEAR_BACKWARD_BIAS_F32: &str = "slimmable_linear_backward_bias_f32";
    /// `(a, b, y, EltwiseParams)`.
    pub const ELTWISE_F32: &str = "slimmable_eltwise_f32";
    /// `(x, y, PoolParams)`.
    pub const AVG_POOL_FORWARD_F32: &str = "slimmable_avg_pool_forward_f32";
    /// `(dy, dx, PoolParams)`.
    pub const AVG_POOL_BACKWARD_F32: &str = "slimmable_avg_pool_backward_f32";
    /// `(logits, labels, loss, dlogits, LossParams)`, one block of 256.
    pub const CROSS_ENTROPY_F32: &str = "slimmable_cross_entropy_f32";
    /// `(student, teacher, loss, dlogits, LossParams)`, one block of 256.
    pub const KL_DIV_F32: &str = "slimmable_kl_div_f32";
    /// `(param, grad, momentum_buf, SgdParams)`.
    pub const SGD_STEP_F32: &str = "slimmable_sgd_step_f32";
    /// `(table: *const SgdSlotEntry, SgdManyParams)`: every parameter of a
    /// network in one launch, `SGD_MANY_CHUNK` elements a block.
    pub const SGD_MANY_F32: &str = "slimmable_sgd_many_f32";
}

/// A CUDA translation unit with its `#include`s of the project's headers
/// (`common.cuh`, `conv_common.cuh`, `conv_gemm.cuh`, `resize_pack.cuh`,
/// `wgmma.cuh` and `cp_async.cuh`, which a unit includes directly or through
/// `conv_common.cuh` or `resize_pack.cuh`: once either way) replaced by
/// their text, ready for NVRTC without include paths.
pub fn cuda_source(unit: &str) -> String {
    unit.replace(
        "#include \"resize_pack.cuh\"",
        &CUDA_RESIZE_PACK_SHARED.replace("#pragma once", ""),
    )
    .replace("#include \"common.cuh\"", CUDA_COMMON)
    .replace(
        "#include \"conv_common.cuh\"",
        &CUDA_CONV_COMMON.replace("#pragma once", ""),
    )
    .replace(
        "#include \"conv_gemm.cuh\"",
        &CUDA_CONV_GEMM.replace("#pragma once", ""),
    )
    .replace(
        "#include \"cp_async.cuh\"",
        &CUDA_CP_ASYNC.replace("#pragma once", ""),
    )
    .replace(
        "#include \"wgmma.cuh\"",
        &CUDA_WGMMA.replace("#pragma once", ""),
    )
}

/// A WGSL shader with the shared declarations prepended.
pub fn wgsl_source(shader: &str) -> String {
    format!("{WGSL_COMMON}\n{shader}")
}

/// Every WGSL shader file but `common.wgsl` (which each one gets
/// prepended), by file name.
pub const WGSL_SHADERS: &[(&str, &str)] = &[
    ("copy.wgsl", WGSL_COPY),
    ("fill.wgsl", WGSL_FILL),
    ("conv2d.wgsl", WGSL_CONV2D),
    ("resize_pack.wgsl", WGSL_RESIZE_PACK),
    ("norm.wgsl", WGSL_NORM),
    ("linear.wgsl", WGSL_LINEAR),
    ("eltwise.wgsl", WGSL_ELTWISE),
    ("loss.wgsl", WGSL_LOSS),
    ("sgd.wgsl", WGSL_SGD),
];
