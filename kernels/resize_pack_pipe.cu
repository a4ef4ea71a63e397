// slimmable: the resize-pack tile kernels on persistent, pipelined warps
// (opt-in while they are being measured: SLIMMABLE_RESIZE_PIPE=1).
//
// The one-shot tile kernels of resize_pack.cu run a tile per block, as a
// chain of round trips; here one-warp blocks, as many as the GPU holds at
// once, walk the tiles grid-stride and copy the next tile's source span
// while computing the current one. Same tiles, taps and arithmetic as
// their one-shot twins, so the same bits.
#include "resize_pack.cuh"

// The walk both persistent kernels share: tiles blockIdx.x, + gridDim.x,
// ..., each tile's copies issued into one of two buffers while the tile
// before it is computed from the other. issue(b, buf) finds tile b, starts
// its copies into buffer buf (commits nothing) and returns its state, mode 0
// past the last tile (warp-uniform); compute(tile, buf) writes it once its
// copies landed and the warp synced.
template <class Tile, class Issue, class Compute>
__device__ __forceinline__ void rp_pipe_walk(Issue issue, Compute compute) {
    u32 b = blockIdx.x;
    Tile cur = issue(b, 0u);
    cp_async_commit();
    for (u32 buf = 0; cur.mode != 0; buf ^= 1) {
        b += gridDim.x;
        const Tile next = issue(b, buf ^ 1);
        cp_async_commit();  // (an empty group past the last tile keeps the count)
        cp_async_wait_group<1>();  // this lane's copies of `cur` landed...
        __syncthreads();           // ...and every lane's, with what issue wrote
        compute(cur, buf);
        __syncthreads();  // the next issue refills this buffer
        cur = next;
    }
}

// Bilinear tiles on persistent, pipelined warps (opt-in while it is being
// measured: SLIMMABLE_RESIZE_PIPE=1).
//
// A one-warp slimmable_resize_pack_bilinear block runs one tile as a chain
// of round trips (find the tile's output and image in the descriptor
// table, compute the taps, stage the source span, wait, compute, store)
// and an SM holds at most 32 such blocks: at 0.236 ms on the 224-px batch
// (run 9) the stores ran at 44% of copy bandwidth. Here each one-warp block
// stays resident and walks tiles blockIdx.x, + gridDim.x, ... (the host
// launches as many blocks as fit at once), and while it computes one tile
// the copies of the next tile's span are in flight: two buffers of staged
// rows, row taps and stage offsets, cp.async groups one tile apart. The
// tiles, taps, staging rule and per-pixel arithmetic are those of
// slimmable_resize_pack_bilinear (same-size tiles included), so the values
// are the same bits.
//
// Shared memory: 2 × (RPP_STAGE_WORDS words + RPP_STAGE_ROWS offsets + 8
// row taps) = 6.0 KB a block, 7.0 with the 1 KB the driver keeps: 32
// blocks an SM on H100/H200 (228 KB). 704 words hold the 224 → 128 tiles'
// spans (at most 14 rows of 43 words); spans past it read global memory.
#define RPP_STAGE_WORDS 704
#define RPP_STAGE_ROWS 16

// What a warp keeps of a tile between issuing its copies and computing it.
struct RpPipeTile {
    RpTile tile;
    u32 mode;       // 0 past the last tile, 1 same size, 2 bilinear
    bool staged;    // the source span is (being) copied into the tile's buffer
    RpBiTap cx;     // bilinear: this lane's column taps
    int r_first;    // bilinear, staged: the span's first source row
};

// Finds tile b, computes its taps (row taps into `row_tap`) and issues the
// copies of its source span into `stage` where it fits; commits nothing.
// Warp-uniform but for the lane's column taps.
__device__ __forceinline__ RpPipeTile rp_pipe_issue(const unsigned char* __restrict__ src,
                                                    const u32* __restrict__ desc,
                                                    const ResizePackParams& p, u32 b, u32* stage,
                                                    int* stage_off, RpBiTap* row_tap) {
    RpPipeTile t;
    t.mode = 0;
    t.staged = false;
    t.r_first = 0;
    if (b >= p.total_tiles) return t;
    t.tile = rp_locate_tile(desc, p, b);
    const u32* img = t.tile.img;
    const u32 oh = t.tile.out[0], ow = t.tile.out[1];
    const u32 y0 = t.tile.y0, x0 = t.tile.x0;
    const u32 lane = threadIdx.x % 32;
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);
    const bool words = rp_words_ok(src);
    if (rp_same_is(t.tile, p)) {
        t.mode = 1;
        t.staged = rp_same_issue<32>(src, p, t.tile, stage, stage_off);
        return t;
    }
    // rp_bilinear_tiles' taps and staging rule, the span's bounds from
    // shuffles instead of shared memory.
    t.mode = 2;
    const u32 xc = min(x0 + lane, ow - 1);
    const int xs = img[7] ? (int)(ow - 1 - xc) : (int)xc;
    t.cx = rp_bitap(p.align_corners, (int)img[6], (int)ow, xs, img[4], st.ps);
    RpBiTap ry = t.cx;  // lanes 0..7: the tile's row taps
    if (lane < RPT_TILE_H) {
        const u32 y = min(y0 + lane, oh - 1);
        ry = rp_bitap(p.align_corners, (int)img[5], (int)oh, (int)y, img[3], st.rs);
        row_tap[lane] = ry;
    }
    if (p.staged && p.format == 0 && p.channels != 2 && words) {
        u32 lo = t.cx.o0, hi = t.cx.o1;
#pragma unroll
        for (u32 d = 16; d > 0; d >>= 1) {
            lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, d));
            hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, d));
        }
        const int r_first = __shfl_sync(0xffffffffu, ry.r0, 0);
        const int r_last = __shfl_sync(0xffffffffu, ry.r1, (int)rows - 1);
        const int r_count = r_last - r_first + 1;
        const u32 span = hi + st.ps - lo, pitch = (span + 6) / 4;
        t.staged = r_count <= RPP_STAGE_ROWS && (u32)r_count * pitch <= RPP_STAGE_WORDS;
        t.r_first = r_first;
        if (t.staged)
            rp_issue_stage_rows<32>(stage, stage_off, src,
                                    img[0] + (img[3] + (u32)r_first) * st.rs + lo, st.rs,
                                    r_count, span, pitch);
    }
    return t;
}

// Writes tile t from its buffer (its copies landed and the warp synced).
__device__ __forceinline__ void rp_pipe_compute(const unsigned char* __restrict__ src,
                                                float* __restrict__ dst,
                                                const ResizePackParams& p, const RpPipeTile& t,
                                                const u32* stage, const int* stage_off,
                                                const RpBiTap* row_tap) {
    const u32* img = t.tile.img;
    const u32 oh = t.tile.out[0], ow = t.tile.out[1];
    const u32 y0 = t.tile.y0, x0 = t.tile.x0;
    const u32 lane = threadIdx.x % 32;
    const u32 x = x0 + lane;
    if (x >= ow) return;
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);
    if (t.mode == 1) {
        rp_same_write<32>(src, dst, p, t.tile, 1u, t.staged, stage, stage_off);
        return;
    }
    RpBiColumn q;
    q.cx = t.cx;
    q.base = img[0];
    q.cs = st.cs;
    q.ty = 0;
    q.rows = rows;
    q.y0 = y0;
    q.ow = ow;
    q.plane = oh * ow;
    q.out = rp_tile_image(dst, t.tile, p) + x;
    q.stage = stage;
    q.stage_off = stage_off;
    q.r_first = t.r_first;
    rp_bilinear_dispatch<RPT_TILE_H>(src, row_tap, q, p, t.staged);
}

extern "C" __global__ void __launch_bounds__(32, 32)
slimmable_resize_pack_bilinear_pipe(const unsigned char* __restrict__ src,
                                    const u32* __restrict__ desc, float* __restrict__ dst,
                                    ResizePackParams p) {
    __shared__ u32 stage[2][RPP_STAGE_WORDS];
    __shared__ int stage_off[2][RPP_STAGE_ROWS];
    __shared__ RpBiTap row_tap[2][RPT_TILE_H];
    rp_pipe_walk<RpPipeTile>(
        [&](u32 b, u32 buf) {
            return rp_pipe_issue(src, desc, p, b, stage[buf], stage_off[buf], row_tap[buf]);
        },
        [&](const RpPipeTile& t, u32 buf) {
            rp_pipe_compute(src, dst, p, t, stage[buf], stage_off[buf], row_tap[buf]);
        });
}

// Antialias tiles on persistent, pipelined warps (opt-in while it is being
// measured: SLIMMABLE_RESIZE_PIPE=1, with the bilinear ones).
//
// slimmable_resize_pack_aa runs a tile per two-warp block: taps into shared
// memory, a barrier, the horizontal pass into rows_h, a barrier, the
// vertical pass, with every source word a global load in the middle of the
// chain (0.425–0.515 ms on the 224-px batch, 21–24% of copy bandwidth).
// Here, as in slimmable_resize_pack_bilinear_pipe, one-warp blocks stay
// resident and walk tiles grid-stride, issuing the next tile's copies
// before computing the current one. One warp owns a tile's 32 columns for
// both passes, so the horizontal results need no shared memory: each lane
// filters the tile's source rows at its column in order and adds each row
// into its 8 output rows' accumulators with weights from a per-tile table
// (source row × output row, zero outside a row's taps), read as two
// broadcast float4s a source row. Per output value the products and
// additions are those of rp_accumulate in its order (zero weights added as
// 0·v, which is exact for finite v), as in the other tile kernels. Unlike
// theirs, the zeros here include the tile's rows outside an output row's
// taps, where a NaN or infinite f32 pixel would reach rows it does not
// touch: the host keeps f32 sources on the one-shot kernel.
//
// Shared memory: 2 × (RPA_STAGE_WORDS words + RPA_ROWS offsets + RPA_ROWS
// × 8 weights) = 8.4 KB a block, 9.4 with the driver's 1 KB: 24 blocks an
// SM on H100/H200. 720 words hold the 224 → 128 spans (16 rows of 45
// words). A tile whose source rows pass RPA_ROWS takes rp_accumulate's
// general loop instead: none the host routes here (at most 8 taps an axis
// keeps a tile within 36 source rows, counted for every size up to 259),
// but the CUDA-on-CPU harness shrinks RPA_ROWS to run that loop.
#define RPA_STAGE_WORDS 720
#ifndef RPA_ROWS
#define RPA_ROWS 40
#endif
// (stage_off also serves the same-size tiles' 8 rows.)
static_assert(RPA_ROWS >= RPT_TILE_H, "stage_off holds a same-size tile's rows");

// What a warp keeps of an antialias tile between issuing and computing it.
struct RpAaPipeTile {
    RpTile tile;
    u32 mode;     // 0 past the last tile, 1 same size, 2 weight table, 3 general loop
    bool staged;  // the source span is (being) copied into the tile's buffer
    RpTaps cx;    // mode 2: this lane's column taps
    int r_first, r_count;  // mode 2: the tile's source rows
};

// Finds tile b, computes its taps (the row weights into `wrow`) and issues
// the copies of its source span into `stage` where it fits; commits
// nothing. Syncs the block once (mode 2). Warp-uniform but for cx.
__device__ __forceinline__ RpAaPipeTile rp_aa_pipe_issue(const unsigned char* __restrict__ src,
                                                         const u32* __restrict__ desc,
                                                         const ResizePackParams& p, u32 b,
                                                         u32* stage, int* stage_off,
                                                         float (*wrow)[RPT_TILE_H]) {
    RpAaPipeTile t;
    t.mode = 0;
    t.staged = false;
    t.r_first = 0;
    t.r_count = 0;
    if (b >= p.total_tiles) return t;
    t.tile = rp_locate_tile(desc, p, b);
    if (rp_same_is(t.tile, p)) {
        t.mode = 1;
        t.staged = rp_same_issue<32>(src, p, t.tile, stage, stage_off);
        return t;
    }
    const u32* img = t.tile.img;
    const u32 oh = t.tile.out[0], ow = t.tile.out[1];
    const u32 y0 = t.tile.y0, x0 = t.tile.x0;
    const u32 lane = threadIdx.x % 32;
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);
    // Taps: this lane's column (a column past the output's edge takes the
    // last one's; flip mirrors the output), lanes 0..7 the tile's rows.
    const u32 xc = min(x0 + lane, ow - 1);
    const int xs = img[7] ? (int)(ow - 1 - xc) : (int)xc;
    t.cx = rp_taps(p.align_corners, (int)img[6], (int)ow, xs);
    RpTaps ry = t.cx;
    if (lane < RPT_TILE_H) ry = rp_taps(p.align_corners, (int)img[5], (int)oh, (int)min(y0 + lane, oh - 1));
    // Taps rise with the output row: row 0's first and the last row's end
    // bound the tile's source rows.
    t.r_first = __shfl_sync(0xffffffffu, ry.lo, 0);
    t.r_count = __shfl_sync(0xffffffffu, ry.lo + ry.n, (int)rows - 1) - t.r_first;
    if (t.r_count > RPA_ROWS) {
        t.mode = 3;
        return t;
    }
    t.mode = 2;
    // The weight table: zeros, then each row's taps.
    for (int k = (int)lane; k < t.r_count * RPT_TILE_H; k += 32) wrow[k / RPT_TILE_H][k % RPT_TILE_H] = 0.0f;
    __syncthreads();
    if (lane < rows) {
#pragma unroll
        for (int k = 0; k < RPS_TAPS; ++k) {
            if (k < ry.n) wrow[ry.lo - t.r_first + k][lane] = ry.w[k];
        }
    }
    // The span of the columns' taps (a min and max over the warp), staged
    // where it fits (u8 HWC of 1, 3 or 4 channels: the staged column
    // kernels take the channel count as a constant).
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    if (p.staged && p.format == 0 && p.channels != 2 && rp_words_ok(src)) {
        int lo = t.cx.lo, hi = t.cx.lo + t.cx.n;
#pragma unroll
        for (u32 d = 16; d > 0; d >>= 1) {
            lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, d));
            hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, d));
        }
        const u32 span = (u32)(hi - lo) * st.ps, pitch = (span + 6) / 4;
        t.staged = (u32)t.r_count * pitch <= RPA_STAGE_WORDS;
        if (t.staged)
            rp_issue_stage_rows<32>(stage, stage_off, src,
                                    img[0] + (img[3] + (u32)t.r_first) * st.rs +
                                        (img[4] + (u32)lo) * st.ps,
                                    st.rs, t.r_count, span, pitch);
    }
    return t;
}

// A mode-2 tile's column at this lane: every source row filtered
// horizontally once, added into the 8 rows with the table's weights.
// FORMAT and CH as in rp_aa_tile (3: read from p); STAGED: u8 HWC words
// from the staged span.
template <u32 FORMAT, u32 CH, bool STAGED>
__device__ __forceinline__ void rp_aa_pipe_column(const unsigned char* __restrict__ src,
                                                  float* __restrict__ out_col,
                                                  const ResizePackParams& p,
                                                  const RpAaPipeTile& t, const u32* stage,
                                                  const int* stage_off,
                                                  const float (*wrow)[RPT_TILE_H]) {
    const u32* img = t.tile.img;
    const u32 oh = t.tile.out[0], ow = t.tile.out[1];
    const u32 format = FORMAT < 3 ? FORMAT : p.format;
    const u32 channels = FORMAT < 3 ? CH : p.channels;
    const bool words = rp_words_ok(src);
    const RpStrides st = rp_strides(format, img[1], img[2], channels);
    const RpTaps& cx = t.cx;
    // Element of the lane's first tap in the tile's first source row.
    const u32 first = img[0] + (img[3] + (u32)t.r_first) * st.rs + (img[4] + (u32)cx.lo) * st.ps;
    float acc[RPT_TILE_H][4];
#pragma unroll
    for (u32 i = 0; i < RPT_TILE_H; ++i)
#pragma unroll
        for (u32 c = 0; c < 4; ++c) acc[i][c] = 0.0f;
    for (int r = 0; r < t.r_count; ++r) {
        const u32 ro = first + (u32)r * st.rs;
        float h[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int k = 0; k < RPS_TAPS; ++k) {
            if (k >= cx.n) break;
            float v[4];
            if (STAGED)
                rp_fetch_px_hwc(RpStagedWords{stage, stage_off[r]}, ro + (u32)k * st.ps, channels, v);
            else
                rp_fetch_px(src, format, words, ro + (u32)k * st.ps, st.cs, channels, v);
#pragma unroll
            for (u32 c = 0; c < CH; ++c) h[c] += cx.w[k] * v[c];
        }
        const float4 wa = *reinterpret_cast<const float4*>(&wrow[r][0]);
        const float4 wb = *reinterpret_cast<const float4*>(&wrow[r][4]);
        const float w[RPT_TILE_H] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
#pragma unroll
        for (u32 i = 0; i < RPT_TILE_H; ++i)
#pragma unroll
            for (u32 c = 0; c < CH; ++c) acc[i][c] += w[i] * h[c];
    }
    const u32 rows = min((u32)RPT_TILE_H, oh - t.tile.y0), plane = oh * ow;
#pragma unroll
    for (u32 i = 0; i < RPT_TILE_H; ++i) {
        if (i >= rows) break;
#pragma unroll
        for (u32 c = 0; c < CH; ++c) {
            if (c >= channels) break;
            out_col[c * plane + i * ow] = fmaf(acc[i][c], p.scale[c], p.bias[c]);
        }
    }
}

// Writes tile t from its buffer (its copies landed and the warp synced).
__device__ __forceinline__ void rp_aa_pipe_compute(const unsigned char* __restrict__ src,
                                                   float* __restrict__ dst,
                                                   const ResizePackParams& p,
                                                   const RpAaPipeTile& t, const u32* stage,
                                                   const int* stage_off,
                                                   const float (*wrow)[RPT_TILE_H]) {
    if (t.mode == 1) {
        rp_same_write<32>(src, dst, p, t.tile, 2u, t.staged, stage, stage_off);
        return;
    }
    const u32* img = t.tile.img;
    const u32 oh = t.tile.out[0], ow = t.tile.out[1];
    const u32 x = t.tile.x0 + threadIdx.x % 32;
    if (x >= ow) return;
    float* out_col = rp_tile_image(dst, t.tile, p) + t.tile.y0 * ow + x;
    if (t.mode == 3) {
        // Too many source rows for the table: the per-column kernel's loop.
        const int xs = img[7] ? (int)(ow - 1 - x) : (int)x;
        const RpAxis ax = rp_axis(2u, p.align_corners, (int)img[6], (int)ow, xs);
        const u32 rows = min((u32)RPT_TILE_H, oh - t.tile.y0);
        for (u32 i = 0; i < rows; ++i) {
            const RpAxis ay =
                rp_axis(2u, p.align_corners, (int)img[5], (int)oh, (int)(t.tile.y0 + i));
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            rp_accumulate(src, img, p, ay, ax, 1.0f, acc);
            rp_store(out_col + i * ow, oh * ow, p, acc);
        }
        return;
    }
    if (t.staged) {
        switch (p.channels) {
            case 1: rp_aa_pipe_column<0, 1, true>(src, out_col, p, t, stage, stage_off, wrow); break;
            case 3: rp_aa_pipe_column<0, 3, true>(src, out_col, p, t, stage, stage_off, wrow); break;
            default: rp_aa_pipe_column<0, 4, true>(src, out_col, p, t, stage, stage_off, wrow); break;
        }
        return;
    }
    switch (p.format * 4 + p.channels - 1) {
        case 0: rp_aa_pipe_column<0, 1, false>(src, out_col, p, t, stage, stage_off, wrow); break;
        case 2: rp_aa_pipe_column<0, 3, false>(src, out_col, p, t, stage, stage_off, wrow); break;
        case 4: rp_aa_pipe_column<1, 1, false>(src, out_col, p, t, stage, stage_off, wrow); break;
        case 6: rp_aa_pipe_column<1, 3, false>(src, out_col, p, t, stage, stage_off, wrow); break;
        case 10: rp_aa_pipe_column<2, 3, false>(src, out_col, p, t, stage, stage_off, wrow); break;
        default: rp_aa_pipe_column<3, 4, false>(src, out_col, p, t, stage, stage_off, wrow); break;
    }
}

extern "C" __global__ void __launch_bounds__(32, 24)
slimmable_resize_pack_aa_pipe(const unsigned char* __restrict__ src, const u32* __restrict__ desc,
                              float* __restrict__ dst, ResizePackParams p) {
    __shared__ u32 stage[2][RPA_STAGE_WORDS];
    __shared__ int stage_off[2][RPA_ROWS];
    __shared__ __align__(16) float wrow[2][RPA_ROWS][RPT_TILE_H];
    rp_pipe_walk<RpAaPipeTile>(
        [&](u32 b, u32 buf) {
            return rp_aa_pipe_issue(src, desc, p, b, stage[buf], stage_off[buf], wrow[buf]);
        },
        [&](const RpAaPipeTile& t, u32 buf) {
            rp_aa_pipe_compute(src, dst, p, t, stage[buf], stage_off[buf], wrow[buf]);
        });
}
