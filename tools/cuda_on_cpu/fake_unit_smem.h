// Included before a kernel unit in the fake driver's unit libraries: the
// dynamic shared memory that the units' kernels ask for through these
// helpers (extern __shared__ on a GPU), one buffer a library (one block
// runs at a time, one launch at a time).
#pragma once
#include "fake_abi.h"

inline unsigned char* fake_dynamic_smem_bytes() {
    alignas(128) static unsigned char buf[FAKE_DYNAMIC_SMEM_BYTES];
    return buf;
}
inline float* ldsm_dynamic_smem() { return reinterpret_cast<float*>(fake_dynamic_smem_bytes()); }
inline float* bn_dynamic_smem() { return reinterpret_cast<float*>(fake_dynamic_smem_bytes()); }
