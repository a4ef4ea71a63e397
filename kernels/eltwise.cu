// slimmable: elementwise ops on views (ReLU, ReLU6 and their backward,
// residual add, gradient accumulation) and the global average pool.
//
// slimmable_eltwise_f32: op code in EltwiseParams (src/params.rs eltwise_op);
//   grid-stride over the views' elements.
// slimmable_avg_pool_forward_f32: one thread per (n, c), mean over H·W.
// slimmable_avg_pool_backward_f32: dx[n,c,h,w] = dy[n,c] / (H·W), written.
#include "common.cuh"

extern "C" __global__ void slimmable_eltwise_f32(const float* __restrict__ a,
                                                 const float* __restrict__ b,
                                                 float* __restrict__ y, EltwiseParams p) {
    const u32 n = view_numel(p.y);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float av = a[view_index(p.a, i)];
        const u32 yi = view_index(p.y, i);
        float r;
        switch (p.op) {
            case 0: r = fmaxf(av, 0.0f); break;
            case 1: r = fminf(fmaxf(av, 0.0f), 6.0f); break;
            case 2: r = av > 0.0f ? b[view_index(p.b, i)] : 0.0f; break;
            case 3: r = (av > 0.0f && av < 6.0f) ? b[view_index(p.b, i)] : 0.0f; break;
            case 4: r = av + b[view_index(p.b, i)]; break;
            default: r = y[yi] + av; break;
        }
        y[yi] = r;
    }
}

extern "C" __global__ void slimmable_avg_pool_forward_f32(const float* __restrict__ x,
                                                          float* __restrict__ y, PoolParams p) {
    const u32 c = p.x.dims[1], h = p.x.dims[2], w = p.x.dims[3];
    const u32 rows = p.x.dims[0] * c;
    for (u32 r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
        const u32 n = r / c, ch = r % c;
        const u32 base = p.x.offset + n * p.x.strides[0] + ch * p.x.strides[1];
        float acc = 0.0f;
        for (u32 i = 0; i < h; ++i)
            for (u32 j = 0; j < w; ++j) acc += x[base + i * p.x.strides[2] + j * p.x.strides[3]];
        y[p.y.offset + n * p.y.strides[0] + ch * p.y.strides[1]] = acc / (float)(h * w);
    }
}

extern "C" __global__ void slimmable_avg_pool_backward_f32(const float* __restrict__ dy,
                                                           float* __restrict__ dx, PoolParams p) {
    const u32 n = view_numel(p.x);
    const u32 hw = p.x.dims[2] * p.x.dims[3], c = p.x.dims[1];
    const float scale = 1.0f / (float)hw;
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const u32 row = i / hw;
        const u32 nn = row / c, ch = row % c;
        dx[view_index(p.x, i)] = dy[p.y.offset + nn * p.y.strides[0] + ch * p.y.strides[1]] * scale;
    }
}
