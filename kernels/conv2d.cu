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
// Block tile 64x64 (or 128x16 for small N: the "_narrow" twins), K step 32,
// 128 threads; the (channel, tap) or pixel that each k stands for is decoded
// once per K tile into shared memory, so the gathers need no divisions.
// Two inner products:
//   - *_f32:  exact f32 FMAs, 4x8 (2x8 narrow) outputs per thread;
//   - *_tf32: TF32 tensor cores, mma.sync m16n8k8, f32 accumulate.
// Depthwise convs (groups = ic = oc) have their own memory-bound kernels:
// forward and dgrad stage a tile's input (dy) window in shared memory
// (k <= 7, stride <= 2; else one thread per output or input element), wgrad keeps all kh x kw tap sums of one channel in
// registers (k = 3, 5, 7; else one block per channel and tap). The bias
// gradient is a per-channel reduction shared by both.
#include "common.cuh"

#define PAD 8

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

__device__ __forceinline__ int sv(const ViewParams& v, int d) { return (int)v.strides[d]; }

// GEMM extents of one group for a pass.
template <int PASS>
__device__ __forceinline__ void gemm_dims(const Geom& g, int& M, int& N, int& K) {
    if (PASS == PASS_FWD) { M = g.n * g.ho * g.wo; N = g.ocg; K = g.icg * g.khw; }
    if (PASS == PASS_DGRAD) { M = g.n * g.h * g.w; N = g.icg; K = g.ocg * g.khw; }
    if (PASS == PASS_WGRAD) { M = g.ocg; N = g.icg * g.khw; K = g.n * g.ho * g.wo; }
}

// What one reduction index k contributes to the addresses, decoded once per
// K tile into shared memory so the gathers need no divisions:
//   forward: a = x offset of (i,ky,kx), b = w offset of (i,ky,kx), p,q = ky,kx
//   dgrad:   a = dy offset of channel o, b = w offset of (o,ky,kx), p,q = ky,kx
//   wgrad:   a = dy offset of pixel (n,ho,wo), b = x offset of n,
//            p,q = top-left input row/col of the window (may be negative)
struct KEntry { int a, b, p, q; };

template <int PASS>
__device__ __forceinline__ KEntry decode_k(const Conv2dParams& pr, const Geom& g, int grp, int k) {
    KEntry e;
    if (PASS == PASS_WGRAD) {
        int wo = k % g.wo, t = k / g.wo, ho = t % g.ho, n = t / g.ho;
        e.a = n * sv(pr.y, 0) + ho * sv(pr.y, 2) + wo * sv(pr.y, 3);
        e.b = n * sv(pr.x, 0);
        e.p = ho * g.sh - g.ph;
        e.q = wo * g.sw - g.pw;
    } else {
        int kx = k % g.kw, t = k / g.kw, ky = t % g.kh, c = t / g.kh;
        if (PASS == PASS_FWD) {
            e.a = c * sv(pr.x, 1) + ky * sv(pr.x, 2) + kx * sv(pr.x, 3);
            e.b = c * sv(pr.w, 1) + ky * sv(pr.w, 2) + kx * sv(pr.w, 3);
        } else {
            e.a = (grp * g.ocg + c) * sv(pr.y, 1);
            e.b = (grp * g.ocg + c) * sv(pr.w, 0) + ky * sv(pr.w, 2) + kx * sv(pr.w, 3);
        }
        e.p = ky;
        e.q = kx;
    }
    return e;
}

__device__ __forceinline__ u32 to_tf32(float f) {
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

// Asynchronous 4-byte global->shared copy with zero fill when `pred` is
// false (padding, tile edges): the gathers of the next K tile fly while the
// current one is multiplied. Synchronous fallback before sm_80.
__device__ __forceinline__ void cp_async4(float* smem, const float* gmem, bool pred) {
#if __CUDA_ARCH__ >= 800
    u32 s;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }"
                 : "=r"(s) : "l"(smem));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem),
                 "r"(pred ? 4 : 0));
#else
    *smem = pred ? *gmem : 0.f;
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
__device__ __forceinline__ void cp_async_wait_prev() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 1;\n" ::);
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 0;\n" ::);
#endif
}

// One BM x BN output tile of one group over its share of K (split-K for
// wgrad), double-buffered: tile k+1 is gathered (cp.async) while tile k is
// multiplied. TF32: WARPS_M x WARPS_N warps, each (BM/WARPS_M) x
// (BN/WARPS_N) in m16n8k8 tiles. F32: threads as TY x TX, each TM x TN.
template <int PASS, bool TF32, int BM, int BN, int BK, int THREADS, int WARPS_M>
__device__ void conv_gemm_tile(const Conv2dParams& p, float* x, float* wt, float* y,
                               const float* bias, u32 split_k) {
    constexpr int WARPS = THREADS / 32;
    constexpr int WARPS_N = WARPS / WARPS_M;
    constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
    constexpr int MT = WM / 16, NT = WN / 8;
    constexpr int TN = BN >= 64 ? 8 : 2;
    constexpr int TX = BN / TN, TY = THREADS / TX, TM = BM / TY;
    constexpr int ACC = TF32 ? MT * NT * 4 : TM * TN;
    constexpr int A_PER = BM * BK / THREADS, B_PER = BK * BN / THREADS;
    static_assert(THREADS % BM == 0 || PASS == PASS_WGRAD, "A rows per thread");
    static_assert(THREADS % BN == 0, "B columns per thread");

    __shared__ float As[2][BK][BM + PAD];
    __shared__ float Bs[2][BK][BN + PAD];
    __shared__ KEntry ktab[2][BK];
    const Geom g = geom_of(p);
    int M, N, K;
    gemm_dims<PASS>(g, M, N, K);
    const int grp = blockIdx.z / split_k, split = blockIdx.z % split_k;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int k_chunk = ((K + split_k - 1) / split_k + BK - 1) / BK * BK;
    const int k_begin = split * k_chunk, k_end = min(K, k_begin + k_chunk);
    const int t = threadIdx.x;

    // Per-thread constants of the gathers (each thread keeps one m for A
    // in forward/dgrad, one j for B in dgrad/wgrad).
    int a_base = 0, a_r = 0, a_c = 0;
    bool a_ok = false;
    const int a_ml = (PASS == PASS_WGRAD) ? 0 : t % BM;
    if (PASS == PASS_FWD) {
        int m = m0 + a_ml;
        a_ok = m < M;
        int wo = m % g.wo, tt = m / g.wo, ho = tt % g.ho, n = tt / g.ho;
        a_base = (int)p.x.offset + n * sv(p.x, 0) + grp * g.icg * sv(p.x, 1);
        a_r = ho * g.sh - g.ph;
        a_c = wo * g.sw - g.pw;
    } else if (PASS == PASS_DGRAD) {
        int m = m0 + a_ml;
        a_ok = m < M;
        int wi = m % g.w, tt = m / g.w, hi = tt % g.h, n = tt / g.h;
        a_base = (int)p.y.offset + n * sv(p.y, 0);
        a_r = hi + g.ph;
        a_c = wi + g.pw;
    }
    int b_off = 0;
    bool b_ok = false;
    const int b_jl = t % BN;
    if (PASS == PASS_DGRAD) {
        int j = n0 + b_jl;
        b_ok = j < N;
        b_off = (int)p.w.offset + j * sv(p.w, 1);
    }
    // Wgrad's B columns (channel, tap) decoded once per block, so that its
    // lanes can run along the pixels (k), where x is contiguous.
    __shared__ int4 jtab[BN];
    if (PASS == PASS_WGRAD && t < BN) {
        int j = n0 + t;
        int kx = j % g.kw, tt = j / g.kw, ky = tt % g.kh, i = tt / g.kh;
        jtab[t] = make_int4((int)p.x.offset + (grp * g.icg + i) * sv(p.x, 1), ky, kx, j < N);
    }

    // Issues the gathers of the K tile at k0 into stage `st` (ktab[st] ready).
    auto issue = [&](int k0, int st) {
#pragma unroll
        for (int r = 0; r < A_PER; ++r) {
            if (PASS == PASS_WGRAD) {
                const int kl = t % BK, ml = t / BK + r * (THREADS / BK);
                const int m = m0 + ml;
                const bool ok = k0 + kl < k_end && m < M;
                const float* src = y;
                if (ok) src = y + (int)p.y.offset + ktab[st][kl].a + (grp * g.ocg + m) * sv(p.y, 1);
                cp_async4(&As[st][kl][ml], src, ok);
            } else {
                const int kl = t / BM + r * (THREADS / BM);
                bool ok = a_ok && k0 + kl < k_end;
                const float* src = PASS == PASS_FWD ? x : y;
                if (ok) {
                    const KEntry e = ktab[st][kl];
                    if (PASS == PASS_FWD) {
                        int hi = a_r + e.p, wi = a_c + e.q;
                        ok = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
                        if (ok) src = x + a_base + e.a + a_r * sv(p.x, 2) + a_c * sv(p.x, 3);
                    } else {
                        int th = a_r - e.p, tw = a_c - e.q;
                        int ho = th, wo = tw;
                        ok = th >= 0 && tw >= 0;
                        if (g.sh != 1) { ok = ok && th % g.sh == 0; ho = th / g.sh; }
                        if (g.sw != 1) { ok = ok && tw % g.sw == 0; wo = tw / g.sw; }
                        ok = ok && ho < g.ho && wo < g.wo;
                        if (ok) src = y + a_base + e.a + ho * sv(p.y, 2) + wo * sv(p.y, 3);
                    }
                }
                cp_async4(&As[st][kl][a_ml], src, ok);
            }
        }
#pragma unroll
        for (int r = 0; r < B_PER; ++r) {
            if (PASS == PASS_FWD) {
                const int kl = t % BK, jl = t / BK + r * (THREADS / BK);
                const int j = n0 + jl;
                const bool ok = k0 + kl < k_end && j < N;
                const float* src = wt;
                if (ok) src = wt + (int)p.w.offset + (grp * g.ocg + j) * sv(p.w, 0) + ktab[st][kl].b;
                cp_async4(&Bs[st][kl][jl], src, ok);
            } else if (PASS == PASS_WGRAD) {
                const int kl = t % BK, jl = t / BK + r * (THREADS / BK);
                const int4 jt = jtab[jl];
                bool ok = jt.w && k0 + kl < k_end;
                const float* src = x;
                if (ok) {
                    const KEntry e = ktab[st][kl];
                    int hi = e.p + jt.y, wi = e.q + jt.z;
                    ok = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
                    if (ok) src = x + jt.x + e.b + hi * sv(p.x, 2) + wi * sv(p.x, 3);
                }
                cp_async4(&Bs[st][kl][jl], src, ok);
            } else {
                const int kl = t / BN + r * (THREADS / BN);
                bool ok = b_ok && k0 + kl < k_end;
                const float* src = wt;
                if (ok) src = wt + b_off + ktab[st][kl].b;
                cp_async4(&Bs[st][kl][b_jl], src, ok);
            }
        }
        cp_async_commit();
    };

    float acc[ACC];
#pragma unroll
    for (int i = 0; i < ACC; ++i) acc[i] = 0.f;
    const int warp = t / 32, lane = t % 32, gid = lane / 4, tig = lane % 4;

    if (k_begin < k_end) {
        if (t < BK && k_begin + t < k_end) ktab[0][t] = decode_k<PASS>(p, g, grp, k_begin + t);
        __syncthreads();
        issue(k_begin, 0);
    }
    int st = 0;
    for (int k0 = k_begin; k0 < k_end; k0 += BK, st ^= 1) {
        const int k1 = k0 + BK;
        if (k1 < k_end) {
            // ktab[st^1] was last read by the issue of tile k0 - BK, which
            // every thread finished before the barrier that ended that loop.
            if (t < BK && k1 + t < k_end) ktab[st ^ 1][t] = decode_k<PASS>(p, g, grp, k1 + t);
            __syncthreads();
            issue(k1, st ^ 1);
            cp_async_wait_prev();
        } else {
            cp_async_wait_all();
        }
        __syncthreads();
        if (TF32) {
            const int wm = (warp % WARPS_M) * WM, wn = (warp / WARPS_M) * WN;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 8) {
                u32 a[MT][4], b[NT][2];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    int mb = wm + mt * 16 + gid;
                    a[mt][0] = to_tf32(As[st][kk + tig][mb]);
                    a[mt][1] = to_tf32(As[st][kk + tig][mb + 8]);
                    a[mt][2] = to_tf32(As[st][kk + tig + 4][mb]);
                    a[mt][3] = to_tf32(As[st][kk + tig + 4][mb + 8]);
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    int nb = wn + nt * 8 + gid;
                    b[nt][0] = to_tf32(Bs[st][kk + tig][nb]);
                    b[nt][1] = to_tf32(Bs[st][kk + tig + 4][nb]);
                }
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        float* c = &acc[(mt * NT + nt) * 4];
                        asm volatile(
                            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                            : "r"(a[mt][0]), "r"(a[mt][1]), "r"(a[mt][2]), "r"(a[mt][3]),
                              "r"(b[nt][0]), "r"(b[nt][1]));
                    }
            }
        } else {
            const int tm = (t % TY) * TM, tn = (t / TY) * TN;
#pragma unroll 4
            for (int kk = 0; kk < BK; ++kk) {
                float av[TM], bv[TN];
#pragma unroll
                for (int i = 0; i < TM; ++i) av[i] = As[st][kk][tm + i];
#pragma unroll
                for (int j = 0; j < TN; ++j) bv[j] = Bs[st][kk][tn + j];
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i * TN + j] = fmaf(av[i], bv[j], acc[i * TN + j]);
            }
        }
        __syncthreads();
    }

    // Epilogue: each output row (m) and column (j) contributes its own part
    // of the address, so the divisions happen once per row and per column.
    const bool atomic = split_k > 1;
    auto row_base = [&](int m, bool& ok) -> int {
        ok = m < M;
        if (!ok) return 0;
        if (PASS == PASS_FWD) {
            int wo = m % g.wo, tt = m / g.wo, ho = tt % g.ho, n = tt / g.ho;
            return (int)p.y.offset + n * sv(p.y, 0) + ho * sv(p.y, 2) + wo * sv(p.y, 3);
        } else if (PASS == PASS_DGRAD) {
            int wi = m % g.w, tt = m / g.w, hi = tt % g.h, n = tt / g.h;
            return (int)p.x.offset + n * sv(p.x, 0) + hi * sv(p.x, 2) + wi * sv(p.x, 3);
        } else {
            return (int)p.w.offset + (grp * g.ocg + m) * sv(p.w, 0);
        }
    };
    auto col_off = [&](int j, bool& ok) -> int {
        ok = j < N;
        if (!ok) return 0;
        if (PASS == PASS_FWD) return (grp * g.ocg + j) * sv(p.y, 1);
        if (PASS == PASS_DGRAD) return (grp * g.icg + j) * sv(p.x, 1);
        int kx = j % g.kw, tt = j / g.kw, ky = tt % g.kh, i = tt / g.kh;
        return i * sv(p.w, 1) + ky * sv(p.w, 2) + kx * sv(p.w, 3);
    };
    auto put = [&](int rb, int j, int co, float v) {
        if (PASS == PASS_FWD) {
            if (p.has_bias) v += bias[p.bias_offset + grp * g.ocg + j];
            float* dst = &y[rb + co];
            *dst = p.accumulate ? *dst + v : v;
        } else if (PASS == PASS_DGRAD) {
            float* dst = &x[rb + co];
            *dst = p.accumulate ? *dst + v : v;
        } else {
            float* dst = &wt[rb + co];
            if (atomic) atomicAdd(dst, v); else *dst += v;
        }
    };
    if (TF32) {
        const int wm = (warp % WARPS_M) * WM, wn = (warp / WARPS_M) * WN;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                bool rok;
                const int m = m0 + wm + mt * 16 + gid + half * 8;
                const int rb = row_base(m, rok);
                if (!rok) continue;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                    for (int c = 0; c < 2; ++c) {
                        bool cok;
                        const int j = n0 + wn + nt * 8 + 2 * tig + c;
                        const int co = col_off(j, cok);
                        if (cok) put(rb, j, co, acc[(mt * NT + nt) * 4 + half * 2 + c]);
                    }
            }
    } else {
        const int tm = (t % TY) * TM, tn = (t / TY) * TN;
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            bool rok;
            const int rb = row_base(m0 + tm + i, rok);
            if (!rok) continue;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                bool cok;
                const int co = col_off(n0 + tn + j, cok);
                if (cok) put(rb, n0 + tn + j, co, acc[i * TN + j]);
            }
        }
    }
}

// Tile shapes: forward and dgrad 128 x 64 (256 threads, K step 16), wgrad
// 64 x 64 (128 threads, K step 32: its M is the output channels), and
// "_narrow" 128 x 16 (128 threads) when the GEMM's N is at most 16 (the
// stem's dgrad with 3 image channels; pointwise layers with few inputs).
#define CONV_GEMM_ENTRY(name, PASS, TF32, BM, BN, BK, THREADS, WARPS_M)                     \
    extern "C" __global__ void __launch_bounds__(THREADS)                                   \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_tile<PASS, TF32, BM, BN, BK, THREADS, WARPS_M>(p, x, wt, y, bias, split_k); \
    }

CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32, PASS_FWD, false, 128, 64, 16, 256, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32, PASS_FWD, true, 128, 64, 16, 256, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32, PASS_DGRAD, false, 128, 64, 16, 256, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32, PASS_DGRAD, true, 128, 64, 16, 256, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_f32, PASS_WGRAD, false, 64, 64, 32, 128, 2)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32, PASS_WGRAD, true, 64, 64, 32, 128, 2)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_narrow, PASS_FWD, false, 128, 16, 32, 128, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_narrow, PASS_FWD, true, 128, 16, 32, 128, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_narrow, PASS_DGRAD, false, 128, 16, 32, 128, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_narrow, PASS_DGRAD, true, 128, 16, 32, 128, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_f32_narrow, PASS_WGRAD, false, 128, 16, 32, 128, 4)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_narrow, PASS_WGRAD, true, 128, 16, 32, 128, 4)

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

// Tiled depthwise kernels: a block of TW x TH x P threads computes a
// TH x TW tile of P (n, c) planes from a window staged in shared memory
// (coalesced rows; each input read about once per tile instead of up to
// kh*kw times). k <= 7 and stride <= 2; the host picks the tile shape from
// the plane width (32 x 8, 16 x 16, or 8 x 8 with 4 planes per block).
#define DW_MAXK 7
#define DW_MAXS 2

__device__ __forceinline__ int floor_div(int a, int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

template <int TW, int TH, int P>
__device__ void dw_fwd_tiled(const float* __restrict__ x, const float* __restrict__ wt,
                             float* __restrict__ y, const float* __restrict__ bias,
                             const Conv2dParams& p) {
    constexpr int MIH = (TH - 1) * DW_MAXS + DW_MAXK, MIW = (TW - 1) * DW_MAXS + DW_MAXK;
    __shared__ float win[P][MIH * MIW];
    __shared__ float wk[P][DW_MAXK * DW_MAXK];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.oc;
    const int c = live ? plane % g.oc : 0, n = live ? plane / g.oc : 0;
    const int wo0 = blockIdx.x * TW, ho0 = blockIdx.y * TH;
    const int ih = (TH - 1) * g.sh + g.kh, iw = (TW - 1) * g.sw + g.kw;
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    const int t = threadIdx.y * TW + threadIdx.x;
    if (live) {
        for (int e = t; e < ih * iw; e += TW * TH) {
            int r = e / iw, q = e % iw, hi = hi0 + r, wi = wi0 + q;
            win[pz][e] = (hi >= 0 && hi < g.h && wi >= 0 && wi < g.w) ? x[at(p.x, n, c, hi, wi)] : 0.f;
        }
        if (t < g.khw) wk[pz][t] = wt[at(p.w, c, 0, t / g.kw, t % g.kw)];
    }
    __syncthreads();
    const int wo = wo0 + threadIdx.x, ho = ho0 + threadIdx.y;
    if (!live || wo >= g.wo || ho >= g.ho) return;
    float acc = p.has_bias ? bias[p.bias_offset + c] : 0.f;
    const int r0 = threadIdx.y * g.sh, q0 = threadIdx.x * g.sw;
    for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx)
            acc = fmaf(win[pz][(r0 + ky) * iw + q0 + kx], wk[pz][ky * g.kw + kx], acc);
    u32 idx = at(p.y, n, c, ho, wo);
    y[idx] = p.accumulate ? y[idx] + acc : acc;
}

// Data gradient: each dx element gathers dy[(h + ph - ky) / s] where the
// division is exact; the block stages the dy rows and columns its tile can
// reach (zero outside the output), then gathers from shared memory.
// S: the stride (1 or 2, both axes), a template parameter so that the
// exactness tests and divisions below compile to masks and shifts.
template <int TW, int TH, int P, int S>
__device__ void dw_dgrad_tiled(float* __restrict__ dx, const float* __restrict__ wt,
                               const float* __restrict__ dy, const Conv2dParams& p) {
    constexpr int MDH = TH + DW_MAXK, MDW = TW + DW_MAXK;  // stride-1 worst case
    __shared__ float win[P][MDH * MDW];
    __shared__ float wk[P][DW_MAXK * DW_MAXK];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.ic;
    const int c = live ? plane % g.ic : 0, n = live ? plane / g.ic : 0;
    const int w0 = blockIdx.x * TW, h0 = blockIdx.y * TH;
    // dy rows reachable from rows h0 .. h0+TH-1: (h + ph - ky) / sh.
    const int ho_lo = floor_div(h0 + g.ph - (g.kh - 1), S);
    const int ho_hi = floor_div(h0 + TH - 1 + g.ph, S);
    const int wo_lo = floor_div(w0 + g.pw - (g.kw - 1), S);
    const int wo_hi = floor_div(w0 + TW - 1 + g.pw, S);
    const int dh = ho_hi - ho_lo + 1, dw_ = wo_hi - wo_lo + 1;
    const int t = threadIdx.y * TW + threadIdx.x;
    if (live) {
        for (int e = t; e < dh * dw_; e += TW * TH) {
            int r = e / dw_, q = e % dw_, ho = ho_lo + r, wo = wo_lo + q;
            win[pz][e] = (ho >= 0 && ho < g.ho && wo >= 0 && wo < g.wo) ? dy[at(p.y, n, c, ho, wo)] : 0.f;
        }
        if (t < g.khw) wk[pz][t] = wt[at(p.w, c, 0, t / g.kw, t % g.kw)];
    }
    __syncthreads();
    const int wi = w0 + threadIdx.x, hi = h0 + threadIdx.y;
    if (!live || wi >= g.w || hi >= g.h) return;
    float acc = 0.f;
    for (int ky = 0; ky < g.kh; ++ky) {
        // Rows below ho_lo are staged as zeros, so only exactness matters.
        const int th = hi + g.ph - ky;
        if (th < 0 || th % S) continue;
        const int r = th / S - ho_lo;
        for (int kx = 0; kx < g.kw; ++kx) {
            const int tw = wi + g.pw - kx;
            if (tw < 0 || tw % S) continue;
            acc = fmaf(win[pz][r * dw_ + tw / S - wo_lo], wk[pz][ky * g.kw + kx], acc);
        }
    }
    u32 idx = at(p.x, n, c, hi, wi);
    dx[idx] = p.accumulate ? dx[idx] + acc : acc;
}

#define DW_TILED_ENTRIES(TW, TH, P)                                                             \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_fwd_t##TW##x##TH##x##P(const float* __restrict__ x,                   \
                                                  const float* __restrict__ wt,                  \
                                                  float* __restrict__ y,                         \
                                                  const float* __restrict__ bias, Conv2dParams p) { \
        dw_fwd_tiled<TW, TH, P>(x, wt, y, bias, p);                                             \
    }                                                                                           \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_dgrad_t##TW##x##TH##x##P##_s1(float* __restrict__ dx,                 \
                                                         const float* __restrict__ wt,           \
                                                         const float* __restrict__ dy,           \
                                                         Conv2dParams p) {                       \
        dw_dgrad_tiled<TW, TH, P, 1>(dx, wt, dy, p);                                            \
    }                                                                                           \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_dgrad_t##TW##x##TH##x##P##_s2(float* __restrict__ dx,                 \
                                                         const float* __restrict__ wt,           \
                                                         const float* __restrict__ dy,           \
                                                         Conv2dParams p) {                       \
        dw_dgrad_tiled<TW, TH, P, 2>(dx, wt, dy, p);                                            \
    }
DW_TILED_ENTRIES(32, 8, 1)
DW_TILED_ENTRIES(16, 16, 1)
DW_TILED_ENTRIES(8, 8, 4)

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

// Wgrad with all K x K tap sums in registers: grid = (channels, splits),
// each thread walks its pixels once, reading dy once and the window of x
// (cache-resident across neighbouring threads), then K*K block reductions.
template <int K>
__device__ void dw_wgrad_regs(const float* __restrict__ x, float* __restrict__ dw,
                              const float* __restrict__ dy, const Conv2dParams& p) {
    const Geom g = geom_of(p);
    const int c = blockIdx.x;
    const u32 pixels = (u32)g.n * g.ho * g.wo;
    float acc[K * K];
#pragma unroll
    for (int i = 0; i < K * K; ++i) acc[i] = 0.f;
    for (u32 e = blockIdx.y * blockDim.x + threadIdx.x; e < pixels; e += gridDim.y * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho, n = t / g.ho;
        const float d = dy[at(p.y, n, c, ho, wo)];
        const int hi0 = ho * g.sh - g.ph, wi0 = wo * g.sw - g.pw;
#pragma unroll
        for (int ky = 0; ky < K; ++ky) {
            const int hi = hi0 + ky;
            if (hi < 0 || hi >= g.h) continue;
#pragma unroll
            for (int kx = 0; kx < K; ++kx) {
                const int wi = wi0 + kx;
                if (wi >= 0 && wi < g.w) acc[ky * K + kx] = fmaf(d, x[at(p.x, n, c, hi, wi)], acc[ky * K + kx]);
            }
        }
    }
#pragma unroll 1
    for (int i = 0; i < K * K; ++i) {
        float s = block_sum(acc[i]);
        if (threadIdx.x == 0) atomicAdd(&dw[at(p.w, c, 0, i / K, i % K)], s);
    }
}

#define DW_WGRAD_ENTRY(K)                                                                       \
    extern "C" __global__ void slimmable_dwconv2d_wgrad_k##K(                                   \
        const float* __restrict__ x, float* __restrict__ dw, const float* __restrict__ dy,     \
        Conv2dParams p) {                                                                       \
        dw_wgrad_regs<K>(x, dw, dy, p);                                                         \
    }
DW_WGRAD_ENTRY(3)
DW_WGRAD_ENTRY(5)
DW_WGRAD_ENTRY(7)

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
