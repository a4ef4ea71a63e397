// A planted fault for the libcuda stand-in's own test (fake_driver_check.cpp):
// a kernel whose bound test lets one thread write past the end of its
// buffer, which the guard page after every allocation must stop. Built into
// the stand-in only by that test, never into the crate's kernels.
typedef unsigned int u32;

extern "C" __global__ void slimmable_planted_overrun(float* y, u32 n) {
    const u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = 1.0f;  // planted: `<=` where `<` keeps inside y[0..n)
}
