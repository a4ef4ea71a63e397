// Included before a kernel unit in the fake driver's unit libraries: the
// dynamic shared memory that the units' kernels ask for through these
// helpers (extern __shared__ on a GPU), one buffer a library (one block
// runs at a time, one launch at a time). A launch's window ends where an
// inaccessible range as large as the buffer begins, so a kernel reading or
// writing past the dynamic shared memory its launch asked for stops at
// once, as a GPU stops it with an out-of-range shared address. (The window
// starts 128-byte aligned: up to 127 bytes past an odd size go unseen.)
#pragma once
#include <cstdio>
#include <cstdlib>

#include "fake_abi.h"
#include "guarded_memory.h"

// The current launch's dynamic shared memory in bytes (fake_unit.h sets it).
inline size_t fake_dynamic_smem_launch_bytes = 0;

// The end of the buffer: the first byte of its guard, as large as the
// buffer, so that no access past a window can reach other memory.
inline unsigned char* fake_dynamic_smem_end() {
    static unsigned char* end = [] {
        const size_t page = page_size();
        GuardedMapping mapping;
        auto* data = static_cast<unsigned char*>(
            guarded_alloc(FAKE_DYNAMIC_SMEM_BYTES, (FAKE_DYNAMIC_SMEM_BYTES + page - 1) / page * page, &mapping));
        if (!data) {
            std::perror("fake libcuda: dynamic shared memory");
            std::abort();
        }
        return data + FAKE_DYNAMIC_SMEM_BYTES;  // a multiple of 256: the guard's first byte
    }();
    return end;
}
inline unsigned char* fake_dynamic_smem_bytes() {
    return fake_dynamic_smem_end() - (fake_dynamic_smem_launch_bytes + 127) / 128 * 128;
}
inline float* ldsm_dynamic_smem() { return reinterpret_cast<float*>(fake_dynamic_smem_bytes()); }
inline float* bn_dynamic_smem() { return reinterpret_cast<float*>(fake_dynamic_smem_bytes()); }
