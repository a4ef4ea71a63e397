// slimmable: conv2d on channel slices of full-size tensors, three passes.
//
// All views arrive in Conv2dParams (see common.cuh): the weight view is the
// active block [oc, ic/groups, kh, kw] read with the full weight's strides,
// so no kernel ever copies a sliced weight, and wgrad adds into exactly that
// block of the full-size gradient.
//
// Dense, grouped and pointwise convs run as one implicit GEMM per group
// (grid.z = group x split), with the operands gathered on the fly:
//   forward  C[m=(n,ho,wo)][j=o]        = sum_k=(i,ky,kx)  x . w
//   dgrad    C[m=(n,h,w)][j=i]          = sum_k=(o,ky,kx)  dy . w
//   wgrad    C[m=o][j=(i,ky,kx)]       += sum_k=(n,ho,wo) dy . x   (split-K, atomics)
// Block tile 64x64, K step 32, 128 threads. Two inner products:
//   - conv_gemm_*_f32:  exact f32 FMAs, 4x8 outputs per thread;
//   - conv_gemm_*_tf32: TF32 tensor cores, mma.sync m16n8k8, f32 accumulate,
//     each warp a 32x32 sub-tile.
// Depthwise convs (groups = ic = oc) have their own memory-bound kernels:
// one thread per output (forward) or input (dgrad) element, and a per
// channel x tap reduction for wgrad. The bias gradient is a per-channel
// reduction shared by both.
#include "common.cuh"

#define BM 64
#define BN 64
#define BK 32
#define PAD 8
#define THREADS 128

enum { PASS_FWD = 0, PASS_DGRAD = 1, PASS_WGRAD = 2 };

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

// GEMM extents of one group for a pass.
template <int PASS>
__device__ __forceinline__ void gemm_dims(const Geom& g, int& M, int& N, int& K) {
    if (PASS == PASS_FWD) { M = g.n * g.ho * g.wo; N = g.ocg; K = g.icg * g.khw; }
    if (PASS == PASS_DGRAD) { M = g.n * g.h * g.w; N = g.icg; K = g.ocg * g.khw; }
    if (PASS == PASS_WGRAD) { M = g.ocg; N = g.icg * g.khw; K = g.n * g.ho * g.wo; }
}

// A[m][k] of group `grp`, zero outside the image (padding) and past the ends.
template <int PASS>
__device__ __forceinline__ float load_a(const Conv2dParams& p, const Geom& g, const float* x,
                                        const float* wt, const float* y, int grp, int m, int k,
                                        int M, int K) {
    if (m >= M || k >= K) return 0.f;
    if (PASS == PASS_FWD) {
        int wo = m % g.wo, t = m / g.wo, ho = t % g.ho, n = t / g.ho;
        int kx = k % g.kw, t2 = k / g.kw, ky = t2 % g.kh, i = t2 / g.kh;
        int hi = ho * g.sh - g.ph + ky, wi = wo * g.sw - g.pw + kx;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) return 0.f;
        return x[at(p.x, n, grp * g.icg + i, hi, wi)];
    } else if (PASS == PASS_DGRAD) {
        int wi = m % g.w, t = m / g.w, hi = t % g.h, n = t / g.h;
        int kx = k % g.kw, t2 = k / g.kw, ky = t2 % g.kh, o = t2 / g.kh;
        int th = hi + g.ph - ky, tw = wi + g.pw - kx;
        if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0) return 0.f;
        int ho = th / g.sh, wo = tw / g.sw;
        if (ho >= g.ho || wo >= g.wo) return 0.f;
        return y[at(p.y, n, grp * g.ocg + o, ho, wo)];
    } else {
        int wo = k % g.wo, t = k / g.wo, ho = t % g.ho, n = t / g.ho;
        return y[at(p.y, n, grp * g.ocg + m, ho, wo)];
    }
}

// B[k][j] of group `grp`.
template <int PASS>
__device__ __forceinline__ float load_b(const Conv2dParams& p, const Geom& g, const float* x,
                                        const float* wt, int grp, int k, int j, int K, int N) {
    if (k >= K || j >= N) return 0.f;
    if (PASS == PASS_FWD) {
        int kx = k % g.kw, t2 = k / g.kw, ky = t2 % g.kh, i = t2 / g.kh;
        return wt[at(p.w, grp * g.ocg + j, i, ky, kx)];
    } else if (PASS == PASS_DGRAD) {
        int kx = k % g.kw, t2 = k / g.kw, ky = t2 % g.kh, o = t2 / g.kh;
        return wt[at(p.w, grp * g.ocg + o, j, ky, kx)];
    } else {
        int wo = k % g.wo, t = k / g.wo, ho = t % g.ho, n = t / g.ho;
        int kx = j % g.kw, t2 = j / g.kw, ky = t2 % g.kh, i = t2 / g.kh;
        int hi = ho * g.sh - g.ph + ky, wi = wo * g.sw - g.pw + kx;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) return 0.f;
        return x[at(p.x, n, grp * g.icg + i, hi, wi)];
    }
}

// Writes (or, for wgrad, adds) one GEMM result element.
template <int PASS>
__device__ __forceinline__ void store_c(const Conv2dParams& p, const Geom& g, float* x, float* wt,
                                        float* y, const float* bias, int grp, int m, int j,
                                        int M, int N, float v, bool atomic) {
    if (m >= M || j >= N) return;
    if (PASS == PASS_FWD) {
        int wo = m % g.wo, t = m / g.wo, ho = t % g.ho, n = t / g.ho;
        int o = grp * g.ocg + j;
        if (p.has_bias) v += bias[p.bias_offset + o];
        u32 idx = at(p.y, n, o, ho, wo);
        y[idx] = p.accumulate ? y[idx] + v : v;
    } else if (PASS == PASS_DGRAD) {
        int wi = m % g.w, t = m / g.w, hi = t % g.h, n = t / g.h;
        u32 idx = at(p.x, n, grp * g.icg + j, hi, wi);
        x[idx] = p.accumulate ? x[idx] + v : v;
    } else {
        int kx = j % g.kw, t2 = j / g.kw, ky = t2 % g.kh, i = t2 / g.kh;
        u32 idx = at(p.w, grp * g.ocg + m, i, ky, kx);
        if (atomic) atomicAdd(&wt[idx], v); else wt[idx] += v;
    }
}

__device__ __forceinline__ u32 to_tf32(float f) {
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

// One 64x64 output tile of one group over K range [k_begin, k_end).
// Lanes run along m for A when m is a pixel (forward, dgrad), along k when k
// is a pixel (wgrad), so global reads coalesce on the contiguous W axis.
template <int PASS, bool TF32>
__device__ void conv_gemm_tile(const Conv2dParams& p, float* x, float* wt, float* y,
                               const float* bias, u32 split_k) {
    __shared__ float As[BK][BM + PAD];
    __shared__ float Bs[BK][BN + PAD];
    const Geom g = geom_of(p);
    int M, N, K;
    gemm_dims<PASS>(g, M, N, K);
    const int grp = blockIdx.z / split_k, split = blockIdx.z % split_k;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int k_chunk = ((K + split_k - 1) / split_k + BK - 1) / BK * BK;
    const int k_begin = split * k_chunk, k_end = min(K, k_begin + k_chunk);
    const int t = threadIdx.x;

    // SIMT layout: 16 x 8 threads, each 4 (m) x 8 (j).
    float acc[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) acc[i] = 0.f;
    const int warp = t / 32, lane = t % 32, gid = lane / 4, tig = lane % 4;

    for (int k0 = k_begin; k0 < k_end; k0 += BK) {
        // Stage A (BM x BK) and B (BK x BN): 16 elements each per thread.
#pragma unroll
        for (int r = 0; r < (BM * BK) / THREADS; ++r) {
            int e = r * THREADS + t;
            int ml, kl;
            if (PASS == PASS_WGRAD) { kl = e % BK; ml = e / BK; }
            else { ml = e % BM; kl = e / BM; }
            int k = k0 + kl;
            As[kl][ml] = (k < k_end) ? load_a<PASS>(p, g, x, wt, y, grp, m0 + ml, k, M, K) : 0.f;
        }
#pragma unroll
        for (int r = 0; r < (BK * BN) / THREADS; ++r) {
            int e = r * THREADS + t;
            int kl, jl;
            if (PASS == PASS_FWD) { kl = e % BK; jl = e / BK; }
            else { jl = e % BN; kl = e / BN; }
            int k = k0 + kl;
            Bs[kl][jl] = (k < k_end) ? load_b<PASS>(p, g, x, wt, grp, k, n0 + jl, K, N) : 0.f;
        }
        __syncthreads();
        if (TF32) {
            const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 8) {
                u32 a[2][4], b[4][2];
#pragma unroll
                for (int mt = 0; mt < 2; ++mt) {
                    int mb = wm + mt * 16 + gid;
                    a[mt][0] = to_tf32(As[kk + tig][mb]);
                    a[mt][1] = to_tf32(As[kk + tig][mb + 8]);
                    a[mt][2] = to_tf32(As[kk + tig + 4][mb]);
                    a[mt][3] = to_tf32(As[kk + tig + 4][mb + 8]);
                }
#pragma unroll
                for (int nt = 0; nt < 4; ++nt) {
                    int nb = wn + nt * 8 + gid;
                    b[nt][0] = to_tf32(Bs[kk + tig][nb]);
                    b[nt][1] = to_tf32(Bs[kk + tig + 4][nb]);
                }
#pragma unroll
                for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                    for (int nt = 0; nt < 4; ++nt) {
                        float* c = &acc[(mt * 4 + nt) * 4];
                        asm volatile(
                            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                            : "r"(a[mt][0]), "r"(a[mt][1]), "r"(a[mt][2]), "r"(a[mt][3]),
                              "r"(b[nt][0]), "r"(b[nt][1]));
                    }
            }
        } else {
            const int tm = (t % 16) * 4, tn = (t / 16) * 8;
#pragma unroll 4
            for (int kk = 0; kk < BK; ++kk) {
                float av[4], bv[8];
#pragma unroll
                for (int i = 0; i < 4; ++i) av[i] = As[kk][tm + i];
#pragma unroll
                for (int j = 0; j < 8; ++j) bv[j] = Bs[kk][tn + j];
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 8; ++j) acc[i * 8 + j] = fmaf(av[i], bv[j], acc[i * 8 + j]);
            }
        }
        __syncthreads();
    }

    const bool atomic = split_k > 1;
    if (TF32) {
        const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int nt = 0; nt < 4; ++nt) {
                const float* c = &acc[(mt * 4 + nt) * 4];
                int m = m0 + wm + mt * 16 + gid, j = n0 + wn + nt * 8 + 2 * tig;
                store_c<PASS>(p, g, x, wt, y, bias, grp, m, j, M, N, c[0], atomic);
                store_c<PASS>(p, g, x, wt, y, bias, grp, m, j + 1, M, N, c[1], atomic);
                store_c<PASS>(p, g, x, wt, y, bias, grp, m + 8, j, M, N, c[2], atomic);
                store_c<PASS>(p, g, x, wt, y, bias, grp, m + 8, j + 1, M, N, c[3], atomic);
            }
    } else {
        const int tm = (t % 16) * 4, tn = (t / 16) * 8;
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j)
                store_c<PASS>(p, g, x, wt, y, bias, grp, m0 + tm + i, n0 + tn + j, M, N,
                              acc[i * 8 + j], atomic);
    }
}

#define CONV_GEMM_ENTRY(name, PASS, TF32)                                                    \
    extern "C" __global__ void __launch_bounds__(THREADS)                                    \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_tile<PASS, TF32>(p, x, wt, y, bias, split_k);                              \
    }

CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32, PASS_FWD, false)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32, PASS_FWD, true)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32, PASS_DGRAD, false)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32, PASS_DGRAD, true)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_f32, PASS_WGRAD, false)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32, PASS_WGRAD, true)

// ---- depthwise (groups = ic = oc): memory-bound direct kernels ----------

// One thread per output element; consecutive threads along wo.
extern "C" __global__ void slimmable_dwconv2d_fwd(const float* __restrict__ x,
                                                  const float* __restrict__ wt,
                                                  float* __restrict__ y,
                                                  const float* __restrict__ bias,
                                                  Conv2dParams p) {
    const Geom g = geom_of(p);
    const u32 total = (u32)g.n * g.oc * g.ho * g.wo;
    for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho; t /= g.ho;
        int c = t % g.oc, n = t / g.oc;
        float acc = p.has_bias ? bias[p.bias_offset + c] : 0.f;
        for (int ky = 0; ky < g.kh; ++ky) {
            int hi = ho * g.sh - g.ph + ky;
            if (hi < 0 || hi >= g.h) continue;
            for (int kx = 0; kx < g.kw; ++kx) {
                int wi = wo * g.sw - g.pw + kx;
                if (wi < 0 || wi >= g.w) continue;
                acc = fmaf(x[at(p.x, n, c, hi, wi)], wt[at(p.w, c, 0, ky, kx)], acc);
            }
        }
        u32 idx = at(p.y, n, c, ho, wo);
        y[idx] = p.accumulate ? y[idx] + acc : acc;
    }
}

// One thread per input element: gathers the outputs whose window covers it.
extern "C" __global__ void slimmable_dwconv2d_dgrad(float* __restrict__ dx,
                                                    const float* __restrict__ wt,
                                                    const float* __restrict__ dy,
                                                    Conv2dParams p) {
    const Geom g = geom_of(p);
    const u32 total = (u32)g.n * g.ic * g.h * g.w;
    for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        int wi = e % g.w; u32 t = e / g.w;
        int hi = t % g.h; t /= g.h;
        int c = t % g.ic, n = t / g.ic;
        float acc = 0.f;
        for (int ky = 0; ky < g.kh; ++ky) {
            int th = hi + g.ph - ky;
            if (th < 0 || th % g.sh) continue;
            int ho = th / g.sh;
            if (ho >= g.ho) continue;
            for (int kx = 0; kx < g.kw; ++kx) {
                int tw = wi + g.pw - kx;
                if (tw < 0 || tw % g.sw) continue;
                int wo = tw / g.sw;
                if (wo >= g.wo) continue;
                acc = fmaf(dy[at(p.y, n, c, ho, wo)], wt[at(p.w, c, 0, ky, kx)], acc);
            }
        }
        u32 idx = at(p.x, n, c, hi, wi);
        dx[idx] = p.accumulate ? dx[idx] + acc : acc;
    }
}

__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = (threadIdx.x < blockDim.x / 32) ? partial[threadIdx.x] : 0.f;
    if (threadIdx.x < 32) {
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    __syncthreads();
    return v;  // valid in thread 0
}

// grid = (channels, kh*kw, splits): block sums dy . x over its share of the
// batch x output pixels for one channel and one tap, then adds into dw.
extern "C" __global__ void slimmable_dwconv2d_wgrad(const float* __restrict__ x,
                                                    float* __restrict__ dw,
                                                    const float* __restrict__ dy,
                                                    Conv2dParams p) {
    const Geom g = geom_of(p);
    const int c = blockIdx.x, tap = blockIdx.y, ky = tap / g.kw, kx = tap % g.kw;
    const u32 pixels = (u32)g.n * g.ho * g.wo;
    float acc = 0.f;
    for (u32 e = blockIdx.z * blockDim.x + threadIdx.x; e < pixels; e += gridDim.z * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho, n = t / g.ho;
        int hi = ho * g.sh - g.ph + ky, wi = wo * g.sw - g.pw + kx;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) continue;
        acc = fmaf(dy[at(p.y, n, c, ho, wo)], x[at(p.x, n, c, hi, wi)], acc);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(&dw[at(p.w, c, 0, ky, kx)], acc);
}

// grid = (oc, splits): db[o] += sum of dy over the batch and output pixels.
extern "C" __global__ void slimmable_conv2d_bias_grad(float* __restrict__ db,
                                                      const float* __restrict__ dy,
                                                      Conv2dParams p) {
    const Geom g = geom_of(p);
    const int o = blockIdx.x;
    const u32 pixels = (u32)g.n * g.ho * g.wo;
    float acc = 0.f;
    for (u32 e = blockIdx.y * blockDim.x + threadIdx.x; e < pixels; e += gridDim.y * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho, n = t / g.ho;
        acc += dy[at(p.y, n, o, ho, wo)];
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(&db[p.bias_offset + o], acc);
}
