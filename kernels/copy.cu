// slimmable: strided copy and fill on views.
//
// slimmable_slice_copy_f32: dst[view] = src[view] over equal extents, e.g. a
//   channel slice of a full-width activation into a dense tensor, or back.
// slimmable_slice_copy_runs_vec4: the same copy when each image of both views
//   is one packed, 16-byte aligned run of C·H·W floats, a multiple of 4 long
//   (ViewParams::packed_vec4_runs): 128-bit loads and stores, and one
//   division per vector instead of a full NCHW decode per element.
// slimmable_fill_f32: dst[view] = value.
//
// Launch: 1-D grid of 1-D blocks, any size; each thread walks the view's
// elements with a grid-stride loop in NCHW order (consecutive threads touch
// consecutive w, so dense rows coalesce).
#include "common.cuh"

extern "C" __global__ void slimmable_slice_copy_f32(const float* __restrict__ src,
                                                    float* __restrict__ dst,
                                                    SliceCopyParams p) {
    const u32 n = view_numel(p.dst);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[view_index(p.dst, i)] = src[view_index(p.src, i)];
    }
}

extern "C" __global__ void slimmable_slice_copy_runs_vec4(const float4* __restrict__ src,
                                                          float4* __restrict__ dst,
                                                          SliceCopyParams p) {
    const u32 run4 = p.dst.dims[1] * p.dst.dims[2] * p.dst.dims[3] / 4;
    const u32 n = p.dst.dims[0] * run4;
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const u32 img = i / run4, e = i - img * run4;
        dst[(p.dst.offset + img * p.dst.strides[0]) / 4 + e] =
            src[(p.src.offset + img * p.src.strides[0]) / 4 + e];
    }
}

extern "C" __global__ void slimmable_fill_f32(float* __restrict__ dst, FillParams p) {
    const u32 n = view_numel(p.dst);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[view_index(p.dst, i)] = p.value;
    }
}
