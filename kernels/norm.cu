// slimmable: batch norm on a channel slice (training and eval forward,
// backward, fused ReLU / ReLU6).
//
// Each channel's reduction over N·H·W is split into `chunks` pieces so that
// small channel counts still fill the GPU: grid (chunks, c) of 256-thread
// blocks, each writing a partial into the saved buffer, then one thread per
// channel merges the partials. Layout of `saved` (see BnParams in
// src/params.rs): [mean c][invstd c][Σg c][Σg·x̂ c][partials 3·chunks·c].
//
// Training forward: bn_stats (per-thread Welford over register batches,
//   merged with Chan's formula, so large means do not cancel)
//   -> bn_finalize (merge in f64, mean/invstd, running-stat update) ->
//   bn_normalize.
// Eval forward: bn_normalize with STATS_ARE_VAR on the running statistics.
// Backward: bn_backward_partials (Σg, Σg·x̂ with g = dy·act'(pre)) ->
//   bn_backward_finalize (dβ += Σg, dγ += Σg·x̂) -> bn_backward_dx.
//
// Memory access (these kernels are bandwidth-bound):
// - Every kernel works in "units" of V elements of one (n, c) plane: V = 4
//   (one float4 load/store) when every view it touches has dense rows,
//   planes of a multiple of 4 elements, 16-byte-aligned plane starts and
//   base pointer (checked at run time, uniformly per launch); else V = 1
//   with the general strided addressing. Both paths run the same code.
// - Positions advance by a fixed step without division: a step of
//   BN_THREADS units is split once into (planes, units) and carried.
// - Loads are issued in batches of BN_BATCH units before any arithmetic, so
//   each thread keeps several 16-byte requests in flight.
// - normalize / dx walk the tensor channel-major (the order the reductions
//   read it: blocks (chunk, channel) are scheduled channel by channel) and
//   backwards: the first tiles they touch are the ones the reduction read
//   last, still in L2, so the second read of x (and dy) partly hits L2.
#include "common.cuh"

#define BN_THREADS 256
#define BN_WARPS (BN_THREADS / 32)
// Elements per block of normalize / dx (16 per thread); the host sizes the
// grid as ceil(numel / BN_TILE).
#define BN_TILE 4096
// Units loaded before the arithmetic that consumes them.
#define BN_BATCH 4
#define BN_UPDATE_RUNNING 1u
#define BN_STATS_ARE_VAR 2u

// Offset of element s of an (n, c) plane from the plane's start: s itself
// when rows are dense (the usual channel slice), else split into (h, w).
__device__ __forceinline__ u32 bn_plane_offset(const ViewParams& v, u32 s) {
    if (v.strides[3] == 1 && v.strides[2] == v.dims[3]) return s;
    return (s / v.dims[3]) * v.strides[2] + (s % v.dims[3]) * v.strides[3];
}

// Can the view be read as float4s: dense rows, planes a multiple of 4
// elements, every plane start (and the buffer) 16-byte aligned.
__device__ __forceinline__ bool bn_vec4(const ViewParams& v, const float* ptr) {
    const u32 hw = v.dims[2] * v.dims[3];
    return v.strides[3] == 1 && (v.strides[2] == v.dims[3] || v.dims[2] == 1) && (hw & 3u) == 0 &&
           ((v.offset | v.strides[0] | v.strides[1]) & 3u) == 0 &&
           (reinterpret_cast<unsigned long long>(ptr) & 15ull) == 0;
}

// Buffer index of unit s of plane (n, ch).
template <int V>
__device__ __forceinline__ u32 bn_unit_index(const ViewParams& v, u32 n, u32 ch, u32 s) {
    const u32 base = v.offset + n * v.strides[0] + ch * v.strides[1];
    if constexpr (V == 4) {
        return base + 4u * s;
    } else {
        return base + bn_plane_offset(v, s);
    }
}

template <int V>
__device__ __forceinline__ void bn_load(const float* __restrict__ p, u32 i, float (&out)[V]) {
    if constexpr (V == 4) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(p + i));
        out[0] = q.x;
        out[1] = q.y;
        out[2] = q.z;
        out[3] = q.w;
    } else {
        out[0] = __ldg(p + i);
    }
}

template <int V>
__device__ __forceinline__ void bn_store(float* __restrict__ p, u32 i, const float (&v)[V]) {
    if constexpr (V == 4) {
        *reinterpret_cast<float4*>(p + i) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        p[i] = v[0];
    }
}

// Unit s of plane n inside one channel, advanced by BN_THREADS units at a
// time: the step is split once into dn planes and ds units, then carried.
struct BnWalk {
    u32 n, s, dn, ds, hwu;
    __device__ __forceinline__ BnWalk(u32 j, u32 hwu_) : hwu(hwu_) {
        n = j / hwu;
        s = j - n * hwu;
        dn = BN_THREADS / hwu;
        ds = BN_THREADS - dn * hwu;
    }
    __device__ __forceinline__ void advance() {
        s += ds;
        n += dn;
        if (s >= hwu) {
            s -= hwu;
            ++n;
        }
    }
};

// The same over all planes in channel-major order (plane = ch·N + n), for
// normalize / dx.
struct BnFlatWalk {
    u32 n, ch, s, dn, dch, ds, hwu, batch;
    __device__ __forceinline__ BnFlatWalk(u32 q, u32 hwu_, u32 batch_) : hwu(hwu_), batch(batch_) {
        const u32 pl = q / hwu;
        s = q - pl * hwu;
        ch = pl / batch;
        n = pl - ch * batch;
        const u32 dpl = BN_THREADS / hwu;
        ds = BN_THREADS - dpl * hwu;
        dch = dpl / batch;
        dn = dpl - dch * batch;
    }
    __device__ __forceinline__ void advance() {
        s += ds;
        n += dn;
        ch += dch;
        if (s >= hwu) {
            s -= hwu;
            ++n;
        }
        if (n >= batch) {
            n -= batch;
            ++ch;
        }
    }
};

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

// Units [lo, hi) of chunk k of a channel's `total` units.
__device__ __forceinline__ void bn_chunk_units(const BnParams& p, u32 total, u32 k, u32* lo, u32* hi) {
    const u32 len = (total + p.chunks - 1) / p.chunks;
    *lo = min(k * len, total);
    *hi = min(*lo + len, total);
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

// One thread's share of chunk k of channel ch as a Welford triple. Each
// batch of BN_BATCH units (up to 16 values, all in registers) is reduced
// exactly in two passes (its mean, then Σ(v − mean)²) and merged with
// Chan's formula: one division per batch instead of one per element, and
// no cancellation whatever the values (a single-shift Σx² − (Σx)²/n loses
// the variance when the shift is an outlier).
template <int V>
__device__ __forceinline__ Welford bn_stats_thread(const float* __restrict__ x, const BnParams& p,
                                                   u32 ch, u32 k, u32 t) {
    const u32 hwu = p.x.dims[2] * p.x.dims[3] / V, total = p.count / V;
    u32 lo, hi;
    bn_chunk_units(p, total, k, &lo, &hi);
    Welford acc = {0.0f, 0.0f, 0.0f};
    BnWalk w(lo + t, hwu);
    for (u32 j = lo + t; j < hi;) {
        float v[BN_BATCH][V];
        bool ok[BN_BATCH];
        u32 nu = 0;
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
            ok[u] = j < hi;
            if (ok[u]) {
                bn_load<V>(x, bn_unit_index<V>(p.x, w.n, ch, w.s), v[u]);
                ++nu;
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) v[u][e] = 0.0f;  // adds nothing to the sum
            }
            j += BN_THREADS;
            w.advance();
        }
        float sum = 0.0f;
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
#pragma unroll
            for (int e = 0; e < V; ++e) sum += v[u][e];
        }
        Welford b;
        b.n = (float)(nu * V);
        b.mean = sum / b.n;
        b.m2 = 0.0f;
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const float d = ok[u] ? v[u][e] - b.mean : 0.0f;
                b.m2 = fmaf(d, d, b.m2);
            }
        }
        acc = welford_merge(acc, b);
    }
    return acc;
}

// Welford merge over the block; the result is valid in thread 0.
__device__ __forceinline__ Welford bn_block_welford(Welford a) {
    __shared__ Welford sh[BN_WARPS];
    const u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (u32 o = 16; o > 0; o >>= 1) {
        Welford b;
        b.n = __shfl_down_sync(0xffffffffu, a.n, o);
        b.mean = __shfl_down_sync(0xffffffffu, a.mean, o);
        b.m2 = __shfl_down_sync(0xffffffffu, a.m2, o);
        a = welford_merge(a, b);
    }
    if (lane == 0) sh[warp] = a;
    __syncthreads();
    if (warp == 0) {
        a = lane < BN_WARPS ? sh[lane] : Welford{0.0f, 0.0f, 0.0f};
#pragma unroll
        for (u32 o = BN_WARPS / 2; o > 0; o >>= 1) {
            Welford b;
            b.n = __shfl_down_sync(0xffffffffu, a.n, o);
            b.mean = __shfl_down_sync(0xffffffffu, a.mean, o);
            b.m2 = __shfl_down_sync(0xffffffffu, a.m2, o);
            a = welford_merge(a, b);
        }
    }
    return a;
}

// Sum of two floats over the block; valid in thread 0.
__device__ __forceinline__ void bn_block_sum2(float& a, float& b) {
    __shared__ float sh[2][BN_WARPS];
    const u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (u32 o = 16; o > 0; o >>= 1) {
        a += __shfl_down_sync(0xffffffffu, a, o);
        b += __shfl_down_sync(0xffffffffu, b, o);
    }
    if (lane == 0) {
        sh[0][warp] = a;
        sh[1][warp] = b;
    }
    __syncthreads();
    if (warp == 0) {
        a = lane < BN_WARPS ? sh[0][lane] : 0.0f;
        b = lane < BN_WARPS ? sh[1][lane] : 0.0f;
#pragma unroll
        for (u32 o = BN_WARPS / 2; o > 0; o >>= 1) {
            a += __shfl_down_sync(0xffffffffu, a, o);
            b += __shfl_down_sync(0xffffffffu, b, o);
        }
    }
}

extern "C" __global__ void slimmable_bn_stats_f32(const float* __restrict__ x,
                                                  float* __restrict__ saved, BnParams p) {
    const u32 ch = blockIdx.y, k = blockIdx.x, t = threadIdx.x;
    // Uniform over the launch: no divergence.
    const Welford acc = bn_vec4(p.x, x) ? bn_stats_thread<4>(x, p, ch, k, t)
                                        : bn_stats_thread<1>(x, p, ch, k, t);
    const Welford r = bn_block_welford(acc);
    if (t == 0) {
        const u32 at = bn_partial(p, ch, k);
        saved[at] = r.n;
        saved[at + 1] = r.mean;
        saved[at + 2] = r.m2;
    }
}

struct WelfordD {
    double n, mean, m2;
};

__device__ __forceinline__ WelfordD welford_merge_d(WelfordD a, double bn, double bmean, double bm2) {
    if (bn == 0.0) return a;
    const double tot = a.n + bn, d = bmean - a.mean, fb = bn / tot;
    a.mean += d * fb;
    a.m2 += bm2 + d * d * a.n * fb;
    a.n = tot;
    return a;
}

// One warp per channel (grid: ceil(c / 8) blocks of 256): each lane merges
// every 32nd chunk partial, then the lanes merge by shuffles, so the chain
// of dependent f64 divisions is chunks/32 + 5 long instead of `chunks` (128
// merges in one thread took microseconds for C = 32).
extern "C" __global__ void slimmable_bn_finalize_f32(float* __restrict__ saved,
                                                     float* __restrict__ running, BnParams p) {
    const u32 c = p.x.dims[1];
    const u32 ch = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31u;
    if (ch >= c) return;  // the whole warp: ch is uniform in it
    WelfordD a = {0.0, 0.0, 0.0};
    for (u32 k = lane; k < p.chunks; k += 32) {
        const u32 at = bn_partial(p, ch, k);
        a = welford_merge_d(a, saved[at], saved[at + 1], saved[at + 2]);
    }
#pragma unroll
    for (u32 o = 16; o > 0; o >>= 1) {
        const double bn = __shfl_down_sync(0xffffffffu, a.n, o);
        const double bmean = __shfl_down_sync(0xffffffffu, a.mean, o);
        const double bm2 = __shfl_down_sync(0xffffffffu, a.m2, o);
        a = welford_merge_d(a, bn, bmean, bm2);
    }
    if (lane != 0) return;
    const double mean = a.mean, var = a.m2 / a.n;
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

// Tile `tile` of the channel-major flat order: BN_TILE / V units per
// thread, in batches of BN_BATCH loaded before use. `Op` supplies
// load(u, n, ch, s) and finish(u, ch).
template <int V, class Op>
__device__ __forceinline__ void bn_tile(const ViewParams& v, u32 tile, Op& op) {
    const u32 batch = v.dims[0];
    const u32 hwu = v.dims[2] * v.dims[3] / V;
    const u32 total = batch * v.dims[1] * hwu;
    constexpr u32 kUnits = BN_TILE / BN_THREADS / V;
    u32 q = tile * (BN_TILE / V) + threadIdx.x;
    BnFlatWalk w(q, hwu, batch);
#pragma unroll 1
    for (u32 b = 0; b < kUnits; b += BN_BATCH) {
        u32 chs[BN_BATCH];
        bool ok[BN_BATCH];
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
            ok[u] = q < total;
            chs[u] = w.ch;
            if (ok[u]) op.load(u, w.n, w.ch, w.s);
            q += BN_THREADS;
            w.advance();
        }
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
            if (ok[u]) op.finish(u, chs[u]);
        }
    }
}

template <int V>
struct BnNormalizeOp {
    const float* __restrict__ x;
    const float* __restrict__ gamma;
    const float* __restrict__ beta;
    const float* __restrict__ stats;
    float* __restrict__ y;
    const BnParams* p;
    float v[BN_BATCH][V];
    u32 at[BN_BATCH];
    u32 cur;
    float scale, shift;

    __device__ __forceinline__ void load(int u, u32 n, u32 ch, u32 s) {
        bn_load<V>(x, bn_unit_index<V>(p->x, n, ch, s), v[u]);
        at[u] = bn_unit_index<V>(p->y, n, ch, s);
    }
    __device__ __forceinline__ void finish(int u, u32 ch) {
        if (ch != cur) {  // per-channel constants, reloaded only when the channel changes
            cur = ch;
            const float mean = stats[p->mean_offset + ch];
            const float sv = stats[p->var_offset + ch];
            const float inv = (p->flags & BN_STATS_ARE_VAR) ? 1.0f / sqrtf(sv + p->eps) : sv;
            scale = inv * gamma[p->gamma_offset + ch];
            shift = beta[p->beta_offset + ch] - mean * scale;
        }
#pragma unroll
        for (int e = 0; e < V; ++e) v[u][e] = bn_act(fmaf(v[u][e], scale, shift), p->act);
        bn_store<V>(y, at[u], v[u]);
    }
};

// Grid: ceil(numel / BN_TILE) blocks of BN_THREADS, 1-D.
extern "C" __global__ void slimmable_bn_normalize_f32(const float* __restrict__ x,
                                                      const float* __restrict__ gamma,
                                                      const float* __restrict__ beta,
                                                      const float* __restrict__ stats,
                                                      float* __restrict__ y, BnParams p) {
    // Last tile first: the reduction read the high channels last.
    const u32 tile = gridDim.x - 1 - blockIdx.x;
    if (bn_vec4(p.x, x) && bn_vec4(p.y, y)) {
        BnNormalizeOp<4> op{x, gamma, beta, stats, y, &p, {}, {}, 0xffffffffu, 0.0f, 0.0f};
        bn_tile<4>(p.x, tile, op);
    } else {
        BnNormalizeOp<1> op{x, gamma, beta, stats, y, &p, {}, {}, 0xffffffffu, 0.0f, 0.0f};
        bn_tile<1>(p.x, tile, op);
    }
}

// One thread's share of Σg and Σg·x̂ over chunk k of channel ch.
template <int V>
__device__ __forceinline__ void bn_backward_thread(const float* __restrict__ x,
                                                   const float* __restrict__ dy, const BnParams& p,
                                                   u32 ch, u32 k, u32 t, float mean, float inv,
                                                   float g, float b, float& s1, float& s2) {
    const u32 hwu = p.x.dims[2] * p.x.dims[3] / V, total = p.count / V;
    u32 lo, hi;
    bn_chunk_units(p, total, k, &lo, &hi);
    BnWalk w(lo + t, hwu);
    for (u32 j = lo + t; j < hi;) {
        float vx[BN_BATCH][V], vd[BN_BATCH][V];
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
            if (j < hi) {
                bn_load<V>(x, bn_unit_index<V>(p.x, w.n, ch, w.s), vx[u]);
                bn_load<V>(dy, bn_unit_index<V>(p.dy, w.n, ch, w.s), vd[u]);
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) {
                    vx[u][e] = mean;  // x̂ = 0 and g = 0: adds nothing
                    vd[u][e] = 0.0f;
                }
            }
            j += BN_THREADS;
            w.advance();
        }
#pragma unroll
        for (int u = 0; u < BN_BATCH; ++u) {
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const float xh = (vx[u][e] - mean) * inv;
                const float d = vd[u][e] * bn_act_grad(xh * g + b, p.act);
                s1 += d;
                s2 = fmaf(d, xh, s2);
            }
        }
    }
}

extern "C" __global__ void slimmable_bn_backward_partials_f32(const float* __restrict__ x,
                                                              const float* __restrict__ dy,
                                                              const float* __restrict__ gamma,
                                                              const float* __restrict__ beta,
                                                              float* __restrict__ saved,
                                                              BnParams p) {
    const u32 ch = blockIdx.y, k = blockIdx.x, t = threadIdx.x, c = p.x.dims[1];
    const float mean = saved[ch], inv = saved[c + ch];
    const float g = gamma[p.gamma_offset + ch], b = beta[p.beta_offset + ch];
    float s1 = 0.0f, s2 = 0.0f;
    if (bn_vec4(p.x, x) && bn_vec4(p.dy, dy)) {
        bn_backward_thread<4>(x, dy, p, ch, k, t, mean, inv, g, b, s1, s2);
    } else {
        bn_backward_thread<1>(x, dy, p, ch, k, t, mean, inv, g, b, s1, s2);
    }
    bn_block_sum2(s1, s2);
    if (t == 0) {
        const u32 at = bn_partial(p, ch, k);
        saved[at] = s1;
        saved[at + 1] = s2;
    }
}

// One warp per channel, like bn_finalize: lanes sum every 32nd partial,
// then shuffles (f64 throughout).
extern "C" __global__ void slimmable_bn_backward_finalize_f32(float* __restrict__ saved,
                                                              float* __restrict__ dgamma,
                                                              float* __restrict__ dbeta,
                                                              BnParams p) {
    const u32 c = p.x.dims[1];
    const u32 ch = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31u;
    if (ch >= c) return;  // the whole warp
    double s1 = 0.0, s2 = 0.0;
    for (u32 k = lane; k < p.chunks; k += 32) {
        const u32 at = bn_partial(p, ch, k);
        s1 += saved[at];
        s2 += saved[at + 1];
    }
#pragma unroll
    for (u32 o = 16; o > 0; o >>= 1) {
        s1 += __shfl_down_sync(0xffffffffu, s1, o);
        s2 += __shfl_down_sync(0xffffffffu, s2, o);
    }
    if (lane != 0) return;
    saved[2 * c + ch] = (float)s1;
    saved[3 * c + ch] = (float)s2;
    dbeta[p.beta_offset + ch] = (float)((double)dbeta[p.beta_offset + ch] + s1);
    dgamma[p.gamma_offset + ch] = (float)((double)dgamma[p.gamma_offset + ch] + s2);
}

template <int V>
struct BnDxOp {
    const float* __restrict__ x;
    const float* __restrict__ dy;
    const float* __restrict__ gamma;
    const float* __restrict__ beta;
    const float* __restrict__ saved;
    float* __restrict__ dx;
    const BnParams* p;
    float vx[BN_BATCH][V], vd[BN_BATCH][V];
    u32 at[BN_BATCH];
    u32 cur;
    float mean, inv, g, b, mean_g, mean_gx;

    __device__ __forceinline__ void load(int u, u32 n, u32 ch, u32 s) {
        bn_load<V>(x, bn_unit_index<V>(p->x, n, ch, s), vx[u]);
        bn_load<V>(dy, bn_unit_index<V>(p->dy, n, ch, s), vd[u]);
        at[u] = bn_unit_index<V>(p->y, n, ch, s);
    }
    __device__ __forceinline__ void finish(int u, u32 ch) {
        if (ch != cur) {
            cur = ch;
            const u32 c = p->x.dims[1];
            const float inv_m = 1.0f / (float)p->count;
            mean = saved[ch];
            inv = saved[c + ch];
            g = gamma[p->gamma_offset + ch];
            b = beta[p->beta_offset + ch];
            mean_g = saved[2 * c + ch] * inv_m;
            mean_gx = saved[3 * c + ch] * inv_m;
        }
        float o[V];
#pragma unroll
        for (int e = 0; e < V; ++e) {
            const float xh = (vx[u][e] - mean) * inv;
            const float d = vd[u][e] * bn_act_grad(xh * g + b, p->act);
            o[e] = g * inv * (d - mean_g - xh * mean_gx);
        }
        bn_store<V>(dx, at[u], o);
    }
};

// Grid: ceil(numel / BN_TILE) blocks of BN_THREADS, 1-D.
extern "C" __global__ void slimmable_bn_backward_dx_f32(const float* __restrict__ x,
                                                        const float* __restrict__ dy,
                                                        const float* __restrict__ gamma,
                                                        const float* __restrict__ beta,
                                                        const float* __restrict__ saved,
                                                        float* __restrict__ dx, BnParams p) {
    const u32 tile = gridDim.x - 1 - blockIdx.x;
    if (bn_vec4(p.x, x) && bn_vec4(p.dy, dy) && bn_vec4(p.y, dx)) {
        BnDxOp<4> op{x, dy, gamma, beta, saved, dx, &p, {}, {}, {}, 0xffffffffu,
                     0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        bn_tile<4>(p.x, tile, op);
    } else {
        BnDxOp<1> op{x, dy, gamma, beta, saved, dx, &p, {}, {}, {}, 0xffffffffu,
                     0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        bn_tile<1>(p.x, tile, op);
    }
}

// ---------------------------------------------------------------------------
// Channel-resident training kernels, for reductions of up to about 16384
// elements a channel (N·H·W; the
// late MobileNet stages, 64×14×14 and smaller). One block per channel loads
// its channel once into registers, reduces it, and writes the result, so the
// forward is one launch reading x once (against stats → finalize →
// normalize, which read it twice) and the backward is one launch reading x
// and dy once. Larger planes take more than one round: each pass then
// reloads its round (from L2). On scalar views (H·W not a multiple of 4)
// the backward holds twice the units and the small twins four times, of one
// float each.

// Threads a block and units (of V elements) a thread holds per round. The
// forward holds x only: 256 threads of 14 float4s (14336 elements) fit
// three blocks an SM (80 registers, no spills; 16 float4s spilled), so 384
// channels run in one wave on 132 SMs. The backward holds x the same way
// and dy in dynamic shared memory (BN_RESB_SMEM bytes, each thread reading
// back only what it stored, so no barrier): three blocks an SM too.
#ifndef SLIMMABLE_CUDA_ON_CPU
__device__ __forceinline__ float* bn_dynamic_smem() {
    extern __shared__ float4 bn_dyn[];  // float4: 16-byte aligned
    return reinterpret_cast<float*>(bn_dyn);
}
#endif
#define BN_RESF_THREADS 256
#define BN_RESF_UNITS 14
#define BN_RESB_THREADS 256
#define BN_RESB_UNITS 14
#define BN_RESB_SMEM (BN_RESB_THREADS * BN_RESB_UNITS * 16)

// Units of round r held by this thread (zeros past the end: they add
// nothing to a sum), and where each unit lives.
template <int V, int T, int U>
__device__ __forceinline__ void bn_res_load(const float* __restrict__ src, const ViewParams& v,
                                            u32 ch, u32 r, u32 total, u32 hwu,
                                            float (&out)[U][V]) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
        const u32 j = (r * U + u) * T + threadIdx.x;
        if (j < total) {
            const u32 n = j / hwu;
            bn_load<V>(src, bn_unit_index<V>(v, n, ch, j - n * hwu), out[u]);
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) out[u][e] = 0.0f;
        }
    }
}

// Sums over a block of T threads in f64, the result in every thread.
template <int T>
__device__ __forceinline__ void bn_res_sum2(double& a, double& b) {
    __shared__ double sh[2][T / 32];
    const u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (u32 o = 16; o > 0; o >>= 1) {
        a += __shfl_down_sync(0xffffffffu, a, o);
        b += __shfl_down_sync(0xffffffffu, b, o);
    }
    __syncthreads();  // sh may still be read by a previous call
    if (lane == 0) {
        sh[0][warp] = a;
        sh[1][warp] = b;
    }
    __syncthreads();
    a = 0.0;
    b = 0.0;
#pragma unroll
    for (u32 w = 0; w < T / 32; ++w) {  // same order in every thread: same bits
        a += sh[0][w];
        b += sh[1][w];
    }
}

template <int V, int T, int U>
__device__ __forceinline__ void bn_res_forward(const float* __restrict__ x,
                                               const float* __restrict__ gamma,
                                               const float* __restrict__ beta,
                                               float* __restrict__ running,
                                               float* __restrict__ saved, float* __restrict__ y,
                                               const BnParams& p) {
    const u32 ch = blockIdx.x, c = p.x.dims[1];
    const u32 hwu = p.x.dims[2] * p.x.dims[3] / V, total = p.x.dims[0] * hwu;
    const u32 rounds = (total + U * T - 1) / (U * T);
    float v[U][V];
    if (rounds == 1) bn_res_load<V, T, U>(x, p.x, ch, 0, total, hwu, v);
    // Two exact passes over the values in registers: mean, then Σ(x − mean)².
    double sum = 0.0, unused = 0.0;
    for (u32 r = 0; r < rounds; ++r) {
        if (rounds > 1) bn_res_load<V, T, U>(x, p.x, ch, r, total, hwu, v);
        float s = 0.0f;
#pragma unroll
        for (int u = 0; u < U; ++u) {
#pragma unroll
            for (int e = 0; e < V; ++e) s += v[u][e];
        }
        sum += (double)s;
    }
    bn_res_sum2<T>(sum, unused);
    const double n = (double)p.count;
    const float mean = (float)(sum / n);
    double m2 = 0.0;
    for (u32 r = 0; r < rounds; ++r) {
        if (rounds > 1) bn_res_load<V, T, U>(x, p.x, ch, r, total, hwu, v);
        float q = 0.0f;
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const bool ok = (r * U + u) * T + threadIdx.x < total;
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const float d = ok ? v[u][e] - mean : 0.0f;
                q = fmaf(d, d, q);
            }
        }
        m2 += (double)q;
    }
    unused = 0.0;
    bn_res_sum2<T>(m2, unused);
    const double var = m2 / n;
    const float inv = (float)(1.0 / sqrt(var + (double)p.eps));
    if (threadIdx.x == 0) {
        saved[ch] = mean;
        saved[c + ch] = inv;
        if (p.flags & BN_UPDATE_RUNNING) {
            const double f = p.factor;
            float* rm = running + p.mean_offset + ch;
            float* rv = running + p.var_offset + ch;
            *rm = (float)((1.0 - f) * *rm + f * (sum / n));
            *rv = (float)((1.0 - f) * *rv + f * var * (double)p.unbias);
        }
    }
    const float scale = inv * gamma[p.gamma_offset + ch];
    const float shift = beta[p.beta_offset + ch] - mean * scale;
    for (u32 r = 0; r < rounds; ++r) {
        if (rounds > 1) bn_res_load<V, T, U>(x, p.x, ch, r, total, hwu, v);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const u32 j = (r * U + u) * T + threadIdx.x;
            if (j < total) {
#pragma unroll
                for (int e = 0; e < V; ++e) v[u][e] = bn_act(fmaf(v[u][e], scale, shift), p.act);
                const u32 img = j / hwu;
                bn_store<V>(y, bn_unit_index<V>(p.y, img, ch, j - img * hwu), v[u]);
            }
        }
    }
}

// A resident forward on T threads: U units of float4s where the views
// allow, else U1 units of one float.
template <int T, int U, int U1>
__device__ __forceinline__ void bn_res_forward_any(const float* __restrict__ x,
                                                   const float* __restrict__ gamma,
                                                   const float* __restrict__ beta,
                                                   float* __restrict__ running,
                                                   float* __restrict__ saved,
                                                   float* __restrict__ y, const BnParams& p) {
    if (bn_vec4(p.x, x) && bn_vec4(p.y, y)) {
        bn_res_forward<4, T, U>(x, gamma, beta, running, saved, y, p);
    } else {
        bn_res_forward<1, T, U1>(x, gamma, beta, running, saved, y, p);
    }
}

// Grid: one block of BN_RESF_THREADS per channel. Writes saved mean/inv-std
// and the running update like bn_stats → bn_finalize, and y like
// bn_normalize.
extern "C" __global__ void __launch_bounds__(BN_RESF_THREADS, 3)
slimmable_bn_forward_resident_f32(const float* __restrict__ x, const float* __restrict__ gamma,
                                  const float* __restrict__ beta, float* __restrict__ running,
                                  float* __restrict__ saved, float* __restrict__ y, BnParams p) {
    bn_res_forward_any<BN_RESF_THREADS, BN_RESF_UNITS, BN_RESF_UNITS>(x, gamma, beta, running,
                                                                      saved, y, p);
}

// The small twin, for N·H·W up to 2048 (SMALL_MAX_COUNT in launch_norm.rs:
// the 4x4 and smaller planes of a MobileNet's last stages): blocks of 64
// threads holding 8 units each (2048 elements in float4s), so an SM keeps
// many channels in flight where the 256-thread blocks ran two and more waves
// of half-idle blocks.
#define BN_SMALL_THREADS 64
#define BN_SMALL_UNITS 8
#define BN_SMALL_SMEM (BN_SMALL_THREADS * BN_SMALL_UNITS * 16)
extern "C" __global__ void __launch_bounds__(BN_SMALL_THREADS)
slimmable_bn_forward_resident_small_f32(const float* __restrict__ x,
                                        const float* __restrict__ gamma,
                                        const float* __restrict__ beta,
                                        float* __restrict__ running, float* __restrict__ saved,
                                        float* __restrict__ y, BnParams p) {
    bn_res_forward_any<BN_SMALL_THREADS, BN_SMALL_UNITS, 4 * BN_SMALL_UNITS>(x, gamma, beta,
                                                                             running, saved, y, p);
}

// This thread's units of round r of dy, stored to (and later read from) its
// own slots of the dynamic shared memory `sdy` (zeros past the end).
template <int V, int T, int U>
__device__ __forceinline__ void bn_res_stash(const float* __restrict__ dy, const ViewParams& v,
                                             u32 ch, u32 r, u32 total, u32 hwu, float* sdy) {
    // One unit at a time (a whole round in registers would spill beside x).
#pragma unroll
    for (int u = 0; u < U; ++u) {
        const u32 j = (r * U + u) * T + threadIdx.x;
        float t[V];
        if (j < total) {
            const u32 n = j / hwu;
            bn_load<V>(dy, bn_unit_index<V>(v, n, ch, j - n * hwu), t);
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) t[e] = 0.0f;
        }
#pragma unroll
        for (int e = 0; e < V; ++e) sdy[(u * T + threadIdx.x) * V + e] = t[e];
    }
}

template <int V, int T, int U>
__device__ __forceinline__ void bn_res_backward(const float* __restrict__ x,
                                                const float* __restrict__ dy,
                                                const float* __restrict__ gamma,
                                                const float* __restrict__ beta,
                                                float* __restrict__ saved,
                                                float* __restrict__ dgamma,
                                                float* __restrict__ dbeta,
                                                float* __restrict__ dx, const BnParams& p,
                                                float* sdy) {
    const u32 ch = blockIdx.x, c = p.x.dims[1];
    const u32 hwu = p.x.dims[2] * p.x.dims[3] / V, total = p.x.dims[0] * hwu;
    const u32 rounds = (total + U * T - 1) / (U * T);
    const float mean = saved[ch], inv = saved[c + ch];
    const float g = gamma[p.gamma_offset + ch], b = beta[p.beta_offset + ch];
    float vx[U][V];
    auto dy_at = [&](int u, int e) { return sdy[(u * T + threadIdx.x) * V + e]; };
    if (rounds == 1) {  // dy first: x's registers are not live yet
        bn_res_stash<V, T, U>(dy, p.dy, ch, 0, total, hwu, sdy);
        bn_res_load<V, T, U>(x, p.x, ch, 0, total, hwu, vx);
    }
    // Σg and Σg·x̂ with g = dy·act'(pre); padding units have dy = 0.
    double s1 = 0.0, s2 = 0.0;
    for (u32 r = 0; r < rounds; ++r) {
        if (rounds > 1) {
            bn_res_stash<V, T, U>(dy, p.dy, ch, r, total, hwu, sdy);
            bn_res_load<V, T, U>(x, p.x, ch, r, total, hwu, vx);
        }
        float a1 = 0.0f, a2 = 0.0f;
#pragma unroll
        for (int u = 0; u < U; ++u) {
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const float xh = (vx[u][e] - mean) * inv;
                const float d = dy_at(u, e) * bn_act_grad(xh * g + b, p.act);
                a1 += d;
                a2 = fmaf(d, xh, a2);
            }
        }
        s1 += (double)a1;
        s2 += (double)a2;
    }
    bn_res_sum2<T>(s1, s2);
    if (threadIdx.x == 0) {
        saved[2 * c + ch] = (float)s1;
        saved[3 * c + ch] = (float)s2;
        dbeta[p.beta_offset + ch] = (float)((double)dbeta[p.beta_offset + ch] + s1);
        dgamma[p.gamma_offset + ch] = (float)((double)dgamma[p.gamma_offset + ch] + s2);
    }
    const float inv_m = 1.0f / (float)p.count;
    const float mean_g = (float)s1 * inv_m, mean_gx = (float)s2 * inv_m;
    for (u32 r = 0; r < rounds; ++r) {
        if (rounds > 1) {
            bn_res_stash<V, T, U>(dy, p.dy, ch, r, total, hwu, sdy);
            bn_res_load<V, T, U>(x, p.x, ch, r, total, hwu, vx);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const u32 j = (r * U + u) * T + threadIdx.x;
            if (j < total) {
                float o[V];
#pragma unroll
                for (int e = 0; e < V; ++e) {
                    const float xh = (vx[u][e] - mean) * inv;
                    const float d = dy_at(u, e) * bn_act_grad(xh * g + b, p.act);
                    o[e] = g * inv * (d - mean_g - xh * mean_gx);
                }
                const u32 n = j / hwu;
                bn_store<V>(dx, bn_unit_index<V>(p.y, n, ch, j - n * hwu), o);
            }
        }
    }
}

// A resident backward on T threads (dy in `sdy`): U units of float4s where
// the views allow, else U1 units of one float.
template <int T, int U, int U1>
__device__ __forceinline__ void bn_res_backward_any(
    const float* __restrict__ x, const float* __restrict__ dy, const float* __restrict__ gamma,
    const float* __restrict__ beta, float* __restrict__ saved, float* __restrict__ dgamma,
    float* __restrict__ dbeta, float* __restrict__ dx, const BnParams& p, float* sdy) {
    if (bn_vec4(p.x, x) && bn_vec4(p.dy, dy) && bn_vec4(p.y, dx)) {
        bn_res_backward<4, T, U>(x, dy, gamma, beta, saved, dgamma, dbeta, dx, p, sdy);
    } else {
        bn_res_backward<1, T, U1>(x, dy, gamma, beta, saved, dgamma, dbeta, dx, p, sdy);
    }
}

// Grid: one block of BN_RESB_THREADS per channel. Reads the forward's saved
// mean/inv-std, accumulates dγ/dβ and writes Σg, Σg·x̂ like
// bn_backward_partials → bn_backward_finalize, and dx (p.y) like
// bn_backward_dx.
extern "C" __global__ void __launch_bounds__(BN_RESB_THREADS, 3)
slimmable_bn_backward_resident_f32(const float* __restrict__ x, const float* __restrict__ dy,
                                   const float* __restrict__ gamma,
                                   const float* __restrict__ beta, float* __restrict__ saved,
                                   float* __restrict__ dgamma, float* __restrict__ dbeta,
                                   float* __restrict__ dx, BnParams p) {
    // Scalar views (H·W not a multiple of 4: the 7x7 planes) hold twice the
    // units, of one float each: one round up to 7168 (128x7x7 took two,
    // each pass reloading x and dy). The forward keeps 14: 28 spill at its
    // 80 registers. dy lives in BN_RESB_SMEM bytes.
    bn_res_backward_any<BN_RESB_THREADS, BN_RESB_UNITS, 2 * BN_RESB_UNITS>(
        x, dy, gamma, beta, saved, dgamma, dbeta, dx, p, bn_dynamic_smem());
}

// The small twin of the backward (see the forward's): dy in BN_SMALL_SMEM
// bytes of dynamic shared memory.
extern "C" __global__ void __launch_bounds__(BN_SMALL_THREADS)
slimmable_bn_backward_resident_small_f32(const float* __restrict__ x,
                                         const float* __restrict__ dy,
                                         const float* __restrict__ gamma,
                                         const float* __restrict__ beta,
                                         float* __restrict__ saved,
                                         float* __restrict__ dgamma,
                                         float* __restrict__ dbeta, float* __restrict__ dx,
                                         BnParams p) {
    bn_res_backward_any<BN_SMALL_THREADS, BN_SMALL_UNITS, 4 * BN_SMALL_UNITS>(
        x, dy, gamma, beta, saved, dgamma, dbeta, dx, p, bn_dynamic_smem());
}
