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
        // Scale p/q; centre p(2d+1)/2q; support max(p/q, 1); in units of
        // 1/2q a tap j weighs max(2·max(p,q) - |(2j+1)q - p(2d+1)|, 0).
        int p, q;
        if (align_corners) {
            p = out > 1 ? in - 1 : 0;
            q = out > 1 ? out - 1 : 1;
        } else {
            p = in;
            q = out;
        }
        const int m2 = 2 * max(p, q);
        const int c2 = p * (2 * d + 1);
        const int lo_num = c2 - m2 + q;
        const int lo = lo_num > 0 ? lo_num / (2 * q) : 0;
        const int hi = min((c2 + m2 + q) / (2 * q), in);
        int sum = 0;
        for (int j = lo; j < hi; ++j) sum += max(m2 - abs((2 * j + 1) * q - c2), 0);
        a.lo = lo;
        a.n = hi - lo;
        a.c2 = c2;
        a.q = q;
        a.m2 = m2;
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
        w = rp_i2f(max(a.m2 - abs((2 * j + 1) * a.q - a.c2), 0)) * a.inv;
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

// Column taps a thread keeps in registers (the direct order's fast path):
// 5 covers antialias shrinking by up to about 2.3× (224→96; the bench's
// 224→128 needs 4); wider filters take the general loop. 5 keeps the kernel
// at 80 registers without spills (3 blocks of 256 per SM with the launch
// bound below; 8 taps needed 93 registers, 2 blocks).
#define RP_XTAPS 5

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

// ---------------------------------------------------------------------------
// Tiled direct order (opt-in while it is being measured: SLIMMABLE_RESIZE_TILED=1).
//
// Nsight Compute put slimmable_resize_pack at 61% of SM issue throughput and
// 16% of DRAM bandwidth (H200, 2026-11-26): instruction-bound. Every thread
// there recomputes its output's position (a binary search and two
// divisions) and its taps (a division per axis and row). Here one block
// takes a RPT_TILE_H × RPT_TILE_W tile of one image of one output, one
// pixel (all channels) per thread:
//   1. the tile's column and row taps are computed once, by one thread each,
//      into shared memory;
//   2. the source rows the tile needs are walked in chunks of RPT_ROWS: each
//      chunk is filtered horizontally once (one (row, column) per thread,
//      column taps from shared memory) into shared memory,
//   3. and each thread adds the chunk's rows to its pixel with its row taps.
// Same taps, same order of additions and the same zero-weight skips as
// rp_accumulate, so the values are those of the per-column kernel.
// Launch: p.total_tiles blocks of RPT_THREADS; the output's first tile is
// word 7 of its descriptor.

#define RPT_TILE_W 32
#define RPT_TILE_H 8
#define RPT_THREADS (RPT_TILE_W * RPT_TILE_H)
// Source rows filtered per chunk (shared memory: RPT_ROWS · 4 · RPT_TILE_W floats).
#define RPT_ROWS 16

// Which tile block b of a tile launch takes (uniform over the block): its
// output's descriptor (word 7: the output's first tile), the image's
// position n in the output's list and its descriptor, and the tile's first
// row and column. Tiles run along x, then y, then the output's images.
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
    q.out = rp_find_output(outs, p.num_outputs, 7, b);  // whose tile range holds b
    const u32 oh = q.out[0], ow = q.out[1];
    const u32 tiles_x = (ow + RPT_TILE_W - 1) / RPT_TILE_W;
    const u32 tiles_y = (oh + RPT_TILE_H - 1) / RPT_TILE_H;
    const u32 local = b - q.out[7];
    q.n = local / (tiles_x * tiles_y);
    const u32 rest = local - q.n * tiles_x * tiles_y;
    const u32 ty0 = rest / tiles_x;
    q.y0 = ty0 * RPT_TILE_H;
    q.x0 = (rest - ty0 * tiles_x) * RPT_TILE_W;
    q.img = desc + RP_IMAGE_WORDS * list[q.out[2] + q.n];
    return q;
}

// Channel 0, row 0, column 0 of the tile's image in its output.
__device__ __forceinline__ float* rp_tile_image(float* dst, const RpTile& t,
                                                const ResizePackParams& p) {
    return dst + t.out[4] + t.n * p.channels * t.out[0] * t.out[1];
}

extern "C" __global__ void __launch_bounds__(RPT_THREADS, 3)
slimmable_resize_pack_tiled(const unsigned char* __restrict__ src, const u32* __restrict__ desc,
                            float* __restrict__ dst, ResizePackParams p) {
    __shared__ RpAxis col_axis[RPT_TILE_W];
    __shared__ RpAxis row_axis[RPT_TILE_H];
    __shared__ float rows_h[RPT_ROWS][4][RPT_TILE_W];
    __shared__ int row_span[2];

    // The block's output, image and tile (uniform over the block).
    const RpTile tile = rp_locate_tile(desc, p, blockIdx.x);
    const u32* o = tile.out;
    const u32 oh = o[0], ow = o[1];
    const u32 y0 = tile.y0, x0 = tile.x0;
    const u32* img = tile.img;
    const u32 base = img[0], top = img[3], left = img[4];
    const int ch = (int)img[5], cw = (int)img[6];
    const bool flip = img[7] != 0;
    const u32 tid = threadIdx.x;
    const u32 tx = tid % RPT_TILE_W, ty = tid / RPT_TILE_W;
    const u32 rows = min((u32)RPT_TILE_H, oh - y0);

    // 1. Taps, once per column and row of the tile.
    if (tid < RPT_TILE_W && x0 + tid < ow) {
        const u32 x = x0 + tid;
        const int xs = flip ? (int)(ow - 1 - x) : (int)x;  // flip mirrors the output
        col_axis[tid] = rp_axis(p.filter_mode, p.align_corners, cw, (int)ow, xs);
    } else if (tid >= RPT_TILE_W && tid < RPT_TILE_W + rows) {
        const u32 r = tid - RPT_TILE_W;
        row_axis[r] = rp_axis(p.filter_mode, p.align_corners, ch, (int)oh, (int)(y0 + r));
    }
    __syncthreads();
    if (tid == 0) {
        // Taps are monotonic in the output row: the first row's first tap and
        // the last row's last tap bound the source rows the tile reads.
        int first, last;
        float w;
        rp_tap(row_axis[0], 0, first, w);
        const RpAxis& a = row_axis[rows - 1];
        rp_tap(a, a.n - 1, last, w);
        row_span[0] = first;
        row_span[1] = last + 1;
    }
    __syncthreads();
    const int span_lo = row_span[0], span_hi = row_span[1];

    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const bool words = rp_words_ok(src);
    const bool col_ok = x0 + tx < ow;
    const bool mine = ty < rows && col_ok;
    const RpAxis ax = col_axis[col_ok ? tx : 0];  // this thread's column, for every chunk
    const RpAxis ay = row_axis[mine ? ty : 0];
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int c0 = span_lo; c0 < span_hi; c0 += RPT_ROWS) {
        const int c1 = min(c0 + RPT_ROWS, span_hi);
        // 2. Horizontal pass over the chunk's rows: thread (ty, tx) filters
        //    rows ty, ty + RPT_TILE_H, ... of the chunk at its column tx.
        for (u32 r = ty; r < (u32)(c1 - c0); r += RPT_TILE_H) {
            float row[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (col_ok) {
                const u32 ro = base + (top + (u32)(c0 + (int)r)) * st.rs;
                for (int k = 0; k < ax.n; ++k) {
                    int ix;
                    float wx;
                    rp_tap(ax, k, ix, wx);
                    if (wx == 0.0f) continue;
                    float v[4];
                    rp_fetch_px(src, p.format, words, ro + (left + (u32)ix) * st.ps, st.cs,
                                p.channels, v);
#pragma unroll
                    for (u32 c = 0; c < 4; ++c) {
                        if (c < p.channels) row[c] += wx * v[c];
                    }
                }
            }
#pragma unroll
            for (u32 c = 0; c < 4; ++c) rows_h[r][c][tx] = row[c];
        }
        __syncthreads();
        // 3. Vertical: this pixel's row taps that fall in the chunk, in order.
        if (mine) {
            for (int k = 0; k < ay.n; ++k) {
                int iy;
                float wy;
                rp_tap(ay, k, iy, wy);
                if (wy == 0.0f || iy < c0 || iy >= c1) continue;
#pragma unroll
                for (u32 c = 0; c < 4; ++c) acc[c] += wy * rows_h[iy - c0][c][tx];
            }
        }
        __syncthreads();  // rows_h is refilled by the next chunk
    }
    if (mine) {
        const u32 plane = oh * ow;
        // (Written out: through rp_tile_image ptxas took 66 registers, 3
        // blocks an SM instead of 4.)
        rp_store(dst + o[4] + tile.n * p.channels * plane + (y0 + ty) * ow + x0 + tx, plane, p,
                 acc);
    }
}

// Bilinear direct order (the default for Filter::Bilinear; SLIMMABLE_RESIZE_
// BILINEAR=0 turns it off for A/B timing).
//
// Bilinear has two taps an axis, so the tiled kernel's shared-memory
// horizontal pass and the per-column kernel's general tap loops cost more
// instructions than the filter itself. Here a block of RPB_THREADS takes a
// RPT_TILE_H × RPT_TILE_W tile of one image of one output (the tiled
// kernel's tiles and launch order: word 7 of an output's descriptor is its
// first tile). Each column's and row's two taps are computed once into
// shared memory as offsets and float weights; each thread then owns one
// column and RPB_ROWS consecutive rows, and computes each pixel from two
// horizontally filtered source rows (reusing the previous row's second
// when it is this row's first) with straight-line code.
// Same weights, and per channel the same operations in the same order, as
// rp_accumulate: (wx0·v00 + wx1·v01)·wy0 + (wx0·v10 + wx1·v11)·wy1, then
// the folded normalization. rp_accumulate skips a zero weight where this adds
// 0·v, which is exact (taps are always in the image).
// Two entries: slimmable_resize_pack_bilinear2, the default, with two warps
// a tile (4 rows a thread), and slimmable_resize_pack_bilinear with one
// (all 8 rows a thread, SLIMMABLE_RESIZE_BILINEAR_WARP=1), which halves the
// block's set-up (finding the tile, computing its taps: about 40% of the
// instructions with two warps) but holds 32 warps an SM against 40. On an
// H200 (run 7, 2026-11-26) two warps took 0.2524 ms on the 224-px batch
// against 0.2624, one warp 0.0085 against 0.0093 on the 28-px one.
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
#pragma unroll
    for (u32 k = 0; k < RPT_TILE_H * RPT_TILE_W / THREADS; ++k) {
        const u32 r = q.ty + k * (THREADS / RPT_TILE_W);
        if (r >= q.rows) break;
        float v[4];
        if (STAGED)
            rp_fetch_px_hwc(RpStagedWords{q.stage, q.stage_off[r]}, q.first + r * q.rs, channels, v);
        else
            rp_fetch_px(src, format, words, q.first + r * q.rs, q.cs, channels, v);
#pragma unroll
        for (u32 c = 0; c < CH; ++c) {
            if (c >= channels) break;
            q.out[c * q.plane + r * q.ow] = fmaf(q.wy * (q.wx * v[c]), p.scale[c], p.bias[c]);
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
    const u32* img = tile.img;
    const u32 oh = tile.out[0], ow = tile.out[1];
    if (p.same_size == 0 || img[5] != oh || img[6] != ow) return false;
    const u32 tid = threadIdx.x, tx = tid % RPT_TILE_W;
    const u32 x = tile.x0 + tx;
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    const u32 rows = min((u32)RPT_TILE_H, oh - tile.y0);
    const bool staged = STAGING && p.staged && p.format == 0 &&
                        (p.channels == 1 || p.channels == 3) && rp_words_ok(src);
    if (staged) {
        // The tile's source columns (mirrored under flip), all its rows.
        const u32 xl = tile.x0, xr = min(tile.x0 + RPT_TILE_W, ow) - 1;
        const u32 xs_lo = img[7] ? ow - 1 - xr : xl, span = (xr - xl + 1) * st.ps;
        rp_stage_rows<THREADS>(stage, stage_off, src,
                               img[0] + (img[3] + tile.y0) * st.rs + (img[4] + xs_lo) * st.ps,
                               st.rs, (int)rows, span, (span + 6) / 4);
    }
    if (x >= ow) return true;
    // Each axis's weight (the same at every output).
    RpSame q;
    q.wx = rp_same_weight(filter, p.align_corners, (int)ow);
    q.wy = rp_same_weight(filter, p.align_corners, (int)oh);
    const u32 xs = img[7] ? ow - 1 - x : x;  // flip mirrors the output
    q.ty = tid / RPT_TILE_W;
    q.first = img[0] + (img[3] + tile.y0) * st.rs + (img[4] + xs) * st.ps;
    q.rs = st.rs;
    q.cs = st.cs;
    q.rows = rows;
    q.ow = ow;
    q.plane = oh * ow;
    q.out = rp_tile_image(dst, tile, p) + tile.y0 * ow + x;
    q.stage = stage;
    q.stage_off = stage_off;
    rp_same_dispatch<THREADS>(src, q, p, staged);
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

// (Up to 51 registers for 20 blocks an SM: bounded by the block size alone,
// ptxas chose 40 and spilled.)
extern "C" __global__ void __launch_bounds__(RPB_THREADS, 20)
slimmable_resize_pack_bilinear2(const unsigned char* __restrict__ src,
                                const u32* __restrict__ desc, float* __restrict__ dst,
                                ResizePackParams p) {
    rp_bilinear_tiles<RPB_THREADS>(src, desc, dst, p);
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

// The persistent kernels' same-size tiles (rp_same_tile, split): whether
// tile t's crop is as large as its output (and p.same_size)...
__device__ __forceinline__ bool rp_pipe_is_same(const RpTile& t, const ResizePackParams& p) {
    return p.same_size != 0 && t.img[5] == t.out[0] && t.img[6] == t.out[1];
}

// ...issuing the copies of its source columns, all its rows, where
// rp_same_tile stages them (returns whether it did)...
__device__ __forceinline__ bool rp_pipe_issue_same(const unsigned char* __restrict__ src,
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
        rp_issue_stage_rows<32>(stage, stage_off, src,
                                img[0] + (img[3] + t.y0) * st.rs + (img[4] + xs_lo) * st.ps,
                                st.rs, (int)rows, span, (span + 6) / 4);
    }
    return staged;
}

// ...and writing it (`filter` 1 bilinear, 2 antialias, for the weights), one
// column a lane, once its copies landed.
__device__ __forceinline__ void rp_pipe_compute_same(const unsigned char* __restrict__ src,
                                                     float* __restrict__ dst,
                                                     const ResizePackParams& p, const RpTile& t,
                                                     u32 filter, bool staged, const u32* stage,
                                                     const int* stage_off) {
    const u32* img = t.img;
    const u32 oh = t.out[0], ow = t.out[1];
    const u32 x = t.x0 + threadIdx.x % 32;
    if (x >= ow) return;
    const RpStrides st = rp_strides(p.format, img[1], img[2], p.channels);
    RpSame q;
    q.wx = rp_same_weight(filter, p.align_corners, (int)ow);
    q.wy = rp_same_weight(filter, p.align_corners, (int)oh);
    const u32 xs = img[7] ? ow - 1 - x : x;  // flip mirrors the output
    q.ty = 0;
    q.first = img[0] + (img[3] + t.y0) * st.rs + (img[4] + xs) * st.ps;
    q.rs = st.rs;
    q.cs = st.cs;
    q.rows = min((u32)RPT_TILE_H, oh - t.y0);
    q.ow = ow;
    q.plane = oh * ow;
    q.out = rp_tile_image(dst, t, p) + t.y0 * ow + x;
    q.stage = stage;
    q.stage_off = stage_off;
    rp_same_dispatch<32>(src, q, p, staged);
}

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
    if (rp_pipe_is_same(t.tile, p)) {
        t.mode = 1;
        t.staged = rp_pipe_issue_same(src, p, t.tile, stage, stage_off);
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
        rp_pipe_compute_same(src, dst, p, t.tile, 1u, t.staged, stage, stage_off);
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
    u32 b = blockIdx.x;
    RpPipeTile cur = rp_pipe_issue(src, desc, p, b, stage[0], stage_off[0], row_tap[0]);
    cp_async_commit();
    for (u32 buf = 0; cur.mode != 0; buf ^= 1) {
        b += gridDim.x;
        const RpPipeTile next =
            rp_pipe_issue(src, desc, p, b, stage[buf ^ 1], stage_off[buf ^ 1], row_tap[buf ^ 1]);
        cp_async_commit();  // (an empty group past the last tile keeps the count)
        cp_async_wait_group<1>();  // this lane's copies of `cur` landed...
        __syncthreads();           // ...and every lane's, with the taps and offsets
        rp_pipe_compute(src, dst, p, cur, stage[buf], stage_off[buf], row_tap[buf]);
        __syncthreads();  // the next issue refills this buffer
        cur = next;
    }
}

// Antialias direct order by tiles, when no filter has more than RPS_TAPS
// taps along an axis (ResizePackParams::max_taps; the default for
// Filter::BilinearAntialias, SLIMMABLE_RESIZE_AA_TILE=0 turns it off).
//
// A block of RPB_THREADS takes a RPT_TILE_H × RPT_TILE_W tile of one image of
// one output (the tiled kernel's tiles). Each column's and row's taps are
// computed once into shared memory as a first offset and float weights, so
// neither pass evaluates the triangle filter again:
//   1. the source rows the tile reads are filtered horizontally, RPS_ROWS
//      rows at a time, into shared memory (one column per thread, rows
//      split between the block's two halves);
//   2. each thread adds those rows into its RPB_ROWS pixels of its column
//      with their row weights.
// Per channel the products and additions are those of rp_accumulate, in
// its order (zero weights skipped there, added as 0·v here: exact).
#define RPS_TAPS 8
#define RPS_ROWS 24
// Registers for 16 blocks of 64 an SM: 64 (ptxas: no spills on sm_80/sm_90;
// unbounded it took 128, a quarter of the threads an SM holds). Shared
// memory, 13.9 KB a block (rows_h sized for 4 channels, and the taps) and
// the 1 KB the driver keeps a block, then holds 15 on H100/H200 and 11 on
// A100; the staged twin's 18.1 KB, 12 and 8.
#define RPS_MIN_BLOCKS 16

struct RpTaps {
    int lo;  // first source index (crop-relative)
    int n;   // taps
    float w[RPS_TAPS];
};

__device__ __forceinline__ RpTaps rp_taps(u32 align_corners, int in, int out, int d) {
    const RpAxis a = rp_axis(2u, align_corners, in, out, d);
    RpTaps t;
    t.lo = a.lo;
    // The host routes here only when every axis fits (max_taps); the clamp
    // keeps hand-built parameters from reading past w[].
    t.n = min(a.n, RPS_TAPS);
#pragma unroll
    for (int k = 0; k < RPS_TAPS; ++k) {
        int idx;
        float w = 0.0f;
        if (k < a.n) rp_tap(a, k, idx, w);
        t.w[k] = w;
    }
    return t;
}

// u8 HWC (FORMAT 0) chunks of source rows are staged (rp_stage_rows) where
// STAGING, p.staged and they fit; `stage` and `stage_off` are the block's.
template <u32 FORMAT, u32 CH, bool STAGING>
__device__ __forceinline__ void rp_aa_tile(const unsigned char* __restrict__ src, const u32* img,
                                           const RpTaps* col, const RpTaps* row,
                                           float (*rows_h)[4][RPT_TILE_W], u32* stage,
                                           int* stage_off, const RpStrides st, u32 x_ok, u32 rows,
                                           float* __restrict__ out_col, u32 ow, u32 plane,
                                           const ResizePackParams& p) {
    const u32 format = FORMAT < 3 ? FORMAT : p.format;
    const u32 channels = FORMAT < 3 ? CH : p.channels;
    const bool words = rp_words_ok(src);
    const u32 tid = threadIdx.x, tx = tid % RPT_TILE_W, half = tid / RPT_TILE_W;
    const u32 base = img[0], top = img[3], left = img[4];
    const RpTaps cx = col[tx];
    const int span_lo = row[0].lo, span_hi = row[rows - 1].lo + row[rows - 1].n;
    // The tile's source columns: taps rise with the source column and the
    // columns past the output's edge repeat its last, so the first and last
    // entries bound them, flipped or not.
    const bool stageable = STAGING && FORMAT == 0 && p.staged && words;
    const int col_lo = min(col[0].lo, col[RPT_TILE_W - 1].lo);
    const int col_hi = max(col[0].lo + col[0].n, col[RPT_TILE_W - 1].lo + col[RPT_TILE_W - 1].n);
    const u32 span = (u32)(col_hi - col_lo) * st.ps, pitch = (span + 6) / 4;
    float acc[RPB_ROWS][4];
#pragma unroll
    for (u32 k = 0; k < RPB_ROWS; ++k)
#pragma unroll
        for (u32 c = 0; c < 4; ++c) acc[k][c] = 0.0f;
    for (int c0 = span_lo; c0 < span_hi; c0 += RPS_ROWS) {
        const int c1 = min(c0 + RPS_ROWS, span_hi);
        // 0. The chunk's span into shared memory, where it fits (uniform).
        const bool staged = stageable && (u32)(c1 - c0) * pitch <= RPB_STAGE_WORDS;
        if (staged)
            rp_stage_rows<RPB_THREADS>(stage, stage_off, src,
                                       base + (top + (u32)c0) * st.rs + (left + (u32)col_lo) * st.ps,
                                       st.rs, c1 - c0, span, pitch);
        // 1. Horizontal: this thread's column over rows half, half + 2, ...
        for (int r = c0 + (int)half; r < c1; r += RPB_THREADS / RPT_TILE_W) {
            float h[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (x_ok) {
                const u32 ro = base + (top + (u32)r) * st.rs + (left + (u32)cx.lo) * st.ps;
                const RpStagedWords staged_words = {stage, staged ? stage_off[r - c0] : 0};
#pragma unroll
                for (int k = 0; k < RPS_TAPS; ++k) {
                    if (k >= cx.n) break;
                    float v[4];
                    if (FORMAT == 0 && staged)
                        rp_fetch_px_hwc(staged_words, ro + (u32)k * st.ps, channels, v);
                    else
                        rp_fetch_px(src, format, words, ro + (u32)k * st.ps, st.cs, channels, v);
#pragma unroll
                    for (u32 c = 0; c < CH; ++c) h[c] += cx.w[k] * v[c];
                }
            }
#pragma unroll
            for (u32 c = 0; c < CH; ++c) rows_h[r - c0][c][tx] = h[c];
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
                for (int t = t0; t < t1; ++t) {
                    const float wy = ry.w[t];
#pragma unroll
                    for (u32 c = 0; c < CH; ++c) acc[k][c] += wy * rows_h[ry.lo + t - c0][c][tx];
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

// The antialias tile kernels' body. STAGING: with the staged spans and
// their 4.1 KB of shared memory (a block then needs 18.1 KB, and an SM holds
// 12 blocks on H100/H200 instead of 15; run 9
// measured the unstaged kernel faster with the stage arrays still declared,
// 0.501 against 0.515 ms, and both slower than run 8's 0.425 without them).
template <bool STAGING>
__device__ __forceinline__ void rp_aa_tiles(const unsigned char* __restrict__ src,
                                            const u32* __restrict__ desc,
                                            float* __restrict__ dst, const ResizePackParams& p) {
    __shared__ RpTaps col_taps[RPT_TILE_W];
    __shared__ RpTaps row_taps[RPT_TILE_H];
    __shared__ float rows_h[RPS_ROWS][4][RPT_TILE_W];
    __shared__ u32 stage[STAGING ? RPB_STAGE_WORDS : 1];
    __shared__ int stage_off[STAGING ? RPS_ROWS : 1];

    // The block's output, image and tile.
    const RpTile tile = rp_locate_tile(desc, p, blockIdx.x);
    const u32* o = tile.out;
    const u32 oh = o[0], ow = o[1];
    const u32 y0 = tile.y0, x0 = tile.x0;
    const u32* img = tile.img;
    if (rp_same_tile<RPB_THREADS, STAGING>(src, dst, 2u, tile, p, stage, stage_off)) return;
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
        case 0: rp_aa_tile<0, 1, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
        case 2: rp_aa_tile<0, 3, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
        case 4: rp_aa_tile<1, 1, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
        case 6: rp_aa_tile<1, 3, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
        case 10: rp_aa_tile<2, 3, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
        default: rp_aa_tile<3, 4, STAGING>(src, img, col_taps, row_taps, rows_h, stage, stage_off, st, x_ok, rows, out_col, ow, plane, p); break;
    }
}

// Unstaged: the default (SLIMMABLE_RESIZE_AA_STAGE=1 takes the staged twin).
extern "C" __global__ void __launch_bounds__(RPB_THREADS, RPS_MIN_BLOCKS)
slimmable_resize_pack_aa(const unsigned char* __restrict__ src, const u32* __restrict__ desc,
                         float* __restrict__ dst, ResizePackParams p) {
    rp_aa_tiles<false>(src, desc, dst, p);
}

extern "C" __global__ void __launch_bounds__(RPB_THREADS, RPS_MIN_BLOCKS)
slimmable_resize_pack_aa_staged(const unsigned char* __restrict__ src,
                                const u32* __restrict__ desc, float* __restrict__ dst,
                                ResizePackParams p) {
    rp_aa_tiles<true>(src, desc, dst, p);
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
// 0·v, which is exact), as in the other tile kernels.
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
    if (rp_pipe_is_same(t.tile, p)) {
        t.mode = 1;
        t.staged = rp_pipe_issue_same(src, p, t.tile, stage, stage_off);
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
        rp_pipe_compute_same(src, dst, p, t.tile, 2u, t.staged, stage, stage_off);
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
    u32 b = blockIdx.x;
    RpAaPipeTile cur = rp_aa_pipe_issue(src, desc, p, b, stage[0], stage_off[0], wrow[0]);
    cp_async_commit();
    for (u32 buf = 0; cur.mode != 0; buf ^= 1) {
        b += gridDim.x;
        const RpAaPipeTile next =
            rp_aa_pipe_issue(src, desc, p, b, stage[buf ^ 1], stage_off[buf ^ 1], wrow[buf ^ 1]);
        cp_async_commit();  // (an empty group past the last tile keeps the count)
        cp_async_wait_group<1>();  // this lane's copies of `cur` landed...
        __syncthreads();           // ...and every lane's, with the weights and offsets
        rp_aa_pipe_compute(src, dst, p, cur, stage[buf], stage_off[buf], wrow[buf]);
        __syncthreads();  // the next issue refills this buffer
        cur = next;
    }
}
