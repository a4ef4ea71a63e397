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
// Block tiles: "Tile shapes" below the kernel body (forward and dgrad
// 128x64 on 256 threads, wgrad 64x64 on 128, "_narrow" 128x16). The
// (channel, tap) or pixel that each k stands for is decoded once per K
// tile into shared memory, so the gathers need no divisions.
// Two inner products:
//   - *_f32:  exact f32 FMAs, 4x8 (2x8 narrow) outputs per thread;
//   - *_tf32: TF32 tensor cores, mma.sync m16n8k8, f32 accumulate;
//   - *_bf16: BF16 tensor cores (operands rounded to bfloat16 as they
//     leave shared memory), mma.sync m16n8k8, f32 accumulate.
// Pointwise convs take the "_pws" twins (no k decode, 4-byte gathers) or,
// where their planes allow it, the "_pw" ones (16-byte gathers of four
// pixels): PW in conv_gemm_tile.
// Depthwise convs (groups = ic = oc) have their own memory-bound kernels in
// dwconv2d.cu. The bias gradient here serves both.
#include "common.cuh"
#include "conv_common.cuh"
#include "conv_gemm.cuh"

#define PAD 8

// conv_gemm_tile's PW: the general kernel, or the pointwise one gathering
// one pixel (4 bytes) or a run of four pixels (16 bytes) per copy.
enum { PW_OFF = 0, PW_SCALAR = 1, PW_VEC = 2 };

// One BM x BN output tile of one group over its share of K (split-K for
// wgrad), double-buffered: tile k+1 is gathered (cp.async) while tile k is
// multiplied. TF32: WARPS_M x WARPS_N warps, each (BM/WARPS_M) x
// (BN/WARPS_N) in m16n8k8 tiles. F32: threads as TY x TX, each TM x TN.
// MMA: 0 exact f32 FMAs, 1 TF32 tensor cores, 2 BF16 tensor cores.
//
// PW: the pointwise specialization, for 1x1 kernels, stride 1, no padding,
// one group, x and y planes contiguous (the host checks:
// pointwise_eligible in launch_conv.rs). Then k is a channel (forward,
// dgrad) or a pixel (wgrad), so there is no decode table, and a pixel's
// address needs one division by H*W. PW_SCALAR copies one pixel at a time;
// PW_VEC, where H*W and every plane's offset are multiples of 4
// (pointwise_vec_eligible), runs of four pixels in one 16-byte copy, which
// never straddle two images. Wgrad reads both operands along k, so its
// tiles are k-major (pitch BK + 4: the TF32 fragment reads stay
// conflict-free, the BF16 pairs collide 2-way);
// the f32 product's reads would conflict there, so exact f32 wgrad keeps
// the general kernel.
template <int PASS, int MMA, int BM, int BN, int BK, int THREADS, int WARPS_M, int PW>
__device__ void conv_gemm_tile(const Conv2dParams& p, float* x, float* wt, float* y,
                               const float* bias, u32 split_k) {
    constexpr int WARPS = THREADS / 32;
    constexpr int WARPS_N = WARPS / WARPS_M;
    constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
    constexpr int MT = WM / 16, NT = WN / 8;
    constexpr int TN = BN >= 64 ? 8 : 2;
    constexpr int TX = BN / TN, TY = THREADS / TX, TM = BM / TY;
    constexpr bool TC = MMA != 0;  // tensor cores: warp tiles of m16n8 fragments
    constexpr int ACC = TC ? MT * NT * 4 : TM * TN;
    constexpr int A_PER = BM * BK / THREADS, B_PER = BK * BN / THREADS;
    static_assert(THREADS % BM == 0 || PASS == PASS_WGRAD, "A rows per thread");
    static_assert(THREADS % BN == 0, "B columns per thread");
    constexpr bool POINTWISE = PW != PW_OFF;
    constexpr bool KMAJ = POINTWISE && PASS == PASS_WGRAD;
    constexpr int RUN = PW == PW_VEC ? 4 : 1;  // pixels per pointwise copy
    constexpr int RUNS_M = BM / RUN, RUNS_K = BK / RUN;  // runs across a tile row
    static_assert(!KMAJ || TC, "k-major tiles are for the tensor-core products");
    static_assert(!POINTWISE || KMAJ ||
                      (THREADS % RUNS_M == 0 && BM * BK % (RUN * THREADS) == 0),
                  "pointwise A runs per thread");
    static_assert(!KMAJ || (THREADS % RUNS_K == 0 && BM * BK % (RUN * THREADS) == 0 &&
                            BN * BK % (RUN * THREADS) == 0),
                  "pointwise wgrad runs per thread");

    constexpr int A_LD = KMAJ ? BK + 4 : BM + PAD, B_LD = KMAJ ? BK + 4 : BN + PAD;
    __shared__ __align__(16) float As[2][KMAJ ? BM : BK][A_LD];
    __shared__ __align__(16) float Bs[2][KMAJ ? BN : BK][B_LD];
    // Element (k, m) of A's stage s, and (k, j) of B's (KMAJ constant: the
    // other arm is never evaluated). Macros: accessor lambdas cost registers.
#define TILE_A(s, k, m) (KMAJ ? As[s][m][k] : As[s][k][m])
#define TILE_B(s, k, j) (KMAJ ? Bs[s][j][k] : Bs[s][k][j])
    // The decode tables of three K tiles: the current one, the next one
    // (gathered this iteration) and the one after, which the first warp
    // writes while the other warps issue the gathers (see the main loop).
    __shared__ KEntry ktab[3][BK];
    // The prologue decodes two tiles with the first two warps.
    static_assert(BK <= 32 && THREADS >= 64, "two warps decode the first two K tiles");
    const Geom g = geom_of(p);
    const GemmBlock blk = gemm_block<PASS, BM, BN, BK>(g, split_k);
    const int M = blk.M, N = blk.N, K = blk.K, grp = blk.grp, m0 = blk.m0, n0 = blk.n0;
    const int k_begin = blk.k_begin, k_end = blk.k_end;
    const int t = threadIdx.x;
    const int HW = g.h * g.w;

    // Per-thread constants of the gathers (each thread keeps one m for A
    // in forward/dgrad, one j for B in dgrad/wgrad).
    int a_base = 0, a_r = 0, a_c = 0;
    bool a_ok = false;
    const int a_ml = (PASS == PASS_WGRAD) ? 0 : t % BM;
    if (PASS == PASS_FWD && !PW) {
        int m = m0 + a_ml;
        a_ok = m < M;
        int wo = m % g.wo, tt = m / g.wo, ho = tt % g.ho, n = tt / g.ho;
        a_r = ho * g.sh - g.ph;
        a_c = wo * g.sw - g.pw;
        // The offset of the window's top-left tap (it may lie in the
        // padding: only the bounds-checked sums are read).
        a_base = (int)p.x.offset + n * sv(p.x, 0) + grp * g.icg * sv(p.x, 1) + a_r * sv(p.x, 2) +
                 a_c * sv(p.x, 3);
    } else if (PASS == PASS_DGRAD && !PW) {
        int m = m0 + a_ml;
        a_ok = m < M;
        int wi = m % g.w, tt = m / g.w, hi = tt % g.h, n = tt / g.h;
        a_base = (int)p.y.offset + n * sv(p.y, 0);
        a_r = hi + g.ph;
        a_c = wi + g.pw;
    } else if (POINTWISE && PASS != PASS_WGRAD) {
        // Pointwise: the pixel (run of RUN pixels) this thread gathers, at
        // a_base + channel * stride (x in forward, dy in dgrad).
        const ViewParams& av = PASS == PASS_FWD ? p.x : p.y;
        const int m = m0 + RUN * (t % RUNS_M), n = m / HW;
        a_ok = m < M;
        a_base = (int)av.offset + n * sv(av, 0) + (m - n * HW);
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
    if (PASS == PASS_WGRAD && !POINTWISE && t < BN) {
        int j = n0 + t;
        int kx = j % g.kw, tt = j / g.kw, ky = tt % g.kh, i = tt / g.kh;
        jtab[t] = make_int4((int)p.x.offset + (grp * g.icg + i) * sv(p.x, 1), ky, kx, j < N);
    }
    // The ktab slot of the K tile at k0: tile i of the split uses slot i % 3.
    auto slot_of = [&](int k0) -> int { return ((k0 - k_begin) / BK) % 3; };
    // Forward: a weight block's (channel, ky, kx) is packed whenever the
    // weight is (a block of the full-size tensor always is), so the offset
    // of k is k itself and no table is read (issue_b).
    const bool w_packed = PASS == PASS_FWD && sv(p.w, 3) == 1 && sv(p.w, 2) == g.kw &&
                          sv(p.w, 1) == g.khw;
    // The weight offset of reduction index k (forward, dgrad).
    auto w_of_k = [&](int ks, int kl, int k) -> int {
        if (POINTWISE) return k * sv(p.w, PASS == PASS_FWD ? 1 : 0);
        return ktab[ks][kl].b;
    };

    // The gathers below form every address with 32-bit offsets and one
    // 64-bit add, without a branch: where a copy is predicated off its
    // address is never read (cp_async4's ignore-src).
    //
    // Pointwise wgrad's gathers of the K tile at k0 (k = pixel): runs of
    // dy (A, rows = output channels) and of x (B, rows = input channels)
    // into k-major stage `st`; one division per thread and tile.
    auto issue_pw_wgrad = [&](int k0, int st) {
        const int kl = RUN * (t % RUNS_K), k = k0 + kl, n = k / HW, hw = k - n * HW;
        const bool k_ok = k < k_end;
        const int ya = (int)p.y.offset + n * sv(p.y, 0) + hw;
        const int xa = (int)p.x.offset + n * sv(p.x, 0) + hw;
#pragma unroll
        for (int r = 0; r < BM * BK / (RUN * THREADS); ++r) {
            const int ml = t / RUNS_K + r * (THREADS / RUNS_K);
            const bool ok = k_ok && m0 + ml < M;
            cp_async_run<RUN>(&TILE_A(st, kl, ml), y + (ya + (m0 + ml) * sv(p.y, 1)), ok);
        }
#pragma unroll
        for (int r = 0; r < BN * BK / (RUN * THREADS); ++r) {
            const int jl = t / RUNS_K + r * (THREADS / RUNS_K);
            const bool ok = k_ok && n0 + jl < N;
            cp_async_run<RUN>(&TILE_B(st, kl, jl), x + (xa + (n0 + jl) * sv(p.x, 1)), ok);
        }
    };
    // Pointwise forward/dgrad's A gathers of the K tile at k0 (k = channel).
    auto issue_pw_a = [&](int k0, int st) {
        const ViewParams& av = PASS == PASS_FWD ? p.x : p.y;
        const float* act = PASS == PASS_FWD ? x : y;
#pragma unroll
        for (int r = 0; r < BM * BK / (RUN * THREADS); ++r) {
            const int kl = t / RUNS_M + r * (THREADS / RUNS_M);
            const bool ok = a_ok && k0 + kl < k_end;
            cp_async_run<RUN>(&TILE_A(st, kl, RUN * (t % RUNS_M)),
                              act + (a_base + (k0 + kl) * sv(av, 1)), ok);
        }
    };
    // The general A gathers of the K tile at k0 (its ktab slot ready).
    const bool unit_stride = g.sh == 1 && g.sw == 1;
    auto issue_a = [&](int k0, int st) {
        const int ks = slot_of(k0);
        if (PASS == PASS_FWD || (PASS == PASS_DGRAD && unit_stride)) {
            // Forward, and dgrad at stride 1 (where the output pixel is
            // (th, tw) itself): the table entries of four copies, then the
            // four copies. A shared load right before a cp.async costs three
            // issue slots of padding; loads a few instructions back do not.
            constexpr int GROUP = A_PER % 4 == 0 ? 4 : 1;
#pragma unroll
            for (int r0 = 0; r0 < A_PER; r0 += GROUP) {
                KEntry e[GROUP];
#pragma unroll
                for (int q = 0; q < GROUP; ++q) e[q] = ktab[ks][t / BM + (r0 + q) * (THREADS / BM)];
#pragma unroll
                for (int q = 0; q < GROUP; ++q) {
                    const int kl = t / BM + (r0 + q) * (THREADS / BM);
                    bool ok = a_ok && k0 + kl < k_end;
                    if (PASS == PASS_FWD) {
                        const int hi = a_r + e[q].p, wi = a_c + e[q].q;
                        ok = ok && (u32)hi < (u32)g.h && (u32)wi < (u32)g.w;
                        cp_async4(&TILE_A(st, kl, a_ml), x + (a_base + e[q].a), ok);
                    } else {
                        const int th = a_r - e[q].p, tw = a_c - e[q].q;
                        ok = ok && (u32)th < (u32)g.ho && (u32)tw < (u32)g.wo;
                        cp_async4(&TILE_A(st, kl, a_ml),
                                  y + (a_base + e[q].a + th * sv(p.y, 2) + tw * sv(p.y, 3)), ok);
                    }
                }
            }
            return;
        }
        // Wgrad: this thread's k (a pixel) is the same in every copy, so
        // its table entry is read once (a shared load before each copy
        // also costs three issue slots of padding).
        const int wk = t % BK;
        const int wk_a = PASS == PASS_WGRAD ? ktab[ks][wk].a : 0;
#pragma unroll
        for (int r = 0; r < A_PER; ++r) {
            if (PASS == PASS_WGRAD) {
                const int kl = wk, ml = t / BK + r * (THREADS / BK);
                const int m = m0 + ml;
                const bool ok = k0 + kl < k_end && m < M;
                const int off = (int)p.y.offset + wk_a + (grp * g.ocg + m) * sv(p.y, 1);
                cp_async4(&TILE_A(st, kl, ml), y + off, ok);
            } else {
                const int kl = t / BM + r * (THREADS / BM);
                const KEntry e = ktab[ks][kl];
                const int th = a_r - e.p, tw = a_c - e.q;
                int ho = th, wo = tw;
                bool ok = a_ok && k0 + kl < k_end && th >= 0 && tw >= 0;
                if (g.sh != 1) { ok = ok && th % g.sh == 0; ho = th / g.sh; }
                if (g.sw != 1) { ok = ok && tw % g.sw == 0; wo = tw / g.sw; }
                ok = ok && ho < g.ho && wo < g.wo;
                cp_async4(&TILE_A(st, kl, a_ml), y + (a_base + e.a + ho * sv(p.y, 2) + wo * sv(p.y, 3)),
                          ok);
            }
        }
    };
    // The B gathers of the K tile at k0 (general wgrad; the weight of
    // forward and dgrad, pointwise or not).
    auto issue_b = [&](int k0, int st) {
        const int ks = POINTWISE ? 0 : slot_of(k0);
        if (PASS == PASS_FWD && !POINTWISE && w_packed) {
            // One bound on k for all of this thread's copies (its k is fixed).
            const int kl = t % BK;
            const bool k_ok = k0 + kl < k_end;
            const int w0 = (int)p.w.offset + grp * g.ocg * sv(p.w, 0) + k0 + kl;
#pragma unroll
            for (int r = 0; r < B_PER; ++r) {
                const int jl = t / BK + r * (THREADS / BK), j = n0 + jl;
                cp_async4(&TILE_B(st, kl, jl), wt + (w0 + j * sv(p.w, 0)), k_ok && j < N);
            }
            return;
        }
        if (PASS == PASS_WGRAD && !POINTWISE) {
            // The column entries of four copies, then the four copies (see
            // issue_a: a shared load right before a cp.async is padded).
            // This thread's k is the same in every copy (see issue_a).
            constexpr int GROUP = B_PER % 4 == 0 ? 4 : 1;
            const int kl = t % BK;
            const bool k_ok = k0 + kl < k_end;
            const KEntry e = ktab[ks][kl];
#pragma unroll
            for (int r0 = 0; r0 < B_PER; r0 += GROUP) {
                int4 jt[GROUP];
#pragma unroll
                for (int q = 0; q < GROUP; ++q) jt[q] = jtab[t / BK + (r0 + q) * (THREADS / BK)];
#pragma unroll
                for (int q = 0; q < GROUP; ++q) {
                    const int jl = t / BK + (r0 + q) * (THREADS / BK);
                    const int hi = e.p + jt[q].y, wi = e.q + jt[q].z;
                    const bool ok = jt[q].w && k_ok && (u32)hi < (u32)g.h && (u32)wi < (u32)g.w;
                    cp_async4(&TILE_B(st, kl, jl),
                              x + (jt[q].x + e.b + hi * sv(p.x, 2) + wi * sv(p.x, 3)), ok);
                }
            }
            return;
        }
        if (PASS == PASS_DGRAD && !POINTWISE) {
            // The table entries of four copies, then the four copies (see
            // issue_a: a shared load right before a cp.async is padded).
            constexpr int GROUP = B_PER % 4 == 0 ? 4 : 1;
#pragma unroll
            for (int r0 = 0; r0 < B_PER; r0 += GROUP) {
                int wb[GROUP];
#pragma unroll
                for (int q = 0; q < GROUP; ++q) wb[q] = ktab[ks][t / BN + (r0 + q) * (THREADS / BN)].b;
#pragma unroll
                for (int q = 0; q < GROUP; ++q) {
                    const int kl = t / BN + (r0 + q) * (THREADS / BN);
                    const bool ok = b_ok && k0 + kl < k_end;
                    cp_async4(&TILE_B(st, kl, b_jl), wt + (b_off + wb[q]), ok);
                }
            }
            return;
        }
#pragma unroll
        for (int r = 0; r < B_PER; ++r) {
            if (PASS == PASS_FWD) {
                const int kl = t % BK, jl = t / BK + r * (THREADS / BK);
                const int j = n0 + jl;
                const bool ok = k0 + kl < k_end && j < N;
                const int off = (int)p.w.offset + (grp * g.ocg + j) * sv(p.w, 0) + w_of_k(ks, kl, k0 + kl);
                cp_async4(&TILE_B(st, kl, jl), wt + off, ok);
            } else {
                const int kl = t / BN + r * (THREADS / BN);
                const bool ok = b_ok && k0 + kl < k_end;
                cp_async4(&TILE_B(st, kl, b_jl), wt + (b_off + w_of_k(ks, kl, k0 + kl)), ok);
            }
        }
    };
    // Issues the gathers of the K tile at k0 into stage `st`.
    auto issue = [&](int k0, int st) {
        if constexpr (KMAJ) {
            issue_pw_wgrad(k0, st);
        } else {
            if constexpr (POINTWISE) issue_pw_a(k0, st); else issue_a(k0, st);
            issue_b(k0, st);
        }
        cp_async_commit();
    };

    float acc[ACC];
#pragma unroll
    for (int i = 0; i < ACC; ++i) acc[i] = 0.f;
    const int warp = t / 32, lane = t % 32, gid = lane / 4, tig = lane % 4;

    // The decode's divisors (the first two warps decode the first two
    // tiles, the first warp every later one).
    FastDiv inner = {1, 1, 0}, outer = {1, 1, 0};
    if (!POINTWISE && t < 64) {
        inner = fast_div(PASS == PASS_WGRAD ? g.wo : g.kw);
        outer = fast_div(PASS == PASS_WGRAD ? g.ho : g.kh);
    }
    if (k_begin < k_end) {
        if (!POINTWISE) {
            // The first two tiles' tables: the first warp the first, the
            // second warp the second (every block has at least two warps).
            const int kl = t % 32, tile = t / 32, k = k_begin + tile * BK + kl;
            if (tile < 2 && kl < BK && k < k_end) ktab[tile][kl] = decode_k<PASS>(p, g, grp, k, inner, outer);
            __syncthreads();
        }
        issue(k_begin, 0);
    }
    int st = 0;
    for (int k0 = k_begin, i = 0; k0 < k_end; k0 += BK, st ^= 1, ++i) {
        const int k1 = k0 + BK;
        // The table of tile i + 2, by the first warp while the others issue
        // tile i + 1's gathers, so that no barrier of its own waits on the
        // divisions. Its slot last served the issue of tile i - 1, two
        // barriers ago; the barriers below publish it before tile i + 2 is
        // issued.
        if (!POINTWISE) {
            const int k2 = k0 + 2 * BK;
            if (t < BK && k2 + t < k_end)
                ktab[(i + 2) % 3][t] = decode_k<PASS>(p, g, grp, k2 + t, inner, outer);
        }
        if (k1 < k_end) {
            issue(k1, st ^ 1);  // its table (slot (i + 1) % 3) was written before the last barrier
            cp_async_wait_prev();
        } else {
            cp_async_wait_all();
        }
        __syncthreads();
        if (TC) {
            const int wm = (warp % WARPS_M) * WM, wn = (warp / WARPS_M) * WN;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 8) {
                if constexpr (MMA == 2) {
                    u32 a[MT][2], b[NT];
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
                        int mb = wm + mt * 16 + gid;
                        a[mt][0] = pack_bf16x2(TILE_A(st, kk + 2 * tig, mb),
                                               TILE_A(st, kk + 2 * tig + 1, mb));
                        a[mt][1] = pack_bf16x2(TILE_A(st, kk + 2 * tig, mb + 8),
                                               TILE_A(st, kk + 2 * tig + 1, mb + 8));
                    }
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        int nb = wn + nt * 8 + gid;
                        b[nt] = pack_bf16x2(TILE_B(st, kk + 2 * tig, nb),
                                            TILE_B(st, kk + 2 * tig + 1, nb));
                    }
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                        for (int nt = 0; nt < NT; ++nt)
                            mma_bf16_m16n8k8(&acc[(mt * NT + nt) * 4], a[mt], b[nt]);
                    continue;
                }
                u32 a[MT][4], b[NT][2];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    int mb = wm + mt * 16 + gid;
                    a[mt][0] = to_tf32(TILE_A(st, kk + tig, mb));
                    a[mt][1] = to_tf32(TILE_A(st, kk + tig, mb + 8));
                    a[mt][2] = to_tf32(TILE_A(st, kk + tig + 4, mb));
                    a[mt][3] = to_tf32(TILE_A(st, kk + tig + 4, mb + 8));
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    int nb = wn + nt * 8 + gid;
                    b[nt][0] = to_tf32(TILE_B(st, kk + tig, nb));
                    b[nt][1] = to_tf32(TILE_B(st, kk + tig + 4, nb));
                }
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        mma_tf32_m16n8k8(&acc[(mt * NT + nt) * 4], a[mt], b[nt]);
                    }
            }
        } else {
            const int tm = (t % TY) * TM, tn = (t / TY) * TN;
#pragma unroll 4
            for (int kk = 0; kk < BK; ++kk) {
                float av[TM], bv[TN];
#pragma unroll
                for (int i = 0; i < TM; ++i) av[i] = TILE_A(st, kk, tm + i);
#pragma unroll
                for (int j = 0; j < TN; ++j) bv[j] = TILE_B(st, kk, tn + j);
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i * TN + j] = fmaf(av[i], bv[j], acc[i * TN + j]);
            }
        }
        __syncthreads();
    }

    // Epilogue: each output row (m) and column (j) contributes its own part
    // of the address, so the divisions happen once per row and per column
    // (pointwise: one division by H*W per row, none per column).
    const bool atomic = split_k > 1;
    auto row_base = [&](int m, bool& ok) -> int {
        ok = m < M;
        if (!ok) return 0;
        if (POINTWISE && PASS != PASS_WGRAD) {
            const ViewParams& ov = PASS == PASS_FWD ? p.y : p.x;
            const int n = m / HW;
            return (int)ov.offset + n * sv(ov, 0) + (m - n * HW);
        }
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
        if (POINTWISE) return j * sv(p.w, 1);
        int kx = j % g.kw, tt = j / g.kw, ky = tt % g.kh, i = tt / g.kh;
        return i * sv(p.w, 1) + ky * sv(p.w, 2) + kx * sv(p.w, 3);
    };
    auto col_or_none = [&](int j) -> int {
        bool ok;
        const int co = col_off(j, ok);
        return ok ? co : -1;
    };
    // The k x k wgrad's columns are decoded before the rows (two runtime
    // divisions each, which ptxas repeated for every row when they were
    // decoded at each store: 240 a thread in the square tiles).
    constexpr bool COLS_FIRST = PASS == PASS_WGRAD && !POINTWISE;
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
    if (TC) {
        const int wm = (warp % WARPS_M) * WM, wn = (warp / WARPS_M) * WN;
        int cols[COLS_FIRST ? NT : 1][2];
        if constexpr (COLS_FIRST) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int c = 0; c < 2; ++c) cols[nt][c] = col_or_none(n0 + wn + nt * 8 + 2 * tig + c);
        }
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
                        const int j = n0 + wn + nt * 8 + 2 * tig + c;
                        int co;
                        if constexpr (COLS_FIRST) co = cols[nt][c];
                        else co = col_or_none(j);
                        if (co >= 0) put(rb, j, co, acc[(mt * NT + nt) * 4 + half * 2 + c]);
                    }
            }
    } else {
        const int tm = (t % TY) * TM, tn = (t / TY) * TN;
        int cols[COLS_FIRST ? TN : 1];
        if constexpr (COLS_FIRST) {
#pragma unroll
            for (int j = 0; j < TN; ++j) cols[j] = col_or_none(n0 + tn + j);
        }
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            bool rok;
            const int rb = row_base(m0 + tm + i, rok);
            if (!rok) continue;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                int co;
                if constexpr (COLS_FIRST) co = cols[j];
                else co = col_or_none(n0 + tn + j);
                if (co >= 0) put(rb, n0 + tn + j, co, acc[i * TN + j]);
            }
        }
    }
}
#undef TILE_A
#undef TILE_B

// Tile shapes: forward and dgrad 128 x 64 (256 threads, K step 16), wgrad
// 64 x 64 (128 threads, K step 32: its M is the output channels), and
// "_narrow" 128 x 16 (128 threads) when the GEMM's N is at most 16 (the
// stem's dgrad with 3 image channels; pointwise layers with few inputs).
// The "_pws" and "_pw" twins are the pointwise specializations (PW above:
// PW_SCALAR, PW_VEC), same tiles.
#define CONV_GEMM_ENTRY_MIN(name, PASS, MMA, BM, BN, BK, THREADS, WARPS_M, PW, MIN_BLOCKS)  \
    extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS)                       \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_tile<PASS, MMA, BM, BN, BK, THREADS, WARPS_M, PW>(p, x, wt, y, bias,       \
                                                                    split_k);                \
    }
// (A separate macro: __launch_bounds__(T, 1) lets ptxas allocate otherwise
// than __launch_bounds__(T); the forward TF32 kernel took 101 registers
// instead of 73.)
#define CONV_GEMM_ENTRY(name, PASS, MMA, BM, BN, BK, THREADS, WARPS_M, PW)                  \
    extern "C" __global__ void __launch_bounds__(THREADS)                                   \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_tile<PASS, MMA, BM, BN, BK, THREADS, WARPS_M, PW>(p, x, wt, y, bias,       \
                                                                    split_k);                \
    }

CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32, PASS_FWD, 0, 128, 64, 16, 256, 4, PW_OFF)
// Three blocks an SM for the general forwards: with the decode of tile
// i + 2 in the main loop ptxas took 128 registers for the TF32 one (73
// before), 94 for BF16; bounded they take 80, no spills.
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_fwd_tf32, PASS_FWD, 1, 128, 64, 16, 256, 4, PW_OFF, 3)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32, PASS_DGRAD, 0, 128, 64, 16, 256, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32, PASS_DGRAD, 1, 128, 64, 16, 256, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_f32, PASS_WGRAD, 0, 64, 64, 32, 128, 2, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32, PASS_WGRAD, 1, 64, 64, 32, 128, 2, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_narrow, PASS_FWD, 0, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_narrow, PASS_FWD, 1, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_narrow, PASS_DGRAD, 0, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_narrow, PASS_DGRAD, 1, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_f32_narrow, PASS_WGRAD, 0, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_narrow, PASS_WGRAD, 1, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_fwd_bf16, PASS_FWD, 2, 128, 64, 16, 256, 4, PW_OFF, 3)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16, PASS_DGRAD, 2, 128, 64, 16, 256, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16, PASS_WGRAD, 2, 64, 64, 32, 128, 2, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_bf16_narrow, PASS_FWD, 2, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16_narrow, PASS_DGRAD, 2, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16_narrow, PASS_WGRAD, 2, 128, 16, 32, 128, 4, PW_OFF)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_pw, PASS_FWD, 0, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_pw_narrow, PASS_FWD, 0, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_pw, PASS_FWD, 1, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_pw_narrow, PASS_FWD, 1, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_bf16_pw, PASS_FWD, 2, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_bf16_pw_narrow, PASS_FWD, 2, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_pw, PASS_DGRAD, 0, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_pw_narrow, PASS_DGRAD, 0, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_pw, PASS_DGRAD, 1, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_pw_narrow, PASS_DGRAD, 1, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16_pw, PASS_DGRAD, 2, 128, 64, 16, 256, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16_pw_narrow, PASS_DGRAD, 2, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_pw, PASS_WGRAD, 1, 64, 64, 32, 128, 2, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_pw_narrow, PASS_WGRAD, 1, 128, 16, 32, 128, 4, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16_pw, PASS_WGRAD, 2, 64, 64, 32, 128, 2, PW_VEC)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16_pw_narrow, PASS_WGRAD, 2, 128, 16, 32, 128, 4, PW_VEC)
// Square tiles, TF32 forward and dgrad (dense k x k by default, where they
// won on the H200: launch_conv.rs gemm_square_wins): 128 x 128 on
// 256 threads, warps of 64 x 32 (4 x 4 m16n8 fragments: 16 MMAs a k8 step
// for 24 fragment loads, against 8 for 16 on the 128 x 64 tiles), so each
// gathered element feeds twice the MMAs. Two blocks an SM: at most 128
// registers (unbounded the forward took 131, one block an SM).
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_fwd_tf32_sq, PASS_FWD, 1, 128, 128, 16, 256, 2, PW_OFF, 2)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_dgrad_tf32_sq, PASS_DGRAD, 1, 128, 128, 16, 256, 2, PW_OFF, 2)
// The wgrad on square tiles (M = output channels, N = input channel x
// tap, K = pixels; split-K): the default for kxk wgrads that fill it since
// run 9 (launch_conv::gemm_square_wins).
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_wgrad_tf32_sq, PASS_WGRAD, 1, 128, 128, 16, 256, 2, PW_OFF, 2)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_fwd_tf32_pw_sq, PASS_FWD, 1, 128, 128, 16, 256, 2, PW_VEC, 2)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_dgrad_tf32_pw_sq, PASS_DGRAD, 1, 128, 128, 16, 256, 2, PW_VEC, 2)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_fwd_tf32_pws_sq, PASS_FWD, 1, 128, 128, 16, 256, 2, PW_SCALAR, 2)
CONV_GEMM_ENTRY_MIN(slimmable_conv2d_dgrad_tf32_pws_sq, PASS_DGRAD, 1, 128, 128, 16, 256, 2, PW_SCALAR, 2)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_pws, PASS_FWD, 0, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_f32_pws_narrow, PASS_FWD, 0, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_pws, PASS_FWD, 1, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_tf32_pws_narrow, PASS_FWD, 1, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_bf16_pws, PASS_FWD, 2, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_fwd_bf16_pws_narrow, PASS_FWD, 2, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_pws, PASS_DGRAD, 0, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_f32_pws_narrow, PASS_DGRAD, 0, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_pws, PASS_DGRAD, 1, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_tf32_pws_narrow, PASS_DGRAD, 1, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16_pws, PASS_DGRAD, 2, 128, 64, 16, 256, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_dgrad_bf16_pws_narrow, PASS_DGRAD, 2, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_pws, PASS_WGRAD, 1, 64, 64, 32, 128, 2, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_tf32_pws_narrow, PASS_WGRAD, 1, 128, 16, 32, 128, 4, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16_pws, PASS_WGRAD, 2, 64, 64, 32, 128, 2, PW_SCALAR)
CONV_GEMM_ENTRY(slimmable_conv2d_wgrad_bf16_pws_narrow, PASS_WGRAD, 2, 128, 16, 32, 128, 4, PW_SCALAR)

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
