// slimmable: the 3x3, stride-1, padding-1 depthwise conv (most depthwise
// layers of a MobileNet), all three passes, on the flat layout of one image.
//
// When every plane of a view is contiguous and the planes follow each other
// (strides w = 1, h = W, c = H·W: any channel slice of an NCHW buffer), one
// image's active channels are one flat array f = c·H·W + r·W + q, and the
// tap (ky, kx) of output f is input f + (ky−1)·W + (kx−1), unless that
// crosses the plane's border (row r = 0 or H−1, column q = 0 or W−1), where
// the padding is zero. So a block takes a segment of DWF_SEG consecutive
// outputs, stages the segment's input and one row plus one element either
// side in shared memory with coalesced loads (no per-plane tiling, no
// threads idle at the edge of a tile whatever the plane size), and each
// thread computes four consecutive outputs, masking the taps that cross a
// border. The 3x3 tiled kernels of dwconv2d.cu did about 125 instructions
// an output (Nsight Compute, H200, dw3x3_b): issue-bound at 30% of copy
// bandwidth; these reach 45-48% there (H200 run 5), still issue-bound.
//
// dgrad with stride 1 and padding 1 is the forward with the kernel turned
// 180° (dx(r, q) = Σ dy(r + 1 − ky, q + 1 − kx)·w(ky, kx)), so one kernel
// serves both; wgrad runs the same walk over `images` images a block (the
// next one's loads in flight while this one is multiplied), keeps the
// nine tap sums of its (at most two) channels in registers, and reduces them
// per channel in shared memory before one atomic add per channel and tap.
#include "common.cuh"
#include "conv_common.cuh"

#define DWF_THREADS 256
#define DWF_SEG (4 * DWF_THREADS)  // outputs a block: four consecutive a thread
#define DWF_MAX_W 512               // the halo is 2W + 2 floats (host checks W)
#define DWF_MIN_PLANE 4             // H·W at least this (host checks): bounds
#define DWF_MAX_CH (DWF_SEG / DWF_MIN_PLANE + 2)  // the channels of a segment
// The wgrad holds a thread's share of the window in registers (the next
// image's, while this one is multiplied): planes up to DWF_WGRAD_MAX_W wide.
#define DWF_WGRAD_MAX_W 255
#define DWF_WGRAD_STAGE ((DWF_SEG + 2 * DWF_WGRAD_MAX_W + 2 + DWF_THREADS - 1) / DWF_THREADS)

// Stages src[lo, lo + len) of one image's flat array (zero outside
// [0, total)) into win.
//
// The window a block stages: its outputs rounded up to whole runs of four
// (the last run may pass the end of the array: its outputs are not stored,
// but their taps are read, and in wgrad a read of unstaged shared memory
// could be NaN, and 0·NaN poisons the sum), one row plus one element either
// side.
__device__ __forceinline__ int dwf_window_len(int e0, int total, int w) {
    return min(DWF_SEG, (total - e0 + 3) & ~3) + 2 * w + 2;
}
// A thread's loads go out in batches of DWF_STAGE_BATCH, all in flight
// before the batch's first store: a window of up to 5 · 256 elements
// (planes up to 127 wide) is one round trip to memory. (As a plain loop,
// ptxas unrolled it by four and ran the remainder first, one element at a
// time, each load waited on by its store: the threads with a fifth element
// — t < 114 at W = 56, t < 30 at W = 14 — made a second round trip, and
// the block's barrier waited for them.)
#define DWF_STAGE_BATCH 5
__device__ __forceinline__ void dwf_stage(float* win, const float* __restrict__ src, int lo,
                                          int len, int total) {
    for (int i0 = threadIdx.x; i0 < len; i0 += DWF_STAGE_BATCH * DWF_THREADS) {
        float v[DWF_STAGE_BATCH];
#pragma unroll
        for (int j = 0; j < DWF_STAGE_BATCH; ++j) {
            const int i = i0 + j * DWF_THREADS, gi = lo + i;
            v[j] = (i < len && gi >= 0 && gi < total) ? src[gi] : 0.f;
        }
#pragma unroll
        for (int j = 0; j < DWF_STAGE_BATCH; ++j) {
            const int i = i0 + j * DWF_THREADS;
            if (i < len) win[i] = v[j];
        }
    }
}

// Where output f of the flat array lies: channel c, row r, column q.
struct FlatPos {
    int c, r, q;
};
__device__ __forceinline__ FlatPos dwf_pos(int f, int plane, int w) {
    FlatPos s;  // unsigned divisions: shorter than signed ones
    s.c = (int)((u32)f / (u32)plane);
    const int rem = f - s.c * plane;
    s.r = (int)((u32)rem / (u32)w);
    s.q = rem - s.r * w;
    return s;
}
// The next output's position.
__device__ __forceinline__ void dwf_advance(FlatPos& s, int h, int w) {
    if (++s.q == w) {
        s.q = 0;
        if (++s.r == h) {
            s.r = 0;
            ++s.c;
        }
    }
}

// Which borders an output at (r, q) touches: the taps beyond them read the
// zero padding. Four flags (not a nine-bit mask) so that each tap's
// multiply-add is predicated on one of them or a pair.
struct FlatEdges {
    bool top, bottom, left, right;  // the tap row / column exists
};
__device__ __forceinline__ FlatEdges dwf_edges(const FlatPos& s, int h, int w) {
    return {s.r > 0, s.r < h - 1, s.q > 0, s.q < w - 1};
}
// Whether tap (ky, kx) of an output with these edges is inside its plane.
__device__ __forceinline__ bool dwf_tap(const FlatEdges& e, int ky, int kx) {
    const bool row = ky == 0 ? e.top : ky == 2 ? e.bottom : true;
    const bool col = kx == 0 ? e.left : kx == 2 ? e.right : true;
    return row && col;
}

// ROW4: thread t's window rows v[ky][0..5] = win[4t + ky·W + 0..5] as a
// float4 and a float2 (16- and 8-byte aligned: W is a multiple of 4).
__device__ __forceinline__ void dwf_window_row4(const float* win, int t, int w, float v[3][6]) {
#pragma unroll
    for (int ky = 0; ky < 3; ++ky) {
        const float4 a = *reinterpret_cast<const float4*>(&win[4 * t + ky * w]);
        const float2 b = *reinterpret_cast<const float2*>(&win[4 * t + ky * w + 4]);
        v[ky][0] = a.x; v[ky][1] = a.y; v[ky][2] = a.z; v[ky][3] = a.w;
        v[ky][4] = b.x; v[ky][5] = b.y;
    }
}

// ROW2: the same as three float2 a row (8-byte aligned: W is even).
__device__ __forceinline__ void dwf_window_row2(const float* win, int t, int w, float v[3][6]) {
#pragma unroll
    for (int ky = 0; ky < 3; ++ky)
#pragma unroll
        for (int j = 0; j < 6; j += 2) {
            const float2 a = *reinterpret_cast<const float2*>(&win[4 * t + ky * w + j]);
            v[ky][j] = a.x;
            v[ky][j + 1] = a.y;
        }
}

// One run of L outputs in one row, whose window columns start at j0 in v:
// the row's top and bottom edges for all, the first output's left edge
// (`run.left`) and the last one's right edge (`right`); wk holds the nine
// taps and the bias.
template <int L>
__device__ __forceinline__ void dwf_run(const float (&v)[3][6], int j0, const FlatEdges& run,
                                        bool right, const float (&wk)[10], float* out) {
#pragma unroll
    for (int i = 0; i < L; ++i) {
        const FlatEdges e = {run.top, run.bottom, i == 0 ? run.left : true,
                             i == L - 1 ? right : true};
        float acc = wk[9];
#pragma unroll
        for (int ky = 0; ky < 3; ++ky)
#pragma unroll
            for (int kx = 0; kx < 3; ++kx)
                if (dwf_tap(e, ky, kx)) acc = fmaf(v[ky][j0 + i + kx], wk[3 * ky + kx], acc);
        out[i] = acc;
    }
}

// A block's outputs of one segment from its staged window `win` (first
// element e0 − W − 1) and the nine taps and bias of its channels c_lo..c_hi
// in `wsm` (row stride 10): thread t's four outputs e0 + 4t.. into d (one
// image's flat destination). No barrier. RUN as follows.
//
// ROW4: planes a multiple of 4 wide (the host checks), so a thread's four
// outputs are one run of a row (runs start at multiples of 4, and so do
// rows and planes): one position, one set of weights, the row's top and
// bottom edges shared, only the first output's left and the last one's
// right edge to mask, and the window rows read as float4 + float2 (16-byte
// aligned: 4t + ky·W is a multiple of 4). The general walk advances a
// position, re-derives four edges and checks for a new channel per output:
// on sm_90 its code after the barrier is 300 SASS instructions against 191
// here (36 FFMAs in both), 39 registers against 32.
//
// ROW2: planes of even width that ROW4 does not take (14, 10, 6: the
// ImageNet net's 14×14 stage, the trainer's 14 and 10), so a thread's
// outputs are two runs of two, each in one row: a position, edges and
// (where the second run starts a new plane) weights per run instead of per
// output, and float2 window reads.
template <int RUN>
__device__ __forceinline__ void dwf_compute(const float* win, const float (*wsm)[10], int e0,
                                            int c_lo, int c_hi, int h, int w, int total,
                                            float* __restrict__ d, const Conv2dParams& p) {
    const int t = threadIdx.x, plane = h * w;
    const int f = e0 + 4 * t;
    if (f >= total) return;
    // v[ky][j]: the window row of tap row ky, j = output (0..3) + kx.
    float v[3][6];
    float out[4];
    if constexpr (RUN == 4) {
        dwf_window_row4(win, t, w, v);
        const FlatPos pos = dwf_pos(f, plane, w);
        const FlatEdges run = dwf_edges(pos, h, w);  // left: output 0's; right: output 3's
        const bool right = pos.q + 4 < w;
        float wk[10];
#pragma unroll
        for (int k = 0; k < 10; ++k) wk[k] = wsm[pos.c - c_lo][k];
        dwf_run<4>(v, 0, run, right, wk, out);
    } else if constexpr (RUN == 2) {
        dwf_window_row2(win, t, w, v);
        FlatPos pos = dwf_pos(f, plane, w);
        int c = -1;
        float wk[10];
#pragma unroll
        for (int run = 0; run < 2; ++run) {
            if (pos.c != c) {  // the first run, or one that starts the next plane
                c = pos.c;
#pragma unroll
                for (int k = 0; k < 10; ++k) wk[k] = wsm[min(c, c_hi) - c_lo][k];
            }
            const FlatEdges e0 = dwf_edges(pos, h, w);  // left: the run's first output's
            dwf_run<2>(v, 2 * run, e0, pos.q + 2 < w, wk, out + 2 * run);
            // The next run: two columns on, wrapping to the next row / plane.
            pos.q += 2;
            if (pos.q == w) {
                pos.q = 0;
                if (++pos.r == h) {
                    pos.r = 0;
                    ++pos.c;
                }
            }
        }
    } else {
#pragma unroll
        for (int ky = 0; ky < 3; ++ky)
#pragma unroll
            for (int j = 0; j < 6; ++j) v[ky][j] = win[4 * t + ky * w + j];
        FlatPos pos = dwf_pos(f, plane, w);
        int c = -1;
        float wk[10];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            if (pos.c != c) {  // the first output, or a run that crosses into the next plane
                c = pos.c;
#pragma unroll
                for (int k = 0; k < 10; ++k) wk[k] = wsm[min(c, c_hi) - c_lo][k];
            }
            const FlatEdges e = dwf_edges(pos, h, w);
            float acc = wk[9];
#pragma unroll
            for (int ky = 0; ky < 3; ++ky)
#pragma unroll
                for (int kx = 0; kx < 3; ++kx)
                    if (dwf_tap(e, ky, kx)) acc = fmaf(v[ky][i + kx], wk[3 * ky + kx], acc);
            out[i] = acc;
            dwf_advance(pos, h, w);
        }
    }
    float* o = d + f;
    if (f + 3 < total && (reinterpret_cast<size_t>(o) & 15) == 0) {
        float4* o4 = reinterpret_cast<float4*>(o);
        float4 r = make_float4(out[0], out[1], out[2], out[3]);
        if (p.accumulate) {
            const float4 old = *o4;
            r.x += old.x; r.y += old.y; r.z += old.z; r.w += old.w;
        }
        *o4 = r;
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i)
            if (f + i < total) o[i] = p.accumulate ? o[i] + out[i] : out[i];
    }
}

// The channels c_lo..c_hi a segment starting at flat element e0 touches.
__device__ __forceinline__ void dwf_channels(int e0, int plane, int ic, int& c_lo, int& c_hi) {
    c_lo = e0 / plane;
    c_hi = min(ic - 1, (e0 + DWF_SEG - 1) / plane);
}

// The element of `wt` that tap k (0..8) of channel cc's row of the block's
// weight table holds: the kernel turned 180° for the dgrad (slot 9, the
// bias, is the caller's).
template <bool FLIP>
__device__ __forceinline__ u32 dwf_tap_at(const Conv2dParams& p, int cc, int k) {
    const int kk = FLIP ? 8 - k : k;
    return at(p.w, cc, 0, kk / 3, kk % 3);
}

// Forward (FLIP false: src x, dst y, bias) or data gradient (FLIP true:
// src dy, dst dx, the kernel turned 180°). Grid (segments, N).
template <bool FLIP, int RUN>
__device__ void dwf_apply(const float* __restrict__ src, float* __restrict__ dst,
                          const float* __restrict__ wt, const float* __restrict__ bias,
                          const Conv2dParams& p) {
    __shared__ __align__(16) float win[DWF_SEG + 2 * DWF_MAX_W + 2];
    __shared__ float wsm[DWF_MAX_CH][10];  // nine taps and the bias
    const Geom g = geom_of(p);
    const ViewParams& sv_ = FLIP ? p.y : p.x;
    const ViewParams& dv = FLIP ? p.x : p.y;
    const int h = g.h, w = g.w, plane = h * w, total = g.ic * plane;
    const int n = blockIdx.y, e0 = blockIdx.x * DWF_SEG, t = threadIdx.x;
    const float* s = src + sv_.offset + n * sv_.strides[0];
    float* d = dst + dv.offset + n * dv.strides[0];
    int c_lo, c_hi;
    dwf_channels(e0, plane, g.ic, c_lo, c_hi);
    // Entry i of the weight table: channel c_lo + i / 10's tap i % 10.
    const int entries = (c_hi - c_lo + 1) * 10;
    auto weight_entry = [&](int i) -> float {
        const int cc = c_lo + i / 10, k = i % 10;
        if (k == 9) return (!FLIP && p.has_bias) ? bias[p.bias_offset + cc] : 0.f;
        return wt[dwf_tap_at<FLIP>(p, cc, k)];
    };
    // A thread's first entry (the only one unless a segment spans more than
    // 25 channels) is loaded before the window and stored after it, so that
    // its round trip overlaps the window's instead of following it.
    const float first_entry = t < entries ? weight_entry(t) : 0.f;
    dwf_stage(win, s, e0 - w - 1, dwf_window_len(e0, total, w), total);
    if (t < entries) wsm[t / 10][t % 10] = first_entry;
    for (int i = t + DWF_THREADS; i < entries; i += DWF_THREADS) wsm[i / 10][i % 10] = weight_entry(i);
    __syncthreads();
    dwf_compute<RUN>(win, wsm, e0, c_lo, c_hi, h, w, total, d, p);
}

// The forward and dgrad entries of one run shape: general (RUN 1), the
// ROW4 twins (planes a multiple of 4 wide, launch_conv.rs dw_flat_row4) and
// the ROW2 twins (other even widths, dw_flat_row2; their wgrad is the
// general one).
#define DWF_APPLY_ENTRIES(SUFFIX, RUN)                                                          \
    extern "C" __global__ void __launch_bounds__(DWF_THREADS)                                   \
        slimmable_dwconv2d_fwd_k3s1_flat##SUFFIX(const float* __restrict__ x,                   \
                                                 const float* __restrict__ wt,                  \
                                                 float* __restrict__ y,                         \
                                                 const float* __restrict__ bias,                \
                                                 Conv2dParams p) {                              \
        dwf_apply<false, RUN>(x, y, wt, bias, p);                                               \
    }                                                                                           \
    extern "C" __global__ void __launch_bounds__(DWF_THREADS)                                   \
        slimmable_dwconv2d_dgrad_k3s1_flat##SUFFIX(float* __restrict__ dx,                      \
                                                   const float* __restrict__ wt,                \
                                                   const float* __restrict__ dy,                \
                                                   Conv2dParams p) {                            \
        dwf_apply<true, RUN>(dy, dx, wt, nullptr, p);                                           \
    }
DWF_APPLY_ENTRIES(, 1)
DWF_APPLY_ENTRIES(4, 4)
DWF_APPLY_ENTRIES(2, 2)

// The weight gradient's body: grid (segments, ceil(N / images)); the block
// walks its segment in `images` images. A thread's four outputs lie in
// channel c0 or, where the run crosses a plane's end, c0 + 1: one set of
// nine sums each.
//
// ROW4 (planes a multiple of 4 wide, as for the forward): no run crosses a
// plane, so one set of sums; and a run's taps beyond a border are the
// window's top or bottom row, or its first or last column, for all four
// outputs at once: those window values are zeroed once per image, so all
// 36 multiply-adds run unconditionally (the general walk branches around
// each masked tap and keeps a second set of sums). sm_90 SASS of one
// image's step between the barriers: 157 instructions against 342, 52
// registers against 72 (scripts/sass-report.sh).
template <bool ROW4>
__device__ void dwf_wgrad(const float* __restrict__ x, float* __restrict__ dw,
                                          const float* __restrict__ dy, const Conv2dParams& p,
                                          u32 images) {
    __shared__ __align__(16) float win[DWF_SEG + 2 * DWF_MAX_W + 2];
    __shared__ float sums[DWF_MAX_CH][9];
    const Geom g = geom_of(p);
    const int h = g.h, w = g.w, plane = h * w, total = g.ic * plane;
    const int e0 = blockIdx.x * DWF_SEG, t = threadIdx.x, f = e0 + 4 * t;
    const int c_lo = e0 / plane, c_hi = min(g.ic - 1, (e0 + DWF_SEG - 1) / plane);
    const int n_lo = blockIdx.y * images, n_hi = min(g.n, n_lo + (int)images);
    for (int i = t; i < (c_hi - c_lo + 1) * 9; i += DWF_THREADS) sums[i / 9][i % 9] = 0.f;
    const bool live = f < total;
    // Per output: the borders it touches, whether it exists, whether it is
    // in c0 + 1.
    FlatEdges edge[4];
    bool real[4], next[4];
    int c0 = 0;
    {
        FlatPos pos = dwf_pos(live ? f : 0, plane, w);
        c0 = pos.c;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            edge[i] = dwf_edges(pos, h, w);
            real[i] = f + i < total;
            next[i] = real[i] && pos.c != c0;
            dwf_advance(pos, h, w);
        }
    }
    const bool crosses = !ROW4 && (next[1] || next[2] || next[3]);
    // Warps with no run across a plane's end (every warp when H·W is a
    // multiple of 4) keep one set of sums; the others pick one per output.
    const bool split = !ROW4 && __any_sync(0xffffffffu, live && crosses);
    float a0[9], a1[9];
#pragma unroll
    for (int k = 0; k < 9; ++k) a0[k] = a1[k] = 0.f;
    // The next image's window and dy are loaded into registers while this
    // one is multiplied (a block walks its images one after the other, so
    // their load latency would otherwise stall it between barriers).
    const int lo = e0 - w - 1, len = dwf_window_len(e0, total, w);
    float xr[DWF_WGRAD_STAGE], gr[4];
    auto load = [&](int n) {
        const float* xn = x + p.x.offset + n * p.x.strides[0];
#pragma unroll
        for (int j = 0; j < DWF_WGRAD_STAGE; ++j) {
            const int i = t + j * DWF_THREADS, gi = lo + i;
            xr[j] = (i < len && gi >= 0 && gi < total) ? xn[gi] : 0.f;
        }
        const float* dyn = dy + p.y.offset + n * p.y.strides[0] + f;
#pragma unroll
        for (int i = 0; i < 4; ++i) gr[i] = real[i] ? dyn[i] : 0.f;
    };
    if (n_lo < n_hi) load(n_lo);
    for (int n = n_lo; n < n_hi; ++n) {
#pragma unroll
        for (int j = 0; j < DWF_WGRAD_STAGE; ++j)
            if (t + j * DWF_THREADS < len) win[t + j * DWF_THREADS] = xr[j];
        float gy[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) gy[i] = gr[i];
        __syncthreads();
        if (n + 1 < n_hi) load(n + 1);
        if (ROW4 && live) {
            float v[3][6];
            dwf_window_row4(win, t, w, v);
            // The run's edges: edge[0] holds its top, bottom and left,
            // edge[3] its right.
#pragma unroll
            for (int j = 0; j < 6; ++j) {
                if (!edge[0].top) v[0][j] = 0.f;
                if (!edge[0].bottom) v[2][j] = 0.f;
            }
#pragma unroll
            for (int ky = 0; ky < 3; ++ky) {
                if (!edge[0].left) v[ky][0] = 0.f;
                if (!edge[3].right) v[ky][5] = 0.f;
            }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int ky = 0; ky < 3; ++ky)
#pragma unroll
                    for (int kx = 0; kx < 3; ++kx)
                        a0[3 * ky + kx] = fmaf(gy[i], v[ky][i + kx], a0[3 * ky + kx]);
        } else if (live) {
            float v[3][6];
#pragma unroll
            for (int ky = 0; ky < 3; ++ky)
#pragma unroll
                for (int j = 0; j < 6; ++j) v[ky][j] = win[4 * t + ky * w + j];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float g0 = split && next[i] ? 0.f : gy[i], g1 = gy[i] - g0;
#pragma unroll
                for (int ky = 0; ky < 3; ++ky)
#pragma unroll
                    for (int kx = 0; kx < 3; ++kx) {
                        if (!dwf_tap(edge[i], ky, kx)) continue;
                        const float xv = v[ky][i + kx];
                        a0[3 * ky + kx] = fmaf(g0, xv, a0[3 * ky + kx]);
                        if (split) a1[3 * ky + kx] = fmaf(g1, xv, a1[3 * ky + kx]);
                    }
            }
        }
        __syncthreads();  // the next image overwrites the window
    }
    // Per channel in shared memory: a warp whose lanes all sum one channel
    // reduces by shuffles first (the common case: planes of 16 or more
    // outputs); the others add lane by lane.
    const int c_first = __shfl_sync(0xffffffffu, c0, 0);
    const bool uniform = __all_sync(0xffffffffu, !live || (c0 == c_first && !crosses));
    if (uniform) {
#pragma unroll
        for (int k = 0; k < 9; ++k) {
            float s = a0[k];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            a0[k] = s;
        }
        if (t % 32 == 0 && live)
#pragma unroll
            for (int k = 0; k < 9; ++k) atomicAdd(&sums[c0 - c_lo][k], a0[k]);
    } else if (live) {
#pragma unroll
        for (int k = 0; k < 9; ++k) {
            atomicAdd(&sums[c0 - c_lo][k], a0[k]);
            if (crosses) atomicAdd(&sums[c0 + 1 - c_lo][k], a1[k]);
        }
    }
    __syncthreads();
    for (int i = t; i < (c_hi - c_lo + 1) * 9; i += DWF_THREADS) {
        const int k = i % 9;
        atomicAdd(&dw[at(p.w, c_lo + i / 9, 0, k / 3, k % 3)], sums[i / 9][k]);
    }
}

// Weight gradient: grid (segments, ceil(N / images)); the block walks its
// segment in `images` images (see dwf_wgrad). Three blocks an SM, as before
// the body became a template (ptxas then chose 64 registers and spilled 4
// bytes on sm_80; bounded it keeps 72-75, no spills).
extern "C" __global__ void __launch_bounds__(DWF_THREADS, 3)
    slimmable_dwconv2d_wgrad_k3s1_flat(const float* __restrict__ x, float* __restrict__ dw,
                                       const float* __restrict__ dy, Conv2dParams p,
                                       u32 images) {
    dwf_wgrad<false>(x, dw, dy, p, images);
}

// The ROW4 twin: planes a multiple of 4 wide (launch_conv.rs dw_flat_row4).
extern "C" __global__ void __launch_bounds__(DWF_THREADS)
    slimmable_dwconv2d_wgrad_k3s1_flat4(const float* __restrict__ x, float* __restrict__ dw,
                                        const float* __restrict__ dy, Conv2dParams p,
                                        u32 images) {
    dwf_wgrad<true>(x, dw, dy, p, images);
}
