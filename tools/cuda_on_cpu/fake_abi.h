// What the CPU stand-in for the CUDA driver (fake_libcuda.cpp) and the
// kernel units it loads (fake_unit.h) agree on: a unit library exports
// shim_unit_entries(), the table of its kernels, each with a launcher that
// unpacks cuLaunchKernel's argument array into the kernel's parameters.
#pragma once
#include <cstddef>

struct FakeDim3 {
    unsigned x, y, z;
};

// Runs every block of `grid` (one at a time, each CUDA thread an OS thread)
// with `dynamic_smem` bytes of dynamic shared memory; `params[i]` points at
// the i-th kernel argument, as for cuLaunchKernel.
using FakeLauncher = void (*)(FakeDim3 grid, FakeDim3 block, size_t dynamic_smem, void** params);

struct FakeEntry {
    const char* name;
    FakeLauncher launch;
    unsigned max_threads;  // the kernel's __launch_bounds__, else 1024
    unsigned param_count;
    const unsigned* param_bytes;  // each parameter's size, for the driver's copy at launch
};

// Dynamic shared memory a unit library holds for its kernels (the most any
// launch may ask for: an H200 block's opt-in maximum).
constexpr size_t FAKE_DYNAMIC_SMEM_BYTES = 227 * 1024;

extern "C" using FakeUnitEntries = const FakeEntry* (*)(size_t* count);
