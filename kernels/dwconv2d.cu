// slimmable: depthwise conv2d (groups = ic = oc) on channel slices of
// full-size tensors, three passes; memory-bound direct kernels. Forward and
// dgrad stage a tile's input (dy) window in shared memory (k <= 7, stride
// <= 2; else one thread per output or input element); wgrad keeps all
// kh x kw tap sums of one channel in registers (k = 3, 5, 7; else one block
// per channel and tap). Views and weights as in conv2d.cu.
#include "common.cuh"
#include "conv_common.cuh"

// One thread per output element; consecutive threads along wo.
extern "C" __global__ void slimmable_dwconv2d_fwd(const float* __restrict__ x,
                                                  const float* __restrict__ wt,
                                                  float* __restrict__ y,
                                                  const float* __restrict__ bias,
                                                  Conv2dParams p) {
    const Geom g = geom_of(p);
    const u32 total = (u32)g.n * g.oc * g.ho * g.wo;
    for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho; t /= g.ho;
        int c = t % g.oc, n = t / g.oc;
        float acc = p.has_bias ? bias[p.bias_offset + c] : 0.f;
        for (int ky = 0; ky < g.kh; ++ky) {
            int hi = ho * g.sh - g.ph + ky;
            if (hi < 0 || hi >= g.h) continue;
            for (int kx = 0; kx < g.kw; ++kx) {
                int wi = wo * g.sw - g.pw + kx;
                if (wi < 0 || wi >= g.w) continue;
                acc = fmaf(x[at(p.x, n, c, hi, wi)], wt[at(p.w, c, 0, ky, kx)], acc);
            }
        }
        u32 idx = at(p.y, n, c, ho, wo);
        y[idx] = p.accumulate ? y[idx] + acc : acc;
    }
}

// One thread per input element: gathers the outputs whose window covers it.
extern "C" __global__ void slimmable_dwconv2d_dgrad(float* __restrict__ dx,
                                                    const float* __restrict__ wt,
                                                    const float* __restrict__ dy,
                                                    Conv2dParams p) {
    const Geom g = geom_of(p);
    const u32 total = (u32)g.n * g.ic * g.h * g.w;
    for (u32 e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        int wi = e % g.w; u32 t = e / g.w;
        int hi = t % g.h; t /= g.h;
        int c = t % g.ic, n = t / g.ic;
        float acc = 0.f;
        for (int ky = 0; ky < g.kh; ++ky) {
            int th = hi + g.ph - ky;
            if (th < 0 || th % g.sh) continue;
            int ho = th / g.sh;
            if (ho >= g.ho) continue;
            for (int kx = 0; kx < g.kw; ++kx) {
                int tw = wi + g.pw - kx;
                if (tw < 0 || tw % g.sw) continue;
                int wo = tw / g.sw;
                if (wo >= g.wo) continue;
                acc = fmaf(dy[at(p.y, n, c, ho, wo)], wt[at(p.w, c, 0, ky, kx)], acc);
            }
        }
        u32 idx = at(p.x, n, c, hi, wi);
        dx[idx] = p.accumulate ? dx[idx] + acc : acc;
    }
}

// Tiled depthwise kernels: a block of TW x TH x P threads computes a
// TH x TW tile of P (n, c) planes from a window staged in shared memory
// (coalesced rows; each input read about once per tile instead of up to
// kh*kw times). k <= 7 and stride <= 2; the host picks the tile shape from
// the plane width (32 x 8, 16 x 16, or 8 x 8 with 4 planes per block).
#define DW_MAXK 7
#define DW_MAXS 2

__device__ __forceinline__ int floor_div(int a, int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

template <int TW, int TH, int P>
__device__ void dw_fwd_tiled(const float* __restrict__ x, const float* __restrict__ wt,
                             float* __restrict__ y, const float* __restrict__ bias,
                             const Conv2dParams& p) {
    constexpr int MIH = (TH - 1) * DW_MAXS + DW_MAXK, MIW = (TW - 1) * DW_MAXS + DW_MAXK;
    __shared__ float win[P][MIH * MIW];
    __shared__ float wk[P][DW_MAXK * DW_MAXK];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.oc;
    const int c = live ? plane % g.oc : 0, n = live ? plane / g.oc : 0;
    const int wo0 = blockIdx.x * TW, ho0 = blockIdx.y * TH;
    const int ih = (TH - 1) * g.sh + g.kh, iw = (TW - 1) * g.sw + g.kw;
    const int hi0 = ho0 * g.sh - g.ph, wi0 = wo0 * g.sw - g.pw;
    const int t = threadIdx.y * TW + threadIdx.x;
    if (live) {
        for (int e = t; e < ih * iw; e += TW * TH) {
            int r = e / iw, q = e % iw, hi = hi0 + r, wi = wi0 + q;
            win[pz][e] = (hi >= 0 && hi < g.h && wi >= 0 && wi < g.w) ? x[at(p.x, n, c, hi, wi)] : 0.f;
        }
        if (t < g.khw) wk[pz][t] = wt[at(p.w, c, 0, t / g.kw, t % g.kw)];
    }
    __syncthreads();
    const int wo = wo0 + threadIdx.x, ho = ho0 + threadIdx.y;
    if (!live || wo >= g.wo || ho >= g.ho) return;
    float acc = p.has_bias ? bias[p.bias_offset + c] : 0.f;
    const int r0 = threadIdx.y * g.sh, q0 = threadIdx.x * g.sw;
    for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx)
            acc = fmaf(win[pz][(r0 + ky) * iw + q0 + kx], wk[pz][ky * g.kw + kx], acc);
    u32 idx = at(p.y, n, c, ho, wo);
    y[idx] = p.accumulate ? y[idx] + acc : acc;
}

// Forward for the 3x3 depthwise layers of MobileNets (stride 1 or 2), the
// common case: a TW x TH x P block computes a TW-wide, TH·DW3_ROWS-tall
// output tile of each of P (n, c) planes, DW3_ROWS = 4 consecutive rows a
// thread, so each window row read from shared memory serves up to three of
// the thread's outputs; the window is staged by a 2-D loop (no divisions)
// and the nine weights live in registers. Tiles: 32 x 32 of one plane for
// planes at least 28 wide, 16 x 16 of four planes from 12, 8 x 8 of sixteen
// below. Same additions in the same order (taps by row, then column) as
// dw_fwd_tiled.
#define DW3_ROWS 4

// Stages rows [r_lo, r_lo + ROWS) x columns [q_lo, q_lo + COLS) of one
// plane (`src` its element (0, 0), row/column strides sh/sw, extent h x w)
// into `win`, zeros outside the plane; the block's TW x TH threads stride
// over it (no divisions).
template <int ROWS, int COLS, int TW, int TH>
__device__ __forceinline__ void dw3_stage(float (&win)[ROWS][COLS], const float* __restrict__ src,
                                          int sh, int sw, int h, int w, int r_lo, int q_lo) {
    for (int r = threadIdx.y; r < ROWS; r += TH) {
        const int i = r_lo + r;
        const bool row_ok = i >= 0 && i < h;
        for (int q = threadIdx.x; q < COLS; q += TW) {
            const int j = q_lo + q;
            win[r][q] = (row_ok && j >= 0 && j < w) ? src[i * sh + j * sw] : 0.f;
        }
    }
}

// The nine weights of channel c, row-major.
__device__ __forceinline__ void dw3_weights(const float* __restrict__ wt, const Conv2dParams& p,
                                            int c, float (&wk)[9]) {
#pragma unroll
    for (int i = 0; i < 9; ++i) wk[i] = wt[at(p.w, c, 0, i / 3, i % 3)];
}

template <int S, int TW, int TH, int P>
__device__ void dw_fwd_k3(const float* __restrict__ x, const float* __restrict__ wt,
                          float* __restrict__ y, const float* __restrict__ bias,
                          const Conv2dParams& p) {
    constexpr int R = DW3_ROWS;
    constexpr int IH = (TH * R - 1) * S + 3, IW = (TW - 1) * S + 3;
    __shared__ float win[P][IH][IW];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.oc;
    const int c = live ? plane % g.oc : 0, n = live ? plane / g.oc : 0;
    const int wo0 = blockIdx.x * TW, ho0 = blockIdx.y * TH * R;
    const int hi0 = ho0 * S - g.ph, wi0 = wo0 * S - g.pw;
    if (live)
        dw3_stage<IH, IW, TW, TH>(win[pz], x + at(p.x, n, c, 0, 0), (int)p.x.strides[2],
                                  (int)p.x.strides[3], g.h, g.w, hi0, wi0);
    float wk[9];
    dw3_weights(wt, p, c, wk);
    __syncthreads();
    const int wo = wo0 + threadIdx.x;
    if (!live || wo >= g.wo) return;  // no barrier follows
    const float b = p.has_bias ? bias[p.bias_offset + c] : 0.f;
    float acc[R];
#pragma unroll
    for (int j = 0; j < R; ++j) acc[j] = b;
    const int r0 = threadIdx.y * R * S, q0 = threadIdx.x * S;
    // Window row rr feeds output row j through tap row ky = rr - j·S.
#pragma unroll
    for (int rr = 0; rr < (R - 1) * S + 3; ++rr) {
        const float v0 = win[pz][r0 + rr][q0], v1 = win[pz][r0 + rr][q0 + 1],
                    v2 = win[pz][r0 + rr][q0 + 2];
#pragma unroll
        for (int j = 0; j < R; ++j) {
            const int ky = rr - j * S;
            if (ky >= 0 && ky < 3) {
                acc[j] = fmaf(v0, wk[ky * 3], acc[j]);
                acc[j] = fmaf(v1, wk[ky * 3 + 1], acc[j]);
                acc[j] = fmaf(v2, wk[ky * 3 + 2], acc[j]);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < R; ++j) {
        const int ho = ho0 + threadIdx.y * R + j;
        if (ho < g.ho) {
            const u32 idx = at(p.y, n, c, ho, wo);
            y[idx] = p.accumulate ? y[idx] + acc[j] : acc[j];
        }
    }
}

// Data gradient of the 3x3 stride-1 depthwise conv, shaped like
// dw_fwd_k3<1, ...>: dx(h, w) = sum over (ky, kx) of dy(h + ph - ky,
// w + pw - kx) · w(ky, kx), four rows a thread from a dy window in shared
// memory (zeros outside dy). Taps in the order of dw_dgrad_tiled (ky, then
// kx, rising).
template <int TW, int TH, int P>
__device__ void dw_dgrad_k3s1(float* __restrict__ dx, const float* __restrict__ wt,
                              const float* __restrict__ dy, const Conv2dParams& p) {
    constexpr int R = DW3_ROWS;
    constexpr int IH = TH * R + 2, IW = TW + 2;
    __shared__ float win[P][IH][IW];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.ic;
    const int c = live ? plane % g.ic : 0, n = live ? plane / g.ic : 0;
    const int w0 = blockIdx.x * TW, h0 = blockIdx.y * TH * R;
    // Window (r, q) holds dy(h0 + ph - 2 + r, w0 + pw - 2 + q).
    const int hb = h0 + g.ph - 2, wb = w0 + g.pw - 2;
    if (live)
        dw3_stage<IH, IW, TW, TH>(win[pz], dy + at(p.y, n, c, 0, 0), (int)p.y.strides[2],
                                  (int)p.y.strides[3], g.ho, g.wo, hb, wb);
    float wk[9];
    dw3_weights(wt, p, c, wk);
    __syncthreads();
    const int wi = w0 + threadIdx.x;
    if (!live || wi >= g.w) return;  // no barrier follows
    float acc[R];
#pragma unroll
    for (int j = 0; j < R; ++j) acc[j] = 0.f;
    // Row j of the thread takes window row ty·R + j + 2 − ky for tap ky, and
    // column tx + 2 − kx for tap kx: walking window rows downwards visits
    // each output's taps with ky rising.
    const int r0 = threadIdx.y * R, q0 = threadIdx.x;
#pragma unroll
    for (int rr = R + 1; rr >= 0; --rr) {
        const float v0 = win[pz][r0 + rr][q0 + 2], v1 = win[pz][r0 + rr][q0 + 1],
                    v2 = win[pz][r0 + rr][q0];
#pragma unroll
        for (int j = 0; j < R; ++j) {
            const int ky = j + 2 - rr;
            if (ky >= 0 && ky < 3) {
                acc[j] = fmaf(v0, wk[ky * 3], acc[j]);
                acc[j] = fmaf(v1, wk[ky * 3 + 1], acc[j]);
                acc[j] = fmaf(v2, wk[ky * 3 + 2], acc[j]);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < R; ++j) {
        const int hi = h0 + threadIdx.y * R + j;
        if (hi < g.h) {
            const u32 idx = at(p.x, n, c, hi, wi);
            dx[idx] = p.accumulate ? dx[idx] + acc[j] : acc[j];
        }
    }
}

// Data gradient of the 3x3 stride-2 depthwise conv: each dx element gathers
// dy((h + ph - ky) / 2, (w + pw - kx) / 2) for the taps where both are
// exact, from a dy window in shared memory (division-free staging, weights
// in registers, four rows a thread). Taps in the order of dw_dgrad_tiled.
template <int TW, int TH, int P>
__device__ void dw_dgrad_k3s2(float* __restrict__ dx, const float* __restrict__ wt,
                              const float* __restrict__ dy, const Conv2dParams& p) {
    constexpr int R = DW3_ROWS;
    constexpr int IH = TH * R / 2 + 3, IW = TW / 2 + 3;  // dy rows/columns a tile reaches
    __shared__ float win[P][IH][IW];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.ic;
    const int c = live ? plane % g.ic : 0, n = live ? plane / g.ic : 0;
    const int w0 = blockIdx.x * TW, h0 = blockIdx.y * TH * R;
    const int ho_lo = floor_div(h0 + g.ph - 2, 2), wo_lo = floor_div(w0 + g.pw - 2, 2);
    if (live)
        dw3_stage<IH, IW, TW, TH>(win[pz], dy + at(p.y, n, c, 0, 0), (int)p.y.strides[2],
                                  (int)p.y.strides[3], g.ho, g.wo, ho_lo, wo_lo);
    float wk[9];
    dw3_weights(wt, p, c, wk);
    __syncthreads();
    const int wi = w0 + threadIdx.x;
    if (!live || wi >= g.w) return;  // no barrier follows
#pragma unroll
    for (int j = 0; j < R; ++j) {
        const int hi = h0 + threadIdx.y * R + j;
        if (hi >= g.h) break;
        float acc = 0.f;
#pragma unroll
        for (int ky = 0; ky < 3; ++ky) {
            const int th = hi + g.ph - ky;
            if (th < 0 || (th & 1)) continue;
            const int r = (th >> 1) - ho_lo;
#pragma unroll
            for (int kx = 0; kx < 3; ++kx) {
                const int tw = wi + g.pw - kx;
                if (tw < 0 || (tw & 1)) continue;
                acc = fmaf(win[pz][r][(tw >> 1) - wo_lo], wk[ky * 3 + kx], acc);
            }
        }
        const u32 idx = at(p.x, n, c, hi, wi);
        dx[idx] = p.accumulate ? dx[idx] + acc : acc;
    }
}

// Entries per tile (TW x TH x P threads; grid (ceil(w/TW), ceil(h/(TH·4)),
// ceil(n·c/P)) over the output of the pass).
#define DW3_ENTRIES(TW, TH, P)                                                                   \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_fwd_k3s1_t##TW(const float* __restrict__ x,                            \
                                          const float* __restrict__ wt, float* __restrict__ y,    \
                                          const float* __restrict__ bias, Conv2dParams p) {       \
        dw_fwd_k3<1, TW, TH, P>(x, wt, y, bias, p);                                              \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_fwd_k3s2_t##TW(const float* __restrict__ x,                            \
                                          const float* __restrict__ wt, float* __restrict__ y,    \
                                          const float* __restrict__ bias, Conv2dParams p) {       \
        dw_fwd_k3<2, TW, TH, P>(x, wt, y, bias, p);                                              \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_dgrad_k3s1_t##TW(float* __restrict__ dx,                               \
                                            const float* __restrict__ wt,                         \
                                            const float* __restrict__ dy, Conv2dParams p) {       \
        dw_dgrad_k3s1<TW, TH, P>(dx, wt, dy, p);                                                 \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_dgrad_k3s2_t##TW(float* __restrict__ dx,                               \
                                            const float* __restrict__ wt,                         \
                                            const float* __restrict__ dy, Conv2dParams p) {       \
        dw_dgrad_k3s2<TW, TH, P>(dx, wt, dy, p);                                                 \
    }
DW3_ENTRIES(32, 8, 1)
DW3_ENTRIES(16, 4, 4)
DW3_ENTRIES(8, 2, 16)

// Data gradient: each dx element gathers dy[(h + ph - ky) / s] where the
// division is exact; the block stages the dy rows and columns its tile can
// reach (zero outside the output), then gathers from shared memory.
// S: the stride (1 or 2, both axes), a template parameter so that the
// exactness tests and divisions below compile to masks and shifts.
template <int TW, int TH, int P, int S>
__device__ void dw_dgrad_tiled(float* __restrict__ dx, const float* __restrict__ wt,
                               const float* __restrict__ dy, const Conv2dParams& p) {
    constexpr int MDH = TH + DW_MAXK, MDW = TW + DW_MAXK;  // stride-1 worst case
    __shared__ float win[P][MDH * MDW];
    __shared__ float wk[P][DW_MAXK * DW_MAXK];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z, plane = blockIdx.z * P + pz;
    const bool live = plane < g.n * g.ic;
    const int c = live ? plane % g.ic : 0, n = live ? plane / g.ic : 0;
    const int w0 = blockIdx.x * TW, h0 = blockIdx.y * TH;
    // dy rows reachable from rows h0 .. h0+TH-1: (h + ph - ky) / sh.
    const int ho_lo = floor_div(h0 + g.ph - (g.kh - 1), S);
    const int ho_hi = floor_div(h0 + TH - 1 + g.ph, S);
    const int wo_lo = floor_div(w0 + g.pw - (g.kw - 1), S);
    const int wo_hi = floor_div(w0 + TW - 1 + g.pw, S);
    const int dh = ho_hi - ho_lo + 1, dw_ = wo_hi - wo_lo + 1;
    const int t = threadIdx.y * TW + threadIdx.x;
    if (live) {
        for (int e = t; e < dh * dw_; e += TW * TH) {
            int r = e / dw_, q = e % dw_, ho = ho_lo + r, wo = wo_lo + q;
            win[pz][e] = (ho >= 0 && ho < g.ho && wo >= 0 && wo < g.wo) ? dy[at(p.y, n, c, ho, wo)] : 0.f;
        }
        if (t < g.khw) wk[pz][t] = wt[at(p.w, c, 0, t / g.kw, t % g.kw)];
    }
    __syncthreads();
    const int wi = w0 + threadIdx.x, hi = h0 + threadIdx.y;
    if (!live || wi >= g.w || hi >= g.h) return;
    float acc = 0.f;
    for (int ky = 0; ky < g.kh; ++ky) {
        // Rows below ho_lo are staged as zeros, so only exactness matters.
        const int th = hi + g.ph - ky;
        if (th < 0 || th % S) continue;
        const int r = th / S - ho_lo;
        for (int kx = 0; kx < g.kw; ++kx) {
            const int tw = wi + g.pw - kx;
            if (tw < 0 || tw % S) continue;
            acc = fmaf(win[pz][r * dw_ + tw / S - wo_lo], wk[pz][ky * g.kw + kx], acc);
        }
    }
    u32 idx = at(p.x, n, c, hi, wi);
    dx[idx] = p.accumulate ? dx[idx] + acc : acc;
}

#define DW_TILED_ENTRIES(TW, TH, P)                                                             \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_fwd_t##TW##x##TH##x##P(const float* __restrict__ x,                   \
                                                  const float* __restrict__ wt,                  \
                                                  float* __restrict__ y,                         \
                                                  const float* __restrict__ bias, Conv2dParams p) { \
        dw_fwd_tiled<TW, TH, P>(x, wt, y, bias, p);                                             \
    }                                                                                           \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_dgrad_t##TW##x##TH##x##P##_s1(float* __restrict__ dx,                 \
                                                         const float* __restrict__ wt,           \
                                                         const float* __restrict__ dy,           \
                                                         Conv2dParams p) {                       \
        dw_dgrad_tiled<TW, TH, P, 1>(dx, wt, dy, p);                                            \
    }                                                                                           \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                   \
        slimmable_dwconv2d_dgrad_t##TW##x##TH##x##P##_s2(float* __restrict__ dx,                 \
                                                         const float* __restrict__ wt,           \
                                                         const float* __restrict__ dy,           \
                                                         Conv2dParams p) {                       \
        dw_dgrad_tiled<TW, TH, P, 2>(dx, wt, dy, p);                                            \
    }
DW_TILED_ENTRIES(32, 8, 1)
DW_TILED_ENTRIES(16, 16, 1)
DW_TILED_ENTRIES(8, 8, 4)


// grid = (channels, kh*kw, splits): block sums dy . x over its share of the
// batch x output pixels for one channel and one tap, then adds into dw.
extern "C" __global__ void slimmable_dwconv2d_wgrad(const float* __restrict__ x,
                                                    float* __restrict__ dw,
                                                    const float* __restrict__ dy,
                                                    Conv2dParams p) {
    const Geom g = geom_of(p);
    const int c = blockIdx.x, tap = blockIdx.y, ky = tap / g.kw, kx = tap % g.kw;
    const u32 pixels = (u32)g.n * g.ho * g.wo;
    float acc = 0.f;
    for (u32 e = blockIdx.z * blockDim.x + threadIdx.x; e < pixels; e += gridDim.z * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho, n = t / g.ho;
        int hi = ho * g.sh - g.ph + ky, wi = wo * g.sw - g.pw + kx;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) continue;
        acc = fmaf(dy[at(p.y, n, c, ho, wo)], x[at(p.x, n, c, hi, wi)], acc);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(&dw[at(p.w, c, 0, ky, kx)], acc);
}

// Weight gradient of the 3x3 depthwise conv (stride 1 or 2), tiled like
// dw_fwd_k3: a TW x TH x P block takes a TW-wide, TH·4-tall output tile of
// one channel; its P thread planes ("lanes") take DW3_LANE_IMAGES images
// each (lane z: images n0 + z, n0 + z + P, ...), staging each image's x
// window and dy tile in shared memory; each thread keeps the nine tap sums
// of its four output rows in registers (window rows shared between its rows,
// as in the forward); then the block reduces the nine sums (over the tile
// and every image: the block is one channel) and adds them into dw once.
// Grid (ceil(wo/TW), ceil(ho/(4·TH)), c · ceil(n / (DW3_LANE_IMAGES·P))).
#define DW3_LANE_IMAGES 8

template <int S, int TW, int TH, int P>
__device__ void dw_wgrad_k3(const float* __restrict__ x, float* __restrict__ dw,
                            const float* __restrict__ dy, const Conv2dParams& p) {
    constexpr int R = DW3_ROWS;
    constexpr int IH = (TH * R - 1) * S + 3, IW = (TW - 1) * S + 3;
    __shared__ float win[P][IH][IW];
    __shared__ float dyt[P][TH * R][TW];
    const Geom g = geom_of(p);
    const int pz = threadIdx.z;
    const int c = blockIdx.z % g.ic, n0 = (blockIdx.z / g.ic) * DW3_LANE_IMAGES * P;
    const int wo0 = blockIdx.x * TW, ho0 = blockIdx.y * TH * R;
    const int hi0 = ho0 * S - g.ph, wi0 = wo0 * S - g.pw;
    const int sxh = (int)p.x.strides[2], sxw = (int)p.x.strides[3];
    const int syh = (int)p.y.strides[2], syw = (int)p.y.strides[3];
    float acc[9];
#pragma unroll
    for (int i = 0; i < 9; ++i) acc[i] = 0.f;
    const int r0 = threadIdx.y * R * S, q0 = threadIdx.x * S;
    for (int k = 0; k < DW3_LANE_IMAGES; ++k) {  // same count in every lane: the barriers match
        const int n = n0 + pz + k * P;
        const bool live = n < g.n;
        if (live) {
            dw3_stage<IH, IW, TW, TH>(win[pz], x + at(p.x, n, c, 0, 0), sxh, sxw, g.h, g.w, hi0,
                                      wi0);
            dw3_stage<TH * R, TW, TW, TH>(dyt[pz], dy + at(p.y, n, c, 0, 0), syh, syw, g.ho,
                                          g.wo, ho0, wo0);
        }
        __syncthreads();
        if (live) {
            float d[R];
#pragma unroll
            for (int j = 0; j < R; ++j) d[j] = dyt[pz][threadIdx.y * R + j][threadIdx.x];
#pragma unroll
            for (int rr = 0; rr < (R - 1) * S + 3; ++rr) {
                const float v0 = win[pz][r0 + rr][q0], v1 = win[pz][r0 + rr][q0 + 1],
                            v2 = win[pz][r0 + rr][q0 + 2];
#pragma unroll
                for (int j = 0; j < R; ++j) {
                    const int ky = rr - j * S;
                    if (ky >= 0 && ky < 3) {
                        acc[ky * 3] = fmaf(d[j], v0, acc[ky * 3]);
                        acc[ky * 3 + 1] = fmaf(d[j], v1, acc[ky * 3 + 1]);
                        acc[ky * 3 + 2] = fmaf(d[j], v2, acc[ky * 3 + 2]);
                    }
                }
            }
        }
        __syncthreads();  // the next image overwrites the window
    }
#pragma unroll  // constant indices keep acc in registers
    for (int i = 0; i < 9; ++i) {
        const float sum = block_sum(acc[i]);
        if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0)
            atomicAdd(&dw[at(p.w, c, 0, i / 3, i % 3)], sum);
    }
}

#define DW3_WGRAD_ENTRIES(TW, TH, P)                                                             \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_wgrad_k3s1_t##TW(const float* __restrict__ x, float* __restrict__ dw,  \
                                            const float* __restrict__ dy, Conv2dParams p) {       \
        dw_wgrad_k3<1, TW, TH, P>(x, dw, dy, p);                                                 \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(TW * TH * P)                                    \
        slimmable_dwconv2d_wgrad_k3s2_t##TW(const float* __restrict__ x, float* __restrict__ dw,  \
                                            const float* __restrict__ dy, Conv2dParams p) {       \
        dw_wgrad_k3<2, TW, TH, P>(x, dw, dy, p);                                                 \
    }
// Only the 32-wide tile: on narrower planes the blocks are few and serial,
// and the host takes dwconv2d_wgrad_k3 below (up to 2x faster there on an
// H200, 2026-11-26).
DW3_WGRAD_ENTRIES(32, 8, 1)

// Wgrad with all K x K tap sums in registers: grid = (channels, splits),
// each thread walks its pixels once, reading dy once and the window of x
// (cache-resident across neighbouring threads), then K*K block reductions.
template <int K>
__device__ void dw_wgrad_regs(const float* __restrict__ x, float* __restrict__ dw,
                              const float* __restrict__ dy, const Conv2dParams& p) {
    const Geom g = geom_of(p);
    const int c = blockIdx.x;
    const u32 pixels = (u32)g.n * g.ho * g.wo;
    float acc[K * K];
#pragma unroll
    for (int i = 0; i < K * K; ++i) acc[i] = 0.f;
    for (u32 e = blockIdx.y * blockDim.x + threadIdx.x; e < pixels; e += gridDim.y * blockDim.x) {
        int wo = e % g.wo; u32 t = e / g.wo;
        int ho = t % g.ho, n = t / g.ho;
        const float d = dy[at(p.y, n, c, ho, wo)];
        const int hi0 = ho * g.sh - g.ph, wi0 = wo * g.sw - g.pw;
#pragma unroll
        for (int ky = 0; ky < K; ++ky) {
            const int hi = hi0 + ky;
            if (hi < 0 || hi >= g.h) continue;
#pragma unroll
            for (int kx = 0; kx < K; ++kx) {
                const int wi = wi0 + kx;
                if (wi >= 0 && wi < g.w) acc[ky * K + kx] = fmaf(d, x[at(p.x, n, c, hi, wi)], acc[ky * K + kx]);
            }
        }
    }
#pragma unroll 1
    for (int i = 0; i < K * K; ++i) {
        float s = block_sum(acc[i]);
        if (threadIdx.x == 0) atomicAdd(&dw[at(p.w, c, 0, i / K, i % K)], s);
    }
}

#define DW_WGRAD_ENTRY(K)                                                                       \
    extern "C" __global__ void slimmable_dwconv2d_wgrad_k##K(                                   \
        const float* __restrict__ x, float* __restrict__ dw, const float* __restrict__ dy,     \
        Conv2dParams p) {                                                                       \
        dw_wgrad_regs<K>(x, dw, dy, p);                                                         \
    }
DW_WGRAD_ENTRY(3)
DW_WGRAD_ENTRY(5)
DW_WGRAD_ENTRY(7)

// Wgrad of the 3x3, stride-1, padding-1 depthwise conv on planes at most
// DW_NARROW_MAX_W wide (the 14x14 and 7x7 stages, the trainer's 24..4):
// grid (channels, splits), 256 threads. A warp holds 32 / W planes (images
// of the block's channel) side by side, a lane a column, and walks them row
// by row: each step loads one new row of x and one of dy (coalesced), takes
// the left and right neighbours of the new x row by shuffles, and keeps the
// three x rows of the 3x3 window in registers, so a pixel costs 2 loads, 2
// shuffles and 9 FMAs (dwconv2d_wgrad_k3 re-derives the position with two
// divisions and loads nine taps with bounds checks per pixel). Then the nine
// sums are reduced over the block and added to dw with one atomic each.
#define DW_NARROW_THREADS 256
#define DW_NARROW_MAX_W 27
// Rows a warp loads at once. Bounded to 64 registers (four blocks an SM;
// unbounded, the batch took 73 and left three; before it, 48 and five):
// no spills.
#define DW_NARROW_BATCH 8

extern "C" __global__ void __launch_bounds__(DW_NARROW_THREADS, 4)
    slimmable_dwconv2d_wgrad_k3s1_narrow(const float* __restrict__ x, float* __restrict__ dw,
                                         const float* __restrict__ dy, Conv2dParams p) {
    const Geom g = geom_of(p);
    const int c = blockIdx.x, w = g.w, h = g.h;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int per_warp = 32 / w;  // planes side by side in a warp
    const int slot = lane / w, q = lane - slot * w;
    const int warps = DW_NARROW_THREADS / 32;
    // This split's images.
    const int per_split = (g.n + (int)gridDim.y - 1) / (int)gridDim.y;
    const int n0 = (int)blockIdx.y * per_split, n1 = min(g.n, n0 + per_split);
    const int left_lane = lane > 0 ? lane - 1 : 0, right_lane = lane < 31 ? lane + 1 : 31;
    const bool has_left = q > 0, has_right = q < w - 1;
    const int xs = sv(p.x, 2), ys = sv(p.y, 2);
    float acc[9];
#pragma unroll
    for (int i = 0; i < 9; ++i) acc[i] = 0.f;
    // nb is the same across the warp: every lane takes part in the shuffles.
    for (int nb = n0 + warp * per_warp; nb < n1; nb += warps * per_warp) {
        const int n = nb + slot;
        const bool live = slot < per_warp && n < n1;
        const float* xp = x + (live ? at(p.x, n, c, 0, q) : 0);
        const float* dp = dy + (live ? at(p.y, n, c, 0, q) : 0);
        // x rows r - 1, r, r + 1 at columns q - 1, q, q + 1 (zero padding).
        float a0 = 0.f, a1 = 0.f, a2 = 0.f;  // row r - 1
        float b1 = live ? xp[0] : 0.f;       // row r
        float b0 = __shfl_sync(0xffffffffu, b1, left_lane);
        float b2 = __shfl_sync(0xffffffffu, b1, right_lane);
        b0 = has_left ? b0 : 0.f;
        b2 = has_right ? b2 : 0.f;
        // Rows in batches of DW_NARROW_BATCH: the batch's x and dy rows are
        // all loaded before its first shuffle, so a plane of 14 rows is two
        // round trips to memory, 8 rows one (ptxas unrolled the plain row
        // loop by four and ran the remainder a row at a time, each shuffle
        // waiting on its row's load: five round trips at 14 rows, two at 8).
        for (int r0 = 0; r0 < h; r0 += DW_NARROW_BATCH) {
            float xrow[DW_NARROW_BATCH], dyrow[DW_NARROW_BATCH];
#pragma unroll
            for (int j = 0; j < DW_NARROW_BATCH; ++j) {
                const int r = r0 + j;
                xrow[j] = live && r + 1 < h ? xp[(r + 1) * xs] : 0.f;  // row r + 1
                dyrow[j] = live && r < h ? dp[r * ys] : 0.f;
            }
#pragma unroll
            for (int j = 0; j < DW_NARROW_BATCH; ++j) {
                if (r0 + j >= h) break;  // h is the warp's: the shuffles stay converged
                const float c1 = xrow[j];
                float c0 = __shfl_sync(0xffffffffu, c1, left_lane);
                float c2 = __shfl_sync(0xffffffffu, c1, right_lane);
                c0 = has_left ? c0 : 0.f;
                c2 = has_right ? c2 : 0.f;
                const float d = dyrow[j];
                acc[0] = fmaf(d, a0, acc[0]);
                acc[1] = fmaf(d, a1, acc[1]);
                acc[2] = fmaf(d, a2, acc[2]);
                acc[3] = fmaf(d, b0, acc[3]);
                acc[4] = fmaf(d, b1, acc[4]);
                acc[5] = fmaf(d, b2, acc[5]);
                acc[6] = fmaf(d, c0, acc[6]);
                acc[7] = fmaf(d, c1, acc[7]);
                acc[8] = fmaf(d, c2, acc[8]);
                a0 = b0; a1 = b1; a2 = b2;
                b0 = c0; b1 = c1; b2 = c2;
            }
        }
    }
#pragma unroll 1
    for (int i = 0; i < 9; ++i) {
        const float s = block_sum(acc[i]);
        if (threadIdx.x == 0) atomicAdd(&dw[at(p.w, c, 0, i / 3, i % 3)], s);
    }
}
