// slimmable: linear layer on a slice of a full-size weight (the classifier:
// input features sliced, output full or sliced). One thread per output
// element; the weight block is read through its full row stride `w_ld`.
//
// slimmable_linear_forward_f32:   y[n,o] = Σ_i x[n,i]·W[o,i] (+ b[o])
// slimmable_linear_backward_data_f32:   dx[n,i] = Σ_o dy[n,o]·W[o,i] (written)
// slimmable_linear_backward_weight_f32: dW[o,i] += Σ_n dy[n,o]·x[n,i]
// slimmable_linear_backward_bias_f32:   db[o] += Σ_n dy[n,o]
#include "common.cuh"

__device__ __forceinline__ u32 row_index(const ViewParams& v, u32 r, u32 f) {
    return v.offset + r * v.strides[0] + f * v.strides[1];
}

extern "C" __global__ void slimmable_linear_forward_f32(const float* __restrict__ x,
                                                        const float* __restrict__ w,
                                                        const float* __restrict__ b,
                                                        float* __restrict__ y, LinearParams p) {
    const u32 rows = p.x.dims[0], in_f = p.x.dims[1], out_f = p.y.dims[1];
    for (u32 t = blockIdx.x * blockDim.x + threadIdx.x; t < rows * out_f; t += gridDim.x * blockDim.x) {
        const u32 r = t / out_f, o = t % out_f;
        float acc = p.has_bias ? b[p.b_offset + o] : 0.0f;
        const float* wr = w + p.w_offset + o * p.w_ld;
        for (u32 i = 0; i < in_f; ++i) acc = fmaf(x[row_index(p.x, r, i)], wr[i], acc);
        y[row_index(p.y, r, o)] = acc;
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
