// slimmable: what the convolution units share (conv2d.cu: implicit GEMMs
// and the bias gradient; dwconv2d.cu: depthwise; stem_conv.cu: the stem):
// the geometry of a Conv2dParams, strided indexing, a block-wide sum, and
// (cp_async.cuh) cp.async global->shared copies.
#pragma once
#include "cp_async.cuh"

struct Geom {
    int n, ic, h, w, oc, ho, wo, kh, kw, khw, icg, ocg, sh, sw, ph, pw;
};

__device__ __forceinline__ Geom geom_of(const Conv2dParams& p) {
    Geom g;
    g.n = p.x.dims[0]; g.ic = p.x.dims[1]; g.h = p.x.dims[2]; g.w = p.x.dims[3];
    g.oc = p.y.dims[1]; g.ho = p.y.dims[2]; g.wo = p.y.dims[3];
    g.kh = p.w.dims[2]; g.kw = p.w.dims[3]; g.khw = g.kh * g.kw;
    g.icg = g.ic / p.groups; g.ocg = g.oc / p.groups;
    g.sh = p.stride_h; g.sw = p.stride_w; g.ph = p.pad_h; g.pw = p.pad_w;
    return g;
}

__device__ __forceinline__ u32 at(const ViewParams& v, int a, int b, int c, int d) {
    return v.offset + a * v.strides[0] + b * v.strides[1] + c * v.strides[2] + d * v.strides[3];
}

__device__ __forceinline__ int sv(const ViewParams& v, int d) { return (int)v.strides[d]; }

// Division by a run-time divisor d >= 1 as a multiply-high, an add and a
// shift (Granlund and Montgomery's method with m = floor(2^32 (2^l - d) / d)
// + 1, l = ceil(log2 d)): exact for 0 <= n < 2^31, where t + n cannot
// overflow. Built once (one 64-bit division); each use is three
// instructions instead of the twenty or so of an integer division, which
// matters in the GEMMs' per-K-tile decode.
struct FastDiv {
    u32 d, m, l;
};
__device__ __forceinline__ FastDiv fast_div(u32 d) {
    FastDiv f;
    f.d = d;
    f.l = 32 - __clz(d - 1);  // 0 for d = 1
    f.m = (u32)((((unsigned long long)1 << 32) * (((unsigned long long)1 << f.l) - d)) / d + 1);
    return f;
}
__device__ __forceinline__ u32 div_by(u32 n, const FastDiv& f) {
    return (__umulhi(n, f.m) + n) >> f.l;
}

// Sum of v over the block, for blocks of any shape (threads numbered x
// fastest, as CUDA forms warps; their count a multiple of 32, at most 1024).
// Valid in thread (0, 0, 0).
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    const u32 t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const u32 threads = blockDim.x * blockDim.y * blockDim.z;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (t % 32 == 0) partial[t / 32] = v;
    __syncthreads();
    v = (t < threads / 32) ? partial[t] : 0.f;
    if (t < 32) {
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    __syncthreads();
    return v;
}
