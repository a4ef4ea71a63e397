// Cooperative fibers for cuda_shim.h, on when SHIM_FIBERS is defined (the
// fake driver's unit libraries, build-fake-libcuda.sh): each CUDA thread of
// a block is a fiber on the launching OS thread, and a barrier switches to
// the next fiber instead of waking OS threads. A 256-thread __syncthreads
// then costs a few microseconds instead of about a millisecond of context
// switches on a 2-core machine, which is what makes whole training steps
// runnable. The interleaving is fixed (fibers in thread order, each until
// it waits; reversed or shuffled each round on request, see shim_launch),
// where OS threads interleave at random: the checks of
// tests/cuda_kernels_on_cpu.rs keep OS threads.
//
// x86-64 System V only: the switch saves the callee-saved registers and
// the SSE and x87 control words, nothing else.
#pragma once
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#if !defined(__x86_64__)
#error "SHIM_FIBERS needs x86-64; build without it to run each CUDA thread as an OS thread"
#endif

// Saves the current stack pointer in *save_sp and continues on next_sp (a
// stack this function left, or one prepared by shim_fiber_stack).
extern "C" void shim_fiber_switch(void** save_sp, void* next_sp);
asm(R"(
    .text
    .globl shim_fiber_switch
    .hidden shim_fiber_switch
    .type shim_fiber_switch, @function
shim_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size shim_fiber_switch, .-shim_fiber_switch
)");

struct ShimFibers {
    void* scheduler_sp = nullptr;
    std::vector<void*> sp;  // each fiber's saved stack pointer
    std::vector<char> done;
    unsigned current = 0;
    uint64_t progress = 0;  // barrier arrivals and finished fibers
    std::function<void()> body;
    char* stacks = nullptr;
    size_t stack_count = 0;
};
inline ShimFibers shim_fibers;  // one launch at a time (the fake driver serialises them)
constexpr size_t SHIM_FIBER_STACK = 256 * 1024;

inline void shim_fiber_yield() {
    shim_fiber_switch(&shim_fibers.sp[shim_fibers.current], shim_fibers.scheduler_sp);
}

[[noreturn]] inline void shim_fiber_entry() {
    const unsigned me = shim_fibers.current;
    shim_fibers.body();
    shim_fibers.done[me] = 1;
    ++shim_fibers.progress;
    shim_fiber_switch(&shim_fibers.sp[me], shim_fibers.scheduler_sp);
    std::abort();  // a finished fiber is never resumed
}

// Stacks for `count` fibers (kept and reused; each with a guard page below
// it, so an overflow faults instead of corrupting its neighbour).
inline void shim_fiber_reserve(size_t count) {
    if (count <= shim_fibers.stack_count) return;
    if (shim_fibers.stacks) munmap(shim_fibers.stacks, shim_fibers.stack_count * SHIM_FIBER_STACK);
    void* mem = mmap(nullptr, count * SHIM_FIBER_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        std::fprintf(stderr, "shim fibers: cannot map %zu stacks\n", count);
        std::abort();
    }
    shim_fibers.stacks = static_cast<char*>(mem);
    shim_fibers.stack_count = count;
    for (size_t i = 0; i < count; ++i) mprotect(shim_fibers.stacks + i * SHIM_FIBER_STACK, 4096, PROT_NONE);
}

// Fiber `i`'s stack, laid out as shim_fiber_switch leaves one: control
// words, six registers, then shim_fiber_entry as the return address, with
// the stack pointer at entry 8 past a 16-byte boundary, as after a call.
inline void* shim_fiber_stack(size_t i) {
    char* top = shim_fibers.stacks + (i + 1) * SHIM_FIBER_STACK;
    auto* sp = reinterpret_cast<uint64_t*>(top - 72);
    const uint32_t mxcsr = 0x1F80;
    const uint16_t x87 = 0x037F;
    std::memcpy(&sp[0], &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(&sp[0]) + 4, &x87, 2);
    for (int r = 1; r <= 6; ++r) sp[r] = 0;
    sp[7] = reinterpret_cast<uint64_t>(&shim_fiber_entry);
    return sp;
}

// The order fibers run in each round (SLIMMABLE_FAKE_CUDA_ORDER, read
// once): thread order by default, `reverse`, or `shuffle:SEED`.
struct ShimFiberOrder {
    bool reverse = false, shuffle = false;
    uint64_t seed = 0;
};
inline const ShimFiberOrder& shim_fiber_order() {
    static const ShimFiberOrder order = [] {
        ShimFiberOrder o;
        const char* text = std::getenv("SLIMMABLE_FAKE_CUDA_ORDER");
        if (!text || !*text) return o;
        if (std::strcmp(text, "reverse") == 0) {
            o.reverse = true;
        } else if (std::strncmp(text, "shuffle:", 8) == 0) {
            o.shuffle = true;
            o.seed = std::strtoull(text + 8, nullptr, 10);
        } else {
            std::fprintf(stderr, "cuda shim: SLIMMABLE_FAKE_CUDA_ORDER=%s: expected reverse or shuffle:SEED\n", text);
            std::abort();
        }
        return o;
    }();
    return order;
}
inline std::mt19937_64& shim_fiber_order_rng() {
    static std::mt19937_64 rng(shim_fiber_order().seed);
    return rng;
}

// std::barrier's arrive_and_wait for fibers: the last to arrive goes on,
// the others yield until its arrival ends their phase.
struct ShimFiberBarrier {
    explicit ShimFiberBarrier(ptrdiff_t n) : expected(n) {}
    void arrive_and_wait() {
        const uint64_t phase = generation;
        ++shim_fibers.progress;
        if (++arrived == expected) {
            arrived = 0;
            ++generation;
            return;
        }
        while (generation == phase) shim_fiber_yield();
    }
    ptrdiff_t expected, arrived = 0;
    uint64_t generation = 0;
};
