// slimmable: fused SGD step (PyTorch semantics: d = g + wd·p; first step
// buf = d, then buf = m·buf + d; Nesterov steps by d + m·buf, else by buf;
// p -= lr·step). One grid-stride launch per parameter buffer; momentum 0
// leaves the buffer untouched.
#include "common.cuh"

extern "C" __global__ void slimmable_sgd_step_f32(float* __restrict__ param,
                                                  const float* __restrict__ grad,
                                                  float* __restrict__ buf, SgdParams p) {
    for (u32 t = blockIdx.x * blockDim.x + threadIdx.x; t < p.len; t += gridDim.x * blockDim.x) {
        const u32 i = p.offset + t;
        const float w = param[i];
        const float d = grad[i] + p.weight_decay * w;
        float step = d;
        if (p.momentum != 0.0f) {
            const float b = (p.flags & 2u) ? d : p.momentum * buf[i] + d;
            buf[i] = b;
            step = (p.flags & 1u) ? d + p.momentum * b : b;
        }
        param[i] = w - p.lr * step;
    }
}
