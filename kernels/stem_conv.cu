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
//   wgrad: register tiles of 8 output channels x 9 taps per thread over
//     a tile's pixels, the tiles double-buffered with cp.async; the block
//     adds one atomic per weight after a grid-stride walk over many tiles
//     (so atomics stay few).
// Stride 1 or 2 (the window is sized for 2), any padding; views with any
// strides (channel slices).
#include "common.cuh"
#include "conv_common.cuh"

#define STEM_MAX_IC 3  // (4 would put the wgrad past 48 KiB of shared memory)
#define STEM_TAPS (STEM_MAX_IC * 9)
#define STEM_TW 16  // forward tile: STEM_TW x STEM_TH pixels, a thread each
#define STEM_TH 16  // (16 divides the stem's 112, 96, 80 and 64 wide outputs)
#define STEM_THREADS (STEM_TW * STEM_TH)
#define STEM_MAX_S 2  // the window below is sized for strides up to 2
#define STEM_WIN_H ((STEM_TH - 1) * STEM_MAX_S + 3)
#define STEM_WIN_W ((STEM_TW - 1) * STEM_MAX_S + 3)
#define STEM_OC_RUN 16   // forward: output channels a thread accumulates at once
#define STEM_MAX_OC 64   // forward: weights held in shared memory
#define STEM_WG_OC 32    // wgrad: output channels at most

// Issues the copies of the input window of the output tile at (ho0, wo0)
// of image n: win[i][r][q] = x(n, i, ho0·s − ph + r, wo0·s − pw + q), zero
// outside. cp.async, so that a thread's copies fly together instead of
// one load latency after another (wait before reading).
__device__ __forceinline__ void stem_stage(float (*win)[STEM_WIN_H][STEM_WIN_W],
                                           const float* __restrict__ x, const Conv2dParams& p,
                                           const Geom& g, int n, int ho0, int wo0) {
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    const int rows = (STEM_TH - 1) * g.sh + 3, cols = (STEM_TW - 1) * g.sw + 3;
    for (int e = threadIdx.x; e < g.ic * rows * cols; e += STEM_THREADS) {
        const int q = e % cols, t = e / cols, r = t % rows, i = t / rows;
        const int hi = hi0 + r, wi = wi0 + q;
        const bool ok = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
        cp_async4(&win[i][r][q], ok ? x + at(p.x, n, i, hi, wi) : x, ok);
    }
}

// Forward. Grid (ceil(wo / STEM_TW), ceil(ho / STEM_TH), N), STEM_THREADS.
extern "C" __global__ void __launch_bounds__(STEM_THREADS)
    slimmable_conv2d_fwd_stem3(const float* __restrict__ x, const float* __restrict__ wt,
                               float* __restrict__ y, const float* __restrict__ bias,
                               Conv2dParams p) {
    __shared__ __align__(16) float win[STEM_MAX_IC][STEM_WIN_H][STEM_WIN_W];
    __shared__ __align__(16) float ws[STEM_TAPS][STEM_MAX_OC];  // [tap][o]: a tap's weights side by side
    const Geom g = geom_of(p);
    const int n = blockIdx.z, ho0 = blockIdx.y * STEM_TH, wo0 = blockIdx.x * STEM_TW;
    const int taps = g.ic * 9;
    stem_stage(win, x, p, g, n, ho0, wo0);
    for (int e = threadIdx.x; e < taps * g.oc; e += STEM_THREADS) {
        const int o = e / taps, k = e % taps;
        cp_async4(&ws[k][o], wt + at(p.w, o, k / 9, k % 9 / 3, k % 3), true);
    }
    cp_async_wait_all();
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
// ph + ky, wo·s − pw + kx), a reduction over every output pixel into
// oc·ic·9 ≤ 864 sums. Grid: any number of blocks (a grid-stride walk over
// the N · tiles output tiles of SWG_TW x SWG_TH pixels), SWG_THREADS
// threads.
//
// Register tiles: a thread owns SWG_OC_RUN output channels x the 9 taps of
// one input channel (72 sums) and walks its share of a tile's pixels; per
// pixel it reads 8 dy and 9 window values from shared memory for 72 FMAs
// (the earlier lane-per-channel kernel read 28 values for 27 FMAs and lost
// to the GEMM). The tiles are double-buffered with cp.async: tile t + 1
// flies while tile t is reduced, so the walk is not a chain of load
// latencies. At the end the block's threads add into shared sums and the
// block adds one atomic per weight.
#define SWG_TW 16  // wgrad tile: output columns (divides 112, 96, 80, 64)
#define SWG_TH 8   // output rows
#define SWG_PIX (SWG_TW * SWG_TH)
#define SWG_THREADS 256
#define SWG_OC_RUN 8  // output channels per thread
#define SWG_DY_LD (SWG_PIX + 1)  // odd pitch: lanes on different channels, different banks
#define SWG_WIN_H ((SWG_TH - 1) * STEM_MAX_S + 3)
#define SWG_WIN_W ((SWG_TW - 1) * STEM_MAX_S + 3)
// A channel plane of the window padded so that the three planes start 25
// banks apart (17 x 33 + 8 = 569 floats): lanes on different input
// channels and neighbouring pixels hit different banks.
#define SWG_WIN_LD (SWG_WIN_H * SWG_WIN_W + 8)
#define SWG_STAGE (STEM_WG_OC * SWG_DY_LD + STEM_MAX_IC * SWG_WIN_LD)

// Issues the cp.async copies of the tile at (n, ho0, wo0) into `stage`:
// dy as [o][pixel] (zero for channels past oc and pixels past the edge),
// the input window as [i][row][col] (zero outside the image).
__device__ __forceinline__ void stem_wgrad_issue(float* stage, const float* __restrict__ x,
                                                 const float* __restrict__ dy,
                                                 const Conv2dParams& p, const Geom& g, int n,
                                                 int ho0, int wo0) {
    float* dys = stage;
    float* win = stage + STEM_WG_OC * SWG_DY_LD;
    // (Loops not unrolled: the 72 sums live across them.)
#pragma unroll 1
    for (int r = 0; r < STEM_WG_OC * SWG_PIX / SWG_THREADS; ++r) {
        const int e = threadIdx.x + r * SWG_THREADS;
        const int q = e % SWG_TW, row = e / SWG_TW % SWG_TH, o = e / SWG_PIX;
        const int ho = ho0 + row, wo = wo0 + q;
        const bool ok = o < g.oc && ho < g.ho && wo < g.wo;
        cp_async4(&dys[o * SWG_DY_LD + row * SWG_TW + q], ok ? dy + at(p.y, n, o, ho, wo) : dy,
                  ok);
    }
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    constexpr int WIN = STEM_MAX_IC * SWG_WIN_H * SWG_WIN_W;
#pragma unroll 1
    for (int r = 0; r < (WIN + SWG_THREADS - 1) / SWG_THREADS; ++r) {
        const int e = threadIdx.x + r * SWG_THREADS;
        if (e >= WIN) break;
        const int q = e % SWG_WIN_W, row = e / SWG_WIN_W % SWG_WIN_H;
        const int i = e / (SWG_WIN_W * SWG_WIN_H);
        const int hi = hi0 + row, wi = wi0 + q;
        const bool ok = i < g.ic && hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
        cp_async4(&win[i * SWG_WIN_LD + row * SWG_WIN_W + q], ok ? x + at(p.x, n, i, hi, wi) : x,
                  ok);
    }
    cp_async_commit();
}

extern "C" __global__ void __launch_bounds__(SWG_THREADS, 2)
    slimmable_conv2d_wgrad_stem3(const float* __restrict__ x, float* __restrict__ dw,
                                 const float* __restrict__ dy, Conv2dParams p) {
    __shared__ __align__(16) float smem[2 * SWG_STAGE];
    const Geom g = geom_of(p);
    const int taps = g.ic * 9;
    const int tiles_w = (g.wo + SWG_TW - 1) / SWG_TW, tiles_h = (g.ho + SWG_TH - 1) / SWG_TH;
    const int tiles = g.n * tiles_w * tiles_h;
    // This thread's sums: channels og·8 .. og·8 + 7 of input channel i,
    // over the pixels group, group + groups, ... of each tile.
    const int runs = (g.oc + SWG_OC_RUN - 1) / SWG_OC_RUN, owners = runs * g.ic;
    const int owner = threadIdx.x % owners, group = threadIdx.x / owners;
    const int groups = SWG_THREADS / owners;
    const int og = owner % runs, i = owner / runs;
    float acc[SWG_OC_RUN][9];
#pragma unroll
    for (int j = 0; j < SWG_OC_RUN; ++j)
#pragma unroll
        for (int k = 0; k < 9; ++k) acc[j][k] = 0.f;

    auto tile_origin = [&](int tile, int& n, int& ho0, int& wo0) {
        n = tile / (tiles_w * tiles_h);
        const int rem = tile % (tiles_w * tiles_h);
        ho0 = rem / tiles_w * SWG_TH;
        wo0 = rem % tiles_w * SWG_TW;
    };
    int n, ho0, wo0;
    if ((int)blockIdx.x < tiles) {
        tile_origin(blockIdx.x, n, ho0, wo0);
        stem_wgrad_issue(smem, x, dy, p, g, n, ho0, wo0);
    }
    int st = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, st ^= 1) {
        const int next = tile + (int)gridDim.x;
        if (next < tiles) {
            // Its stage was last read before the barrier that ended the
            // previous iteration.
            tile_origin(next, n, ho0, wo0);
            stem_wgrad_issue(smem + (st ^ 1) * SWG_STAGE, x, dy, p, g, n, ho0, wo0);
            cp_async_wait_prev();
        } else {
            cp_async_wait_all();
        }
        __syncthreads();
        if (group < groups) {
            const float* dys = smem + st * SWG_STAGE + og * SWG_OC_RUN * SWG_DY_LD;
            const float* win = smem + st * SWG_STAGE + STEM_WG_OC * SWG_DY_LD + i * SWG_WIN_LD;
            for (int px = group; px < SWG_PIX; px += groups) {
                const float* xw = win + (px / SWG_TW) * g.sh * SWG_WIN_W + (px % SWG_TW) * g.sw;
                float v[9];
#pragma unroll
                for (int k = 0; k < 9; ++k) v[k] = xw[k / 3 * SWG_WIN_W + k % 3];
#pragma unroll
                for (int j = 0; j < SWG_OC_RUN; ++j) {
                    const float d = dys[j * SWG_DY_LD + px];
#pragma unroll
                    for (int k = 0; k < 9; ++k) acc[j][k] = fmaf(d, v[k], acc[j][k]);
                }
            }
        }
        __syncthreads();  // the next iteration's copies overwrite this stage
    }
    // The block's sums, [o][tap] in shared memory, then one atomic per
    // weight. (Every cp.async has landed and every read is past the last
    // barrier of the walk.)
    float* red = smem;
    for (int e = threadIdx.x; e < STEM_WG_OC * STEM_TAPS; e += SWG_THREADS) red[e] = 0.f;
    __syncthreads();
    if (group < groups) {
#pragma unroll
        for (int j = 0; j < SWG_OC_RUN; ++j) {
            const int o = og * SWG_OC_RUN + j;
            if (o >= g.oc) break;
#pragma unroll
            for (int k = 0; k < 9; ++k) atomicAdd(&red[o * STEM_TAPS + i * 9 + k], acc[j][k]);
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < g.oc * taps; e += SWG_THREADS) {
        const int o = e / taps, k = e % taps;
        atomicAdd(&dw[at(p.w, o, k / 9, k % 9 / 3, k % 3)], red[o * STEM_TAPS + k]);
    }
}
