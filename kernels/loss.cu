// slimmable: softmax cross-entropy (label smoothing) and distillation KL
// (batchmean, temperature T, not multiplied by T²), loss and dlogits.
//
// One block of 256 threads for the whole batch: each thread owns rows
// r ≡ threadIdx.x (mod 256), writes their gradient and adds their loss to a
// shared f64 sum; thread 0 writes the mean. Logits rows are short (classes),
// so this is launch-bound, not bandwidth-bound.
// An out-of-range (or non-integer) label makes that row's gradient and the
// loss NaN; the checked entry point can validate labels on the host first.
#include "common.cuh"

#define LOSS_THREADS 256

__device__ __forceinline__ u32 loss_index(const ViewParams& v, u32 r, u32 k) {
    return v.offset + r * v.strides[0] + k * v.strides[1];
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

extern "C" __global__ void slimmable_cross_entropy_f32(const float* __restrict__ logits,
                                                       const float* __restrict__ labels,
                                                       float* __restrict__ loss,
                                                       float* __restrict__ dlogits, LossParams p) {
    const u32 n = p.logits.dims[0], k = p.logits.dims[1];
    const float eps = p.smoothing, inv_n = 1.0f / (float)n;
    double total = 0.0;
    for (u32 r = threadIdx.x; r < n; r += LOSS_THREADS) {
        float m = -__int_as_float(0x7f800000);
        for (u32 j = 0; j < k; ++j) m = fmaxf(m, logits[loss_index(p.logits, r, j)]);
        float se = 0.0f;
        for (u32 j = 0; j < k; ++j) se += expf(logits[loss_index(p.logits, r, j)] - m);
        const float lse = m + logf(se);
        const float label = labels[p.labels_offset + r];
        const bool valid = label >= 0.0f && label < (float)k && floorf(label) == label;
        const u32 lab = valid ? (u32)label : 0u;
        float row = 0.0f;
        for (u32 j = 0; j < k; ++j) {
            const float z = logits[loss_index(p.logits, r, j)];
            const float q = (valid && j == lab ? 1.0f - eps : 0.0f) + eps / (float)k;
            row += q * (lse - z);
            dlogits[loss_index(p.dlogits, r, j)] = valid ? (expf(z - lse) - q) * inv_n : __int_as_float(0x7fc00000);
        }
        total += valid ? (double)row : (double)__int_as_float(0x7fc00000);
    }
    block_sum_store(total, loss + p.loss_offset, n);
}

extern "C" __global__ void slimmable_kl_div_f32(const float* __restrict__ student,
                                                const float* __restrict__ teacher,
                                                float* __restrict__ loss,
                                                float* __restrict__ dlogits, LossParams p) {
    const u32 n = p.logits.dims[0], k = p.logits.dims[1];
    const float inv_t = 1.0f / p.temperature;
    const float scale = inv_t / (float)n;
    double total = 0.0;
    for (u32 r = threadIdx.x; r < n; r += LOSS_THREADS) {
        float ms = -__int_as_float(0x7f800000), mt = -__int_as_float(0x7f800000);
        for (u32 j = 0; j < k; ++j) {
            ms = fmaxf(ms, student[loss_index(p.logits, r, j)] * inv_t);
            mt = fmaxf(mt, teacher[loss_index(p.teacher, r, j)] * inv_t);
        }
        float ss = 0.0f, st = 0.0f;
        for (u32 j = 0; j < k; ++j) {
            ss += expf(student[loss_index(p.logits, r, j)] * inv_t - ms);
            st += expf(teacher[loss_index(p.teacher, r, j)] * inv_t - mt);
        }
        const float lse_s = ms + logf(ss), lse_t = mt + logf(st);
        float row = 0.0f;
        for (u32 j = 0; j < k; ++j) {
            const float ls = student[loss_index(p.logits, r, j)] * inv_t - lse_s;
            const float lt = teacher[loss_index(p.teacher, r, j)] * inv_t - lse_t;
            const float pt = expf(lt);
            if (pt > 0.0f) row += pt * (lt - ls);
            dlogits[loss_index(p.dlogits, r, j)] = (expf(ls) - pt) * scale;
        }
        total += (double)row;
    }
    block_sum_store(total, loss + p.loss_offset, n);
}
