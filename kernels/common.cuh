// slimmable: helpers shared by every CUDA kernel.
//
// The parameter structs below mirror src/params.rs byte for byte (the
// param_layout test compiles static_asserts generated from the Rust side).
// Each kernel takes its struct by value as the last argument.
#pragma once

typedef unsigned int u32;

// A strided 4-D view (NCHW) into a flat float buffer, in elements.
struct ViewParams {
    u32 dims[4];
    u32 strides[4];
    u32 offset;
    u32 _pad[3];
};

struct SliceCopyParams {
    ViewParams src;
    ViewParams dst;
};

struct FillParams {
    ViewParams dst;
    float value;
    u32 _pad[3];
};

struct Conv2dParams {
    ViewParams x;  // input [N, ic, H, W] (dx in dgrad)
    ViewParams w;  // weight block [oc, ic/groups, kh, kw], full-size strides (dw in wgrad)
    ViewParams y;  // output [N, oc, Ho, Wo] (dy in dgrad and wgrad)
    u32 bias_offset;
    u32 has_bias;
    u32 groups;
    u32 stride_h;
    u32 stride_w;
    u32 pad_h;
    u32 pad_w;
    u32 accumulate;
};

struct ResizePackParams {
    float scale[4];  // output = resized value * scale[c] + bias[c]
    float bias[4];
    u32 num_images;
    u32 num_outputs;
    u32 channels;
    u32 format;  // 0 u8 HWC, 1 u8 CHW, 2 f32 CHW
    u32 filter_mode;  // 0 nearest, 1 bilinear, 2 bilinear antialias
    u32 align_corners;
    u32 cascade;  // 1: MutualNet order through full_h x full_w
    u32 full_h;
    u32 full_w;
    u32 total_groups;
    u32 total_tiles;  // blocks of the tile kernels (bilinear, antialias)
    u32 max_taps;     // most filter taps along an axis, any image and output
    u32 same_size;    // 1: same-size images take the one-read path
    u32 staged;       // 1: the bilinear and antialias tile kernels stage u8 HWC spans in shared memory
    u32 tile_runs;    // (output, image) runs of the tile-run table, image-major; 0: output-major
    u32 tile_runs_at; // its first word in the descriptor
};

struct BnParams {
    ViewParams x;
    ViewParams y;
    ViewParams dy;
    u32 gamma_offset;
    u32 beta_offset;
    u32 mean_offset;
    u32 var_offset;
    u32 chunks;
    u32 act;
    u32 flags;
    u32 count;
    float eps;
    float factor;
    float unbias;
    u32 _pad;
};

struct LinearParams {
    ViewParams x;
    ViewParams y;
    u32 w_offset;
    u32 w_ld;
    u32 b_offset;
    u32 has_bias;
};

struct EltwiseParams {
    ViewParams a;
    ViewParams b;
    ViewParams y;
    u32 op;
    u32 _pad[3];
};

struct PoolParams {
    ViewParams x;
    ViewParams y;
};

struct LossParams {
    ViewParams logits;
    ViewParams teacher;
    ViewParams dlogits;
    u32 loss_offset;
    u32 labels_offset;
    float smoothing;
    float temperature;
};

struct SgdParams {
    u32 offset;
    u32 len;
    u32 flags;
    u32 _pad0;
    float lr;
    float momentum;
    float weight_decay;
    u32 _pad1;
};

// One parameter of a multi-tensor SGD launch: an entry of a device table
// (SgdSlotEntry in src/params.rs). Pointers as integers, so the table is
// plain data.
struct SgdSlotEntry {
    unsigned long long param;
    unsigned long long grad;
    unsigned long long momentum;
    u32 len;
    float weight_decay;
    u32 first_block;
    u32 _pad;
};

struct SgdManyParams {
    u32 count;
    u32 flags;
    float lr;
    float momentum;
};

// Element count of a view (fits in 32 bits: the host checks).
__device__ __forceinline__ u32 view_numel(const ViewParams& v) {
    return v.dims[0] * v.dims[1] * v.dims[2] * v.dims[3];
}

// Buffer index of the i-th element of a view in NCHW order.
__device__ __forceinline__ u32 view_index(const ViewParams& v, u32 i) {
    u32 w = i % v.dims[3];
    i /= v.dims[3];
    u32 h = i % v.dims[2];
    i /= v.dims[2];
    u32 c = i % v.dims[1];
    u32 n = i / v.dims[1];
    return v.offset + n * v.strides[0] + c * v.strides[1] + h * v.strides[2] + w * v.strides[3];
}
