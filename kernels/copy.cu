// slimmable: strided copy and fill on views.
//
// slimmable_slice_copy_f32: dst[view] = src[view] over equal extents, e.g. a
//   channel slice of a full-width activation into a dense tensor, or back.
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

extern "C" __global__ void slimmable_fill_f32(float* __restrict__ dst, FillParams p) {
    const u32 n = view_numel(p.dst);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[view_index(p.dst, i)] = p.value;
    }
}
