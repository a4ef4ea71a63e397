// Runs CUDA C++ kernels that use only block-level features (shared memory,
// __syncthreads, the integer/float intrinsics below; no warp shuffles) on
// the CPU, one block at a time, each CUDA thread an OS thread, so that a
// kernel's indexing and tiling can be checked on a machine without a GPU
// (tests/cuda_kernels_on_cpu.rs). Not a performance tool, and not a
// substitute for running on the GPU: float contraction and rounding can
// differ, so results are compared with a tolerance.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
#define __shared__ static

struct ShimDim3 {
    unsigned x = 0, y = 0, z = 0;
};
inline thread_local ShimDim3 threadIdx, blockIdx;
inline ShimDim3 blockDim, gridDim;
inline std::barrier<>* shim_barrier = nullptr;

inline void __syncthreads() { shim_barrier->arrive_and_wait(); }

template <class T>
inline T __ldg(const T* p) { return *p; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned sh) {
    const uint64_t v = (uint64_t(hi) << 32) | lo;
    return unsigned(v >> (sh & 31u));
}
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const uint64_t v = (uint64_t(y) << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned sel = (s >> (4 * i)) & 7u;
        r |= unsigned((v >> (8 * sel)) & 0xFFu) << (8 * i);
    }
    return r;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
#include <cstdlib>

// Runs `kernel` over a 1-D grid of `blocks` blocks of `threads` threads.
inline void shim_launch(unsigned blocks, unsigned threads, const std::function<void()>& kernel) {
    std::barrier<> bar(threads);
    shim_barrier = &bar;
    blockDim = {threads, 1, 1};
    gridDim = {blocks, 1, 1};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            threadIdx = {t, 0, 0};
            for (unsigned b = 0; b < blocks; ++b) {
                blockIdx = {b, 0, 0};
                kernel();
                bar.arrive_and_wait();  // the block's shared memory is reused by the next
            }
        });
    }
    for (auto& th : pool) th.join();
    shim_barrier = nullptr;
}
