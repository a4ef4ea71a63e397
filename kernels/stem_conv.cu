// slimmable: the stem, a dense 3x3 conv on few input channels (the image:
// up to STEM_MAX_IC = 3), stride 1 or 2, forward and weight gradient, as
// direct convolutions.
//
// As an implicit GEMM the stem has K = ic·9 = 27 and N = oc ≤ 32: most of a
// tensor-core tile is padding and the wgrad's 800k-pixel reduction runs on
// one output tile (H200, 64×3×224² → 32: forward TF32 0.151 ms against
// cuDNN's 0.114, wgrad 0.27 ms). Here every product is exact f32:
//   forward: a thread per output pixel, its ic·9 input taps in registers
//     from a shared-memory window, the weights in shared memory read by all
//     threads at once (broadcast), output channels in runs of STEM_OC_RUN;
//   wgrad: a lane per output channel (up to 32), a tile's pixels split
//     among the block's warps; each pixel's ic·9 taps are broadcast
//     reads, dy a conflict-free read; the block's warps add up in shared
//     memory and the block adds one atomic per weight, after a grid-stride
//     walk over many tiles (so atomics stay few).
// Stride 1 or 2 (the window is sized for 2), any padding; views with any
// strides (channel slices).
#include "common.cuh"
#include "conv_common.cuh"

#define STEM_MAX_IC 3  // (4 would put the wgrad past 48 KiB of shared memory)
#define STEM_TAPS (STEM_MAX_IC * 9)
#define STEM_TW 32  // output tile: STEM_TW x STEM_TH pixels, a thread each
#define STEM_TH 8
#define STEM_THREADS (STEM_TW * STEM_TH)
#define STEM_MAX_S 2  // the window below is sized for strides up to 2
#define STEM_WIN_H ((STEM_TH - 1) * STEM_MAX_S + 3)
#define STEM_WIN_W ((STEM_TW - 1) * STEM_MAX_S + 3)
#define STEM_OC_RUN 16   // forward: output channels a thread accumulates at once
#define STEM_MAX_OC 64   // forward: weights held in shared memory
#define STEM_WG_OC 32    // wgrad: output channels, a lane each

// Stages the input window of the output tile at (ho0, wo0) of image n:
// win[i][r][q] = x(n, i, ho0·s − ph + r, wo0·s − pw + q), zero outside.
__device__ __forceinline__ void stem_stage(float (*win)[STEM_WIN_H][STEM_WIN_W],
                                           const float* __restrict__ x, const Conv2dParams& p,
                                           const Geom& g, int n, int ho0, int wo0) {
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    const int rows = (STEM_TH - 1) * g.sh + 3, cols = (STEM_TW - 1) * g.sw + 3;
    for (int e = threadIdx.x; e < g.ic * rows * cols; e += STEM_THREADS) {
        const int q = e % cols, t = e / cols, r = t % rows, i = t / rows;
        const int hi = hi0 + r, wi = wi0 + q;
        const bool ok = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
        win[i][r][q] = ok ? x[at(p.x, n, i, hi, wi)] : 0.f;
    }
}

// Forward. Grid (ceil(wo / STEM_TW), ceil(ho / STEM_TH), N), STEM_THREADS.
extern "C" __global__ void __launch_bounds__(STEM_THREADS)
    slimmable_conv2d_fwd_stem3(const float* __restrict__ x, const float* __restrict__ wt,
                               float* __restrict__ y, const float* __restrict__ bias,
                               Conv2dParams p) {
    __shared__ float win[STEM_MAX_IC][STEM_WIN_H][STEM_WIN_W];
    __shared__ float ws[STEM_TAPS][STEM_MAX_OC];  // [tap][o]: a tap's weights side by side
    const Geom g = geom_of(p);
    const int n = blockIdx.z, ho0 = blockIdx.y * STEM_TH, wo0 = blockIdx.x * STEM_TW;
    const int taps = g.ic * 9;
    stem_stage(win, x, p, g, n, ho0, wo0);
    for (int e = threadIdx.x; e < taps * g.oc; e += STEM_THREADS) {
        const int o = e / taps, k = e % taps;
        ws[k][o] = wt[at(p.w, o, k / 9, k % 9 / 3, k % 3)];
    }
    __syncthreads();
    const int tx = threadIdx.x % STEM_TW, ty = threadIdx.x / STEM_TW;
    const int ho = ho0 + ty, wo = wo0 + tx;
    if (ho >= g.ho || wo >= g.wo) return;  // no barrier follows
    float v[STEM_TAPS];
#pragma unroll
    for (int k = 0; k < STEM_TAPS; ++k)
        v[k] = k < taps ? win[k / 9][ty * g.sh + k % 9 / 3][tx * g.sw + k % 3] : 0.f;
    for (int o0 = 0; o0 < g.oc; o0 += STEM_OC_RUN) {
        float acc[STEM_OC_RUN];
#pragma unroll
        for (int j = 0; j < STEM_OC_RUN; ++j) acc[j] = 0.f;
#pragma unroll
        for (int k = 0; k < STEM_TAPS; ++k) {
            if (k >= taps) break;
#pragma unroll
            for (int j = 0; j < STEM_OC_RUN; ++j) acc[j] = fmaf(v[k], ws[k][o0 + j], acc[j]);
        }
#pragma unroll
        for (int j = 0; j < STEM_OC_RUN; ++j) {
            const int o = o0 + j;
            if (o >= g.oc) break;
            const float b = p.has_bias ? bias[p.bias_offset + o] : 0.f;
            const u32 idx = at(p.y, n, o, ho, wo);
            y[idx] = p.accumulate ? y[idx] + (acc[j] + b) : acc[j] + b;
        }
    }
}

// Weight gradient: dw[o][i][ky][kx] += Σ dy(n, o, ho, wo) · x(n, i, ho·s −
// ph + ky, wo·s − pw + kx). Grid: any number of blocks (a grid-stride walk
// over the N · tiles output tiles), STEM_THREADS threads.
extern "C" __global__ void __launch_bounds__(STEM_THREADS)
    slimmable_conv2d_wgrad_stem3(const float* __restrict__ x, float* __restrict__ dw,
                                 const float* __restrict__ dy, Conv2dParams p) {
    __shared__ float win[STEM_MAX_IC][STEM_WIN_H][STEM_WIN_W];
    // dy of the tile, [o][pixel] with an odd pitch: lane o of a warp reads
    // (o, pixel) for one pixel, so the banks differ. Reused for the sums.
    __shared__ float dys[STEM_WG_OC * (STEM_THREADS + 1) > (STEM_THREADS / 32) * STEM_TAPS * 32
                             ? STEM_WG_OC * (STEM_THREADS + 1)
                             : (STEM_THREADS / 32) * STEM_TAPS * 32];
    const Geom g = geom_of(p);
    const int taps = g.ic * 9;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int tiles_w = (g.wo + STEM_TW - 1) / STEM_TW, tiles_h = (g.ho + STEM_TH - 1) / STEM_TH;
    const int tiles = g.n * tiles_w * tiles_h;
    float acc[STEM_TAPS];
#pragma unroll
    for (int k = 0; k < STEM_TAPS; ++k) acc[k] = 0.f;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int n = tile / (tiles_w * tiles_h), rem = tile % (tiles_w * tiles_h);
        const int ho0 = rem / tiles_w * STEM_TH, wo0 = rem % tiles_w * STEM_TW;
        stem_stage(win, x, p, g, n, ho0, wo0);
        {  // dy: a thread per pixel, channel after channel (coalesced)
            const int ty = threadIdx.x / STEM_TW, tx = threadIdx.x % STEM_TW;
            const bool ok = ho0 + ty < g.ho && wo0 + tx < g.wo;
            for (int o = 0; o < STEM_WG_OC; ++o)
                dys[o * (STEM_THREADS + 1) + threadIdx.x] =
                    ok && o < g.oc ? dy[at(p.y, n, o, ho0 + ty, wo0 + tx)] : 0.f;
        }
        __syncthreads();
        // Warp w takes pixels w, w + 8, ...; pixels past the edge have dy 0.
        for (int px = warp; px < STEM_THREADS; px += STEM_THREADS / 32) {
            const float d = dys[lane * (STEM_THREADS + 1) + px];
            const int ty = px / STEM_TW, tx = px % STEM_TW;
#pragma unroll
            for (int k = 0; k < STEM_TAPS; ++k) {
                if (k >= taps) break;
                acc[k] = fmaf(d, win[k / 9][ty * g.sh + k % 9 / 3][tx * g.sw + k % 3], acc[k]);
            }
        }
        __syncthreads();  // the next tile overwrites win and dys
    }
    // The warps' sums, [warp][tap][lane], then one atomic per weight.
    float* red = dys;
#pragma unroll
    for (int k = 0; k < STEM_TAPS; ++k)
        if (k < taps) red[(warp * STEM_TAPS + k) * 32 + lane] = acc[k];
    __syncthreads();
    for (int e = threadIdx.x; e < taps * 32; e += STEM_THREADS) {
        const int k = e / 32, o = e % 32;
        if (o >= g.oc) continue;
        float s = 0.f;
        for (int w = 0; w < STEM_THREADS / 32; ++w) s += red[(w * STEM_TAPS + k) * 32 + o];
        atomicAdd(&dw[at(p.w, o, k / 9, k % 9 / 3, k % 3)], s);
    }
}
