// Included after a kernel unit (kernels/*.cu) in the translation units
// build-fake-libcuda.sh generates: the unit's table of launchers for
// fake_libcuda.cpp. The build lists the unit's extern "C" kernels in
// FAKE_ENTRIES as FAKE_ENTRY(name, thread limit) FAKE_ENTRY(...) ...
#pragma once
#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <utility>

#include "fake_abi.h"

template <class... Args, size_t... I>
inline void fake_call(void (*kernel)(Args...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_reference_t<Args>*>(params[I])...);
}

// One launch: the arguments are read once, before the threads start (they
// are by-value kernel parameters; the driver copied them at cuLaunchKernel).
template <class... Args>
inline void fake_launch(void (*kernel)(Args...), FakeDim3 grid, FakeDim3 block, size_t dynamic_smem,
                        void** params) {
    // (shim_launch fills the window with NaN before each block: unwritten
    // shared memory reads as garbage on a GPU.)
    fake_dynamic_smem_launch_bytes = std::min(dynamic_smem, FAKE_DYNAMIC_SMEM_BYTES);
    // A planted fault for the test of the window's guard: a window
    // SLIMMABLE_FAKE_CUDA_SHARED_SHORTFALL bytes smaller than asked.
    static const size_t shortfall = [] {
        const char* planted = std::getenv("SLIMMABLE_FAKE_CUDA_SHARED_SHORTFALL");
        return planted ? size_t(std::strtoull(planted, nullptr, 10)) : size_t(0);
    }();
    fake_dynamic_smem_launch_bytes -= std::min(shortfall, fake_dynamic_smem_launch_bytes);
    shim_shared_window = reinterpret_cast<const char*>(fake_dynamic_smem_bytes());
    shim_shared_window_bytes = fake_dynamic_smem_launch_bytes;
    shim_launch({grid.x, grid.y, grid.z}, {block.x, block.y, block.z},
                [&] { fake_call(kernel, params, std::index_sequence_for<Args...>{}); });
}

template <class... Args>
constexpr unsigned fake_param_count(void (*)(Args...)) {
    return sizeof...(Args);
}
template <class... Args>
const unsigned* fake_param_bytes(void (*)(Args...)) {
    static const unsigned bytes[] = {unsigned(sizeof(std::remove_reference_t<Args>))..., 0u};
    return bytes;
}

#define FAKE_ENTRY(name, limit)                                                                        \
    {#name, [](FakeDim3 g, FakeDim3 b, size_t smem, void** p) { fake_launch(&name, g, b, smem, p); }, \
     unsigned(limit), fake_param_count(&name), fake_param_bytes(&name)},

extern "C" __attribute__((visibility("default"))) const FakeEntry* shim_unit_entries(size_t* count) {
    static const FakeEntry entries[] = {FAKE_ENTRIES};
    *count = sizeof(entries) / sizeof(entries[0]);
    return entries;
}
