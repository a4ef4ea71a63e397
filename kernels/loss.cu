// slimmable: softmax cross-entropy (label smoothing) and distillation KL
// (batchmean, temperature T, not multiplied by T²), loss and dlogits.
//
// One block of LOSS_THREADS for the whole batch, a warp a row (rows
// r ≡ warp mod LOSS_WARPS): the lanes stride along the classes (coalesced),
// the row's max and sums are warp reductions; each warp's lane 0 adds its
// rows' losses in f64 and the block sums them in a fixed order, so the loss
// is deterministic. (A thread a row read the logits strided across the warp:
// 0.46 ms for KL over 128x1000 on an H200.)
// An out-of-range (or non-integer) label makes that row's gradient and the
// loss NaN; the checked entry point can validate labels on the host first.
#include "common.cuh"

#define LOSS_THREADS 1024
#define LOSS_WARPS (LOSS_THREADS / 32)

__device__ __forceinline__ u32 loss_index(const ViewParams& v, u32 r, u32 k) {
    return v.offset + r * v.strides[0] + k * v.strides[1];
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ void block_sum_store(double v, float* out, u32 n) {
    __shared__ double sh[LOSS_THREADS];
    const u32 t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (u32 s = LOSS_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
    if (t == 0) *out = (float)(sh[0] / (double)n);
}

extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    slimmable_cross_entropy_f32(const float* __restrict__ logits, const float* __restrict__ labels,
                                float* __restrict__ loss, float* __restrict__ dlogits,
                                LossParams p) {
    const u32 n = p.logits.dims[0], k = p.logits.dims[1];
    const u32 lane = threadIdx.x % 32;
    const float eps = p.smoothing, inv_n = 1.0f / (float)n;
    double total = 0.0;
    for (u32 r = threadIdx.x / 32; r < n; r += LOSS_WARPS) {
        float m = -__int_as_float(0x7f800000);
        for (u32 j = lane; j < k; j += 32) m = fmaxf(m, logits[loss_index(p.logits, r, j)]);
        m = warp_max(m);
        float se = 0.0f;
        for (u32 j = lane; j < k; j += 32) se += expf(logits[loss_index(p.logits, r, j)] - m);
        const float lse = m + logf(warp_sum(se));
        const float label = labels[p.labels_offset + r];
        const bool valid = label >= 0.0f && label < (float)k && floorf(label) == label;
        const u32 lab = valid ? (u32)label : 0u;
        float row = 0.0f;
        for (u32 j = lane; j < k; j += 32) {
            const float z = logits[loss_index(p.logits, r, j)];
            const float q = (valid && j == lab ? 1.0f - eps : 0.0f) + eps / (float)k;
            row += q * (lse - z);
            dlogits[loss_index(p.dlogits, r, j)] =
                valid ? (expf(z - lse) - q) * inv_n : __int_as_float(0x7fc00000);
        }
        row = warp_sum(row);
        if (lane == 0) total += valid ? (double)row : (double)__int_as_float(0x7fc00000);
    }
    block_sum_store(total, loss + p.loss_offset, n);
}

extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    slimmable_kl_div_f32(const float* __restrict__ student, const float* __restrict__ teacher,
                         float* __restrict__ loss, float* __restrict__ dlogits, LossParams p) {
    const u32 n = p.logits.dims[0], k = p.logits.dims[1];
    const u32 lane = threadIdx.x % 32;
    const float inv_t = 1.0f / p.temperature;
    const float scale = inv_t / (float)n;
    double total = 0.0;
    for (u32 r = threadIdx.x / 32; r < n; r += LOSS_WARPS) {
        float ms = -__int_as_float(0x7f800000), mt = -__int_as_float(0x7f800000);
        for (u32 j = lane; j < k; j += 32) {
            ms = fmaxf(ms, student[loss_index(p.logits, r, j)] * inv_t);
            mt = fmaxf(mt, teacher[loss_index(p.teacher, r, j)] * inv_t);
        }
        ms = warp_max(ms);
        mt = warp_max(mt);
        float ss = 0.0f, st = 0.0f;
        for (u32 j = lane; j < k; j += 32) {
            ss += expf(student[loss_index(p.logits, r, j)] * inv_t - ms);
            st += expf(teacher[loss_index(p.teacher, r, j)] * inv_t - mt);
        }
        const float lse_s = ms + logf(warp_sum(ss)), lse_t = mt + logf(warp_sum(st));
        float row = 0.0f;
        for (u32 j = lane; j < k; j += 32) {
            const float ls = student[loss_index(p.logits, r, j)] * inv_t - lse_s;
            const float lt = teacher[loss_index(p.teacher, r, j)] * inv_t - lse_t;
            const float pt = expf(lt);
            if (pt > 0.0f) row += pt * (lt - ls);
            dlogits[loss_index(p.dlogits, r, j)] = (expf(ls) - pt) * scale;
        }
        row = warp_sum(row);
        if (lane == 0) total += (double)row;
    }
    block_sum_store(total, loss + p.loss_offset, n);
}
