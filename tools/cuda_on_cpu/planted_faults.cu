// Planted faults for the libcuda stand-in's own test (fake_driver_check.cpp),
// built into the stand-in only by that test, never into the crate's kernels.
typedef unsigned int u32;

// A bound test that lets one thread write past the end of y: the guard
// after every allocation must stop it.
extern "C" __global__ void slimmable_planted_overrun(float* y, u32 n) {
    const u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = 1.0f;  // planted: `<=` where `<` keeps inside y[0..n)
}

// A missing barrier: each thread reads its lower neighbour's staged value
// without waiting for it (one block of at most 128 threads). Run in thread
// order, every neighbour has written first and the race goes unseen;
// SLIMMABLE_FAKE_CUDA_ORDER=reverse shows it.
extern "C" __global__ void slimmable_planted_race(const float* x, float* y) {
    __shared__ float staged[128];
    const u32 t = threadIdx.x;
    staged[t] = x[t];
    // planted: __syncthreads() belongs here
    y[t] = t > 0 ? staged[t - 1] : staged[0];
}

// A read of shared memory no thread of the block wrote: the last thread
// stages nothing and reads its own slot anyway. On a GPU it reads what an
// earlier block left; the stand-in fills shared memory with NaN first.
extern "C" __global__ void slimmable_planted_unwritten(const float* x, float* y) {
    __shared__ float staged[128];
    const u32 t = threadIdx.x;
    if (t + 1 < blockDim.x) staged[t] = x[t];  // planted: the last slot stays unwritten
    __syncthreads();
    y[t] = staged[t];
}
