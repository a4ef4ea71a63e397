// Runs CUDA C++ kernels that use block-level features (shared memory,
// __syncthreads, full-warp shuffles, the integer/float intrinsics below) on
// the CPU, one block at a time, each CUDA thread an OS thread, so that a
// kernel's indexing and tiling can be checked on a machine without a GPU
// (tests/cuda_kernels_on_cpu.rs). Not a performance tool, and not a
// substitute for running on the GPU: float contraction and rounding can
// differ, so results are compared with a tolerance.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#ifdef SHIM_FIBERS
#include "shim_fibers.h"
using ShimBarrier = ShimFiberBarrier;
#else
using ShimBarrier = std::barrier<>;
#endif

#define SLIMMABLE_CUDA_ON_CPU 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
// build-fake-libcuda.sh preprocesses the units with the bounds kept, to
// read each kernel's thread limit.
#ifndef SHIM_KEEP_LAUNCH_BOUNDS
#define __launch_bounds__(...)
#endif
#ifdef SHIM_FIBERS
// Static shared arrays go to one section, which the fiber launch fills with
// NaN before each launch (shim_poison_shared; the units are built with
// -fno-weak, or the arrays of inline functions would conflict with the rest).
#define __shared__ static __attribute__((section("shim_shared")))
#else
#define __shared__ static
#endif
#define __align__(n) __attribute__((aligned(n)))

struct ShimDim3 {
    unsigned x = 0, y = 0, z = 0;
};
inline thread_local ShimDim3 threadIdx, blockIdx;
inline ShimDim3 blockDim, gridDim;
inline ShimBarrier* shim_barrier = nullptr;

inline void __syncthreads() { shim_barrier->arrive_and_wait(); }

// atomicAdd on floats (blocks run one at a time, threads of a block race).
#include <atomic>
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }

// Warp shuffles: every lane of the warp must call them (full mask), as in
// CUDA's *_sync forms with 0xffffffff.
struct ShimWarp {
    ShimBarrier bar{32};
    uint64_t lanes[32];
    uint32_t frag[32][6];  // mma fragment registers of each lane
};
inline std::vector<ShimWarp>* shim_warps = nullptr;

template <class T>
inline T shim_shuffle(T v, unsigned (*source)(unsigned lane, unsigned arg), unsigned arg) {
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    const unsigned linear =
        threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    ShimWarp& w = (*shim_warps)[linear / 32];
    const unsigned lane = linear % 32;
    std::memcpy(&w.lanes[lane], &v, sizeof(T));
    w.bar.arrive_and_wait();
    const unsigned from = source(lane, arg);
    T r = v;
    if (from < 32) std::memcpy(&r, &w.lanes[from], sizeof(T));
    w.bar.arrive_and_wait();
    return r;
}
template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
    return shim_shuffle<T>(v, [](unsigned l, unsigned d) { return l + d; }, delta);
}
template <class T>
inline T __shfl_xor_sync(unsigned, T v, unsigned mask) {
    return shim_shuffle<T>(v, [](unsigned l, unsigned m) { return l ^ m; }, mask);
}
template <class T>
inline T __shfl_sync(unsigned, T v, int src_lane) {
    return shim_shuffle<T>(v, [](unsigned, unsigned s) { return s; }, (unsigned)src_lane);
}
// How many of the warp's lanes hold `pred` (each lane publishes its own,
// then reads all 32).
inline int shim_vote_count(int pred) {
    const unsigned linear =
        threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    ShimWarp& w = (*shim_warps)[linear / 32];
    w.lanes[linear % 32] = pred != 0;
    w.bar.arrive_and_wait();
    int count = 0;
    for (int l = 0; l < 32; ++l) count += w.lanes[l] != 0;
    w.bar.arrive_and_wait();
    return count;
}
inline int __all_sync(unsigned, int pred) { return shim_vote_count(pred) == 32; }
inline int __any_sync(unsigned, int pred) { return shim_vote_count(pred) > 0; }

// cvt.rna.tf32.f32: keep 10 mantissa bits, rounding to nearest, ties away
// from zero (finite inputs).
inline uint32_t to_tf32(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return (b + 0x1000u) & 0xFFFFE000u;
}

// One warp's m16n8k8 product with f32 accumulation, c += A·B, as mma.sync
// computes it: each lane publishes its fragment registers (`regs`, up to
// 6), then computes its own accumulators c0 (g, 2t), c1 (g, 2t+1),
// c2 (g+8, 2t), c3 (g+8, 2t+1) (g = lane / 4, t = lane % 4) from the
// warp's registers, read through `A(frag, r, k)` and `B(frag, k, n)`.
template <class FA, class FB>
inline void shim_mma_m16n8k8(float* c, const uint32_t* regs, int nregs, FA A, FB B) {
    const unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    ShimWarp& w = (*shim_warps)[linear / 32];
    const unsigned lane = linear % 32, g = lane / 4, t = lane % 4;
    for (int i = 0; i < nregs; ++i) w.frag[lane][i] = regs[i];
    w.bar.arrive_and_wait();
    float out[4];
    for (int i = 0; i < 4; ++i) {
        const unsigned r = g + (i >= 2 ? 8 : 0), n = 2 * t + (i % 2);
        float s = c[i];
        for (unsigned k = 0; k < 8; ++k) s = fmaf(A(w.frag, r, k), B(w.frag, k, n), s);
        out[i] = s;
    }
    w.bar.arrive_and_wait();  // every lane has read the fragments
    for (int i = 0; i < 4; ++i) c[i] = out[i];
}

using ShimFrags = uint32_t[32][6];

inline float shim_bits_to_float(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, with PTX's fragment
// layouts: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4) of A[16][8];
// b0 (k t, n g), b1 (k t+4, n g) of B[8][8]. The tensor cores read the
// top 19 bits of each operand register (sign, exponent, 10 mantissa
// bits): NVRTC compiles cvt.rna.tf32.f32 to an add of half a TF32 unit
// with no mask, so an f32 register passed as it is is truncated toward
// zero. So are they here.
inline void mma_tf32_m16n8k8(float* c, const uint32_t* a, const uint32_t* b) {
    const uint32_t regs[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
    auto tf32 = [](uint32_t bits) { return shim_bits_to_float(bits & 0xFFFFE000u); };
    shim_mma_m16n8k8(
        c, regs, 6,
        [&](const ShimFrags& f, unsigned r, unsigned k) {
            return tf32(f[(r % 8) * 4 + k % 4][(r >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)]);
        },
        [&](const ShimFrags& f, unsigned k, unsigned n) {
            return tf32(f[n * 4 + k % 4][4 + (k >= 4 ? 1 : 0)]);
        });
}

// ldmatrix.sync.aligned.m8n8.x4.shared.b16 read as 32-bit words
// (kernels/conv_gemm.cuh ldmatrix_x4): lane l gives the address of row
// l % 8 of matrix l / 8, which must be 16-byte aligned; each lane gets, of
// matrix j, the word at row lane / 4, column lane % 4.
inline void ldmatrix_x4(uint32_t* r, const float* row) {
    const unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    ShimWarp& w = (*shim_warps)[linear / 32];
    const unsigned lane = linear % 32;
    if (reinterpret_cast<uintptr_t>(row) % 16) {
        std::fprintf(stderr, "ldmatrix_x4: misaligned row address\n");
        std::abort();
    }
    w.lanes[lane] = reinterpret_cast<uintptr_t>(row);
    w.bar.arrive_and_wait();
    for (unsigned j = 0; j < 4; ++j) {
        const float* src = reinterpret_cast<const float*>(w.lanes[j * 8 + lane / 4]);
        std::memcpy(&r[j], src + lane % 4, 4);
    }
    w.bar.arrive_and_wait();  // every lane has read the addresses
}

// cvt.rn.bf16x2.f32: two floats to bfloat16 (nearest, ties to even; finite
// inputs), `lo` in the low half.
inline uint32_t pack_bf16x2(float lo, float hi) {
    auto bf16 = [](float f) {
        uint32_t b;
        std::memcpy(&b, &f, 4);
        return (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    };
    return bf16(lo) | (bf16(hi) << 16);
}

// mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32: a0 holds A[g][2t],
// A[g][2t+1] (low half first), a1 the same of row g+8; b holds B[2t][g],
// B[2t+1][g].
inline void mma_bf16_m16n8k8(float* c, const uint32_t* a, uint32_t b) {
    const uint32_t regs[3] = {a[0], a[1], b};
    auto half = [](uint32_t reg, unsigned which) {
        return shim_bits_to_float((which ? reg >> 16 : reg & 0xFFFFu) << 16);
    };
    shim_mma_m16n8k8(
        c, regs, 3,
        [&](const ShimFrags& f, unsigned r, unsigned k) {
            return half(f[(r % 8) * 4 + k / 2][r >= 8 ? 1 : 0], k % 2);
        },
        [&](const ShimFrags& f, unsigned k, unsigned n) { return half(f[n * 4 + k / 2][2], k % 2); });
}

// Aligned as CUDA's vector types are (a misaligned vector access faults
// on a GPU; the drivers are built with -fsanitize=alignment, so it stops
// them here too).
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};

// cp.async as the hardware is allowed to do it (kernels/cp_async.cuh):
// a copy's destination is undefined from its issue until a
// cp.async.wait_group covers the copy's committed group, and only then
// (and, for other threads, after a barrier) holds the source. So each copy
// writes a poison pattern into its destination at issue (the earliest the
// hardware may write there; a NaN as a float, bytes AD DB BA 7F as u8
// pixels) and the source's value only when a wait retires its group (the
// latest it may land). A kernel that reads a staged tile before waiting
// for it, waits on a group it never committed, or issues the next tile's
// copies into a buffer other warps still read, then computes with the
// poison and fails its check, instead of passing here because the copy
// was done at once. The source is read at issue (it is an input, never
// written during the kernel).
struct ShimCopy {
    float* dst;
    float value[4];
    int count;
};
struct ShimCopies {
    std::vector<ShimCopy> open;                   // issued since the last commit
    std::vector<std::vector<ShimCopy>> committed; // oldest first
};
inline thread_local ShimCopies shim_copies;
constexpr uint32_t SHIM_COPY_POISON = 0x7FBADBADu;

inline void shim_cp_async(float* smem, const float* gmem, int count, bool pred) {
    ShimCopy c{smem, {}, count};
    for (int i = 0; i < count; ++i) {
        c.value[i] = pred ? gmem[i] : 0.f;
        std::memcpy(&smem[i], &SHIM_COPY_POISON, 4);
    }
    shim_copies.open.push_back(c);
}
inline void shim_cp_async_commit() {
    shim_copies.committed.push_back(std::move(shim_copies.open));
    shim_copies.open.clear();
}
// cp.async.wait_group keep: every committed group but the newest `keep` lands.
inline void shim_cp_async_wait(size_t keep) {
    auto& groups = shim_copies.committed;
    const size_t landing = groups.size() > keep ? groups.size() - keep : 0;
    for (size_t g = 0; g < landing; ++g)
        for (const ShimCopy& c : groups[g])
            for (int i = 0; i < c.count; ++i) c.dst[i] = c.value[i];
    groups.erase(groups.begin(), groups.begin() + landing);
}
// A block's copies never waited for are dropped with the block (their
// destinations keep the poison: the next block must stage its own).
inline void shim_cp_async_block_end() {
    shim_copies.open.clear();
    shim_copies.committed.clear();
}

// cp.async of 16 bytes (cp_async16): both addresses must be 16-byte
// aligned, as the hardware requires (the case buffers are std::vectors,
// 16-byte aligned by the allocator), so a gather off its 4-element grid
// fails here too.
inline void shim_cp_async16(float* smem, const float* gmem, bool pred) {
    if ((reinterpret_cast<uintptr_t>(smem) | (pred ? reinterpret_cast<uintptr_t>(gmem) : 0)) % 16) {
        std::fprintf(stderr, "cp_async16: misaligned %s address\n",
                     reinterpret_cast<uintptr_t>(smem) % 16 ? "shared" : "global");
        std::abort();
    }
    shim_cp_async(smem, gmem, 4, pred);
}
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct int4 {
    int x, y, z, w;
};
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

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
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
#include <cstdlib>

// wgmma.mma_async (kernels/wgmma.cuh) as the hardware may run it: a
// wgmma reads its shared-memory operands and updates its accumulators at
// any time between its issue and the wgmma.wait_group that retires its
// batch. So each is queued at issue and computed only when a wait retires
// its batch (the latest it may run): a kernel that reads the accumulators
// before waiting, or refills a stage a wgmma in flight still reads, sees
// stale accumulators or the next tile's copies (cp.async poison) and
// fails its check. Descriptors are decoded from their bits, as the
// hardware would: start address, leading (k) and stride (row) byte
// offsets into the block's shared window (shim_shared_window, the
// dynamic shared buffer the driver registers); only the no-swizzle layout
// with base offset 0 (anything else aborts).
struct ShimWgmma {
    float* d;
    uint64_t desc_a, desc_b;
};
struct ShimWgmmas {
    std::vector<ShimWgmma> open;
    std::vector<std::vector<ShimWgmma>> committed;  // oldest first
};
inline thread_local ShimWgmmas shim_wgmmas;
inline const char* shim_shared_window = nullptr;
inline size_t shim_shared_window_bytes = 0;
// Reads each descriptor with its leading and stride byte offsets swapped:
// a hardware that took them the other way round. The harness runs the
// wgmma twins so once to show their check depends on the offsets' roles.
inline bool shim_wgmma_offsets_swapped = false;

inline uint32_t wgmma_smem_addr(const float* p) {
    const char* c = reinterpret_cast<const char*>(p);
    if (!shim_shared_window || c < shim_shared_window ||
        c >= shim_shared_window + shim_shared_window_bytes) {
        std::fprintf(stderr, "wgmma: descriptor address outside the registered shared window\n");
        std::abort();
    }
    return uint32_t(c - shim_shared_window);
}
inline void fence_proxy_async_shared() {}
inline void wgmma_fence() {}
inline void wgmma_pin(float&) {}
inline void wgmma_m64n128k8_tf32(float* d, uint64_t desc_a, uint64_t desc_b) {
    shim_wgmmas.open.push_back({d, desc_a, desc_b});
}
inline void wgmma_commit() {
    shim_wgmmas.committed.push_back(std::move(shim_wgmmas.open));
    shim_wgmmas.open.clear();
}
// Element (row, k) of a K-major no-swizzle operand, as TF32 (top 19 bits).
inline float shim_wgmma_operand(uint64_t desc, unsigned row, unsigned k) {
    const unsigned layout = unsigned(desc >> 62), base_offset = unsigned(desc >> 49) & 7u;
    if (layout != 0 || base_offset != 0) {
        std::fprintf(stderr, "wgmma: only the no-swizzle layout with base offset 0 is emulated\n");
        std::abort();
    }
    size_t start = size_t(desc & 0x3FFFu) << 4, lbo = size_t((desc >> 16) & 0x3FFFu) << 4,
           sbo = size_t((desc >> 32) & 0x3FFFu) << 4;
    if (shim_wgmma_offsets_swapped) std::swap(lbo, sbo);
    const size_t at = start + (row / 8) * sbo + (k / 4) * lbo + (row % 8) * 16 + (k % 4) * 4;
    if (at + 4 > shim_shared_window_bytes) {
        std::fprintf(stderr, "wgmma: operand read past the shared window\n");
        std::abort();
    }
    uint32_t bits;
    std::memcpy(&bits, shim_shared_window + at, 4);
    return shim_bits_to_float(bits & 0xFFFFE000u);
}
// wgmma.wait_group N: every committed batch but the newest N runs, each
// thread computing its own accumulators (m64n128k8: warp w of the
// warpgroup, lane l holds D[16 w + l / 4 + 8 h][8 j + 2 (l % 4) + c] in
// d[4 j + 2 h + c]).
template <int N>
inline void wgmma_wait() {
    const unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned w = (linear / 32) % 4, lane = linear % 32;
    auto& groups = shim_wgmmas.committed;
    const size_t running = groups.size() > size_t(N) ? groups.size() - N : 0;
    for (size_t g = 0; g < running; ++g)
        for (const ShimWgmma& op : groups[g])
            for (unsigned j = 0; j < 16; ++j)
                for (unsigned h = 0; h < 2; ++h)
                    for (unsigned c = 0; c < 2; ++c) {
                        const unsigned r = 16 * w + lane / 4 + 8 * h, n = 8 * j + 2 * (lane % 4) + c;
                        float& acc = op.d[4 * j + 2 * h + c];
                        for (unsigned k = 0; k < 8; ++k)
                            acc = fmaf(shim_wgmma_operand(op.desc_a, r, k),
                                       shim_wgmma_operand(op.desc_b, n, k), acc);
                    }
    groups.erase(groups.begin(), groups.begin() + running);
}
inline void shim_wgmma_block_end() {
    shim_wgmmas.open.clear();
    shim_wgmmas.committed.clear();
}

// Runs `kernel` over a `grid` of blocks of `block` threads (x fastest, as
// CUDA numbers them; warps are consecutive runs of 32 in that order). A
// thread must not return before a __syncthreads the rest of its block
// reaches (each block ends on the same barrier).
#ifdef SHIM_FIBERS
// The bounds of this library's static shared arrays (the linker defines
// them for the section __shared__ names).
extern "C" char __start_shim_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_shim_shared[] __attribute__((weak, visibility("hidden")));

// Shared memory as a GPU hands it to a block, holding whatever was there
// before: NaN here (all bits set), so a read of a value no thread of the
// block wrote shows in the results. The static arrays are filled once a
// launch (all of a unit's kernels share one section, about 100 KiB in the
// conv unit: filling it before every block of every launch would cost more
// than most blocks' work); the launch's dynamic window before every block.
inline void shim_poison_shared(bool whole_launch) {
    if (whole_launch && __start_shim_shared != __stop_shim_shared)
        std::memset(__start_shim_shared, 0xFF, size_t(__stop_shim_shared - __start_shim_shared));
    if (shim_shared_window && shim_shared_window_bytes)
        std::memset(const_cast<char*>(shim_shared_window), 0xFF, shim_shared_window_bytes);
}
#endif

#ifndef SHIM_FIBERS
inline void shim_launch(ShimDim3 grid, ShimDim3 block, const std::function<void()>& kernel) {
    const unsigned threads = block.x * block.y * block.z;
    std::barrier<> bar(threads);
    shim_barrier = &bar;
    std::vector<ShimWarp> warps((threads + 31) / 32);
    shim_warps = &warps;
    blockDim = block;
    gridDim = grid;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            for (unsigned bz = 0; bz < grid.z; ++bz)
                for (unsigned by = 0; by < grid.y; ++by)
                    for (unsigned bx = 0; bx < grid.x; ++bx) {
                        blockIdx = {bx, by, bz};
                        kernel();
                        shim_cp_async_block_end();
                        shim_wgmma_block_end();
                        bar.arrive_and_wait();  // shared memory is reused by the next block
                    }
        });
    }
    for (auto& th : pool) th.join();
    shim_barrier = nullptr;
    shim_warps = nullptr;
}
#else
// The same with each thread a fiber (shim_fibers.h): a block's fibers run in
// thread order, each until it waits at a barrier or ends, round after
// round, until all have ended; a round in which none arrives anywhere is a
// deadlock (a barrier some threads never reach) and aborts with a message.
// SLIMMABLE_FAKE_CUDA_ORDER=reverse runs each round in reverse thread
// order, =shuffle:SEED in a fresh random order each round: a read that a
// missing barrier leaves racing a write of another thread sees the old
// value (NaN in fresh shared memory) in one order or the other.
// The per-thread state cuda_shim.h keeps in thread_locals (threadIdx, the
// cp.async and wgmma queues) is swapped in and out with each fiber.
inline void shim_launch(ShimDim3 grid, ShimDim3 block, const std::function<void()>& kernel) {
    const unsigned threads = block.x * block.y * block.z;
    ShimBarrier bar(threads);
    shim_barrier = &bar;
    std::vector<ShimWarp> warps((threads + 31) / 32);
    shim_warps = &warps;
    blockDim = block;
    gridDim = grid;
    shim_fiber_reserve(threads);
    shim_fibers.sp.assign(threads, nullptr);
    shim_fibers.done.assign(threads, 0);
    shim_fibers.body = [&] {
        kernel();
        shim_cp_async_block_end();
        shim_wgmma_block_end();
        bar.arrive_and_wait();  // as the threaded launch: the block ends on a barrier
    };
    std::vector<ShimCopies> copies(threads);
    std::vector<ShimWgmmas> wgmmas(threads);
    std::vector<unsigned> order(threads);
    for (unsigned t = 0; t < threads; ++t) order[t] = t;
    const ShimFiberOrder& how = shim_fiber_order();
    if (how.reverse) std::reverse(order.begin(), order.end());
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx = {bx, by, bz};
                shim_poison_shared(bx == 0 && by == 0 && bz == 0);
                for (unsigned t = 0; t < threads; ++t) {
                    shim_fibers.sp[t] = shim_fiber_stack(t);
                    shim_fibers.done[t] = 0;
                }
                unsigned running = threads;
                while (running > 0) {
                    const uint64_t before = shim_fibers.progress;
                    if (how.shuffle) std::shuffle(order.begin(), order.end(), shim_fiber_order_rng());
                    for (const unsigned t : order) {
                        if (shim_fibers.done[t]) continue;
                        shim_fibers.current = t;
                        threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                        std::swap(shim_copies, copies[t]);
                        std::swap(shim_wgmmas, wgmmas[t]);
                        shim_fiber_switch(&shim_fibers.scheduler_sp, shim_fibers.sp[t]);
                        std::swap(shim_copies, copies[t]);
                        std::swap(shim_wgmmas, wgmmas[t]);
                        running -= shim_fibers.done[t];
                    }
                    if (running > 0 && shim_fibers.progress == before) {
                        std::fprintf(stderr,
                                     "cuda shim: block (%u,%u,%u) deadlocked: %u threads wait at a barrier "
                                     "the others never reach\n",
                                     bx, by, bz, running);
                        std::abort();
                    }
                }
            }
    shim_barrier = nullptr;
    shim_warps = nullptr;
}
#endif

// 1-D blocks; blockIdx.y walks `blocks_y` rows of the grid.
inline void shim_launch(unsigned blocks, unsigned threads, const std::function<void()>& kernel,
                        unsigned blocks_y = 1) {
    shim_launch({blocks, blocks_y, 1}, {threads, 1, 1}, kernel);
}
