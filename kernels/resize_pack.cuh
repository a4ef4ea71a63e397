// slimmable: what the resize-pack kernels (kernels/resize_pack.cu) share: the
// descriptor table's layout, the filters' exact integer taps, pixel
// fetches, the tiles and where they write, the bilinear tiles' per-column
// code, source-span staging and the same-size path. The principles are in
// resize_pack.cu's head comment.
#pragma once
#include "common.cuh"
#include "cp_async.cuh"

#define RP_IMAGE_WORDS 8
#define RP_OUTPUT_WORDS 8
// Output rows per thread (ops::resize::GROUP_ROWS).
#define RP_GROUP_ROWS 4

// Exact float of an integer in [0, 2^23) without a conversion instruction
// (I2F issues at a quarter of the FMA rate and was the hot spot: every tap
// weight and every u8 pixel went through one): place it in the mantissa of
// 2^23 and subtract 2^23.
__device__ __forceinline__ float rp_i2f(int i) {
    return __int_as_float(0x4B000000 + i) - 8388608.0f;
}

// Taps of one output coordinate along one axis.
struct RpAxis {
    int lo;    // first source index
    int n;     // number of taps
    int kind;  // 0 nearest, 1 bilinear, 2 antialias
    int i1;    // bilinear: second index (clamped)
    int w0, w1;     // bilinear: integer weights
    int c2, q, m2;  // antialias: centre·2q, q, 2·max(p, q)
    float inv;      // 1 / sum of the integer weights
};

// The antialias filter's taps of output coordinate d: scale p/q; centre
// p(2d+1)/2q; support max(p/q, 1); in units of 1/2q a tap j weighs
// max(2·max(p,q) - |(2j+1)q - p(2d+1)|, 0) (rp_aa_weight), source indices
// lo .. lo + n - 1.
struct RpAaWindow {
    int lo, n, c2, q, m2;  // c2 = p(2d+1), m2 = 2·max(p, q)
};

__device__ __forceinline__ RpAaWindow rp_aa_window(u32 align_corners, int in, int out, int d) {
    int p, q;
    if (align_corners) {
        p = out > 1 ? in - 1 : 0;
        q = out > 1 ? out - 1 : 1;
    } else {
        p = in;
        q = out;
    }
    RpAaWindow w;
    w.m2 = 2 * max(p, q);
    w.c2 = p * (2 * d + 1);
    w.q = q;
    // Both quotients of non-negative numbers: unsigned divisions, shorter.
    const int lo_num = w.c2 - w.m2 + q;
    const u32 two_q = 2u * (u32)q;
    w.lo = lo_num > 0 ? (int)((u32)lo_num / two_q) : 0;
    w.n = min((int)((u32)(w.c2 + w.m2 + q) / two_q), in) - w.lo;
    return w;
}

// Tap j's integer weight (a multiple of 1/2q).
template <class Window>
__device__ __forceinline__ int rp_aa_weight(const Window& w, int j) {
    return max(w.m2 - abs((2 * j + 1) * w.q - w.c2), 0);
}

__device__ __forceinline__ RpAxis rp_axis(u32 filter, u32 align_corners, int in, int out, int d) {
    RpAxis a;
    a.kind = (int)filter;
    a.i1 = 0;
    a.w0 = 1;
    a.w1 = 0;
    a.c2 = 0;
    a.q = 1;
    a.m2 = 0;
    if (filter == 0) {
        int i;
        if (out == in) {
            i = d;
        } else if (out == 2 * in) {
            i = d >> 1;
        } else {
            const float scale = (float)in / (float)out;
            i = min((int)floorf((float)d * scale), in - 1);
        }
        a.lo = i;
        a.n = 1;
        a.inv = 1.0f;
    } else if (filter == 1) {
        // Source position num/den: align_corners d(in-1)/(out-1), else
        // max((2d+1)in - out, 0) / 2out.
        int num, den;
        if (align_corners) {
            num = out > 1 ? d * (in - 1) : 0;
            den = out > 1 ? out - 1 : 1;
        } else {
            num = max((2 * d + 1) * in - out, 0);
            den = 2 * out;
        }
        const int i0 = num / den;
        const int rem = num - i0 * den;
        a.lo = i0;
        a.i1 = min(i0 + 1, in - 1);
        a.n = 2;
        a.w0 = den - rem;
        a.w1 = rem;
        a.inv = 1.0f / (float)den;
    } else {
        const RpAaWindow w = rp_aa_window(align_corners, in, out, d);
        int sum = 0;
        for (int j = w.lo; j < w.lo + w.n; ++j) sum += rp_aa_weight(w, j);
        a.lo = w.lo;
        a.n = w.n;
        a.c2 = w.c2;
        a.q = w.q;
        a.m2 = w.m2;
        a.inv = 1.0f / (float)sum;
    }
    return a;
}

__device__ __forceinline__ void rp_tap(const RpAxis& a, int k, int& idx, float& w) {
    if (a.kind == 0) {
        idx = a.lo;
        w = 1.0f;
    } else if (a.kind == 1) {
        idx = k == 0 ? a.lo : a.i1;
        w = rp_i2f(k == 0 ? a.w0 : a.w1) * a.inv;
    } else {
        const int j = a.lo + k;
        idx = j;
        w = rp_i2f(rp_aa_weight(a, j)) * a.inv;
    }
}

// Source value of channel c at image row y, column x.
__device__ __forceinline__ float rp_load(const unsigned char* __restrict__ src, u32 format, u32 base,
                                         u32 h, u32 w, u32 channels, u32 y, u32 x, u32 c) {
    if (format == 0) return rp_i2f(src[base + (y * w + x) * channels + c]);
    if (format == 1) return rp_i2f(src[base + (c * h + y) * w + x]);
    return reinterpret_cast<const float*>(src)[base + (c * h + y) * w + x];
}

// acc[c] += scale · Σ wy·wx·pixel over the taps of (ay, ax) in the crop.
__device__ __forceinline__ void rp_accumulate(const unsigned char* __restrict__ src,
                                              const u32* __restrict__ img,
                                              const ResizePackParams& p, const RpAxis& ay,
                                              const RpAxis& ax, float scale, float acc[4]) {
    const u32 base = img[0], h = img[1], w = img[2], top = img[3], left = img[4];
    for (int ky = 0; ky < ay.n; ++ky) {
        int iy;
        float wy;
        rp_tap(ay, ky, iy, wy);
        if (wy == 0.0f) continue;
        float row[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int kx = 0; kx < ax.n; ++kx) {
            int ix;
            float wx;
            rp_tap(ax, kx, ix, wx);
            if (wx == 0.0f) continue;
            // Fixed trip count keeps row/acc in registers.
#pragma unroll
            for (u32 c = 0; c < 4; ++c) {
                if (c < p.channels) row[c] += wx * rp_load(src, p.format, base, h, w, p.channels, top + iy, left + ix, c);
            }
        }
#pragma unroll
        for (u32 c = 0; c < 4; ++c) acc[c] += scale * wy * row[c];
    }
}

// One value per channel plane: v·scale + bias (the folded normalization).
__device__ __forceinline__ void rp_store(float* out, u32 plane, const ResizePackParams& p,
                                         const float acc[4]) {
#pragma unroll
    for (u32 c = 0; c < 4; ++c) {
        if (c < p.channels) out[c * plane] = fmaf(acc[c], p.scale[c], p.bias[c]);
    }
}

// Where launch index g writes: image n's rows y0..y1 at column x of one output.
struct RpGroup {
    const u32* img;  // the image descriptor
    u32 oh, ow, x, y0, y1;
    float* out;      // element (n, channel 0, row 0, x) of the output
};

// The descriptor of the last output whose start (descriptor word `word`:
// 5 its first launch index, 7 its first tile) is at most `key`; starts rise
// with the output index.
__device__ __forceinline__ const u32* rp_find_output(const u32* __restrict__ outs, u32 count,
                                                     u32 word, u32 key) {
    u32 lo = 0, hi = count;
    while (hi - lo > 1) {
        const u32 mid = (lo + hi) / 2;
        if (outs[mid * RP_OUTPUT_WORDS + word] <= key) lo = mid; else hi = mid;
    }
    return outs + lo * RP_OUTPUT_WORDS;
}

__device__ __forceinline__ RpGroup rp_locate(const u32* __restrict__ desc, float* dst,
                                             const ResizePackParams& p, u32 g) {
    const u32* outs = desc + RP_IMAGE_WORDS * p.num_images;
    const u32* list = outs + RP_OUTPUT_WORDS * p.num_outputs;
    const u32* o = rp_find_output(outs, p.num_outputs, 5, g);  // whose group range holds g
    RpGroup q;
    q.oh = o[0];
    q.ow = o[1];
    const u32 local = g - o[5];
    const u32 row_groups = (q.oh + RP_GROUP_ROWS - 1) / RP_GROUP_ROWS;
    const u32 band = local / q.ow;
    q.x = local - band * q.ow;
    const u32 n = band / row_groups;
    q.y0 = (band - n * row_groups) * RP_GROUP_ROWS;
    q.y1 = min(q.y0 + RP_GROUP_ROWS, q.oh);
    q.img = desc + RP_IMAGE_WORDS * list[o[2] + n];
    q.out = dst + o[4] + n * p.channels * q.oh * q.ow + q.x;
    return q;
}

// Channel c of source pixel (row, col) of an image is at
// base + row·rs + col·ps + c·cs (elements of the source's type).
struct RpStrides {
    u32 rs, ps, cs;
};

__device__ __forceinline__ RpStrides rp_strides(u32 format, u32 h, u32 w, u32 channels) {
    RpStrides s;
    if (format == 0) {
        s.rs = w * channels;
        s.ps = channels;
        s.cs = 1;
    } else {
        s.rs = w;
        s.ps = 1;
        s.cs = h * w;
    }
    return s;
}

__device__ __forceinline__ float rp_fetch(const unsigned char* __restrict__ src, u32 format, u32 i) {
    if (format == 2) return reinterpret_cast<const float*>(src)[i];
    return rp_i2f(src[i]);
}

// Whether the source buffer is 4-byte aligned, so that u8 HWC pixels can be
// read as 32-bit words (a device allocation always is; a caller's offset
// pointer may not be).
__device__ __forceinline__ bool rp_words_ok(const unsigned char* src) {
    return (reinterpret_cast<unsigned long long>(src) & 3ull) == 0;
}

// The 32-bit words of a u8 source, by global word index: from global
// memory, or from a tile's staged copy in shared memory.
struct RpGlobalWords {
    const u32* w;
    __device__ __forceinline__ u32 operator[](u32 a) const { return __ldg(w + a); }
};
struct RpStagedWords {
    const u32* s;
    int off;  // s[a + off] holds global word a
    __device__ __forceinline__ u32 operator[](u32 a) const { return s[(int)a + off]; }
};

// Every channel of the u8 HWC pixel whose first byte is i, from its 1–4
// bytes in one 32-bit word, or two when they straddle a word (never a word
// the pixel does not touch). Entries past `channels` are garbage.
template <class Words>
__device__ __forceinline__ void rp_fetch_px_hwc(const Words& w, u32 i, u32 channels, float v[4]) {
    const u32 lo = w[i >> 2], sh = (i & 3u) * 8u;
    const u32 bits = (i & 3u) + channels > 4u ? __funnelshift_r(lo, w[(i >> 2) + 1], sh) : lo >> sh;
    // One PRMT per channel moves byte c under the exponent of 2^23 (bytes
    // 4, 5, 7 of the second operand: 0x00, 0x00, 0x4B), as in rp_i2f.
#pragma unroll
    for (u32 c = 0; c < 4; ++c)
        v[c] = __uint_as_float(__byte_perm(bits, 0x4B000000u, 0x7540u + c)) - 8388608.0f;
}

// Every channel of the source pixel whose channel 0 is element i (channels
// cs apart); entries past p.channels are garbage and must not be used. u8
// HWC with a 4-byte-aligned buffer (`words`) reads the pixel's 1–4 bytes
// with one 32-bit load, or two when they straddle a word (never a word the
// pixel does not touch, so never past the buffer), instead of one byte load
// per channel.
__device__ __forceinline__ void rp_fetch_px(const unsigned char* __restrict__ src, u32 format,
                                            bool words, u32 i, u32 cs, u32 channels, float v[4]) {
    if (format == 0 && words) {
        rp_fetch_px_hwc(RpGlobalWords{reinterpret_cast<const u32*>(src)}, i, channels, v);
    } else {
#pragma unroll
        for (u32 c = 0; c < 4; ++c) v[c] = c < channels ? rp_fetch(src, format, i + c * cs) : 0.0f;
    }
}

#define RPT_TILE_W 32
#define RPT_TILE_H 8

// Which tile block b of a tile launch takes (uniform over the block): its
// output's descriptor, the image's position n in the output's list and its
// descriptor, and the tile's first row and column. Tiles run along x, then
// y; then, with p.tile_runs, every output of one source image, image after
// image (the tile-run table); else the output's images, output after output
// (word 7: an output's first tile).
struct RpTile {
    const u32* out;
    const u32* img;
    u32 n, y0, x0;
};

__device__ __forceinline__ RpTile rp_locate_tile(const u32* __restrict__ desc,
                                                 const ResizePackParams& p, u32 b) {
    const u32* outs = desc + RP_IMAGE_WORDS * p.num_images;
    const u32* list = outs + RP_OUTPUT_WORDS * p.num_outputs;
    RpTile q;
    u32 tile;  // b's place in its run: image-major, in the image; else in the output
    if (p.tile_runs > 0) {
        // Image-major: the run (an output's tiles of one image) holding b,
        // from the tile-run table (ops/resize.rs): every output's tiles of
        // a source image are consecutive blocks, so all but the first read
        // it from L2 (output-major, each output re-read the whole batch).
        const u32* first = desc + p.tile_runs_at;
        u32 lo = 0, hi = p.tile_runs;
        while (hi - lo > 1) {
            const u32 mid = (lo + hi) / 2;
            if (first[mid] <= b) lo = mid; else hi = mid;
        }
        q.out = outs + RP_OUTPUT_WORDS * first[p.tile_runs + lo];
        q.n = first[2 * p.tile_runs + lo];
        tile = b - first[lo];
    } else {
        q.out = rp_find_output(outs, p.num_outputs, 7, b);  // whose tile range holds b
        tile = b - q.out[7];
    }
    const u32 oh = q.out[0], ow = q.out[1];
    const u32 tiles_x = (ow + RPT_TILE_W - 1) / RPT_TILE_W;
    const u32 tiles_y = (oh + RPT_TILE_H - 1) / RPT_TILE_H;
    if (p.tile_runs == 0) {  // the output's run: its images' tiles, image after image
        q.n = tile / (tiles_x * tiles_y);
        tile -= q.n * tiles_x * tiles_y;
    }
    const u32 ty0 = tile / tiles_x;
    q.y0 = ty0 * RPT_TILE_H;
    q.x0 = (tile - ty0 * tiles_x) * RPT_TILE_W;
    q.img = desc + RP_IMAGE_WORDS * list[q.out[2] + q.n];
    return q;
}

// Channel 0, row 0, column 0 of the tile's image in its output.
__device__ __forceinline__ float* rp_tile_image(float* dst, const RpTile& t,
                                                const ResizePackParams& p) {
    return dst + t.out[4] + t.n * p.channels * t.out[0] * t.out[1];
}

#define RPBL_THREADS 32
// The antialias tile kernel's block (two warps: 4 rows a thread).
#define RPB_THREADS 64
#define RPB_ROWS (RPT_TILE_H * RPT_TILE_W / RPB_THREADS)

// One output coordinate's two taps: element offsets (column·pixel stride or
// row·row stride) and weights.
struct RpBiTap {
    u32 o0, o1;
    float w0, w1;
    int r0, r1;  // the two source rows or columns (crop-relative)
};

__device__ __forceinline__ RpBiTap rp_bitap(u32 align_corners, int in, int out, int d, u32 start,
                                            u32 stride) {
    const RpAxis a = rp_axis(1u, align_corners, in, out, d);
    RpBiTap t;
    t.o0 = (start + (u32)a.lo) * stride;
    t.o1 = (start + (u32)a.i1) * stride;
    t.w0 = rp_i2f(a.w0) * a.inv;
    t.w1 = rp_i2f(a.w1) * a.inv;
    t.r0 = a.lo;
    t.r1 = a.i1;
    return t;
}

// One thread's RPB_ROWS pixels of its column. FORMAT 0..2 is p.format as a
// constant, CH the channel count; FORMAT 3 reads both from `p` (the rare
// layouts).
struct RpBiColumn {
    RpBiTap cx;      // the column's taps
    u32 base, cs;    // the image's first element; channel stride
    u32 ty, rows;    // the thread's first row in the tile; rows in the tile
    u32 y0, ow, plane;
    float* out;      // channel 0, row 0 of the output at this column
    // The staged source span (u8 HWC, STAGED kernels only): source row
    // r_first + r's words are stage[a + stage_off[r]] for global word a.
    const u32* stage;
    const int* stage_off;
    int r_first;
};


// Two u8 HWC pixels of CH channels in a row whose first bytes are i0 and i1
// (i1 − i0 is 0 or CH: a bilinear column's two taps), as rp_fetch_px gives
// them, from the 1–3 aligned words the pair touches (never a word outside
// it) instead of two fetches of 1–2 words each.
template <u32 CH, class Words>
__device__ __forceinline__ void rp_fetch_pair_hwc(const Words& w, u32 i0, u32 i1, float v0[4],
                                                  float v1[4]) {
    const u32 a = i0 >> 2, last = (i1 + CH - 1) >> 2;
    const u32 w0 = w[a];
    const u32 w1 = last > a ? w[a + 1] : 0u;
    const u32 w2 = last > a + 1 ? w[a + 2] : 0u;
    const u32 s1 = i1 - (a << 2);  // i1's byte in the words, 0 .. 3 + CH
    const u32 p0 = __funnelshift_r(w0, w1, (i0 & 3u) * 8u);
    const u32 p1 = s1 < 4u ? __funnelshift_r(w0, w1, s1 * 8u) : __funnelshift_r(w1, w2, (s1 - 4u) * 8u);
#pragma unroll
    for (u32 c = 0; c < 4; ++c) {
        v0[c] = __uint_as_float(__byte_perm(p0, 0x4B000000u, 0x7540u + c)) - 8388608.0f;
        v1[c] = __uint_as_float(__byte_perm(p1, 0x4B000000u, 0x7540u + c)) - 8388608.0f;
    }
}

// One source row filtered at a column's two taps: h[c] = wx0·v0 + wx1·v1,
// per channel (row_base: the row's first element, crop offset included).
// FORMAT 3: `format` read at run time (the rare layouts). u8 HWC words from
// `hwc` (global or staged) where `words`.
template <u32 FORMAT, u32 CH, class Words>
__device__ __forceinline__ void rp_bilinear_row(const unsigned char* __restrict__ src,
                                                const Words& hwc, u32 format, const RpBiTap& cx,
                                                u32 row_base, u32 cs, u32 channels, bool words,
                                                float h[4]) {
    float v0[4], v1[4];
    if (FORMAT == 0 && words) {
        rp_fetch_pair_hwc<CH>(hwc, row_base + cx.o0, row_base + cx.o1, v0, v1);
    } else {
        rp_fetch_px(src, format, words, row_base + cx.o0, cs, channels, v0);
        rp_fetch_px(src, format, words, row_base + cx.o1, cs, channels, v1);
    }
#pragma unroll
    for (u32 c = 0; c < CH; ++c) {
        h[c] = cx.w0 * v0[c];
        h[c] += cx.w1 * v1[c];
    }
}

// A thread's ROWS consecutive rows of its column. Consecutive output
// rows often share a source row (the next row's first tap is this row's
// second: about 2 − scale of the time when shrinking, always when
// enlarging); the row filtered last is then reused instead of read and
// filtered again. Row taps are the same across a warp (one row, 32
// columns), so the test does not diverge.
// STAGED: u8 HWC words from the tile's staged span (RpBiColumn::stage).
template <u32 ROWS, u32 FORMAT, u32 CH, bool STAGED>
__device__ __forceinline__ void rp_bilinear_column(const unsigned char* __restrict__ src,
                                                   const RpBiTap* row_tap, const RpBiColumn& q,
                                                   const ResizePackParams& p) {
    const RpBiTap cx = q.cx;
    const u32 base = q.base, cs = q.cs, plane = q.plane;
    const u32 format = FORMAT < 3 ? FORMAT : p.format;
    const u32 channels = FORMAT < 3 ? CH : p.channels;
    const bool words = rp_words_ok(src);
    // Source row `row` (element offset `o` past the image's first) filtered
    // at this column's taps, from the staged span or global memory.
    auto filter_row = [&](u32 o, int row, float h[4]) {
        if (STAGED) {
            const RpStagedWords hwc = {q.stage, q.stage_off[row - q.r_first]};
            rp_bilinear_row<FORMAT, CH>(src, hwc, format, cx, base + o, cs, channels, true, h);
        } else {
            const RpGlobalWords hwc = {reinterpret_cast<const u32*>(src)};
            rp_bilinear_row<FORMAT, CH>(src, hwc, format, cx, base + o, cs, channels, words, h);
        }
    };
    float last[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    u32 last_row = 0xFFFFFFFFu;  // element offset of the row in `last`
#pragma unroll
    for (u32 k = 0; k < ROWS; ++k) {
        const u32 r = q.ty * ROWS + k;
        if (r >= q.rows) break;
        const RpBiTap ry = row_tap[r];
        float top_row[4], bottom_row[4];
        if (ry.o0 == last_row) {
#pragma unroll
            for (u32 c = 0; c < 4; ++c) top_row[c] = last[c];
        } else {
            filter_row(ry.o0, ry.r0, top_row);
        }
        if (ry.o1 == ry.o0) {
#pragma unroll
            for (u32 c = 0; c < 4; ++c) bottom_row[c] = top_row[c];
        } else {
            filter_row(ry.o1, ry.r1, bottom_row);
        }
#pragma unroll
        for (u32 c = 0; c < 4; ++c) last[c] = bottom_row[c];
        last_row = ry.o1;
        float* row_out = q.out + (q.y0 + r) * q.ow;
#pragma unroll
        for (u32 c = 0; c < CH; ++c) {
            if (c >= channels) break;
            float acc = ry.w0 * top_row[c];
            acc += ry.w1 * bottom_row[c];
            row_out[c * plane] = fmaf(acc, p.scale[c], p.bias[c]);
        }
    }
}

// The staged span of a tile (p.staged, u8 HWC): the source words of every
// row and column a bilinear tile reads (or an antialias tile's chunk of
// rows), copied into shared memory with all copies in flight at once, so
// that a thread's rows read shared memory instead of each waiting on its
// own global loads (Nsight Compute, run 6: the unstaged bilinear kernel's
// warps stalled mostly on those loads). 224 → 128 (1.75×) reads about 16
// rows of 45 words; spans past these bounds (large shrink factors) read
// global memory as before.
#define RPB_STAGE_WORDS 1024
#define RPB_STAGE_ROWS 32

// Issues the copies of r_count source rows of `span` bytes into `stage`
// (row r at r·pitch words; its first byte is b_first + r·rs), one warp a
// row, and sets stage_off[r] so that stage[a + stage_off[r]] is global word
// a of row r: from the word holding the span's first byte to the one
// holding its last (never a word outside the image). Neither commits nor
// waits.
template <u32 THREADS>
__device__ __forceinline__ void rp_issue_stage_rows(u32* stage, int* stage_off,
                                                    const unsigned char* __restrict__ src,
                                                    u32 b_first, u32 rs, int r_count, u32 span,
                                                    u32 pitch) {
    const u32* gw = reinterpret_cast<const u32*>(src);
    const u32 lane = threadIdx.x % 32;
    for (int r = (int)(threadIdx.x / 32); r < r_count; r += (int)(THREADS / 32)) {
        const u32 b0 = b_first + (u32)r * rs;
        const u32 w0 = b0 >> 2, n = ((b0 + span + 3) >> 2) - w0;
        if (lane == 0) stage_off[r] = r * (int)pitch - (int)w0;
        for (u32 w = lane; w < n; w += 32)
            cp_async4(reinterpret_cast<float*>(stage + r * pitch + w),
                      reinterpret_cast<const float*>(gw + w0 + w), true);
    }
}

// rp_issue_stage_rows, then waits for the copies and syncs the block.
template <u32 THREADS>
__device__ __forceinline__ void rp_stage_rows(u32* stage, int* stage_off,
                                              const unsigned char* __restrict__ src, u32 b_first,
                                              u32 rs, int r_count, u32 span, u32 pitch) {
    rp_issue_stage_rows<THREADS>(stage, stage_off, src, b_first, rs, r_count, span, pitch);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();
}

// Same size (the crop is as large as the output): every filter's taps
// reduce to the pixel itself with weight w = den·(1/den) (1, or 1 − 2^−24
// for some den) on each axis, plus taps of weight 0. So a thread reads one
// pixel an output instead of four (bilinear) or a tap window (antialias),
// and computes wy·(wx·v), which is what the two-pass arithmetic of both
// tile kernels gives (their 0·v terms add an exact zero). The full-size
// output of a multi-resolution batch (224 of 224/192/160/128, 28 of the
// trainer's 28/24/20/16) is the biggest one. Block-uniform: same tiles.
// u8 HWC tiles of 1 or 3 channels are staged first where p.staged
// (rp_stage_rows; always fits: 8 rows of at most 25 words).
struct RpSame {
    float wx, wy;         // the two axes' weights
    u32 first;            // element of the source pixel of (row 0, this column)
    u32 rs, cs;           // row and channel strides
    u32 ty, rows, ow, plane;
    float* out;           // channel 0, row 0 of the output at this column
    const u32* stage;     // STAGED: the tile's rows (stage_off as in rp_stage_rows)
    const int* stage_off;
};

template <u32 THREADS, u32 FORMAT, u32 CH, bool STAGED = false>
__device__ __forceinline__ void rp_same_column(const unsigned char* __restrict__ src,
                                               const RpSame& q, const ResizePackParams& p) {
    const u32 format = FORMAT < 3 ? FORMAT : p.format;
    const u32 channels = FORMAT < 3 ? CH : p.channels;
    const bool words = rp_words_ok(src);
    // Every row's pixel is fetched before the first store, so that the
    // thread's loads are in flight together (fetched row by row, each
    // waited behind the previous row's stores); a row past the tile's
    // last reads that last row, and is not stored.
    constexpr u32 ROWS = RPT_TILE_H * RPT_TILE_W / THREADS;
    float v[ROWS][4];
#pragma unroll
    for (u32 k = 0; k < ROWS; ++k) {
        const u32 r = min(q.ty + k * (THREADS / RPT_TILE_W), q.rows - 1);
        if (STAGED)
            rp_fetch_px_hwc(RpStagedWords{q.stage, q.stage_off[r]}, q.first + r * q.rs, channels, v[k]);
        else
            rp_fetch_px(src, format, words, q.first + r * q.rs, q.cs, channels, v[k]);
    }
#pragma unroll
    for (u32 k = 0; k < ROWS; ++k) {
        const u32 r = q.ty + k * (THREADS / RPT_TILE_W);
        if (r >= q.rows) break;
#pragma unroll
        for (u32 c = 0; c < CH; ++c) {
            if (c >= channels) break;
            q.out[c * q.plane + r * q.ow] = fmaf(q.wy * (q.wx * v[k][c]), p.scale[c], p.bias[c]);
        }
    }
}

// A same-size axis's weight of a pixel on itself, in closed form (the
// same at every output d): what rp_tap(rp_axis(filter, align_corners, n,
// n, d), 0) gives, with the same operations, without rp_axis's integer
// division. Bilinear: integer weight den over den (den = 2n, or n − 1 with
// align_corners). Antialias: the scale is 1, so the centre tap weighs 2q
// of a sum of 2q (q = n, or n − 1 with align_corners; at n = 1 with
// align_corners rp_axis sums 1 of 1, the same 1.0).
__device__ __forceinline__ float rp_same_weight(u32 filter, u32 align_corners, int n) {
    const int q = align_corners ? (n > 1 ? n - 1 : 1) : n;
    const int den = filter == 1 && align_corners ? q : 2 * q;
    return rp_i2f(den) * (1.0f / (float)den);
}

// rp_same_column with the format and channel count as constants: from the
// staged rows where `staged` (u8 HWC, 1 or 3 channels).
template <u32 THREADS>
__device__ __forceinline__ void rp_same_dispatch(const unsigned char* __restrict__ src,
                                                 const RpSame& q, const ResizePackParams& p,
                                                 bool staged) {
    if (staged) {
        if (p.channels == 1) rp_same_column<THREADS, 0, 1, true>(src, q, p);
        else rp_same_column<THREADS, 0, 3, true>(src, q, p);
        return;
    }
    switch (p.format * 4 + p.channels - 1) {
        case 0: rp_same_column<THREADS, 0, 1>(src, q, p); break;
        case 2: rp_same_column<THREADS, 0, 3>(src, q, p); break;
        case 4: rp_same_column<THREADS, 1, 1>(src, q, p); break;
        case 6: rp_same_column<THREADS, 1, 3>(src, q, p); break;
        case 8: rp_same_column<THREADS, 2, 1>(src, q, p); break;
        case 10: rp_same_column<THREADS, 2, 3>(src, q, p); break;
        default: rp_same_column<THREADS, 3, 4>(src, q, p); break;
    }
}

// The same-size path in three steps (rp_same_tile composes them): whether
// tile t's crop is as large as its output (and p.same_size)...
__device__ __forceinline__ bool rp_same_is(const RpTile& t, const ResizePackParams& p) {
    return p.same_size != 0 && t.img[5] == t.out[0] && t.img[6] == t.out[1];
}

// ...issuing the copies of its source columns (mirrored under flip), all its
// rows, where the u8 HWC layout allows (1 or 3 channels, a 4-byte-aligned
// buffer; returns whether it did; commits nothing)...
template <u32 THREADS>
__device__ __forceinline__ bool rp_same_issue(const unsigned char* __restrict__ src,
                                              const ResizePackParams& p, const RpTile& t,
                                              u32* stage, int* stage_off) {
    const u32* img = t.img;
    const u32 oh = t.out[0], ow = t.out[1];
    const bool staged = p.staged && p.format == 0 && (p.channels == 1 || p.channels == 3) &&
                        rp_words_ok(src);
    if (staged) {
        const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
        const u32 rows = min((u32)RPT_TILE_H, oh - t.y0);
        const u32 xl = t.x0, xr = min(t.x0 + RPT_TILE_W, ow) - 1;
        const u32 xs_lo = img[7] ? ow - 1 - xr : xl, span = (xr - xl + 1) * st.ps;
        rp_issue_stage_rows<THREADS>(stage, stage_off, src,
                                     img[0] + (img[3] + t.y0) * st.rs + (img[4] + xs_lo) * st.ps,
                                     st.rs, (int)rows, span, (span + 6) / 4);
    }
    return staged;
}

// ...and writing it (`filter` 1 bilinear, 2 antialias, for the weights) by a
// block of THREADS, once any staged copies landed and the block synced.
template <u32 THREADS>
__device__ __forceinline__ void rp_same_write(const unsigned char* __restrict__ src,
                                              float* __restrict__ dst, const ResizePackParams& p,
                                              const RpTile& t, u32 filter, bool staged,
                                              const u32* stage, const int* stage_off) {
    const u32* img = t.img;
    const u32 oh = t.out[0], ow = t.out[1];
    const u32 tid = threadIdx.x, x = t.x0 + tid % RPT_TILE_W;
    if (x >= ow) return;
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    // Each axis's weight (the same at every output).
    RpSame q;
    q.wx = rp_same_weight(filter, p.align_corners, (int)ow);
    q.wy = rp_same_weight(filter, p.align_corners, (int)oh);
    const u32 xs = img[7] ? ow - 1 - x : x;  // flip mirrors the output
    q.ty = THREADS == RPT_TILE_W ? 0 : tid / RPT_TILE_W;  // (one warp: row 0, known)
    q.first = img[0] + (img[3] + t.y0) * st.rs + (img[4] + xs) * st.ps;
    q.rs = st.rs;
    q.cs = st.cs;
    q.rows = min((u32)RPT_TILE_H, oh - t.y0);
    q.ow = ow;
    q.plane = oh * ow;
    q.out = rp_tile_image(dst, t, p) + t.y0 * ow + x;
    q.stage = stage;
    q.stage_off = stage_off;
    rp_same_dispatch<THREADS>(src, q, p, staged);
}

// The tile kernels' same-size path, by a block of THREADS (`filter` 1
// bilinear, 2 antialias, for the weights): where the tile's image crop is
// as large as the output (and p.same_size), writes the tile and returns
// true; else does nothing and returns false. Block-uniform. `stage` and
// `stage_off`: the block's (RPB_STAGE_WORDS words, RPT_TILE_H rows or more)
// where STAGING; without it nothing is staged and they may be null.
template <u32 THREADS, bool STAGING = true>
__device__ __forceinline__ bool rp_same_tile(const unsigned char* __restrict__ src,
                                             float* __restrict__ dst, u32 filter,
                                             const RpTile& tile, const ResizePackParams& p,
                                             u32* stage, int* stage_off) {
    if (!rp_same_is(tile, p)) return false;
    const bool staged = STAGING && rp_same_issue<THREADS>(src, p, tile, stage, stage_off);
    if (staged) {
        cp_async_commit();
        cp_async_wait_all();
        __syncthreads();
    }
    rp_same_write<THREADS>(src, dst, p, tile, filter, staged, stage, stage_off);
    return true;
}

// rp_bilinear_column with the format and channel count as constants (no
// per-pixel format branches, no work on channels that do not exist): from
// the staged span where `staged` (u8 HWC).
template <u32 ROWS>
__device__ __forceinline__ void rp_bilinear_dispatch(const unsigned char* __restrict__ src,
                                                     const RpBiTap* row_tap, const RpBiColumn& q,
                                                     const ResizePackParams& p, bool staged) {
    if (staged) {
        switch (p.channels) {
            case 1: rp_bilinear_column<ROWS, 0, 1, true>(src, row_tap, q, p); break;
            case 3: rp_bilinear_column<ROWS, 0, 3, true>(src, row_tap, q, p); break;
            default: rp_bilinear_column<ROWS, 0, 4, true>(src, row_tap, q, p); break;
        }
        return;
    }
    switch (p.format * 4 + p.channels - 1) {
        case 0: rp_bilinear_column<ROWS, 0, 1, false>(src, row_tap, q, p); break;
        case 2: rp_bilinear_column<ROWS, 0, 3, false>(src, row_tap, q, p); break;
        case 3: rp_bilinear_column<ROWS, 0, 4, false>(src, row_tap, q, p); break;
        case 4: rp_bilinear_column<ROWS, 1, 1, false>(src, row_tap, q, p); break;
        case 6: rp_bilinear_column<ROWS, 1, 3, false>(src, row_tap, q, p); break;
        case 8: rp_bilinear_column<ROWS, 2, 1, false>(src, row_tap, q, p); break;
        case 10: rp_bilinear_column<ROWS, 2, 3, false>(src, row_tap, q, p); break;
        // Two channels, and the layouts rarely met with four: format and
        // channel count read at run time.
        default: rp_bilinear_column<ROWS, 3, 4, false>(src, row_tap, q, p); break;
    }
}

// Taps of the antialias filter along one axis a tile kernel keeps (shrinks
// by up to about 3.5×: ResizePackParams::max_taps, checked on the host).
#define RPS_TAPS 8

struct RpTaps {
    int lo;  // first source index (crop-relative)
    int n;   // taps
    float w[RPS_TAPS];
};

// The weights are rp_axis's and rp_tap's, bit for bit (the same integer
// weights, sum and operations), with each integer weight computed once:
// summed as it is made, where rp_axis sums them in a loop and rp_tap then
// computes each again (sm_90a SASS: a tap set about 200 instructions a
// warp against about 250 that way, by both warps of every tile).
__device__ __forceinline__ RpTaps rp_taps(u32 align_corners, int in, int out, int d) {
    const RpAaWindow win = rp_aa_window(align_corners, in, out, d);
    RpTaps t;
    t.lo = win.lo;
    // The host routes here only when every axis fits (max_taps); the clamp
    // keeps hand-built parameters from reading past w[] (their weights are
    // then normalized over the taps kept).
    t.n = min(win.n, RPS_TAPS);
    int weight[RPS_TAPS];
    int sum = 0;
#pragma unroll
    for (int k = 0; k < RPS_TAPS; ++k) {
        weight[k] = k < t.n ? rp_aa_weight(win, win.lo + k) : 0;
        sum += weight[k];
    }
    const float inv = 1.0f / (float)sum;
#pragma unroll
    for (int k = 0; k < RPS_TAPS; ++k) t.w[k] = k < t.n ? rp_i2f(weight[k]) * inv : 0.0f;
    return t;
}
