// slimmable: fused multi-resolution resize + normalize + batch packing.
//
// slimmable_resize_pack(src, desc, dst, ResizePackParams): every requested
//   output of every image in one launch (direct order; the MutualNet order,
//   p.cascade = 1, is slimmable_resize_pack_mutualnet with the same
//   arguments). One thread per column of up to
//   RP_GROUP_ROWS output pixels, all channels: it finds its output by binary
//   search over the outputs' thread ranges, its image through the output's
//   image list, computes its column taps once and each row's taps on the
//   fly, accumulates every channel, and writes one value per channel plane
//   and row (consecutive threads write consecutive x: coalesced). The word
//   layout of `desc` is documented in src/ops/resize.rs.
//
// Tap weights are exact integers (the filters' positions are rationals with
// denominator 2·out or out−1), normalized once: PyTorch's float64 results to
// f32 rounding, independent of the image size. Nearest reproduces PyTorch's
// f32 index rule on purpose.
//
// Direct order, per thread (the fast path, when the column filter has at
// most RP_XTAPS taps): column taps once, as offsets and float weights in
// registers; the union of the GROUP_ROWS rows' source rows walked once,
// each source row filtered horizontally once and added to every output row
// that uses it (rows overlap: shrinking 224→128 with antialias visits about
// 9 source rows for 4 outputs instead of about 14); u8 HWC pixels read as one
// 32-bit word (two when straddling); small integers (u8 values, tap
// weights) turned into floats by a mantissa trick instead of I2F, which
// issues at a quarter of the FMA rate. Each output value is computed with
// the same operations in the same order as the general path, so the bits
// are those of the simple per-row loop (checked on the host).
//
// Launch: 1-D grid of 256-thread blocks (the launch bound), any size;
// grid-stride loop over p.total_groups.
//
// The helpers all kernels share are in resize_pack.cuh.
#include "resize_pack.cuh"

// Column taps a thread keeps in registers (the direct order's fast path):
// 5 covers antialias shrinking by up to about 2.3× (224→96; the bench's
// 224→128 needs 4); wider filters take the general loop. 5 keeps the kernel
// at 80 registers without spills (3 blocks of 256 per SM with the launch
// bound below; 8 taps needed 93 registers, 2 blocks).
#define RP_XTAPS 5

// Direct order: each output resized from the crop. (The MutualNet order is a
// separate entry point so that this one keeps few registers.) The column
// taps (offsets and float weights) are computed once per thread and reused
// by every row tap of its GROUP_ROWS rows; the arithmetic and its order are
// those of rp_accumulate, so both paths give the same bits.
extern "C" __global__ void __launch_bounds__(256, 3)
slimmable_resize_pack(const unsigned char* __restrict__ src,
                                                 const u32* __restrict__ desc,
                                                 float* __restrict__ dst, ResizePackParams p) {
    for (u32 g = blockIdx.x * blockDim.x + threadIdx.x; g < p.total_groups;
         g += gridDim.x * blockDim.x) {
        const RpGroup q = rp_locate(desc, dst, p, g);
        const int ch = (int)q.img[5], cw = (int)q.img[6];
        // Flip mirrors the output (resize, then flip).
        const int xs = q.img[7] ? (int)(q.ow - 1 - q.x) : (int)q.x;
        const RpAxis ax = rp_axis(p.filter_mode, p.align_corners, cw, (int)q.ow, xs);
        if (ax.n > RP_XTAPS) {
            for (u32 y = q.y0; y < q.y1; ++y) {
                const RpAxis ay = rp_axis(p.filter_mode, p.align_corners, ch, (int)q.oh, (int)y);
                float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                rp_accumulate(src, q.img, p, ay, ax, 1.0f, acc);
                rp_store(q.out + y * q.ow, q.oh * q.ow, p, acc);
            }
            continue;
        }
        const u32 base = q.img[0], top = q.img[3], left = q.img[4];
        const bool words = rp_words_ok(src);
        const RpStrides st = rp_strides(p.format, q.img[1], q.img[2], p.channels);
        u32 xo[RP_XTAPS];
        float xw[RP_XTAPS];
#pragma unroll
        for (int k = 0; k < RP_XTAPS; ++k) {
            int ix = 0;
            float wx = 0.0f;
            if (k < ax.n) rp_tap(ax, k, ix, wx);
            xo[k] = (left + (u32)ix) * st.ps;
            xw[k] = wx;
        }
        // The thread's rows share source rows (their taps overlap): walk the
        // union of their row taps once, filter each source row horizontally
        // once, and add it to every output row that uses it. Per output row
        // the additions happen in the same order, with the same weights, as
        // in rp_accumulate (zero weights skipped), so the bits do not change.
        // Row taps in compact form: [lo, end) and, for bilinear, the two
        // weights of lo and e (= i1); antialias weighs tap r on the fly.
        int lo[RP_GROUP_ROWS], e[RP_GROUP_ROWS], c2[RP_GROUP_ROWS];
        float wa[RP_GROUP_ROWS], wb[RP_GROUP_ROWS];
        const int rows = (int)(q.y1 - q.y0);
        int rlo = 0x7fffffff, rhi = 0, aq = 1, am2 = 0;
#pragma unroll
        for (int i = 0; i < RP_GROUP_ROWS; ++i) {
            lo[i] = 0x7fffffff;  // matches no source row
            e[i] = 0;
            c2[i] = 0;
            wa[i] = 0.0f;
            wb[i] = 0.0f;
            if (i < rows) {
                const RpAxis ay = rp_axis(p.filter_mode, p.align_corners, ch, (int)q.oh, (int)q.y0 + i);
                lo[i] = ay.lo;
                if (ay.kind == 2) {
                    e[i] = ay.lo + ay.n;
                    c2[i] = ay.c2;
                    wb[i] = ay.inv;
                    aq = ay.q;
                    am2 = ay.m2;
                } else {
                    int i0, i1 = ay.lo;
                    rp_tap(ay, 0, i0, wa[i]);
                    if (ay.kind == 1) rp_tap(ay, 1, i1, wb[i]);
                    e[i] = i1;
                }
                rlo = min(rlo, ay.lo);
                rhi = max(rhi, ay.kind == 2 ? ay.lo + ay.n : (ay.kind == 1 ? ay.i1 + 1 : ay.lo + 1));
            }
        }
        float acc[RP_GROUP_ROWS][4];
#pragma unroll
        for (int i = 0; i < RP_GROUP_ROWS; ++i) {
#pragma unroll
            for (u32 c = 0; c < 4; ++c) acc[i][c] = 0.0f;
        }
        for (int r = rlo; r < rhi; ++r) {
            const u32 ro = base + (top + (u32)r) * st.rs;
            float row[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int k = 0; k < RP_XTAPS; ++k) {
                if (k < ax.n && xw[k] != 0.0f) {
                    float v[4];
                    rp_fetch_px(src, p.format, words, ro + xo[k], st.cs, p.channels, v);
#pragma unroll
                    for (u32 c = 0; c < 4; ++c) {
                        if (c < p.channels) row[c] += xw[k] * v[c];
                    }
                }
            }
#pragma unroll
            for (int i = 0; i < RP_GROUP_ROWS; ++i) {
                if (p.filter_mode == 2) {
                    if (r >= lo[i] && r < e[i]) {
                        const float wy = rp_i2f(max(am2 - abs((2 * r + 1) * aq - c2[i]), 0)) * wb[i];
                        if (wy != 0.0f) {
#pragma unroll
                            for (u32 c = 0; c < 4; ++c) acc[i][c] += wy * row[c];
                        }
                    }
                } else {
                    // Bilinear at the last row has lo = i1: both taps add, in order.
                    if (r == lo[i] && wa[i] != 0.0f) {
#pragma unroll
                        for (u32 c = 0; c < 4; ++c) acc[i][c] += wa[i] * row[c];
                    }
                    if (p.filter_mode == 1 && r == e[i] && wb[i] != 0.0f) {
#pragma unroll
                        for (u32 c = 0; c < 4; ++c) acc[i][c] += wb[i] * row[c];
                    }
                }
            }
        }
#pragma unroll
        for (int i = 0; i < RP_GROUP_ROWS; ++i) {
            if (i < rows) rp_store(q.out + (q.y0 + i) * q.ow, q.oh * q.ow, p, acc[i]);
        }
    }
}

// MutualNet order: bilinear align_corners=True over the full-resolution
// grid (p.full_h × p.full_w), each of its samples resized from the crop.
// Flip mirrors the full-resolution grid (not the output: with one output
// column, align_corners=True samples column 0).
extern "C" __global__ void slimmable_resize_pack_mutualnet(const unsigned char* __restrict__ src,
                                                           const u32* __restrict__ desc,
                                                           float* __restrict__ dst,
                                                           ResizePackParams p) {
    for (u32 g = blockIdx.x * blockDim.x + threadIdx.x; g < p.total_groups;
         g += gridDim.x * blockDim.x) {
        const RpGroup q = rp_locate(desc, dst, p, g);
        const int ch = (int)q.img[5], cw = (int)q.img[6];
        const bool flip = q.img[7] != 0;
        const int fh = (int)p.full_h, fw = (int)p.full_w;
        const RpAxis sx = rp_axis(1, 1, fw, (int)q.ow, (int)q.x);
        int tx0, tx1;
        float wx0, wx1;
        rp_tap(sx, 0, tx0, wx0);
        rp_tap(sx, 1, tx1, wx1);
        const RpAxis ax0 =
            rp_axis(p.filter_mode, p.align_corners, cw, fw, flip ? fw - 1 - tx0 : tx0);
        const RpAxis ax1 =
            rp_axis(p.filter_mode, p.align_corners, cw, fw, flip ? fw - 1 - tx1 : tx1);
        for (u32 y = q.y0; y < q.y1; ++y) {
            const RpAxis sy = rp_axis(1, 1, fh, (int)q.oh, (int)y);
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int ky = 0; ky < 2; ++ky) {
                int ty;
                float wy;
                rp_tap(sy, ky, ty, wy);
                if (wy == 0.0f) continue;
                const RpAxis ay = rp_axis(p.filter_mode, p.align_corners, ch, fh, ty);
                if (wx0 != 0.0f) rp_accumulate(src, q.img, p, ay, ax0, wy * wx0, acc);
                if (wx1 != 0.0f) rp_accumulate(src, q.img, p, ay, ax1, wy * wx1, acc);
            }
            rp_store(q.out + y * q.ow, q.oh * q.ow, p, acc);
        }
    }
}

// Bilinear direct order (the default for Filter::Bilinear; SLIMMABLE_RESIZE_
// BILINEAR=0 turns it off for A/B timing).
//
// Bilinear has two taps an axis, so the per-column kernel's general tap
// loops cost more instructions than the filter itself. Here a block of
// RPBL_THREADS (one warp) takes a RPT_TILE_H × RPT_TILE_W tile of one image
// of one output (word 7 of an output's descriptor is its first tile). Each
// column's and row's two taps are computed once into shared memory as
// offsets and float weights; each thread then owns one column and all
// RPT_TILE_H rows, and computes each pixel from two horizontally filtered
// source rows (reusing the previous row's second when it is this row's
// first) with straight-line code.
// Same weights, and per channel the same operations in the same order, as
// rp_accumulate: (wx0·v00 + wx1·v01)·wy0 + (wx0·v10 + wx1·v11)·wy1, then
// the folded normalization. rp_accumulate skips a zero weight where this adds
// 0·v, which is exact (taps are always in the image).
// One warp a tile won over two warps of 4 rows each once the source spans
// were staged (H200, run 9: 0.236 against 0.284 ms on the 224-px batch;
// run 10: 0.2880 for two); the two-warp entry was removed in stop 31.

template <u32 THREADS>
__device__ __forceinline__ void rp_bilinear_tiles(const unsigned char* __restrict__ src,
                                                  const u32* __restrict__ desc,
                                                  float* __restrict__ dst,
                                                  const ResizePackParams& p) {
    constexpr u32 ROWS = RPT_TILE_H * RPT_TILE_W / THREADS;
    __shared__ RpBiTap row_tap[RPT_TILE_H];
    __shared__ u32 col_span[2];  // the tile's source columns: first element, one past the last
    __shared__ u32 stage[RPB_STAGE_WORDS];
    __shared__ int stage_off[RPB_STAGE_ROWS];

    // The block's output, image and tile.
    const RpTile tile = rp_locate_tile(desc, p, blockIdx.x);
    const u32* o = tile.out;
    const u32 oh = o[0], ow = o[1];
    const u32 y0 = tile.y0, x0 = tile.x0;
    const u32* img = tile.img;
    if (rp_same_tile<THREADS>(src, dst, 1u, tile, p, stage, stage_off)) return;
    const u32 base = img[0], top = img[3], left = img[4];
    const int ch = (int)img[5], cw = (int)img[6];
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const u32 tid = threadIdx.x;
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);
    const bool words = rp_words_ok(src);
    const bool stageable = p.staged && p.format == 0 && p.channels != 2 && words;

    // Each thread its column's taps (a column past the output's edge takes
    // the last one's), the tile's row taps (threads 0..7) into shared
    // memory, and the span of the columns' taps: a min and max over warp 0,
    // whose lanes hold the tile's 32 columns. Flip mirrors the output
    // (resize, then flip).
    const u32 tx = tid % RPT_TILE_W, ty = tid / RPT_TILE_W;
    const u32 xc = min(x0 + tx, ow - 1);
    const int xs = img[7] ? (int)(ow - 1 - xc) : (int)xc;
    const RpBiTap cx = rp_bitap(p.align_corners, cw, (int)ow, xs, left, st.ps);
    if (tid < RPT_TILE_H) {
        const u32 y = min(y0 + tid, oh - 1);
        row_tap[tid] = rp_bitap(p.align_corners, ch, (int)oh, (int)y, top, st.rs);
    }
    if (stageable && tid < 32) {
        static_assert(RPT_TILE_W == 32, "warp 0 holds the tile's columns");
        u32 lo = cx.o0, hi = cx.o1;
#pragma unroll
        for (u32 d = 16; d > 0; d >>= 1) {
            lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, d));
            hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, d));
        }
        if (tid == 0) {
            col_span[0] = lo;
            col_span[1] = hi + st.ps;
        }
    }
    __syncthreads();

    // Stage the span where it fits (block-uniform): source row r_first + r
    // at stage[r · pitch], its words from the one holding the span's first
    // byte to the one holding its last (never a word outside the image).
    bool staged = false;
    int r_first = 0;
    if (stageable) {
        r_first = row_tap[0].r0;
        const int r_count = row_tap[rows - 1].r1 - r_first + 1;
        const u32 first_col = col_span[0], span = col_span[1] - col_span[0];
        const u32 pitch = (span + 6) / 4;  // words a span of `span` bytes touches, any alignment
        staged = r_count <= RPB_STAGE_ROWS && (u32)r_count * pitch <= RPB_STAGE_WORDS;
        if (staged)
            rp_stage_rows<THREADS>(stage, stage_off, src,
                                   base + (top + (u32)r_first) * st.rs + first_col, st.rs,
                                   r_count, span, pitch);
    }

    if (x0 + tx >= ow) return;
    RpBiColumn q;
    q.cx = cx;
    q.base = base;
    q.cs = st.cs;
    q.ty = ty;
    q.rows = rows;
    q.y0 = y0;
    q.ow = ow;
    q.plane = oh * ow;
    q.out = rp_tile_image(dst, tile, p) + x0 + tx;
    q.stage = stage;
    q.stage_off = stage_off;
    q.r_first = r_first;
    rp_bilinear_dispatch<ROWS>(src, row_tap, q, p, staged);
}

extern "C" __global__ void __launch_bounds__(RPBL_THREADS)
slimmable_resize_pack_bilinear(const unsigned char* __restrict__ src,
                               const u32* __restrict__ desc, float* __restrict__ dst,
                               ResizePackParams p) {
    rp_bilinear_tiles<RPBL_THREADS>(src, desc, dst, p);
}

// Antialias direct order by tiles, when no filter has more than RPS_TAPS
// taps along an axis (ResizePackParams::max_taps; the default for
// Filter::BilinearAntialias, SLIMMABLE_RESIZE_AA_TILE=0 turns it off).
//
// A block of RPB_THREADS takes a RPT_TILE_H × RPT_TILE_W tile of one image of
// one output (the bilinear kernel's tiles). Each column's and row's taps are
// computed once into shared memory as a first offset and float weights, so
// neither pass evaluates the triangle filter again:
//   1. the source rows the tile reads are filtered horizontally, RPS_ROWS
//      rows at a time, into shared memory (one column per thread, rows
//      split between the block's two halves);
//   2. each thread adds those rows into its RPB_ROWS pixels of its column
//      with their row weights.
// Per channel the products and additions are those of rp_accumulate, in
// its order (zero weights skipped there, added as 0·v here: exact).
#define RPS_ROWS 24
// Registers for 16 blocks of 64 an SM: 64 (ptxas: no spills on sm_80/sm_90;
// unbounded it took 128, a quarter of the threads an SM holds). Shared
// memory, 13.9 KB a block (rows_h sized for 4 channels, and the taps) and
// the 1 KB the driver keeps a block, then holds 15 on H100/H200 and 11 on
// A100.
#define RPS_MIN_BLOCKS 16

// One source row filtered at a column's antialias taps, u8 HWC with CH
// channels (the pixels at byte i, i + CH, ...): h[c] += w[k]·v[k][c] in tap
// order, as rp_fetch_px per tap gives it. The taps are read four at a time
// from the aligned words their 4·CH bytes touch (never a word past the
// column's last tap): the loads are independent, so they are in flight
// together, where a load per tap behind the tap count's test waited for each
// in turn (Nsight, run 7: 41% of the stalls on L1TEX). Within a group, taps
// past cx.n have weight 0 (rp_taps) and add 0·v = +0 to a sum that is never
// −0 (u8 values and the triangle's weights are ≥ 0): the same bits, and no
// branch a lane with fewer taps would diverge on.
template <u32 CH, class Words>
__device__ __forceinline__ void rp_aa_row_hwc(const Words& w, u32 i, const RpTaps& cx,
                                              float h[4]) {
    constexpr u32 LOADED = (4u * CH + 2u) / 4u + 1u;  // words 4·CH bytes at any alignment touch
#pragma unroll
    for (int g = 0; g < RPS_TAPS; g += 4) {
        if (g >= cx.n) break;
        const u32 first = i + (u32)g * CH;
        const u32 last = (first + (u32)min(cx.n - g, 4) * CH - 1u) >> 2;
        const u32 a = first >> 2, sh = (first & 3u) * 8u;
        u32 word[LOADED];
        word[0] = w[a];
#pragma unroll
        for (u32 j = 1; j < LOADED; ++j) word[j] = a + j <= last ? w[a + j] : 0u;
        // The group's bytes from byte 0 of aligned[0] on.
        u32 aligned[CH];
#pragma unroll
        for (u32 j = 0; j < CH; ++j) aligned[j] = __funnelshift_r(word[j], word[j + 1], sh);
#pragma unroll
        for (u32 k = 0; k < 4; ++k) {
#pragma unroll
            for (u32 c = 0; c < CH; ++c) {
                const u32 b = k * CH + c;
                const float v = __uint_as_float(__byte_perm(aligned[b >> 2], 0x4B000000u, 0x7540u + (b & 3u))) - 8388608.0f;
                h[c] += cx.w[g + k] * v;
            }
        }
    }
}

// The horizontally filtered rows in shared memory: a float4 per (row,
// column) holds its channels, so a tap of the vertical pass is one 16-byte
// load (one channel: a float per column, consecutive).
template <u32 CH>
__device__ __forceinline__ void rp_aa_put(float4 (*rows_h)[RPT_TILE_W], int r, u32 tx,
                                          const float h[4]) {
    if (CH == 1)
        reinterpret_cast<float*>(rows_h[r])[tx] = h[0];
    else
        rows_h[r][tx] = make_float4(h[0], h[1], h[2], h[3]);
}

template <u32 CH>
__device__ __forceinline__ void rp_aa_get(const float4 (*rows_h)[RPT_TILE_W], int r, u32 tx,
                                          float v[4]) {
    if (CH == 1) {
        v[0] = reinterpret_cast<const float*>(rows_h[r])[tx];
    } else {
        const float4 q = rows_h[r][tx];
        v[0] = q.x;
        v[1] = q.y;
        v[2] = q.z;
        v[3] = q.w;
    }
}

// Source rows are read from global memory, not staged: staging them
// (stop 16) lost on the H200 (run 9: 0.515 against 0.501 ms with staging
// switched off, both slower than run 8's 0.425 without the 4.1 KB of stage
// arrays, whose shared memory cut the blocks an SM from 15 to 12); the
// staged twin was removed in stop 31.
template <u32 FORMAT, u32 CH>
__device__ __forceinline__ void rp_aa_tile(const unsigned char* __restrict__ src, const u32* img,
                                           const RpTaps* col, const RpTaps* row,
                                           float4 (*rows_h)[RPT_TILE_W], const RpStrides st,
                                           u32 x_ok, u32 rows,
                                           float* __restrict__ out_col, u32 ow, u32 plane,
                                           const ResizePackParams& p) {
    const u32 format = FORMAT < 3 ? FORMAT : p.format;
    const u32 channels = FORMAT < 3 ? CH : p.channels;
    const bool words = rp_words_ok(src);
    const u32 tid = threadIdx.x, tx = tid % RPT_TILE_W, half = tid / RPT_TILE_W;
    const u32 base = img[0], top = img[3], left = img[4];
    const RpTaps cx = col[tx];
    const int span_lo = row[0].lo, span_hi = row[rows - 1].lo + row[rows - 1].n;
    float acc[RPB_ROWS][4];
#pragma unroll
    for (u32 k = 0; k < RPB_ROWS; ++k)
#pragma unroll
        for (u32 c = 0; c < 4; ++c) acc[k][c] = 0.0f;
    for (int c0 = span_lo; c0 < span_hi; c0 += RPS_ROWS) {
        const int c1 = min(c0 + RPS_ROWS, span_hi);
        // 1. Horizontal: this thread's column over rows half, half + 2, ...
        for (int r = c0 + (int)half; r < c1; r += RPB_THREADS / RPT_TILE_W) {
            float h[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (x_ok) {
                const u32 ro = base + (top + (u32)r) * st.rs + (left + (u32)cx.lo) * st.ps;
                if (FORMAT == 0 && words) {
                    rp_aa_row_hwc<CH>(RpGlobalWords{reinterpret_cast<const u32*>(src)}, ro, cx, h);
                } else {
#pragma unroll
                    for (int k = 0; k < RPS_TAPS; ++k) {
                        if (k >= cx.n) break;
                        float v[4];
                        rp_fetch_px(src, format, words, ro + (u32)k * st.ps, st.cs, channels, v);
#pragma unroll
                        for (u32 c = 0; c < CH; ++c) h[c] += cx.w[k] * v[c];
                    }
                }
            }
            rp_aa_put<CH>(rows_h, r - c0, tx, h);
        }
        __syncthreads();
        // 2. Vertical: each of this thread's rows takes its taps in the chunk.
        if (x_ok) {
#pragma unroll
            for (u32 k = 0; k < RPB_ROWS; ++k) {
                const u32 y = half + k * (RPB_THREADS / RPT_TILE_W);
                if (y >= rows) break;
                const RpTaps& ry = row[y];
                const int t0 = max(c0 - ry.lo, 0), t1 = min(c1 - ry.lo, ry.n);
                // Unrolled over the taps a row holds, so that w[t] is a
                // fixed offset and a row's 3–5 taps are straight-line code.
#pragma unroll
                for (int t = 0; t < RPS_TAPS; ++t) {
                    if (t >= t1) break;
                    if (t < t0) continue;
                    const float wy = ry.w[t];
                    float v[4];
                    rp_aa_get<CH>(rows_h, ry.lo + t - c0, tx, v);
#pragma unroll
                    for (u32 c = 0; c < CH; ++c) acc[k][c] += wy * v[c];
                }
            }
        }
        __syncthreads();  // rows_h is refilled by the next chunk
    }
    if (!x_ok) return;
#pragma unroll
    for (u32 k = 0; k < RPB_ROWS; ++k) {
        const u32 y = half + k * (RPB_THREADS / RPT_TILE_W);
        if (y >= rows) break;
#pragma unroll
        for (u32 c = 0; c < CH; ++c) {
            if (c >= channels) break;
            out_col[c * plane + y * ow] = fmaf(acc[k][c], p.scale[c], p.bias[c]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(RPB_THREADS, RPS_MIN_BLOCKS)
slimmable_resize_pack_aa(const unsigned char* __restrict__ src, const u32* __restrict__ desc,
                         float* __restrict__ dst, ResizePackParams p) {
    __shared__ RpTaps col_taps[RPT_TILE_W];
    __shared__ RpTaps row_taps[RPT_TILE_H];
    __shared__ float4 rows_h[RPS_ROWS][RPT_TILE_W];

    // The block's output, image and tile.
    const RpTile tile = rp_locate_tile(desc, p, blockIdx.x);
    const u32* o = tile.out;
    const u32 oh = o[0], ow = o[1];
    const u32 y0 = tile.y0, x0 = tile.x0;
    const u32* img = tile.img;
    if (rp_same_tile<RPB_THREADS, false>(src, dst, 2u, tile, p, nullptr, nullptr)) return;
    const int ch = (int)img[5], cw = (int)img[6];
    const u32 tid = threadIdx.x;

    // Taps, once per column and row of the tile (threads 0..31 columns,
    // 32..39 rows); flip mirrors the output (resize, then flip).
    if (tid < RPT_TILE_W) {
        const u32 x = min(x0 + tid, ow - 1);
        const int xs = img[7] ? (int)(ow - 1 - x) : (int)x;
        col_taps[tid] = rp_taps(p.align_corners, cw, (int)ow, xs);
    } else if (tid < RPT_TILE_W + RPT_TILE_H) {
        const u32 y = min(y0 + tid - RPT_TILE_W, oh - 1);
        row_taps[tid - RPT_TILE_W] = rp_taps(p.align_corners, ch, (int)oh, (int)y);
    }
    __syncthreads();

    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);
    const u32 tx = tid % RPT_TILE_W;
    const u32 x_ok = x0 + tx < ow;
    const u32 plane = oh * ow;
    float* out_col = rp_tile_image(dst, tile, p) + y0 * ow + x0 + tx;
    // Format and channel count as constants (as in the bilinear kernel).
    switch (p.format * 4 + p.channels - 1) {
        case 0: rp_aa_tile<0, 1>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
        case 2: rp_aa_tile<0, 3>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
        case 4: rp_aa_tile<1, 1>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
        case 6: rp_aa_tile<1, 3>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
        case 10: rp_aa_tile<2, 3>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
        default: rp_aa_tile<3, 4>(src, img, col_taps, row_taps, rows_h, st, x_ok, rows, out_col, ow, plane, p); break;
    }
}
