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
//     a grid-stride walk over tiles whose windows are double-buffered with
//     cp.async;
//   wgrad: register tiles of 8 output channels x 9 taps per thread over
//     a tile's pixels, the tiles double-buffered with cp.async; the block
//     adds one atomic per weight after a grid-stride walk over many tiles
//     (so atomics stay few).
// Stride 1 or 2 (the forward's window is sized for its strides at compile
// time, the wgrad's for 2), any padding; views with any strides (channel
// slices).
#include "common.cuh"
#include "conv_common.cuh"

#define STEM_MAX_IC 3  // (4 would put the wgrad past 48 KiB of shared memory)
#define STEM_TAPS (STEM_MAX_IC * 9)
#define STEM_TW 16  // forward tile: STEM_TW x STEM_TH pixels, a thread each
#define STEM_TH 16  // (16 divides the stem's 112, 96, 80 and 64 wide outputs)
#define STEM_THREADS (STEM_TW * STEM_TH)
#define STEM_MAX_S 2  // the windows are sized for strides up to 2
#define STEM_OC_RUN 8    // forward: output channels a thread accumulates at once
#define STEM_MAX_OC 64   // forward: weights held in shared memory
#define STEM_WG_OC 32    // wgrad: output channels at most

// The forward's input window of one output tile at strides (SH, SW):
// [i][row][col], rows (STEM_TH − 1)·SH + 3 by cols (STEM_TW − 1)·SW + 3.
// Sized at compile time, so that the staging's index arithmetic is
// multiply-shift instead of divisions by run-time extents.
template <int SH, int SW>
struct StemWin {
    static constexpr int H = (STEM_TH - 1) * SH + 3, W = (STEM_TW - 1) * SW + 3;
    static constexpr int PLANE = H * W, SIZE = STEM_MAX_IC * PLANE;
};
#define STEM_WS (STEM_TAPS * STEM_MAX_OC)  // the weights, [tap][o]

// Issues (and commits) the cp.async copies of the window of the output
// tile at (n, ho0, wo0): win[i][r][q] = x(n, i, ho0·SH − ph + r, wo0·SW −
// pw + q), zero outside the image. Channels past g.ic are not written (no
// tap reads them).
template <int SH, int SW>
__device__ __forceinline__ void stem_fwd_issue(float* win, const float* __restrict__ x,
                                               const Conv2dParams& p, const Geom& g, int n,
                                               int ho0, int wo0) {
    using Win = StemWin<SH, SW>;
    const int hi0 = ho0 * SH - g.ph, wi0 = wo0 * SW - g.pw;
    const int used = g.ic * Win::PLANE;
#pragma unroll 1
    for (int e = threadIdx.x; e < used; e += STEM_THREADS) {
        const int q = e % Win::W, r = e / Win::W % Win::H, i = e / Win::PLANE;
        const int hi = hi0 + r, wi = wi0 + q;
        const bool ok = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
        cp_async4(win + e, ok ? x + at(p.x, n, i, hi, wi) : x, ok);
    }
    cp_async_commit();
}

// One output pixel of the forward, all its output channels: the IC·9 taps
// from the window (`win`: this pixel's corner in it) into registers, then
// runs of STEM_OC_RUN channels against the weights (ws, [tap][o]) and the
// bias (bs) in shared memory. IC a constant: no per-tap bounds tests.
template <int IC, int SH, int SW>
__device__ __forceinline__ void stem_fwd_pixel(const float* win, const float* ws, const float* bs,
                                               float* __restrict__ y, const Conv2dParams& p,
                                               const Geom& g, int n, int ho, int wo) {
    using Win = StemWin<SH, SW>;
    constexpr int TAPS = IC * 9;
    float v[TAPS];
#pragma unroll
    for (int k = 0; k < TAPS; ++k) v[k] = win[k / 9 * Win::PLANE + k % 9 / 3 * Win::W + k % 3];
#pragma unroll 1
    for (int o0 = 0; o0 < g.oc; o0 += STEM_OC_RUN) {
        float acc[STEM_OC_RUN];
#pragma unroll
        for (int j = 0; j < STEM_OC_RUN; ++j) acc[j] = 0.f;
#pragma unroll
        for (int k = 0; k < TAPS; ++k)
#pragma unroll
            for (int j = 0; j < STEM_OC_RUN; ++j)
                acc[j] = fmaf(v[k], ws[k * STEM_MAX_OC + o0 + j], acc[j]);
#pragma unroll
        for (int j = 0; j < STEM_OC_RUN; ++j) {
            const int o = o0 + j;
            if (o >= g.oc) break;
            const u32 idx = at(p.y, n, o, ho, wo);
            y[idx] = p.accumulate ? y[idx] + (acc[j] + bs[o]) : acc[j] + bs[o];
        }
    }
}

// The forward at strides (SH, SW): a grid-stride walk over the N · tiles
// output tiles of STEM_TW × STEM_TH pixels, a thread a pixel. The windows
// are double-buffered: tile t + 1's copies fly while tile t is computed,
// so a block's loads, FMAs and stores overlap instead of running as one
// latency chain per tile (the one-tile-a-block kernel before it took
// 0.142 ms on an H200 for 64×3×224² → 32, about 4× its store time). The
// weights and bias are staged once a block.
template <int SH, int SW>
__device__ __forceinline__ void stem_fwd_walk(float* smem, const float* __restrict__ x,
                                              const float* __restrict__ wt,
                                              float* __restrict__ y,
                                              const float* __restrict__ bias,
                                              const Conv2dParams& p, const Geom& g) {
    using Win = StemWin<SH, SW>;
    float* ws = smem;
    float* bs = smem + STEM_WS;
    float* stage = bs + STEM_MAX_OC;
    const int taps = g.ic * 9;
    const int tiles_w = (g.wo + STEM_TW - 1) / STEM_TW, tiles_h = (g.ho + STEM_TH - 1) / STEM_TH;
    const int tiles = g.n * tiles_w * tiles_h;
    auto origin = [&](int tile, int& n, int& ho0, int& wo0) {
        n = tile / (tiles_w * tiles_h);
        const int rem = tile % (tiles_w * tiles_h);
        ho0 = rem / tiles_w * STEM_TH;
        wo0 = rem % tiles_w * STEM_TW;
    };
#pragma unroll 1
    for (int e = threadIdx.x; e < taps * g.oc; e += STEM_THREADS) {
        const int o = e / taps, k = e % taps;
        cp_async4(&ws[k * STEM_MAX_OC + o], wt + at(p.w, o, k / 9, k % 9 / 3, k % 3), true);
    }
    // (Plain stores: read after the walk's first barrier.)
    if ((int)threadIdx.x < g.oc)
        bs[threadIdx.x] = p.has_bias ? bias[p.bias_offset + threadIdx.x] : 0.f;
    int n = 0, ho0 = 0, wo0 = 0;  // the origin of the tile whose copies were issued last
    if ((int)blockIdx.x < tiles) {
        origin(blockIdx.x, n, ho0, wo0);
        stem_fwd_issue<SH, SW>(stage, x, p, g, n, ho0, wo0);
    }
    const int tx = threadIdx.x % STEM_TW, ty = threadIdx.x / STEM_TW;
    int st = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, st ^= 1) {
        const int cur_n = n, ho = ho0 + ty, wo = wo0 + tx;
        const int next = tile + (int)gridDim.x;
        if (next < tiles) {
            // Its stage was last read before the barrier that ended the
            // previous iteration.
            origin(next, n, ho0, wo0);
            stem_fwd_issue<SH, SW>(stage + (st ^ 1) * Win::SIZE, x, p, g, n, ho0, wo0);
            cp_async_wait_prev();
        } else {
            cp_async_wait_all();
        }
        __syncthreads();
        if (ho < g.ho && wo < g.wo) {
            const float* win = stage + st * Win::SIZE + ty * SH * Win::W + tx * SW;
            switch (g.ic) {
                case 1: stem_fwd_pixel<1, SH, SW>(win, ws, bs, y, p, g, cur_n, ho, wo); break;
                case 2: stem_fwd_pixel<2, SH, SW>(win, ws, bs, y, p, g, cur_n, ho, wo); break;
                default: stem_fwd_pixel<3, SH, SW>(win, ws, bs, y, p, g, cur_n, ho, wo); break;
            }
        }
        __syncthreads();  // the next iteration's copies overwrite this stage
    }
}

// Forward. Grid: any number of blocks (launch_conv: at most four an SM),
// STEM_THREADS threads.
extern "C" __global__ void __launch_bounds__(STEM_THREADS, 4)
    slimmable_conv2d_fwd_stem3(const float* __restrict__ x, const float* __restrict__ wt,
                               float* __restrict__ y, const float* __restrict__ bias,
                               Conv2dParams p) {
    __shared__ __align__(16) float smem[STEM_WS + STEM_MAX_OC + 2 * StemWin<STEM_MAX_S, STEM_MAX_S>::SIZE];
    const Geom g = geom_of(p);
    if (g.sh == 2) {
        if (g.sw == 2) stem_fwd_walk<2, 2>(smem, x, wt, y, bias, p, g);
        else stem_fwd_walk<2, 1>(smem, x, wt, y, bias, p, g);
    } else {
        if (g.sw == 2) stem_fwd_walk<1, 2>(smem, x, wt, y, bias, p, g);
        else stem_fwd_walk<1, 1>(smem, x, wt, y, bias, p, g);
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
// the input window as [i][row][col] (zero outside the image; planes past
// ic are not written, no owner reads them).
//
// Each copy's address is a per-thread or per-line base plus a constant
// step, not a decode of the copy's index: decoding (index → channel, row,
// column, then the view's offset) took 42–48 instructions a copy, more
// than the FMAs of the tile.
__device__ __forceinline__ void stem_wgrad_issue(float* stage, const float* __restrict__ x,
                                                 const float* __restrict__ dy,
                                                 const Conv2dParams& p, const Geom& g, int n,
                                                 int ho0, int wo0) {
    static_assert(SWG_THREADS % SWG_PIX == 0, "a thread's dy pixel is fixed");
    static_assert(SWG_WIN_W == 33, "a window line is a warp's 32 lanes + one");
    float* dys = stage;
    float* win = stage + STEM_WG_OC * SWG_DY_LD;
    // dy: this thread's pixel is the same in every copy; its channel steps
    // by SWG_THREADS / SWG_PIX.
    {
        const int q = threadIdx.x % SWG_TW, row = threadIdx.x / SWG_TW % SWG_TH;
        const int ho = ho0 + row, wo = wo0 + q;
        const bool px_ok = ho < g.ho && wo < g.wo;
        const u32 px = at(p.y, n, 0, ho, wo);  // channel 0 (read only where px_ok)
        float* d = dys + row * SWG_TW + q;
#pragma unroll 4
        for (int o = threadIdx.x / SWG_PIX; o < STEM_WG_OC; o += SWG_THREADS / SWG_PIX)
            cp_async4(d + o * SWG_DY_LD, dy + (px + (u32)(o * sv(p.y, 1))), px_ok && o < g.oc);
    }
    // The window: a warp a line (input channel i, row r), lane l column l,
    // lane 0 also the last column.
    const int lane = threadIdx.x % 32;
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    const bool col_ok = (u32)(wi0 + lane) < (u32)g.w;
    const bool last_ok = lane == 0 && (u32)(wi0 + SWG_WIN_W - 1) < (u32)g.w;
    const int cs = sv(p.x, 3);
#pragma unroll 1
    for (int line = threadIdx.x / 32; line < g.ic * SWG_WIN_H; line += SWG_THREADS / 32) {
        const int i = line / SWG_WIN_H, r = line % SWG_WIN_H, hi = hi0 + r;
        const bool row_ok = (u32)hi < (u32)g.h;
        // Wraps below 0 in the padding; only in-image columns are read.
        const u32 base = at(p.x, n, i, hi, wi0);
        float* s = win + i * SWG_WIN_LD + r * SWG_WIN_W;
        cp_async4(s + lane, x + (base + (u32)(lane * cs)), row_ok && col_ok);
        if (lane == 0)
            cp_async4(s + SWG_WIN_W - 1, x + (base + (u32)((SWG_WIN_W - 1) * cs)),
                      row_ok && last_ok);
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
