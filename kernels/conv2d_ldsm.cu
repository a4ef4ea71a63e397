// slimmable: dense conv2d on 128 x 128 TF32 tiles whose fragments are
// loaded with ldmatrix: the square tiles' twins where launch_conv.rs
// ldsm_fits and ldsm_wins (the dgrad at stride 1 only; default since run
// 10). Opt-in twins: the forward and dgrad with K split across blocks
// (SLIMMABLE_GEMM_LDSM_SPLIT),
// BF16 fragments, and on sm_90a warpgroup MMAs (wgmma.cuh) reading both
// tiles from shared memory instead of ldmatrix and mma.sync
// (SLIMMABLE_GEMM_WGMMA; three or four stages, optionally overlapped).
//
// The same implicit GEMMs as conv2d.cu's square tiles (forward, dgrad,
// split-K wgrad, the per-k decode of conv_gemm.cuh), built to issue fewer
// instructions per MMA. ptxas's SASS of the square forward has 14.8 in its
// main loop per HMMA.1688; three per fragment element (a shared load, and
// cvt.rna.tf32's compare and add) and about ten per gathered element. Here:
//   - both operand tiles are k-contiguous, [row][BK + 4]: rows start 20
//     banks apart, so the 8 rows of an ldmatrix phase, and a warp's copies
//     of 8 rows x 4 consecutive k, hit 32 banks. An m16 x k8 A fragment,
//     or two n8 x k8 B fragments, is one ldmatrix.x4 (6 a k8 step against
//     24 shared loads);
//   - the operands reach the tensor cores as stored, so TF32 truncates
//     toward zero instead of rounding to nearest (at most 2^-10 relative
//     per operand instead of 2^-11; every conv in the models feeds a batch
//     norm, which cancels the bias's scale). NaN and infinity pass
//     through, which adding half a unit without cvt's compare would not;
//   - the forward's weights, contiguous along k, and the wgrad's dy,
//     contiguous along its pixels, come in 16-byte copies where aligned;
//   - each thread gathers 4 k (k = lane % 4 + 4 j) of 2 rows of B and
//     BM / 64 rows of A, so one table entry serves several copies and the
//     rows' constants are set once;
//   - three K tiles in flight in dynamic shared memory, one barrier a K
//     tile instead of two.
#include "common.cuh"
#include "conv_common.cuh"
#include "conv_gemm.cuh"
#include "wgmma.cuh"

namespace ldsm {
constexpr int BN = 128, BK = 16, LD = BK + 4, THREADS = 256;
// 8 warps, 2 along M x 4 along N, each BM / 2 x 32: BM / 32 x 4 m16n8
// fragments.
constexpr int WARPS_M = 2, WN = 32, NT = WN / 8;
// Dynamic shared memory of STAGES stages of both tiles (launch_conv.rs
// ldsm_shared_bytes): 61440 bytes for 3 of 128 rows. (BM is a parameter,
// but every entry takes 128 rows: 64-row tiles lost on the H200.)
template <int STAGES, int BM>
constexpr int SHARED_BYTES = STAGES * (BM + BN) * LD * 4;
// How the tiles are multiplied: ldmatrix fragments into mma.sync at TF32
// or BF16, or (WGMMA_TF32) warpgroup MMAs reading both tiles from shared
// memory in wgmma.cuh's core-matrix layout, each chunk of 4 k (rows x 16
// bytes) padded by KPAD floats: 49920 bytes for 3 stages of 128 rows
// (launch_conv.rs wgmma_shared_bytes).
// WGMMA_TF32_OVERLAP: the same, each tile's batch left in flight while
// the warps pass the next barrier and issue the next gathers, which then
// run STAGES - 2 tiles ahead instead of STAGES - 1 (the stage the batch
// in flight reads is not refilled until it is retired).
enum Mma { LDSM_TF32, LDSM_BF16, WGMMA_TF32, WGMMA_TF32_OVERLAP };
constexpr int KPAD = 8;
template <int STAGES, int BM, int KT = BK>
constexpr int WGMMA_SHARED_BYTES = STAGES * (KT / 4) * ((BM + BN) * 4 + 2 * KPAD) * 4;
}  // namespace ldsm

// The block's dynamic shared memory (the CUDA-on-CPU driver defines its own).
#ifndef SLIMMABLE_CUDA_ON_CPU
__device__ __forceinline__ float* ldsm_dynamic_smem() {
    extern __shared__ float4 ldsm_dyn[];  // float4: 16-byte aligned
    return reinterpret_cast<float*>(ldsm_dyn);
}
#endif

// STAGES K tiles in flight: tile i + STAGES - 1 is gathered (cp.async)
// while tile i is multiplied, STAGES - 1 tiles ahead (STAGES - 2 with
// WGMMA_TF32_OVERLAP). BM: 128 or 64 rows
// (output pixels forward and dgrad, output channels wgrad) a block. MMA
// (ldsm::Mma): LDSM_BF16 rounds the fragments to bfloat16 (nearest) and
// multiplies them on BF16 tensor cores instead of feeding the TF32 ones
// truncated; WGMMA_TF32 (sm_90a) has each warpgroup (4 warps) multiply
// 64 rows of A by all of B straight from shared memory, with the same
// gathers into another layout.
template <int PASS, int STAGES, int BM, int MMA, int KT = ldsm::BK>
__device__ void conv_gemm_ldsm(const Conv2dParams& p, float* x, float* wt, float* y,
                               const float* bias, u32 split_k) {
    using namespace ldsm;
    // The K tile: 16, or 32 for the wgmma twins (`_k32`: half the barriers
    // and tables a reduction, four MMAs a batch). The gathers take it 16 k
    // (a "part") at a time, with the same thread mapping each part.
    constexpr int BK = KT;
    static_assert(BK == 16 || (BK == 32 && MMA >= WGMMA_TF32), "K tiles of 32: wgmma only");
    static_assert(STAGES >= 2 && 32 * STAGES <= THREADS, "a warp decodes each prologue tile");
    static_assert(BM == 128 || BM == 64, "A rows: 64 a pass of the 256 threads");
    constexpr bool BF16 = MMA == LDSM_BF16, OVERLAP = MMA == WGMMA_TF32_OVERLAP;
    constexpr bool WG = MMA == WGMMA_TF32 || OVERLAP;
    static_assert(!WG || BM == 128, "two warpgroups of 64 rows");
    // How many tiles ahead of the one multiplied the gathers run.
    constexpr int AHEAD = OVERLAP ? STAGES - 2 : STAGES - 1;
    static_assert(AHEAD >= 1, "the overlapped twins need three stages or more");
    constexpr int WM = BM / WARPS_M, MT = WM / 16;
    constexpr int AR = BM / 64;  // rows of A a thread gathers
    // The accumulators: MT x NT m16n8 fragments a warp, or with wgmma a
    // 16-row slice of its warpgroup's 64 x 128 (wgmma.cuh's layout: the
    // same fragments, one row of sixteen).
    constexpr int EMT = WG ? 1 : MT, ENT = WG ? BN / 8 : NT;
    // A stage of each tile: rows of k padded to LD (ldmatrix: conflict-free
    // phases), or [k / 4][row * 4 + k % 4] (wgmma's core matrices), each
    // chunk of 4 k padded by KPAD floats. A warp's 4-byte copies of 8 rows
    // x 4 k are then 128 contiguous bytes, and its 16-byte copies of 2
    // rows x 4 chunks (lanes 4 r + c) land 32 bytes apart per chunk: 8
    // distinct 16-byte bank groups a phase instead of 2 unpadded.
    // (Indexed as typed arrays: the same arithmetic through flat offsets
    // cost the ldmatrix tiles' main loop 20% more instructions.)
    constexpr int A_PITCH = BM * 4 + KPAD, B_PITCH = BN * 4 + KPAD;
    float(*As)[BM][LD] = reinterpret_cast<float(*)[BM][LD]>(ldsm_dynamic_smem());
    float(*Bs)[BN][LD] = reinterpret_cast<float(*)[BN][LD]>(ldsm_dynamic_smem() + STAGES * BM * LD);
    float(*Aw)[BK / 4][A_PITCH] = reinterpret_cast<float(*)[BK / 4][A_PITCH]>(ldsm_dynamic_smem());
    float(*Bw)[BK / 4][B_PITCH] =
        reinterpret_cast<float(*)[BK / 4][B_PITCH]>(ldsm_dynamic_smem() + STAGES * (BK / 4) * A_PITCH);
    auto a_at = [&](int st, int r, int k) -> float* {
        if constexpr (WG) return &Aw[st][k / 4][r * 4 + k % 4];
        else return &As[st][r][k];
    };
    auto b_at = [&](int st, int r, int k) -> float* {
        if constexpr (WG) return &Bw[st][k / 4][r * 4 + k % 4];
        else return &Bs[st][r][k];
    };
    // The decode tables of STAGES + 1 K tiles: the STAGES in flight and the
    // one the first warp decodes ahead of its issue.
    __shared__ KEntry ktab[STAGES + 1][BK];

    const Geom g = geom_of(p);
    const GemmBlock blk = gemm_block<PASS, BM, BN, BK>(g, split_k);
    const int M = blk.M, N = blk.N, K = blk.K, grp = blk.grp, m0 = blk.m0, n0 = blk.n0;
    const int k_begin = blk.k_begin, k_end = blk.k_end;
    const int t = threadIdx.x, warp = t / 32, lane = t % 32, kq = lane % 4;
    // The tile rows this thread gathers: B's two, A's first AR.
    const int row[2] = {warp * 8 + lane / 4, warp * 8 + lane / 4 + 64};

    // Per-row constants. A: forward, the window's top-left tap in x;
    // dgrad, the pixel in dy's image; wgrad, dy's output-channel plane.
    // B: forward, the weight row; dgrad, the input channel's weights;
    // wgrad, x's input channel and the tap.
    int a_base[AR], a_r[AR], a_c[AR], b_base[2], b_ky[2], b_kx[2];
    bool a_ok[AR], b_ok[2];
#pragma unroll
    for (int h = 0; h < AR; ++h) {
        const int m = m0 + row[h];
        a_ok[h] = m < M;
        a_r[h] = a_c[h] = 0;
        if (PASS == PASS_FWD) {
            const int wo = m % g.wo, tt = m / g.wo, ho = tt % g.ho, n = tt / g.ho;
            a_r[h] = ho * g.sh - g.ph;
            a_c[h] = wo * g.sw - g.pw;
            a_base[h] = (int)p.x.offset + n * sv(p.x, 0) + grp * g.icg * sv(p.x, 1) +
                        a_r[h] * sv(p.x, 2) + a_c[h] * sv(p.x, 3);
        } else if (PASS == PASS_DGRAD) {
            const int wi = m % g.w, tt = m / g.w, hi = tt % g.h, n = tt / g.h;
            a_base[h] = (int)p.y.offset + n * sv(p.y, 0);
            a_r[h] = hi + g.ph;
            a_c[h] = wi + g.pw;
        } else {
            a_base[h] = (int)p.y.offset + (grp * g.ocg + m) * sv(p.y, 1);
        }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int j = n0 + row[h];
        b_ok[h] = j < N;
        b_ky[h] = b_kx[h] = 0;
        if (PASS == PASS_FWD) {
            // Packed weights (the host checks): k is the offset in the row.
            b_base[h] = (int)p.w.offset + (grp * g.ocg + j) * sv(p.w, 0);
        } else if (PASS == PASS_DGRAD) {
            b_base[h] = (int)p.w.offset + j * sv(p.w, 1);
        } else {
            const int kx = j % g.kw, tt = j / g.kw, ky = tt % g.kh, i = tt / g.kh;
            b_base[h] = (int)p.x.offset + (grp * g.icg + i) * sv(p.x, 1);
            b_ky[h] = ky;
            b_kx[h] = kx;
        }
    }
    // The forward's 16-byte weight copies: rows and the reduction in
    // whole runs of four, on a 16-byte aligned buffer.
    const bool w_vec = PASS == PASS_FWD && p.w.offset % 4 == 0 && sv(p.w, 0) % 4 == 0 &&
                       K % 4 == 0 && (unsigned long long)wt % 16 == 0;

    // The wgrad's 16-byte dy copies (four pixels of a row of A): planes
    // contiguous and a multiple of 4 pixels (a run never leaves its
    // image), every offset a multiple of 4, a 16-byte aligned buffer.
    const bool dy_vec = PASS == PASS_WGRAD && sv(p.y, 3) == 1 && sv(p.y, 2) == g.wo &&
                        g.ho * g.wo % 4 == 0 && p.y.offset % 4 == 0 && sv(p.y, 1) % 4 == 0 &&
                        sv(p.y, 0) % 4 == 0 && (unsigned long long)y % 16 == 0;

    auto slot_of = [&](int k0) -> int { return ((k0 - k_begin) / BK) % (STAGES + 1); };
    // The gathers of the K tile at k0 into stage `st` (its table ready).
    // Addresses in 32-bit offsets plus one 64-bit add; a copy predicated
    // off never reads its address (cp_async4's ignore-src).
    auto issue = [&](int k0, int st) {
        const int ks = slot_of(k0);
#pragma unroll
        for (int kp = 0; kp < BK; kp += 16) {
            // The four table entries first: a shared load right before a
            // cp.async costs three issue slots of padding.
            KEntry es[4];
#pragma unroll
            for (int q = 0; q < 4; ++q) es[q] = ktab[ks][kp + kq + 4 * q];
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int kl = kp + kq + 4 * q;
                const bool k_ok = k0 + kl < k_end;
                const KEntry e = es[q];
                // A: (k past the end has the table's PAST_END entry, whose
                // window rows are out of every image: no k test in the
                // forward and dgrad.)
#pragma unroll
                for (int h = 0; h < AR; ++h) {
                    float* a_dst = a_at(st, row[h], kl);
                    if (PASS == PASS_FWD) {
                        const int hi = a_r[h] + e.p, wi = a_c[h] + e.q;
                        const bool ok = a_ok[h] && (u32)hi < (u32)g.h && (u32)wi < (u32)g.w;
                        cp_async4(a_dst, x + (a_base[h] + e.a), ok);
                    } else if (PASS == PASS_DGRAD) {
                        // dy at the output pixel whose window puts tap (p, q)
                        // on this input pixel (stride 1: the host checks).
                        const int ho = a_r[h] - e.p, wo = a_c[h] - e.q;
                        const bool ok = a_ok[h] && (u32)ho < (u32)g.ho && (u32)wo < (u32)g.wo;
                        cp_async4(a_dst, y + (a_base[h] + e.a + ho * sv(p.y, 2) + wo * sv(p.y, 3)), ok);
                    } else if (!dy_vec) {
                        cp_async4(a_dst, y + (a_base[h] + e.a), a_ok[h] && k_ok);
                    }
                }
                // B, but the forward's weights (below).
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    float* b_dst = b_at(st, row[h], kl);
                    if (PASS == PASS_DGRAD) {
                        cp_async4(b_dst, wt + (b_base[h] + e.b), b_ok[h] && k_ok);
                    } else if (PASS == PASS_WGRAD) {
                        const int hi = e.p + b_ky[h], wi = e.q + b_kx[h];
                        const bool ok = b_ok[h] && (u32)hi < (u32)g.h && (u32)wi < (u32)g.w;
                        cp_async4(b_dst, x + (b_base[h] + e.b + hi * sv(p.x, 2) + wi * sv(p.x, 3)), ok);
                    }
                }
            }
            if (PASS == PASS_WGRAD && dy_vec) {
                // This thread's run of four pixels in each of its two dy rows.
                const int kl = kp + 4 * kq;
                const int pixel = ktab[ks][kl].a;
#pragma unroll
                for (int h = 0; h < AR; ++h)
                    cp_async16(a_at(st, row[h], kl), y + (a_base[h] + pixel), a_ok[h] && k0 + kl < k_end);
            }
            if (PASS == PASS_FWD) {
                // This thread's run of four k in each of its two weight rows.
                const int kl = kp + 4 * kq, k = k0 + kl;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    float* dst = b_at(st, row[h], kl);
                    const float* src = wt + (b_base[h] + k);
                    if (w_vec) {
                        cp_async16(dst, src, b_ok[h] && k < k_end);
                    } else {
#pragma unroll
                        for (int e = 0; e < 4; ++e) cp_async4(dst + e, src + e, b_ok[h] && k + e < k_end);
                    }
                }
            }
        }
        cp_async_commit();
    };

    float acc[EMT * ENT * 4];
#pragma unroll
    for (int i = 0; i < EMT * ENT * 4; ++i) acc[i] = 0.f;
    // The decode's divisors, in the warps that decode (the first STAGES
    // in the prologue, the first one after it).
    FastDiv inner = {1, 1, 0}, outer = {1, 1, 0};
    if (t < 32 * STAGES) {
        inner = fast_div(PASS == PASS_WGRAD ? g.wo : g.kw);
        outer = fast_div(PASS == PASS_WGRAD ? g.ho : g.kh);
    }
    // The table entry of k, or for k past the end one whose window row
    // (p) puts every gather out of the image: forward hi = a_r + p and
    // wgrad's x row p + ky too high, dgrad's dy row a_r - p negative.
    auto decode_or_past_end = [&](int k) -> KEntry {
        constexpr int PAST_END = 1 << 28;
        return k < k_end ? decode_k<PASS>(p, g, grp, k, inner, outer) : KEntry{0, 0, PAST_END, 0};
    };
    // The first STAGES tiles' tables, a warp each; then the first AHEAD
    // tiles' gathers, a group each (empty past the end, so that every
    // iteration waits on the same count).
    {
        const int kl = t % 32, tile = t / 32, k = k_begin + tile * BK + kl;
        if (tile < STAGES && kl < BK) ktab[tile][kl] = decode_or_past_end(k);
        __syncthreads();
    }
#pragma unroll
    for (int s = 0; s < AHEAD; ++s) {
        if (k_begin + s * BK < k_end) issue(k_begin + s * BK, s); else cp_async_commit();
    }
    // The warp's accumulator rows and columns (with wgmma: warpgroup
    // warp / 4's 64 rows, 16 a warp, and all 128 columns).
    const int wm = WG ? warp / 4 * 64 + warp % 4 * 16 : (warp % WARPS_M) * WM;
    const int wn = WG ? 0 : (warp / WARPS_M) * WN;
    // ldmatrix rows: A's matrices are (rows 0-7, k 0-3), (8-15, 0-3),
    // (0-7, 4-7), (8-15, 4-7) of an m16 x k8 fragment: a0..a3. B's are
    // (n 0-7, k 0-3), (0-7, 4-7), (8-15, 0-3), (8-15, 4-7): b0, b1 of two
    // n8 fragments.
    const int a_row = lane % 8 + (lane / 8) % 2 * 8, a_col = lane / 16 * 4;
    const int b_row = lane % 8 + lane / 16 * 8, b_col = (lane / 8) % 2 * 4;
    for (int k0 = k_begin, i = 0; k0 < k_end; k0 += BK, ++i) {
        const int st = i % STAGES;
        // Tile i + STAGES's table by the first warp. Its slot last served
        // tile i - 1's issue, in iteration i - 1 - AHEAD, a barrier ago.
        const int k_ahead = k0 + STAGES * BK;
        if (t < BK && k_ahead < k_end)
            ktab[(i + STAGES) % (STAGES + 1)][t] = decode_or_past_end(k_ahead + t);
        // Tile i has landed once at most AHEAD - 1 newer groups are in
        // flight; the barrier shows it to every warp, publishes the table
        // of tile i + AHEAD, and ends every warp's reads of the stage that
        // tile's gathers then refill: tile i - 1's (with OVERLAP tile
        // i - 2's, whose batch every warpgroup retired in iteration i - 1).
        cp_async_wait_group<AHEAD - 1>();
        // (wgmma reads shared memory through the async proxy: this
        // thread's landed copies are ordered before it here, everyone's
        // by the barrier.)
        if (WG) fence_proxy_async_shared();
        __syncthreads();
        const int k_next = k0 + AHEAD * BK;
        if (k_next < k_end) issue(k_next, (i + AHEAD) % STAGES); else cp_async_commit();
        if constexpr (WG) {
            // Both k8 steps of the tile as one batch, retired before the
            // next barrier (whose issue refills a stage), or with OVERLAP
            // the one before it (same accumulators: the hardware runs
            // the batches in order).
#pragma unroll
            for (int r = 0; r < EMT * ENT * 4; ++r) wgmma_pin(acc[r]);
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BK; kk += 8)
                wgmma_m64n128k8_tf32(acc, wgmma_desc(a_at(st, warp / 4 * 64, kk), A_PITCH * 4, 128),
                                     wgmma_desc(b_at(st, 0, kk), B_PITCH * 4, 128));
            wgmma_commit();
            wgmma_wait<OVERLAP ? 1 : 0>();
#pragma unroll
            for (int r = 0; r < EMT * ENT * 4; ++r) wgmma_pin(acc[r]);
            continue;
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk += 8) {
            u32 a[MT][4], b[NT][2];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(a[mt], a_at(st, wm + mt * 16 + a_row, kk + a_col));
#pragma unroll
            for (int np = 0; np < NT / 2; ++np) {
                u32 r[4];
                ldmatrix_x4(r, b_at(st, wn + np * 16 + b_row, kk + b_col));
                b[2 * np][0] = r[0];
                b[2 * np][1] = r[1];
                b[2 * np + 1][0] = r[2];
                b[2 * np + 1][1] = r[3];
            }
            if (BF16) {
                // An m16n8k8 BF16 fragment holds k 2t and 2t + 1 where the
                // TF32 one holds t and t + 4: pairing those two k as one
                // BF16 pair, in A and B alike, reorders the sum over k and
                // nothing else.
                // (A converted a row of fragments at a time: fewer live
                // registers than converting all first.)
                u32 bb[NT];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
                    bb[nt] = pack_bf16x2(__uint_as_float(b[nt][0]), __uint_as_float(b[nt][1]));
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    const u32 ab[2] = {
                        pack_bf16x2(__uint_as_float(a[mt][0]), __uint_as_float(a[mt][2])),
                        pack_bf16x2(__uint_as_float(a[mt][1]), __uint_as_float(a[mt][3]))};
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt)
                        mma_bf16_m16n8k8(&acc[(mt * NT + nt) * 4], ab, bb[nt]);
                }
            } else {
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt)
                        mma_tf32_m16n8k8(&acc[(mt * NT + nt) * 4], a[mt], b[nt]);
            }
        }
    }

    if constexpr (OVERLAP) {
        wgmma_wait<0>();
#pragma unroll
        for (int r = 0; r < EMT * ENT * 4; ++r) wgmma_pin(acc[r]);
    }

    // Epilogue, as conv2d.cu's: each row's and column's part of the
    // address once; wgrad adds into the full-size gradient's block. With K
    // split, every pass adds atomically (the host zeroes a forward's or
    // dgrad's output first unless p.accumulate) and the first split adds
    // the bias.
    const int gid = lane / 4, tig = lane % 4;
    const bool first_split = blockIdx.z % split_k == 0;
#pragma unroll
    for (int mt = 0; mt < EMT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int m = m0 + wm + mt * 16 + gid + half * 8;
            if (m >= M) continue;
            int rb;
            if (PASS == PASS_FWD) {
                const int wo = m % g.wo, tt = m / g.wo, ho = tt % g.ho, n = tt / g.ho;
                rb = (int)p.y.offset + n * sv(p.y, 0) + ho * sv(p.y, 2) + wo * sv(p.y, 3);
            } else if (PASS == PASS_DGRAD) {
                const int wi = m % g.w, tt = m / g.w, hi = tt % g.h, n = tt / g.h;
                rb = (int)p.x.offset + n * sv(p.x, 0) + hi * sv(p.x, 2) + wi * sv(p.x, 3);
            } else {
                rb = (int)p.w.offset + (grp * g.ocg + m) * sv(p.w, 0);
            }
#pragma unroll
            for (int nt = 0; nt < ENT; ++nt)
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    const int j = n0 + wn + nt * 8 + 2 * tig + c;
                    if (j >= N) continue;
                    float v = acc[(mt * ENT + nt) * 4 + half * 2 + c];
                    if (PASS == PASS_FWD) {
                        if (p.has_bias && first_split) v += bias[p.bias_offset + grp * g.ocg + j];
                        float* dst = &y[rb + (grp * g.ocg + j) * sv(p.y, 1)];
                        if (split_k > 1) atomicAdd(dst, v);
                        else *dst = p.accumulate ? *dst + v : v;
                    } else if (PASS == PASS_DGRAD) {
                        float* dst = &x[rb + (grp * g.icg + j) * sv(p.x, 1)];
                        if (split_k > 1) atomicAdd(dst, v);
                        else *dst = p.accumulate ? *dst + v : v;
                    } else {
                        // The gradient block is packed along (channel, ky,
                        // kx) (ldsm_fits), so column j's offset in the row
                        // is j itself. (Decoded into (channel, ky, kx) here,
                        // ptxas repeated its two runtime divisions for every
                        // row: 240 a thread, most of the epilogue's 8900
                        // static instructions.)
                        float* dst = &wt[rb + j];
                        if (split_k > 1) atomicAdd(dst, v); else *dst += v;
                    }
                }
        }
}

// Two blocks an SM (at most 128 registers), as the square tiles: `_ldsm`
// with three stages (61440 bytes of dynamic shared memory). Stop 31
// removed the two-stage twins (`_ldsm2`) and the 64-row forward and dgrad
// (`_ldsm64`): on the H200 (run 10, `res3x3` w1.0) neither beat these,
// 0.1889 / 0.1998 and 0.1981 / 0.2130 ms against 0.1842 / 0.1962 for the
// forward / dgrad at 224 px, and within 1.5% at 128 px.
#define CONV_GEMM_LDSM_ENTRY(name, PASS, STAGES, BM, MIN_BLOCKS, MMA)                         \
    extern "C" __global__ void __launch_bounds__(ldsm::THREADS, MIN_BLOCKS)                   \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_ldsm<PASS, STAGES, BM, ldsm::MMA>(p, x, wt, y, bias, split_k);              \
    }
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_fwd_tf32_ldsm, PASS_FWD, 3, 128, 2, LDSM_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_dgrad_tf32_ldsm, PASS_DGRAD, 3, 128, 2, LDSM_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_wgrad_tf32_ldsm, PASS_WGRAD, 3, 128, 2, LDSM_TF32)
// BF16 twins of the three-stage 128-row tiles (opt-in
// SLIMMABLE_GEMM_LDSM_BF16=1 for BF16 convs on shapes the square tiles
// fit, until timed on a GPU): the same gathers and f32 tiles, the
// fragments rounded to bfloat16 in registers.
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_fwd_bf16_ldsm, PASS_FWD, 3, 128, 2, LDSM_BF16)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_dgrad_bf16_ldsm, PASS_DGRAD, 3, 128, 2, LDSM_BF16)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_wgrad_bf16_ldsm, PASS_WGRAD, 3, 128, 2, LDSM_BF16)
// WGMMA twins of the three-stage 128-row TF32 tiles (opt-in
// SLIMMABLE_GEMM_WGMMA=1 on compute capability 9.0, until timed on a GPU):
// the same gathers and grid, both tiles multiplied by warpgroup MMAs from
// shared memory (49920 bytes of it).
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_fwd_tf32_wgmma, PASS_FWD, 3, 128, 2, WGMMA_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_dgrad_tf32_wgmma, PASS_DGRAD, 3, 128, 2, WGMMA_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_wgrad_tf32_wgmma, PASS_WGRAD, 3, 128, 2, WGMMA_TF32)
// Four K tiles in flight (SLIMMABLE_GEMM_WGMMA_STAGES=4; 66560 bytes).
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_fwd_tf32_wgmma4, PASS_FWD, 4, 128, 2, WGMMA_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_dgrad_tf32_wgmma4, PASS_DGRAD, 4, 128, 2, WGMMA_TF32)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_wgrad_tf32_wgmma4, PASS_WGRAD, 4, 128, 2, WGMMA_TF32)
// Four stages, each tile's batch in flight across the next barrier and
// gathers two tiles ahead (SLIMMABLE_GEMM_WGMMA_OVERLAP=1).
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_fwd_tf32_wgmma4o, PASS_FWD, 4, 128, 2, WGMMA_TF32_OVERLAP)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_dgrad_tf32_wgmma4o, PASS_DGRAD, 4, 128, 2, WGMMA_TF32_OVERLAP)
CONV_GEMM_LDSM_ENTRY(slimmable_conv2d_wgrad_tf32_wgmma4o, PASS_WGRAD, 4, 128, 2, WGMMA_TF32_OVERLAP)
// K tiles of 32 (SLIMMABLE_GEMM_WGMMA_BK=32): three stages, 99840 bytes.
#define CONV_GEMM_WGMMA_K32_ENTRY(name, PASS)                                                  \
    extern "C" __global__ void __launch_bounds__(ldsm::THREADS, 2)                            \
        name(float* x, float* wt, float* y, const float* bias, Conv2dParams p, u32 split_k) { \
        conv_gemm_ldsm<PASS, 3, 128, ldsm::WGMMA_TF32, 32>(p, x, wt, y, bias, split_k);       \
    }
CONV_GEMM_WGMMA_K32_ENTRY(slimmable_conv2d_fwd_tf32_wgmma_k32, PASS_FWD)
CONV_GEMM_WGMMA_K32_ENTRY(slimmable_conv2d_dgrad_tf32_wgmma_k32, PASS_DGRAD)
CONV_GEMM_WGMMA_K32_ENTRY(slimmable_conv2d_wgrad_tf32_wgmma_k32, PASS_WGRAD)
