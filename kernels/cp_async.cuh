// slimmable: cp.async global->shared copies (sm_80 on; synchronous copies
// before it; in the CUDA-on-CPU shim, copies that land only when a wait
// retires their group), shared by the units that stage
// tiles through shared memory (the conv units via conv_common.cuh,
// resize_pack.cu).
#pragma once

#if __CUDA_ARCH__ >= 800
// The shared-window address of a shared-memory pointer (cp.async's
// destination operand). The intrinsic, not inline cvta: on a pointer into
// a __shared__ array the compiler then keeps the address arithmetic in 32
// bits instead of forming a 64-bit generic address per copy.
__device__ __forceinline__ u32 smem_addr(const float* smem) {
    return (u32)__cvta_generic_to_shared(smem);
}
#endif

// Asynchronous 4-byte global->shared copy with zero fill when `pred` is
// false (padding, tile edges): the gathers of the next K tile fly while the
// current one is multiplied. Synchronous fallback before sm_80.
// When `pred` is false `gmem` is never read and need not point into a
// buffer (PTX's ignore-src operand), so callers form the address without
// a branch: a select and a 64-bit add per copy cost more than the copy.
__device__ __forceinline__ void cp_async4(float* smem, const float* gmem, bool pred) {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async(smem, gmem, 1, pred);
#elif __CUDA_ARCH__ >= 800
    const u32 s = smem_addr(smem);
    asm volatile(
        "{\n .reg .pred ignore;\n setp.eq.u32 ignore, %2, 0;\n"
        " cp.async.ca.shared.global [%0], [%1], 4, ignore;\n}\n" ::"r"(s),
        "l"(gmem), "r"((u32)pred));
#else
    *smem = pred ? *gmem : 0.f;
#endif
}

// The 16-byte twin of cp_async4 for the pointwise kernels' runs of four
// pixels (both addresses 16-byte aligned when `pred`). .cg: the
// activations stream through L2 only, each element is read by one block.
__device__ __forceinline__ void cp_async16(float* smem, const float* gmem, bool pred) {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async16(smem, gmem, pred);
#elif __CUDA_ARCH__ >= 800
    const u32 s = smem_addr(smem);
    asm volatile(
        "{\n .reg .pred ignore;\n setp.eq.u32 ignore, %2, 0;\n"
        " cp.async.cg.shared.global [%0], [%1], 16, ignore;\n}\n" ::"r"(s),
        "l"(gmem), "r"((u32)pred));
#else
    *reinterpret_cast<float4*>(smem) =
        pred ? *reinterpret_cast<const float4*>(gmem) : make_float4(0.f, 0.f, 0.f, 0.f);
#endif
}
// A copy of RUN consecutive floats: 1 (4 bytes) or 4 (16 bytes, aligned).
template <int RUN>
__device__ __forceinline__ void cp_async_run(float* smem, const float* gmem, bool pred) {
    if constexpr (RUN == 4) cp_async16(smem, gmem, pred); else cp_async4(smem, gmem, pred);
}
__device__ __forceinline__ void cp_async_commit() {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async_commit();
#elif __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
__device__ __forceinline__ void cp_async_wait_prev() {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async_wait(1);
#elif __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 1;\n" ::);
#endif
}
// cp.async.wait_group N: all but the newest N committed groups have landed.
template <int N>
__device__ __forceinline__ void cp_async_wait_group() {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async_wait(N);
#elif __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if defined(SLIMMABLE_CUDA_ON_CPU)
    shim_cp_async_wait(0);
#elif __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 0;\n" ::);
#endif
}
