// slimmable: batch norm on a channel slice (training and eval forward,
// backward, fused ReLU / ReLU6).
//
// Each channel's reduction over N·H·W is split into `chunks` pieces so that
// small channel counts still fill the GPU: grid (chunks, c) of 256-thread
// blocks, each writing a partial into the saved buffer, then one thread per
// channel merges the partials. Layout of `saved` (see BnParams in
// src/params.rs): [mean c][invstd c][Σg c][Σg·x̂ c][partials 3·chunks·c].
//
// Training forward: bn_stats (per-thread Welford in f32, merged with Chan's
//   formula, so large means do not cancel) -> bn_finalize (merge in f64,
//   mean/invstd, running-stat update) -> bn_normalize.
// Eval forward: bn_normalize with STATS_ARE_VAR on the running statistics.
// Backward: bn_backward_partials (Σg, Σg·x̂ with g = dy·act'(pre)) ->
//   bn_backward_finalize (dγ += Σg·x̂, dβ += Σg) -> bn_backward_dx.
// x is read twice in the forward and twice in the backward. The reductions
// walk each chunk plane by plane ((n, c) planes of H·W), and normalize / dx
// take a (blocks per plane, planes) grid when planes hold ≥ 256 elements
// (BN_PLANES), so no per-element index division is left on the hot paths.
#include "common.cuh"

#define BN_THREADS 256
#define BN_UPDATE_RUNNING 1u
#define BN_STATS_ARE_VAR 2u
#define BN_PLANES 4u

// Offset of element s of an (n, c) plane from the plane's start: s itself
// when rows are dense (the usual channel slice), else split into (h, w).
__device__ __forceinline__ u32 bn_plane_offset(const ViewParams& v, u32 s) {
    if (v.strides[3] == 1 && v.strides[2] == v.dims[3]) return s;
    return (s / v.dims[3]) * v.strides[2] + (s % v.dims[3]) * v.strides[3];
}

__device__ __forceinline__ u32 bn_plane_base(const ViewParams& v, u32 n, u32 ch) {
    return v.offset + n * v.strides[0] + ch * v.strides[1];
}

__device__ __forceinline__ float bn_act(float v, u32 act) {
    if (act == 1u) return fmaxf(v, 0.0f);
    if (act == 2u) return fminf(fmaxf(v, 0.0f), 6.0f);
    return v;
}

// Gradient mask of the activation at the pre-activation value (0 at kinks).
__device__ __forceinline__ float bn_act_grad(float v, u32 act) {
    if (act == 1u) return v > 0.0f ? 1.0f : 0.0f;
    if (act == 2u) return (v > 0.0f && v < 6.0f) ? 1.0f : 0.0f;
    return 1.0f;
}

__device__ __forceinline__ void bn_chunk(const BnParams& p, u32 k, u32* lo, u32* hi) {
    const u32 len = (p.count + p.chunks - 1) / p.chunks;
    *lo = min(k * len, p.count);
    *hi = min(*lo + len, p.count);
}

__device__ __forceinline__ u32 bn_partial(const BnParams& p, u32 ch, u32 k) {
    return 4u * p.x.dims[1] + (ch * p.chunks + k) * 3u;
}

struct Welford {
    float n, mean, m2;
};

__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    const float n = a.n + b.n;
    if (n == 0.0f) return a;
    const float d = b.mean - a.mean;
    const float fb = b.n / n;
    Welford r;
    r.n = n;
    r.mean = a.mean + d * fb;
    r.m2 = a.m2 + b.m2 + d * d * a.n * fb;
    return r;
}

extern "C" __global__ void slimmable_bn_stats_f32(const float* __restrict__ x,
                                                  float* __restrict__ saved, BnParams p) {
    const u32 ch = blockIdx.y, k = blockIdx.x, t = threadIdx.x;
    u32 lo, hi;
    bn_chunk(p, k, &lo, &hi);
    Welford acc = {0.0f, 0.0f, 0.0f};
    const u32 hw = p.x.dims[2] * p.x.dims[3];
    // Walk the chunk plane by plane: one division per plane, not per element.
    for (u32 j = lo; j < hi;) {
        const u32 n = j / hw, s0 = j - n * hw, s1 = min(hw, s0 + (hi - j));
        const u32 base = bn_plane_base(p.x, n, ch);
        for (u32 s = s0 + t; s < s1; s += BN_THREADS) {
            const float v = x[base + bn_plane_offset(p.x, s)];
            acc.n += 1.0f;
            const float d = v - acc.mean;
            acc.mean += d / acc.n;
            acc.m2 += d * (v - acc.mean);
        }
        j += s1 - s0;
    }
    __shared__ Welford sh[BN_THREADS];
    sh[t] = acc;
    __syncthreads();
    for (u32 s = BN_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] = welford_merge(sh[t], sh[t + s]);
        __syncthreads();
    }
    if (t == 0) {
        const u32 at = bn_partial(p, ch, k);
        saved[at] = sh[0].n;
        saved[at + 1] = sh[0].mean;
        saved[at + 2] = sh[0].m2;
    }
}

extern "C" __global__ void slimmable_bn_finalize_f32(float* __restrict__ saved,
                                                     float* __restrict__ running, BnParams p) {
    const u32 c = p.x.dims[1];
    const u32 ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double n = 0.0, mean = 0.0, m2 = 0.0;
    for (u32 k = 0; k < p.chunks; ++k) {
        const u32 at = bn_partial(p, ch, k);
        const double bn = saved[at], bmean = saved[at + 1], bm2 = saved[at + 2];
        if (bn == 0.0) continue;
        const double tot = n + bn, d = bmean - mean;
        mean += d * bn / tot;
        m2 += bm2 + d * d * n * bn / tot;
        n = tot;
    }
    const double var = m2 / n;
    saved[ch] = (float)mean;
    saved[c + ch] = (float)(1.0 / sqrt(var + (double)p.eps));
    if (p.flags & BN_UPDATE_RUNNING) {
        const double f = p.factor;
        float* rm = running + p.mean_offset + ch;
        float* rv = running + p.var_offset + ch;
        *rm = (float)((1.0 - f) * *rm + f * mean);
        *rv = (float)((1.0 - f) * *rv + f * var * (double)p.unbias);
    }
}

extern "C" __global__ void slimmable_bn_normalize_f32(const float* __restrict__ x,
                                                      const float* __restrict__ gamma,
                                                      const float* __restrict__ beta,
                                                      const float* __restrict__ stats,
                                                      float* __restrict__ y, BnParams p) {
    const u32 hw = p.x.dims[2] * p.x.dims[3], c = p.x.dims[1];
    if (p.flags & BN_PLANES) {
        // Grid (blocks per plane, planes): per-channel constants once per plane.
        const u32 planes = p.x.dims[0] * c;
        for (u32 pl = blockIdx.y; pl < planes; pl += gridDim.y) {
            const u32 n = pl / c, ch = pl % c;
            const float mean = stats[p.mean_offset + ch];
            const float s = stats[p.var_offset + ch];
            const float inv = (p.flags & BN_STATS_ARE_VAR) ? 1.0f / sqrtf(s + p.eps) : s;
            const float scale = inv * gamma[p.gamma_offset + ch];
            const float shift = beta[p.beta_offset + ch] - mean * scale;
            const u32 bx = bn_plane_base(p.x, n, ch), by = bn_plane_base(p.y, n, ch);
            for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < hw; e += gridDim.x * blockDim.x)
                y[by + bn_plane_offset(p.y, e)] = bn_act(fmaf(x[bx + bn_plane_offset(p.x, e)], scale, shift), p.act);
        }
        return;
    }
    const u32 n = view_numel(p.x);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const u32 ch = (i / hw) % c;
        const float mean = stats[p.mean_offset + ch];
        const float s = stats[p.var_offset + ch];
        const float inv = (p.flags & BN_STATS_ARE_VAR) ? 1.0f / sqrtf(s + p.eps) : s;
        const float scale = inv * gamma[p.gamma_offset + ch];
        const float shift = beta[p.beta_offset + ch] - mean * scale;
        y[view_index(p.y, i)] = bn_act(fmaf(x[view_index(p.x, i)], scale, shift), p.act);
    }
}

extern "C" __global__ void slimmable_bn_backward_partials_f32(const float* __restrict__ x,
                                                              const float* __restrict__ dy,
                                                              const float* __restrict__ gamma,
                                                              const float* __restrict__ beta,
                                                              float* __restrict__ saved,
                                                              BnParams p) {
    const u32 ch = blockIdx.y, k = blockIdx.x, t = threadIdx.x, c = p.x.dims[1];
    u32 lo, hi;
    bn_chunk(p, k, &lo, &hi);
    const float mean = saved[ch], inv = saved[c + ch];
    const float g = gamma[p.gamma_offset + ch], b = beta[p.beta_offset + ch];
    float s1 = 0.0f, s2 = 0.0f;
    const u32 hw = p.x.dims[2] * p.x.dims[3];
    for (u32 j = lo; j < hi;) {
        const u32 n = j / hw, a = j - n * hw, e = min(hw, a + (hi - j));
        const u32 bx = bn_plane_base(p.x, n, ch), bd = bn_plane_base(p.dy, n, ch);
        for (u32 s = a + t; s < e; s += BN_THREADS) {
            const float xh = (x[bx + bn_plane_offset(p.x, s)] - mean) * inv;
            const float d = dy[bd + bn_plane_offset(p.dy, s)] * bn_act_grad(xh * g + b, p.act);
            s1 += d;
            s2 += d * xh;
        }
        j += e - a;
    }
    __shared__ float sh1[BN_THREADS], sh2[BN_THREADS];
    sh1[t] = s1;
    sh2[t] = s2;
    __syncthreads();
    for (u32 s = BN_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            sh1[t] += sh1[t + s];
            sh2[t] += sh2[t + s];
        }
        __syncthreads();
    }
    if (t == 0) {
        const u32 at = bn_partial(p, ch, k);
        saved[at] = sh1[0];
        saved[at + 1] = sh2[0];
    }
}

extern "C" __global__ void slimmable_bn_backward_finalize_f32(float* __restrict__ saved,
                                                              float* __restrict__ dgamma,
                                                              float* __restrict__ dbeta,
                                                              BnParams p) {
    const u32 c = p.x.dims[1];
    const u32 ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double s1 = 0.0, s2 = 0.0;
    for (u32 k = 0; k < p.chunks; ++k) {
        const u32 at = bn_partial(p, ch, k);
        s1 += saved[at];
        s2 += saved[at + 1];
    }
    saved[2 * c + ch] = (float)s1;
    saved[3 * c + ch] = (float)s2;
    dbeta[p.beta_offset + ch] = (float)((double)dbeta[p.beta_offset + ch] + s1);
    dgamma[p.gamma_offset + ch] = (float)((double)dgamma[p.gamma_offset + ch] + s2);
}

extern "C" __global__ void slimmable_bn_backward_dx_f32(const float* __restrict__ x,
                                                        const float* __restrict__ dy,
                                                        const float* __restrict__ gamma,
                                                        const float* __restrict__ beta,
                                                        const float* __restrict__ saved,
                                                        float* __restrict__ dx, BnParams p) {
    const u32 hw = p.x.dims[2] * p.x.dims[3], c = p.x.dims[1];
    const float inv_m = 1.0f / (float)p.count;
    if (p.flags & BN_PLANES) {
        const u32 planes = p.x.dims[0] * c;
        for (u32 pl = blockIdx.y; pl < planes; pl += gridDim.y) {
            const u32 n = pl / c, ch = pl % c;
            const float mean = saved[ch], inv = saved[c + ch], g = gamma[p.gamma_offset + ch];
            const float b = beta[p.beta_offset + ch];
            const float mean_g = saved[2 * c + ch] * inv_m, mean_gx = saved[3 * c + ch] * inv_m;
            const u32 bx = bn_plane_base(p.x, n, ch), bd = bn_plane_base(p.dy, n, ch);
            const u32 bo = bn_plane_base(p.y, n, ch);
            for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < hw; e += gridDim.x * blockDim.x) {
                const float xh = (x[bx + bn_plane_offset(p.x, e)] - mean) * inv;
                const float d = dy[bd + bn_plane_offset(p.dy, e)] * bn_act_grad(xh * g + b, p.act);
                dx[bo + bn_plane_offset(p.y, e)] = g * inv * (d - mean_g - xh * mean_gx);
            }
        }
        return;
    }
    const u32 n = view_numel(p.x);
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const u32 ch = (i / hw) % c;
        const float inv = saved[c + ch], g = gamma[p.gamma_offset + ch];
        const float xh = (x[view_index(p.x, i)] - saved[ch]) * inv;
        const float d = dy[view_index(p.dy, i)] * bn_act_grad(xh * g + beta[p.beta_offset + ch], p.act);
        dx[view_index(p.y, i)] =
            g * inv * (d - saved[2 * c + ch] * inv_m - xh * saved[3 * c + ch] * inv_m);
    }
}
