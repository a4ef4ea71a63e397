// slimmable: fused SGD step (PyTorch semantics: d = g + wd·p; first step
// buf = d, then buf = m·buf + d; Nesterov steps by d + m·buf, else by buf;
// p -= lr·step). Momentum 0 leaves the buffer untouched. With ZERO_GRAD the
// gradient is cleared once read, so the next step's backward passes
// accumulate from zero without a fill launch per parameter.
#include "common.cuh"

#define SGD_NESTEROV 1u
#define SGD_FIRST_STEP 2u
#define SGD_ZERO_GRAD 4u
// Elements of one parameter per block of the multi-tensor kernel
// (SGD_MANY_CHUNK in src/params.rs).
#define SGD_MANY_CHUNK 4096u

__device__ __forceinline__ void sgd_update(float* __restrict__ param, float* __restrict__ grad,
                                           float* __restrict__ buf, u32 i, float lr,
                                           float momentum, float weight_decay, u32 flags) {
    const float w = param[i];
    const float d = grad[i] + weight_decay * w;
    if (flags & SGD_ZERO_GRAD) grad[i] = 0.0f;
    float step = d;
    if (momentum != 0.0f) {
        const float b = (flags & SGD_FIRST_STEP) ? d : momentum * buf[i] + d;
        buf[i] = b;
        step = (flags & SGD_NESTEROV) ? d + momentum * b : b;
    }
    param[i] = w - lr * step;
}

// One parameter range, grid-stride.
extern "C" __global__ void slimmable_sgd_step_f32(float* __restrict__ param,
                                                  float* __restrict__ grad,
                                                  float* __restrict__ buf, SgdParams p) {
    for (u32 t = blockIdx.x * blockDim.x + threadIdx.x; t < p.len; t += gridDim.x * blockDim.x) {
        sgd_update(param, grad, buf, p.offset + t, p.lr, p.momentum, p.weight_decay, p.flags);
    }
}

// Every parameter of a network in one launch: block b updates chunk
// b - first_block of the table entry whose blocks hold b (entries sorted by
// first_block, found by binary search; every thread of a block reads the
// same entries, so the loads are broadcasts).
extern "C" __global__ void slimmable_sgd_many_f32(const SgdSlotEntry* __restrict__ table,
                                                  SgdManyParams p) {
    u32 lo = 0, hi = p.count;  // the entry is the last with first_block <= b
    while (hi - lo > 1) {
        const u32 mid = (lo + hi) / 2;
        if (table[mid].first_block <= blockIdx.x) lo = mid;
        else hi = mid;
    }
    const SgdSlotEntry e = table[lo];
    const u32 begin = (blockIdx.x - e.first_block) * SGD_MANY_CHUNK;
    // Counted from `begin` so that nothing wraps near len = 2^32 - 1.
    const u32 count = min(e.len - begin, SGD_MANY_CHUNK);
    float* param = reinterpret_cast<float*>(e.param);
    float* grad = reinterpret_cast<float*>(e.grad);
    float* buf = reinterpret_cast<float*>(e.momentum);
    for (u32 k = threadIdx.x; k < count; k += blockDim.x) {
        sgd_update(param, grad, buf, begin + k, p.lr, p.momentum, e.weight_decay, p.flags);
    }
}
