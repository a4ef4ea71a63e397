// slimmable: what the implicit-GEMM convolutions share (conv2d.cu: the
// general tiles; conv2d_ldsm.cu: the ldmatrix square tiles): the passes,
// their GEMM extents, the per-k decode, and the tensor-core instructions.
// Include after common.cuh and conv_common.cuh.
#pragma once

enum { PASS_FWD = 0, PASS_DGRAD = 1, PASS_WGRAD = 2 };

// GEMM extents of one group for a pass.
template <int PASS>
__device__ __forceinline__ void gemm_dims(const Geom& g, int& M, int& N, int& K) {
    if (PASS == PASS_FWD) { M = g.n * g.ho * g.wo; N = g.ocg; K = g.icg * g.khw; }
    if (PASS == PASS_DGRAD) { M = g.n * g.h * g.w; N = g.icg; K = g.ocg * g.khw; }
    if (PASS == PASS_WGRAD) { M = g.ocg; N = g.icg * g.khw; K = g.n * g.ho * g.wo; }
}

// One block's share of a group's GEMM: its group, first row and column,
// and its K range (split-K: blockIdx.z = group x split; each split a run
// of whole BK steps).
struct GemmBlock {
    int M, N, K, grp, m0, n0, k_begin, k_end;
};
template <int PASS, int BM, int BN, int BK>
__device__ __forceinline__ GemmBlock gemm_block(const Geom& g, u32 split_k) {
    GemmBlock b;
    gemm_dims<PASS>(g, b.M, b.N, b.K);
    const int split = blockIdx.z % split_k;
    b.grp = blockIdx.z / split_k;
    b.m0 = blockIdx.x * BM;
    b.n0 = blockIdx.y * BN;
    const int k_chunk = ((b.K + split_k - 1) / split_k + BK - 1) / BK * BK;
    b.k_begin = split * k_chunk;
    b.k_end = min(b.K, b.k_begin + k_chunk);
    return b;
}

// What one reduction index k contributes to the addresses, decoded once per
// K tile into shared memory so the gathers need no divisions:
//   forward: a = x offset of (i,ky,kx), b = w offset of (i,ky,kx), p,q = ky,kx
//   dgrad:   a = dy offset of channel o, b = w offset of (o,ky,kx), p,q = ky,kx
//   wgrad:   a = dy offset of pixel (n,ho,wo), b = x offset of n,
//            p,q = top-left input row/col of the window (may be negative)
struct __align__(16) KEntry { int a, b, p, q; };  // one 16-byte shared load

// `inner` and `outer` divide by the fastest two extents of k: wo and ho
// (wgrad), kw and kh (forward, dgrad).
template <int PASS>
__device__ __forceinline__ KEntry decode_k(const Conv2dParams& pr, const Geom& g, int grp, int k,
                                           const FastDiv& inner, const FastDiv& outer) {
    KEntry e;
    const int t = (int)div_by((u32)k, inner), r = k - t * (int)inner.d;
    const int u = (int)div_by((u32)t, outer), s = t - u * (int)outer.d;
    if (PASS == PASS_WGRAD) {
        const int wo = r, ho = s, n = u;
        e.a = n * sv(pr.y, 0) + ho * sv(pr.y, 2) + wo * sv(pr.y, 3);
        e.b = n * sv(pr.x, 0);
        e.p = ho * g.sh - g.ph;
        e.q = wo * g.sw - g.pw;
    } else {
        const int kx = r, ky = s, c = u;
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

// The PTX instructions of the tensor-core paths, as functions so that
// tools/cuda_on_cpu/cuda_shim.h (SLIMMABLE_CUDA_ON_CPU) can stand in for
// them when the kernels are checked on the CPU. They need sm_80: compiled
// for an older device the tensor-core kernels trap, and the host never
// launches them there (launch_conv.rs runs TF32/BF16 requests as exact f32).
#ifndef SLIMMABLE_CUDA_ON_CPU
#if __CUDA_ARCH__ >= 800
__device__ __forceinline__ u32 to_tf32(float f) {
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

// c += a · b for one warp's m16n8k8 TF32 tile (PTX fragment layouts).
__device__ __forceinline__ void mma_tf32_m16n8k8(float* c, const u32* a, const u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Two floats rounded to bfloat16 (nearest, ties to even) in one register:
// `lo` in the low half, as mma.sync's packed operands expect.
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// c += a · b for one warp's m16n8k8 BF16 tile: a holds A[g][2t..2t+1] and
// A[g+8][2t..2t+1], b holds B[2t..2t+1][g] (g = lane / 4, t = lane % 4).
__device__ __forceinline__ void mma_bf16_m16n8k8(float* c, const u32* a, u32 b) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(b));
}

// ldmatrix.x4 as TF32 fragments: lane l gives the shared address of row
// l % 8 of 8x4-float matrix l / 8 (16 bytes, 16-byte aligned); r[j] gets
// matrix j's float at row lane / 4, column lane % 4, which is where an
// m16n8k8 TF32 fragment wants A[g][t] and B[t][g] from tiles stored with k
// contiguous. One instruction instead of four shared loads.
__device__ __forceinline__ void ldmatrix_x4(u32* r, const float* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row))
                 : "memory");
}
#else
__device__ __forceinline__ u32 to_tf32(float) { __trap(); return 0; }
__device__ __forceinline__ void ldmatrix_x4(u32*, const float*) { __trap(); }
__device__ __forceinline__ void mma_tf32_m16n8k8(float*, const u32*, const u32*) { __trap(); }
__device__ __forceinline__ u32 pack_bf16x2(float, float) { __trap(); return 0; }
__device__ __forceinline__ void mma_bf16_m16n8k8(float*, const u32*, u32) { __trap(); }
#endif
#endif
