// slimmable: Hopper's warpgroup MMA (wgmma.mma_async, sm_90a) for the
// WGMMA twins of the ldmatrix conv tiles (conv2d_ldsm.cu), as functions so
// that tools/cuda_on_cpu/cuda_shim.h (SLIMMABLE_CUDA_ON_CPU) can stand in
// for them. Compiled for anything but sm_90a they trap; the host launches
// the twins only on compute capability 9.0, where the kernels are built
// for sm_90a (nvrtc.rs).
//
// Both operands come from shared memory through descriptors, K-major, in
// the no-swizzle layout: core matrices of 8 rows x 16 bytes (4 TF32 k),
// each 128 contiguous bytes (row r at byte 16 r). The tiles store a stage
// as [k / 4][row][k % 4]: core matrices adjacent along the rows 128 bytes
// apart, along k a whole chunk of rows (rows x 16 bytes) apart.
#pragma once

typedef unsigned long long u64;

#ifndef SLIMMABLE_CUDA_ON_CPU
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ u32 wgmma_smem_addr(const float* p) {
    return (u32)__cvta_generic_to_shared(p);
}
// Orders this thread's earlier shared-memory writes (cp.async's, landed
// by its wait) before reads by the async proxy the tensor cores read
// through; a barrier after it then covers every thread's.
__device__ __forceinline__ void fence_proxy_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Before the first wgmma of a batch: the accumulators' registers, as the
// warpgroup last wrote them, are what the wgmma reads.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most N committed batches are in flight.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pins an accumulator register in place: the compiler must not move its
// reads or writes across this point (so none crosses a wait or a fence).
__device__ __forceinline__ void wgmma_pin(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// d += A · B^T for one warpgroup: A 64 x 8 and B 128 x 8 (k contiguous,
// TF32: each operand's top 19 bits), d 64 x 128 in f32. Thread (warp w of
// the warpgroup, lane l) holds d[4 j + 2 h + c] = D[16 w + l / 4 + 8 h]
// [8 j + 2 (l % 4) + c]: an m16n8 accumulator per 8 columns.
__device__ __forceinline__ void wgmma_m64n128k8_tf32(float* d, u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n .reg .pred p;\n setp.ne.b32 p, %66, 0;\n"
        " wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 "
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(1));
}
#else
__device__ __forceinline__ u32 wgmma_smem_addr(const float*) { __trap(); return 0; }
__device__ __forceinline__ void fence_proxy_async_shared() { __trap(); }
__device__ __forceinline__ void wgmma_fence() { __trap(); }
__device__ __forceinline__ void wgmma_commit() { __trap(); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { __trap(); }
__device__ __forceinline__ void wgmma_pin(float&) {}
__device__ __forceinline__ void wgmma_m64n128k8_tf32(float*, u64, u64) { __trap(); }
#endif
#endif

// The shared-memory descriptor of a K-major tile at `tile` (16-byte
// aligned): start address >> 4 in bits 0-13; the leading byte offset
// (between core matrices adjacent along k) >> 4 in 16-29; the stride byte
// offset (between core matrices adjacent along rows) >> 4 in 32-45; base
// offset 0 (bits 49-51) and layout 0, no swizzle (bits 62-63).
__device__ __forceinline__ u64 wgmma_desc(const float* tile, u32 k_chunk_bytes, u32 row_group_bytes) {
    const u32 addr = wgmma_smem_addr(tile);
    return (u64)((addr & 0x3FFFFu) >> 4) | (u64)((k_chunk_bytes >> 4) & 0x3FFFu) << 16 |
           (u64)((row_group_bytes >> 4) & 0x3FFFu) << 32;
}
