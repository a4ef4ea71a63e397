// slimmable: fused multi-resolution resize + normalize + batch packing.
//
// slimmable_resize_pack(src, desc, dst, ResizePackParams): every requested
//   output of every image in one launch. One thread per output pixel (all
//   channels of it): it finds its output by binary search over the outputs'
//   pixel ranges, its image through the output's image list, computes the
//   taps of its row and column on the fly, accumulates every channel, and
//   writes one value per channel plane (consecutive threads write
//   consecutive x: coalesced). The word layout of `desc` is documented in
//   src/ops/resize.rs.
//
// Tap weights are exact integers (the filters' positions are rationals with
// denominator 2·out or out−1), normalized once: PyTorch's float64 results to
// f32 rounding, independent of the image size. Nearest reproduces PyTorch's
// f32 index rule on purpose.
//
// Launch: 1-D grid of 1-D blocks, any size; grid-stride loop over
// p.total_pixels.
#include "common.cuh"

#define RP_IMAGE_WORDS 8
#define RP_OUTPUT_WORDS 8

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
        w = (float)(k == 0 ? a.w0 : a.w1) * a.inv;
    } else {
        const int j = a.lo + k;
        idx = j;
        w = (float)max(a.m2 - abs((2 * j + 1) * a.q - a.c2), 0) * a.inv;
    }
}

// Source value of channel c at image row y, column x.
__device__ __forceinline__ float rp_load(const unsigned char* __restrict__ src, u32 format, u32 base,
                                         u32 h, u32 w, u32 channels, u32 y, u32 x, u32 c) {
    if (format == 0) return (float)src[base + (y * w + x) * channels + c];
    if (format == 1) return (float)src[base + (c * h + y) * w + x];
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

extern "C" __global__ void slimmable_resize_pack(const unsigned char* __restrict__ src,
                                                 const u32* __restrict__ desc,
                                                 float* __restrict__ dst, ResizePackParams p) {
    const u32* outs = desc + RP_IMAGE_WORDS * p.num_images;
    const u32* list = outs + RP_OUTPUT_WORDS * p.num_outputs;
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < p.total_pixels;
         i += gridDim.x * blockDim.x) {
        // The output whose pixel range holds i.
        u32 lo = 0, hi = p.num_outputs;
        while (hi - lo > 1) {
            const u32 mid = (lo + hi) / 2;
            if (outs[mid * RP_OUTPUT_WORDS + 5] <= i) lo = mid; else hi = mid;
        }
        const u32* o = outs + lo * RP_OUTPUT_WORDS;
        const u32 oh = o[0], ow = o[1], list_start = o[2], arena = o[4];
        const u32 local = i - o[5];
        const u32 plane = oh * ow;
        const u32 n = local / plane;
        const u32 rem = local - n * plane;
        const u32 y = rem / ow;
        const u32 x = rem - y * ow;
        const u32* img = desc + RP_IMAGE_WORDS * list[list_start + n];
        const int ch = (int)img[5], cw = (int)img[6];
        const bool flip = img[7] != 0;
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (!p.cascade) {
            // Flip mirrors the output (resize, then flip).
            const int xs = flip ? (int)(ow - 1 - x) : (int)x;
            const RpAxis ay = rp_axis(p.filter_mode, p.align_corners, ch, (int)oh, (int)y);
            const RpAxis ax = rp_axis(p.filter_mode, p.align_corners, cw, (int)ow, xs);
            rp_accumulate(src, img, p, ay, ax, 1.0f, acc);
        } else {
            // MutualNet order: bilinear align_corners=True over the full-
            // resolution grid, each of its samples resized from the crop.
            const int fh = (int)p.full_h, fw = (int)p.full_w;
            const RpAxis sy = rp_axis(1, 1, fh, (int)oh, (int)y);
            // Flip mirrors the full-resolution grid (not the output: with
            // one output column, align_corners=True samples column 0).
            const RpAxis sx = rp_axis(1, 1, fw, (int)ow, (int)x);
            for (int ky = 0; ky < 2; ++ky) {
                int ty;
                float wy;
                rp_tap(sy, ky, ty, wy);
                if (wy == 0.0f) continue;
                const RpAxis ay = rp_axis(p.filter_mode, p.align_corners, ch, fh, ty);
                for (int kx = 0; kx < 2; ++kx) {
                    int tx;
                    float wx;
                    rp_tap(sx, kx, tx, wx);
                    if (wx == 0.0f) continue;
                    const int fx = flip ? fw - 1 - tx : tx;
                    const RpAxis ax = rp_axis(p.filter_mode, p.align_corners, cw, fw, fx);
                    rp_accumulate(src, img, p, ay, ax, wy * wx, acc);
                }
            }
        }
        float* out = dst + arena + n * p.channels * plane + y * ow + x;
#pragma unroll
        for (u32 c = 0; c < 4; ++c) {
            if (c < p.channels) out[c * plane] = fmaf(acc[c], p.scale[c], p.bias[c]);
        }
    }
}
