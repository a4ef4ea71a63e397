// slimmable: fused multi-resolution resize + normalize + batch packing (WGSL
// twin of kernels/resize_pack.cu; the algorithm and the descriptor table are
// described there and in src/ops/resize.rs).
//
// Dispatch: any number of 256-wide workgroups along x (at most 65535); each
// invocation walks pixel groups (a column of up to RP_GROUP_ROWS output
// pixels) with a grid-stride loop.
// Bindings: 0 = params (uniform), 1 = src (u8 packed 4 per word, or f32
// bits), 2 = desc (u32 words), 3 = dst (read_write).

@group(0) @binding(0) var<uniform> rp: ResizePackParams;
@group(0) @binding(1) var<storage, read> rp_src: array<u32>;
@group(0) @binding(2) var<storage, read> rp_desc: array<u32>;
@group(0) @binding(3) var<storage, read_write> rp_dst: array<f32>;

const RP_IMAGE_WORDS: u32 = 8u;
const RP_OUTPUT_WORDS: u32 = 8u;
// Output rows per invocation (ops::resize::GROUP_ROWS).
const RP_GROUP_ROWS: u32 = 4u;

// Taps of one output coordinate along one axis.
struct RpAxis {
    lo: i32,
    n: i32,
    kind: u32,
    i1: i32,
    w0: i32,
    w1: i32,
    c2: i32,
    q: i32,
    m2: i32,
    inv: f32,
}

fn rp_axis(mode: u32, align_corners: u32, in_size: i32, out_size: i32, d: i32) -> RpAxis {
    var a = RpAxis(0, 1, mode, 0, 1, 0, 0, 1, 0, 1.0);
    if (mode == 0u) {
        var i: i32;
        if (out_size == in_size) {
            i = d;
        } else if (out_size == 2 * in_size) {
            i = d >> 1u;
        } else {
            let scale = f32(in_size) / f32(out_size);
            i = min(i32(floor(f32(d) * scale)), in_size - 1);
        }
        a.lo = i;
    } else if (mode == 1u) {
        var num: i32;
        var den: i32;
        if (align_corners != 0u) {
            num = select(0, d * (in_size - 1), out_size > 1);
            den = select(1, out_size - 1, out_size > 1);
        } else {
            num = max((2 * d + 1) * in_size - out_size, 0);
            den = 2 * out_size;
        }
        let i0 = num / den;
        let rem = num - i0 * den;
        a.lo = i0;
        a.i1 = min(i0 + 1, in_size - 1);
        a.n = 2;
        a.w0 = den - rem;
        a.w1 = rem;
        a.inv = 1.0 / f32(den);
    } else {
        var p: i32;
        var q: i32;
        if (align_corners != 0u) {
            p = select(0, in_size - 1, out_size > 1);
            q = select(1, out_size - 1, out_size > 1);
        } else {
            p = in_size;
            q = out_size;
        }
        let m2 = 2 * max(p, q);
        let c2 = p * (2 * d + 1);
        let lo_num = c2 - m2 + q;
        let lo = select(0, lo_num / (2 * q), lo_num > 0);
        let hi = min((c2 + m2 + q) / (2 * q), in_size);
        var sum = 0;
        for (var j = lo; j < hi; j++) {
            sum += max(m2 - abs((2 * j + 1) * q - c2), 0);
        }
        a.lo = lo;
        a.n = hi - lo;
        a.c2 = c2;
        a.q = q;
        a.m2 = m2;
        a.inv = 1.0 / f32(sum);
    }
    return a;
}

// (index, weight) of tap k.
fn rp_tap(a: RpAxis, k: i32) -> vec2<f32> {
    if (a.kind == 0u) {
        return vec2<f32>(f32(a.lo), 1.0);
    } else if (a.kind == 1u) {
        if (k == 0) {
            return vec2<f32>(f32(a.lo), f32(a.w0) * a.inv);
        }
        return vec2<f32>(f32(a.i1), f32(a.w1) * a.inv);
    }
    let j = a.lo + k;
    return vec2<f32>(f32(j), f32(max(a.m2 - abs((2 * j + 1) * a.q - a.c2), 0)) * a.inv);
}

fn rp_byte(i: u32) -> f32 {
    return f32((rp_src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

fn rp_load(base: u32, h: u32, w: u32, y: u32, x: u32, c: u32) -> f32 {
    if (rp.format == 0u) {
        return rp_byte(base + (y * w + x) * rp.channels + c);
    } else if (rp.format == 1u) {
        return rp_byte(base + (c * h + y) * w + x);
    }
    return bitcast<f32>(rp_src[base + (c * h + y) * w + x]);
}

// acc += scale · Σ wy·wx·pixel over the taps of (ay, ax) in the crop of image
// descriptor `img` (word index).
fn rp_accumulate(img: u32, ay: RpAxis, ax: RpAxis, scale: f32, acc_in: vec4<f32>) -> vec4<f32> {
    let base = rp_desc[img];
    let h = rp_desc[img + 1u];
    let w = rp_desc[img + 2u];
    let top = rp_desc[img + 3u];
    let left = rp_desc[img + 4u];
    var acc = acc_in;
    for (var ky = 0; ky < ay.n; ky++) {
        let ty = rp_tap(ay, ky);
        if (ty.y == 0.0) {
            continue;
        }
        let iy = top + u32(ty.x);
        var row = vec4<f32>(0.0);
        for (var kx = 0; kx < ax.n; kx++) {
            let tx = rp_tap(ax, kx);
            if (tx.y == 0.0) {
                continue;
            }
            let ix = left + u32(tx.x);
            var px = vec4<f32>(0.0);
            for (var c = 0u; c < rp.channels; c++) {
                px[c] = rp_load(base, h, w, iy, ix, c);
            }
            row += tx.y * px;
        }
        acc += (scale * ty.y) * row;
    }
    return acc;
}

// One value per channel plane at element `out`: v·scale + bias.
fn rp_store(out: u32, plane: u32, acc: vec4<f32>) {
    for (var c = 0u; c < rp.channels; c++) {
        rp_dst[out + c * plane] = fma(acc[c], rp.scale[c], rp.bias[c]);
    }
}

// Where launch index g writes: image n's rows y0..y1 at column x of one
// output; `img` is the image descriptor's first word, `out` the element
// (n, channel 0, row 0, x).
struct RpGroup {
    img: u32,
    oh: u32,
    ow: u32,
    x: u32,
    y0: u32,
    y1: u32,
    out: u32,
}

fn rp_locate(g: u32) -> RpGroup {
    let outs = RP_IMAGE_WORDS * rp.num_images;
    let list = outs + RP_OUTPUT_WORDS * rp.num_outputs;
    var lo = 0u;
    var hi = rp.num_outputs;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (rp_desc[outs + mid * RP_OUTPUT_WORDS + 5u] <= g) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let o = outs + lo * RP_OUTPUT_WORDS;
    var q: RpGroup;
    q.oh = rp_desc[o];
    q.ow = rp_desc[o + 1u];
    let local = g - rp_desc[o + 5u];
    let row_groups = (q.oh + RP_GROUP_ROWS - 1u) / RP_GROUP_ROWS;
    let band = local / q.ow;
    q.x = local - band * q.ow;
    let n = band / row_groups;
    q.y0 = (band - n * row_groups) * RP_GROUP_ROWS;
    q.y1 = min(q.y0 + RP_GROUP_ROWS, q.oh);
    q.img = RP_IMAGE_WORDS * rp_desc[list + rp_desc[o + 2u] + n];
    q.out = rp_desc[o + 4u] + n * rp.channels * q.oh * q.ow + q.x;
    return q;
}

// Direct order: each output resized from the crop.
@compute @workgroup_size(256)
fn slimmable_resize_pack(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) groups: vec3<u32>) {
    let step = groups.x * 256u;
    for (var g = gid.x; g < rp.total_groups; g += step) {
        let q = rp_locate(g);
        let ch = i32(rp_desc[q.img + 5u]);
        let cw = i32(rp_desc[q.img + 6u]);
        // Flip mirrors the output (resize, then flip).
        let xs = select(i32(q.x), i32(q.ow - 1u - q.x), rp_desc[q.img + 7u] != 0u);
        let ax = rp_axis(rp.filter_mode, rp.align_corners, cw, i32(q.ow), xs);
        for (var y = q.y0; y < q.y1; y++) {
            let ay = rp_axis(rp.filter_mode, rp.align_corners, ch, i32(q.oh), i32(y));
            rp_store(q.out + y * q.ow, q.oh * q.ow, rp_accumulate(q.img, ay, ax, 1.0, vec4<f32>(0.0)));
        }
    }
}

// MutualNet order (see resize_pack.cu); flip mirrors the full-resolution grid.
@compute @workgroup_size(256)
fn slimmable_resize_pack_mutualnet(@builtin(global_invocation_id) gid: vec3<u32>,
                                   @builtin(num_workgroups) groups: vec3<u32>) {
    let step = groups.x * 256u;
    for (var g = gid.x; g < rp.total_groups; g += step) {
        let q = rp_locate(g);
        let ch = i32(rp_desc[q.img + 5u]);
        let cw = i32(rp_desc[q.img + 6u]);
        let flip = rp_desc[q.img + 7u] != 0u;
        let fh = i32(rp.full_h);
        let fw = i32(rp.full_w);
        let sx = rp_axis(1u, 1u, fw, i32(q.ow), i32(q.x));
        let t0 = rp_tap(sx, 0);
        let t1 = rp_tap(sx, 1);
        let ax0 = rp_axis(rp.filter_mode, rp.align_corners, cw, fw,
                          select(i32(t0.x), fw - 1 - i32(t0.x), flip));
        let ax1 = rp_axis(rp.filter_mode, rp.align_corners, cw, fw,
                          select(i32(t1.x), fw - 1 - i32(t1.x), flip));
        for (var y = q.y0; y < q.y1; y++) {
            let sy = rp_axis(1u, 1u, fh, i32(q.oh), i32(y));
            var acc = vec4<f32>(0.0);
            for (var ky = 0; ky < 2; ky++) {
                let ty = rp_tap(sy, ky);
                if (ty.y == 0.0) {
                    continue;
                }
                let ay = rp_axis(rp.filter_mode, rp.align_corners, ch, fh, i32(ty.x));
                if (t0.y != 0.0) {
                    acc = rp_accumulate(q.img, ay, ax0, ty.y * t0.y, acc);
                }
                if (t1.y != 0.0) {
                    acc = rp_accumulate(q.img, ay, ax1, ty.y * t1.y, acc);
                }
            }
            rp_store(q.out + y * q.ow, q.oh * q.ow, acc);
        }
    }
}
