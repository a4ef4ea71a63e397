// slimmable: linear layer on a slice of a full-size weight (the classifier:
// input features sliced, output full or sliced). The weight block is read
// through its full row stride `w_ld`. The forward is a shared-memory tiled
// GEMM (a thread per output walked a weight row alone, strided across the
// warp: 0.71 ms for 128x1280 -> 1000 on an H200); the backward passes keep a
// thread per output, whose reads are coalesced across the warp.
//
// slimmable_linear_forward_f32:   y[n,o] = Σ_i x[n,i]·W[o,i] (+ b[o])
// slimmable_linear_backward_data_f32:   dx[n,i] = Σ_o dy[n,o]·W[o,i] (written)
// slimmable_linear_backward_weight_f32: dW[o,i] += Σ_n dy[n,o]·x[n,i]
// slimmable_linear_backward_bias_f32:   db[o] += Σ_n dy[n,o]
#include "common.cuh"

__device__ __forceinline__ u32 row_index(const ViewParams& v, u32 r, u32 f) {
    return v.offset + r * v.strides[0] + f * v.strides[1];
}

// Forward tile: LIN_TILE rows x LIN_TILE outputs a block, K steps of
// LIN_TILE; thread (tx, ty) computes output o0 + tx for rows 4·ty .. 4·ty+3.
// The next K step's operands are loaded into registers while this one is
// multiplied. Grid (ceil(out / 32), ceil(rows / 32)), LIN_THREADS threads.
#define LIN_TILE 32
#define LIN_THREADS 256
#define LIN_LOADS (LIN_TILE * LIN_TILE / LIN_THREADS)

extern "C" __global__ void __launch_bounds__(LIN_THREADS)
    slimmable_linear_forward_f32(const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ b, float* __restrict__ y,
                                 LinearParams p) {
    __shared__ float xs[LIN_TILE][LIN_TILE + 1];  // [k][row]
    __shared__ float ws[LIN_TILE][LIN_TILE + 1];  // [k][output]
    const u32 rows = p.x.dims[0], in_f = p.x.dims[1], out_f = p.y.dims[1];
    const u32 r0 = blockIdx.y * LIN_TILE, o0 = blockIdx.x * LIN_TILE;
    const u32 t = threadIdx.x, tx = t % LIN_TILE, ty = t / LIN_TILE;
    // Loads: element e = t + LIN_THREADS·q of a tile is (row or output e / 32,
    // k e % 32): consecutive lanes read consecutive features.
    float xr[LIN_LOADS], wr[LIN_LOADS];
    auto load = [&](u32 k0) {
#pragma unroll
        for (int q = 0; q < LIN_LOADS; ++q) {
            const u32 e = t + LIN_THREADS * q, i = e / LIN_TILE, k = k0 + e % LIN_TILE;
            xr[q] = (r0 + i < rows && k < in_f) ? x[row_index(p.x, r0 + i, k)] : 0.0f;
            wr[q] = (o0 + i < out_f && k < in_f) ? w[p.w_offset + (o0 + i) * p.w_ld + k] : 0.0f;
        }
    };
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    load(0);
    for (u32 k0 = 0; k0 < in_f; k0 += LIN_TILE) {
#pragma unroll
        for (int q = 0; q < LIN_LOADS; ++q) {
            const u32 e = t + LIN_THREADS * q;
            xs[e % LIN_TILE][e / LIN_TILE] = xr[q];
            ws[e % LIN_TILE][e / LIN_TILE] = wr[q];
        }
        __syncthreads();
        if (k0 + LIN_TILE < in_f) load(k0 + LIN_TILE);
#pragma unroll 8
        for (int kk = 0; kk < LIN_TILE; ++kk) {
            const float wv = ws[kk][tx];
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[j] = fmaf(xs[kk][4 * ty + j], wv, acc[j]);
        }
        __syncthreads();
    }
    const u32 o = o0 + tx;
    if (o >= out_f) return;
    const float bias = p.has_bias ? b[p.b_offset + o] : 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const u32 r = r0 + 4 * ty + j;
        if (r < rows) y[row_index(p.y, r, o)] = acc[j] + bias;
    }
}

extern "C" __global__ void slimmable_linear_backward_data_f32(const float* __restrict__ dy,
                                                              const float* __restrict__ w,
                                                              float* __restrict__ dx,
                                                              LinearParams p) {
    const u32 rows = p.x.dims[0], in_f = p.x.dims[1], out_f = p.y.dims[1];
    for (u32 t = blockIdx.x * blockDim.x + threadIdx.x; t < rows * in_f; t += gridDim.x * blockDim.x) {
        const u32 r = t / in_f, i = t % in_f;
        float acc = 0.0f;
        for (u32 o = 0; o < out_f; ++o)
            acc = fmaf(dy[row_index(p.y, r, o)], w[p.w_offset + o * p.w_ld + i], acc);
        dx[row_index(p.x, r, i)] = acc;
    }
}

extern "C" __global__ void slimmable_linear_backward_weight_f32(const float* __restrict__ dy,
                                                                const float* __restrict__ x,
                                                                float* __restrict__ dw,
                                                                LinearParams p) {
    const u32 rows = p.x.dims[0], in_f = p.x.dims[1], out_f = p.y.dims[1];
    for (u32 t = blockIdx.x * blockDim.x + threadIdx.x; t < out_f * in_f; t += gridDim.x * blockDim.x) {
        const u32 o = t / in_f, i = t % in_f;
        float acc = 0.0f;
        for (u32 r = 0; r < rows; ++r)
            acc = fmaf(dy[row_index(p.y, r, o)], x[row_index(p.x, r, i)], acc);
        dw[p.w_offset + o * p.w_ld + i] += acc;
    }
}

extern "C" __global__ void slimmable_linear_backward_bias_f32(const float* __restrict__ dy,
                                                              float* __restrict__ db,
                                                              LinearParams p) {
    const u32 rows = p.y.dims[0], out_f = p.y.dims[1];
    for (u32 o = blockIdx.x * blockDim.x + threadIdx.x; o < out_f; o += gridDim.x * blockDim.x) {
        float acc = 0.0f;
        for (u32 r = 0; r < rows; ++r) acc += dy[row_index(p.y, r, o)];
        db[p.b_offset + o] += acc;
    }
}
