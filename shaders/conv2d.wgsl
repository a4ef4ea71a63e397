// slimmable: conv2d on channel slices of full-size tensors (WGSL twin of
// kernels/conv2d.cu; same entry names, same Conv2dParams).
//
// Dense, grouped and pointwise convs: one implicit GEMM per group
// (workgroup_id.z = group), a 64x64 output tile per workgroup of 64
// invocations, each 8x8 outputs (the `_narrow` entries: 128x16, 8x4 each,
// for N <= 16), K staged 16 at a time in workgroup memory:
//   forward  C[m=(n,ho,wo)][j=o]   = sum_k=(i,ky,kx)  x . w
//   dgrad    C[m=(n,h,w)][j=i]     = sum_k=(o,ky,kx)  dy . w
//   wgrad    C[m=o][j=(i,ky,kx)]  += sum_k=(n,ho,wo) dy . x
// Each pass stages its tiles so that an invocation decodes its fixed
// coordinates once and at most one changing index per loaded element
// (integer division is dear on GPUs and scalar on lavapipe); a 1x1 kernel
// decodes no taps at all. WGSL has no float atomics, so wgrad splits the
// N*Ho*Wo reduction by writing per-split partial sums to `cs` (workgroup_id.z
// = split * groups + group) and slimmable_conv2d_wgrad_reduce adds them, in
// a fixed order, into the gradient slice. Depthwise convs have direct
// kernels; the bias gradient is a per-channel workgroup reduction.
// slimmable_conv2d_fwd_naive (one invocation per output, full loop) is kept
// as the bench baseline.
//
// Bindings: 0 = launch (uniform), 1 = x, 2 = w, 3 = y, 4 = bias, 5 = wgrad
// partials; all storage read_write, since which of them is written depends
// on the pass.

// Conv2dParams plus what the CUDA kernels take as extra arguments.
struct ConvLaunch {
    p: Conv2dParams,
    // wgrad: partial sums per weight (1 = the GEMM adds into the slice itself).
    split_k: u32,
}

@group(0) @binding(0) var<uniform> cl: ConvLaunch;
@group(0) @binding(1) var<storage, read_write> cx: array<f32>;
@group(0) @binding(2) var<storage, read_write> cw: array<f32>;
@group(0) @binding(3) var<storage, read_write> cy: array<f32>;
@group(0) @binding(4) var<storage, read_write> cb: array<f32>;
@group(0) @binding(5) var<storage, read_write> cs: array<f32>;

struct Geom {
    n: i32, ic: i32, h: i32, w: i32, oc: i32, ho: i32, wo: i32,
    kh: i32, kw: i32, khw: i32, icg: i32, ocg: i32, sh: i32, sw: i32, ph: i32, pw: i32,
}

fn geom() -> Geom {
    var g: Geom;
    g.n = i32(cl.p.x.dims.x); g.ic = i32(cl.p.x.dims.y); g.h = i32(cl.p.x.dims.z); g.w = i32(cl.p.x.dims.w);
    g.oc = i32(cl.p.y.dims.y); g.ho = i32(cl.p.y.dims.z); g.wo = i32(cl.p.y.dims.w);
    g.kh = i32(cl.p.w.dims.z); g.kw = i32(cl.p.w.dims.w); g.khw = g.kh * g.kw;
    g.icg = g.ic / i32(cl.p.groups); g.ocg = g.oc / i32(cl.p.groups);
    g.sh = i32(cl.p.stride_h); g.sw = i32(cl.p.stride_w); g.ph = i32(cl.p.pad_h); g.pw = i32(cl.p.pad_w);
    return g;
}

fn at(v: ViewParams, a: i32, b: i32, c: i32, d: i32) -> u32 {
    return v.offset + u32(a) * v.strides.x + u32(b) * v.strides.y + u32(c) * v.strides.z + u32(d) * v.strides.w;
}

// x at (n, c, ho*s - p + ky, wo*s - p + kx), zero in the padding.
fn x_tap(g: Geom, n: i32, c: i32, ho: i32, wo: i32, ky: i32, kx: i32) -> f32 {
    let hi = ho * g.sh - g.ph + ky;
    let wi = wo * g.sw - g.pw + kx;
    if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) { return 0.0; }
    return cx[at(cl.p.x, n, c, hi, wi)];
}

// (channel, ky, kx) of an index over a weight row's (channel, ky, kx).
fn decode_tap(g: Geom, k: i32) -> vec3<i32> {
    if (g.khw == 1) { return vec3<i32>(k, 0, 0); }
    let c = k / g.khw;
    let r = k - c * g.khw;
    let ky = r / g.kw;
    return vec3<i32>(c, ky, r - ky * g.kw);
}

// The tap after `t` in (channel, ky, kx) order.
fn next_tap(g: Geom, t: vec3<i32>) -> vec3<i32> {
    var n = vec3<i32>(t.x, t.y, t.z + 1);
    if (n.z == g.kw) {
        n.z = 0;
        n.y += 1;
        if (n.y == g.kh) {
            n.y = 0;
            n.x += 1;
        }
    }
    return n;
}

// (n, row, col) of an index over an [N, rows, cols] grid of pixels.
fn decode_pixel(p: i32, rows: i32, cols: i32) -> vec3<i32> {
    let t = p / cols;
    let n = t / rows;
    return vec3<i32>(n, t - n * rows, p - t * cols);
}

// dy at the output pixel that input pixel (h, w) meets through tap (ky, kx),
// zero where there is none (padding, or a stride that skips it).
fn dy_through_tap(g: Geom, n: i32, o: i32, h: i32, w: i32, ky: i32, kx: i32) -> f32 {
    var th = h + g.ph - ky;
    var tw = w + g.pw - kx;
    if (th < 0 || tw < 0) { return 0.0; }
    if (g.sh != 1 || g.sw != 1) {
        if (th % g.sh != 0 || tw % g.sw != 0) { return 0.0; }
        th = th / g.sh;
        tw = tw / g.sw;
    }
    if (th >= g.ho || tw >= g.wo) { return 0.0; }
    return cy[at(cl.p.y, n, o, th, tw)];
}

// Tile shapes (M x N per workgroup of 64): WIDE 64 x 64, an 8x8 block per
// invocation; NARROW 128 x 16 for N <= 16 (the few channels of slim layers),
// an 8x4 block per invocation, so no multiply-add is spent on padding.
struct Tile { m: i32, n: i32 }
const WIDE = Tile(64, 64);
const NARROW = Tile(128, 16);
const TBK: i32 = 16;
// K-major tiles of 4-wide vectors: element (k, m) at tile_a[k * (tile.m / 4) + m / 4][m % 4].
var<workgroup> tile_a: array<vec4<f32>, 512>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

fn put_a(tile: Tile, k: i32, m: i32, v: f32) { tile_a[k * (tile.m >> 2) + (m >> 2)][m & 3] = v; }
fn put_b(tile: Tile, k: i32, j: i32, v: f32) { tile_b[k * (tile.n >> 2) + (j >> 2)][j & 3] = v; }

// Invocation t's block: rows 8 * tx .. +7 of the tile, columns nb * ty .. +nb-1,
// nb = 8 (WIDE) or 4 (NARROW).
fn block_x(tile: Tile, t: i32) -> i32 { return t % (tile.m >> 3); }
fn block_y(tile: Tile, t: i32) -> i32 { return t / (tile.m >> 3); }
fn block_n(tile: Tile) -> i32 { return tile.n * tile.m / 512; }

// acc[2i + h][c] += sum over the staged k of A(k, 8*tx + i) * B(k, nb*ty + 4h + c)
// (h = 0 only in NARROW): each workgroup-memory read feeds 16 (8)
// multiply-adds.
fn multiply_tiles(tile: Tile, t: i32, acc: ptr<function, array<vec4<f32>, 16>>) {
    let sa = tile.m >> 2;
    let sb = tile.n >> 2;
    let tx = block_x(tile, t);
    let ty = block_y(tile, t);
    if (tile.n == NARROW.n) {
        for (var kk = 0; kk < TBK; kk++) {
            let a0 = tile_a[kk * sa + 2 * tx];
            let a1 = tile_a[kk * sa + 2 * tx + 1];
            let b0 = tile_b[kk * sb + ty];
            (*acc)[0] = fma(vec4<f32>(a0.x), b0, (*acc)[0]);
            (*acc)[2] = fma(vec4<f32>(a0.y), b0, (*acc)[2]);
            (*acc)[4] = fma(vec4<f32>(a0.z), b0, (*acc)[4]);
            (*acc)[6] = fma(vec4<f32>(a0.w), b0, (*acc)[6]);
            (*acc)[8] = fma(vec4<f32>(a1.x), b0, (*acc)[8]);
            (*acc)[10] = fma(vec4<f32>(a1.y), b0, (*acc)[10]);
            (*acc)[12] = fma(vec4<f32>(a1.z), b0, (*acc)[12]);
            (*acc)[14] = fma(vec4<f32>(a1.w), b0, (*acc)[14]);
        }
        return;
    }
    for (var kk = 0; kk < TBK; kk++) {
        let a0 = tile_a[kk * sa + 2 * tx];
        let a1 = tile_a[kk * sa + 2 * tx + 1];
        let b0 = tile_b[kk * sb + 2 * ty];
        let b1 = tile_b[kk * sb + 2 * ty + 1];
        (*acc)[0] = fma(vec4<f32>(a0.x), b0, (*acc)[0]);
        (*acc)[1] = fma(vec4<f32>(a0.x), b1, (*acc)[1]);
        (*acc)[2] = fma(vec4<f32>(a0.y), b0, (*acc)[2]);
        (*acc)[3] = fma(vec4<f32>(a0.y), b1, (*acc)[3]);
        (*acc)[4] = fma(vec4<f32>(a0.z), b0, (*acc)[4]);
        (*acc)[5] = fma(vec4<f32>(a0.z), b1, (*acc)[5]);
        (*acc)[6] = fma(vec4<f32>(a0.w), b0, (*acc)[6]);
        (*acc)[7] = fma(vec4<f32>(a0.w), b1, (*acc)[7]);
        (*acc)[8] = fma(vec4<f32>(a1.x), b0, (*acc)[8]);
        (*acc)[9] = fma(vec4<f32>(a1.x), b1, (*acc)[9]);
        (*acc)[10] = fma(vec4<f32>(a1.y), b0, (*acc)[10]);
        (*acc)[11] = fma(vec4<f32>(a1.y), b1, (*acc)[11]);
        (*acc)[12] = fma(vec4<f32>(a1.z), b0, (*acc)[12]);
        (*acc)[13] = fma(vec4<f32>(a1.z), b1, (*acc)[13]);
        (*acc)[14] = fma(vec4<f32>(a1.w), b0, (*acc)[14]);
        (*acc)[15] = fma(vec4<f32>(a1.w), b1, (*acc)[15]);
    }
}

// This invocation's result at block row i (0..7), column j (0..nb-1). The
// accumulators are only ever indexed by constants (here through a switch
// over the row): one dynamic index into a function-scope array can make a
// GPU compiler keep the whole array in local memory, and then every
// multiply-add of the main loop goes through it. The column's component is
// picked from a value, which needs no memory.
fn acc_at(acc: ptr<function, array<vec4<f32>, 16>>, i: i32, j: i32) -> f32 {
    let upper = j >= 4;
    var row: vec4<f32>;
    switch i {
        case 0: { row = select((*acc)[0], (*acc)[1], upper); }
        case 1: { row = select((*acc)[2], (*acc)[3], upper); }
        case 2: { row = select((*acc)[4], (*acc)[5], upper); }
        case 3: { row = select((*acc)[6], (*acc)[7], upper); }
        case 4: { row = select((*acc)[8], (*acc)[9], upper); }
        case 5: { row = select((*acc)[10], (*acc)[11], upper); }
        case 6: { row = select((*acc)[12], (*acc)[13], upper); }
        default: { row = select((*acc)[14], (*acc)[15], upper); }
    }
    let value = row;
    return value[j & 3];
}

// x at tap `tap` of output pixel `pix` (n, ho, wo), channel offset c0;
// zero in the padding or where `ok` is false.
fn x_for_tap(g: Geom, pix: vec3<i32>, ok: bool, c0: i32, tap: vec3<i32>) -> f32 {
    let hi = pix.y * g.sh - g.ph + tap.y;
    let wi = pix.z * g.sw - g.pw + tap.z;
    if (!ok || hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) { return 0.0; }
    return cx[at(cl.p.x, pix.x, c0 + tap.x, hi, wi)];
}

// Forward. Invocation t stages column t (and t + 64 in NARROW) of A and,
// for t < N-tile, column t of B over the step's 16 k rows: A(k, m) = x tap
// k at pixel m, B(k, j) = w[o=j][k]; one tap walk serves them all (one
// division a step), and the pixels are decoded once.
fn conv_fwd(tile: Tile, t: i32, wg: vec3<u32>) {
    let g = geom();
    let grp = i32(wg.z);
    let m0 = i32(wg.x) * tile.m;
    let n0 = i32(wg.y) * tile.n;
    let big_m = g.n * g.ho * g.wo;
    let big_k = g.icg * g.khw;
    let c0 = grp * g.icg;
    let two = tile.m > 64;
    let pix0 = decode_pixel(m0 + t, g.ho, g.wo);
    let pix1 = decode_pixel(m0 + 64 + t, g.ho, g.wo);
    let ok0 = m0 + t < big_m;
    let ok1 = two && m0 + 64 + t < big_m;
    let o = grp * g.ocg + n0 + t;
    let j_ok = t < tile.n && n0 + t < g.ocg;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0; k0 < big_k; k0 += TBK) {
        var tap = decode_tap(g, k0);
        for (var r = 0; r < TBK; r++) {
            if (r > 0) { tap = next_tap(g, tap); }
            let k_ok = k0 + r < big_k;
            put_a(tile, r, t, x_for_tap(g, pix0, ok0 && k_ok, c0, tap));
            if (two) { put_a(tile, r, t + 64, x_for_tap(g, pix1, ok1 && k_ok, c0, tap)); }
            if (t < tile.n) {
                var b = 0.0;
                if (j_ok && k_ok) { b = cw[at(cl.p.w, o, tap.x, tap.y, tap.z)]; }
                put_b(tile, r, t, b);
            }
        }
        workgroupBarrier();
        multiply_tiles(tile, t, &acc);
        workgroupBarrier();
    }
    // Constant trip counts and no early exits in the store loops, so that a
    // GPU compiler can unroll them and index acc with constants (a dynamic
    // index would put the accumulators in local memory).
    let nb = block_n(tile);
    for (var i = 0; i < 8; i++) {
        let m = m0 + 8 * block_x(tile, t) + i;
        let q = decode_pixel(m, g.ho, g.wo);
        for (var j = 0; j < nb; j++) {
            let jo = n0 + nb * block_y(tile, t) + j;
            if (m < big_m && jo < g.ocg) {
                let oc = grp * g.ocg + jo;
                var v = acc_at(&acc, i, j);
                if (cl.p.has_bias == 1u) { v += cb[cl.p.bias_offset + u32(oc)]; }
                let idx = at(cl.p.y, q.x, oc, q.y, q.z);
                if (cl.p.accumulate == 1u) { v += cy[idx]; }
                cy[idx] = v;
            }
        }
    }
}

// Data gradient, staged like the forward: A(k, m) = dy through tap k at
// input pixel m, B(k, j) = w[o][i=j][ky][kx].
fn conv_dgrad(tile: Tile, t: i32, wg: vec3<u32>) {
    let g = geom();
    let grp = i32(wg.z);
    let m0 = i32(wg.x) * tile.m;
    let n0 = i32(wg.y) * tile.n;
    let big_m = g.n * g.h * g.w;
    let big_k = g.ocg * g.khw;
    let o0 = grp * g.ocg;
    let two = tile.m > 64;
    let pix0 = decode_pixel(m0 + t, g.h, g.w);
    let pix1 = decode_pixel(m0 + 64 + t, g.h, g.w);
    let ok0 = m0 + t < big_m;
    let ok1 = two && m0 + 64 + t < big_m;
    let j_ok = t < tile.n && n0 + t < g.icg;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0; k0 < big_k; k0 += TBK) {
        var tap = decode_tap(g, k0);
        for (var r = 0; r < TBK; r++) {
            if (r > 0) { tap = next_tap(g, tap); }
            let k_ok = k0 + r < big_k;
            var a0 = 0.0;
            if (ok0 && k_ok) { a0 = dy_through_tap(g, pix0.x, o0 + tap.x, pix0.y, pix0.z, tap.y, tap.z); }
            put_a(tile, r, t, a0);
            if (two) {
                var a1 = 0.0;
                if (ok1 && k_ok) { a1 = dy_through_tap(g, pix1.x, o0 + tap.x, pix1.y, pix1.z, tap.y, tap.z); }
                put_a(tile, r, t + 64, a1);
            }
            if (t < tile.n) {
                var b = 0.0;
                if (j_ok && k_ok) { b = cw[at(cl.p.w, o0 + tap.x, n0 + t, tap.y, tap.z)]; }
                put_b(tile, r, t, b);
            }
        }
        workgroupBarrier();
        multiply_tiles(tile, t, &acc);
        workgroupBarrier();
    }
    // Store loops without early exits, as in conv_fwd.
    let nb = block_n(tile);
    for (var i = 0; i < 8; i++) {
        let m = m0 + 8 * block_x(tile, t) + i;
        let q = decode_pixel(m, g.h, g.w);
        for (var j = 0; j < nb; j++) {
            let jo = n0 + nb * block_y(tile, t) + j;
            if (m < big_m && jo < g.icg) {
                let idx = at(cl.p.x, q.x, grp * g.icg + jo, q.y, q.z);
                var v = acc_at(&acc, i, j);
                if (cl.p.accumulate == 1u) { v += cx[idx]; }
                cx[idx] = v;
            }
        }
    }
}

// A tap (channel, ky, kx) packed in one word (channel < 2^15, ky and kx < 2^8;
// encode_conv2d refuses larger wgrads).
fn pack_tap(t: vec3<i32>) -> i32 { return (t.x << 16) | (t.y << 8) | t.z; }
fn unpack_tap(p: i32) -> vec3<i32> { return vec3<i32>(p >> 16, (p >> 8) & 255, p & 255); }

// Weight gradient over split wg.z / groups of the N*Ho*Wo pixels:
// dw[o][tap] = sum over pixels of dy[o] * x[tap]. Output channels go along
// the tile's M and taps along N, or the other way round when `turned` (a
// NARROW tile then serves a layer with few output channels). Both tiles are
// staged along k, the pixel: invocation t loads pixel t % 16 of the step
// for tile rows t / 16, + 4, ... of A and of B, so one pixel decode a step
// serves both, and its taps are decoded once.
fn conv_wgrad(tile: Tile, turned: bool, t: i32, wg: vec3<u32>) {
    let g = geom();
    let groups = i32(cl.p.groups);
    let grp = i32(wg.z) % groups;
    let split = i32(wg.z) / groups;
    let m0 = i32(wg.x) * tile.m;
    let n0 = i32(wg.y) * tile.n;
    let big_n = g.icg * g.khw;
    let big_k = g.n * g.ho * g.wo;
    let splits = i32(cl.split_k);
    let per_split = ((big_k + TBK - 1) / TBK + splits - 1) / splits * TBK;
    let k_begin = split * per_split;
    let k_end = min(big_k, k_begin + per_split);
    let kl = t & 15;
    // Where the channels and the taps of this workgroup start, and how
    // many rows of each this invocation loads.
    var ch0 = m0;
    var tap0 = n0;
    var ch_rows = tile.m;
    var tap_rows = tile.n;
    if (turned) {
        ch0 = n0;
        tap0 = m0;
        ch_rows = tile.n;
        tap_rows = tile.m;
    }
    // Every invocation loads rows/4 rows of each tile (the sides are
    // multiples of 4). Written as a bound on 4r + t/16, not as the constant
    // rows/4: on lavapipe the constant trip count made the wgrad 15% slower
    // (res3x3 83 -> 95 ms); on real GPUs the constant form may keep `taps`
    // in registers instead — untimed.
    var taps: array<i32, 32>;
    for (var r = 0; 4 * r + (t >> 4) < tap_rows; r++) {
        taps[r] = pack_tap(decode_tap(g, min(tap0 + (t >> 4) + 4 * r, big_n - 1)));
    }
    let c0 = grp * g.icg;
    let o0 = grp * g.ocg + ch0;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = k_begin; k0 < k_end; k0 += TBK) {
        let k_ok = k0 + kl < k_end;
        let pix = decode_pixel(k0 + kl, g.ho, g.wo);
        let hb = pix.y * g.sh - g.ph;
        let wb = pix.z * g.sw - g.pw;
        for (var r = 0; 4 * r + (t >> 4) < ch_rows; r++) {
            let l = (t >> 4) + 4 * r;
            var d = 0.0;
            if (k_ok && ch0 + l < g.ocg) {
                d = cy[at(cl.p.y, pix.x, o0 + l, pix.y, pix.z)];
            }
            if (turned) { put_b(tile, kl, l, d); } else { put_a(tile, kl, l, d); }
        }
        for (var r = 0; 4 * r + (t >> 4) < tap_rows; r++) {
            let l = (t >> 4) + 4 * r;
            let tap = unpack_tap(taps[r]);
            let hi = hb + tap.y;
            let wi = wb + tap.z;
            var xv = 0.0;
            if (k_ok && tap0 + l < big_n && hi >= 0 && hi < g.h && wi >= 0 && wi < g.w) {
                xv = cx[at(cl.p.x, pix.x, c0 + tap.x, hi, wi)];
            }
            if (turned) { put_a(tile, kl, l, xv); } else { put_b(tile, kl, l, xv); }
        }
        workgroupBarrier();
        multiply_tiles(tile, t, &acc);
        workgroupBarrier();
    }
    let nb = block_n(tile);
    for (var i = 0; i < 8; i++) {
        for (var j = 0; j < nb; j++) {
            let mi = m0 + 8 * block_x(tile, t) + i;
            let nj = n0 + nb * block_y(tile, t) + j;
            var m = mi;
            var jn = nj;
            if (turned) {
                m = nj;
                jn = mi;
            }
            // No early exit, as in conv_fwd.
            if (m < g.ocg && jn < big_n) {
                let o = grp * g.ocg + m;
                if (splits == 1) {
                    let tap = decode_tap(g, jn);
                    let idx = at(cl.p.w, o, tap.x, tap.y, tap.z);
                    cw[idx] = cw[idx] + acc_at(&acc, i, j);
                } else {
                    cs[(split * g.oc + o) * big_n + jn] = acc_at(&acc, i, j);
                }
            }
        }
    }
}

@compute @workgroup_size(64)
fn slimmable_conv2d_fwd_f32(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wg: vec3<u32>) {
    conv_fwd(WIDE, i32(lid), wg);
}

@compute @workgroup_size(64)
fn slimmable_conv2d_fwd_f32_narrow(@builtin(local_invocation_index) lid: u32,
                                   @builtin(workgroup_id) wg: vec3<u32>) {
    conv_fwd(NARROW, i32(lid), wg);
}

@compute @workgroup_size(64)
fn slimmable_conv2d_dgrad_f32(@builtin(local_invocation_index) lid: u32,
                              @builtin(workgroup_id) wg: vec3<u32>) {
    conv_dgrad(WIDE, i32(lid), wg);
}

@compute @workgroup_size(64)
fn slimmable_conv2d_dgrad_f32_narrow(@builtin(local_invocation_index) lid: u32,
                                     @builtin(workgroup_id) wg: vec3<u32>) {
    conv_dgrad(NARROW, i32(lid), wg);
}

@compute @workgroup_size(64)
fn slimmable_conv2d_wgrad_f32(@builtin(local_invocation_index) lid: u32,
                              @builtin(workgroup_id) wg: vec3<u32>) {
    conv_wgrad(WIDE, false, i32(lid), wg);
}

@compute @workgroup_size(64)
fn slimmable_conv2d_wgrad_f32_narrow(@builtin(local_invocation_index) lid: u32,
                                     @builtin(workgroup_id) wg: vec3<u32>) {
    conv_wgrad(NARROW, false, i32(lid), wg);
}

// The NARROW wgrad with taps along M and output channels along N.
@compute @workgroup_size(64)
fn slimmable_conv2d_wgrad_f32_narrow_turned(@builtin(local_invocation_index) lid: u32,
                                            @builtin(workgroup_id) wg: vec3<u32>) {
    conv_wgrad(NARROW, true, i32(lid), wg);
}

// dw[o][i][ky][kx] += the split_k partial sums the wgrad GEMM left in `cs`
// (laid out [split][o][(i, ky, kx)]), added in split order.
@compute @workgroup_size(256)
fn slimmable_conv2d_wgrad_reduce(@builtin(global_invocation_id) gid: vec3<u32>,
                                 @builtin(num_workgroups) groups: vec3<u32>) {
    let g = geom();
    let row = g.icg * g.khw;
    let total = g.oc * row;
    for (var e = i32(gid.x); e < total; e += i32(groups.x) * 256) {
        var sum = 0.0;
        for (var s = 0; s < i32(cl.split_k); s++) {
            sum += cs[s * total + e];
        }
        let o = e / row;
        let tap = decode_tap(g, e - o * row);
        let idx = at(cl.p.w, o, tap.x, tap.y, tap.z);
        cw[idx] = cw[idx] + sum;
    }
}

// Bench baseline: one invocation per output element, the whole sum in a loop.
@compute @workgroup_size(256)
fn slimmable_conv2d_fwd_naive(@builtin(global_invocation_id) gid: vec3<u32>,
                              @builtin(num_workgroups) groups: vec3<u32>) {
    let g = geom();
    let total = u32(g.n * g.oc * g.ho * g.wo);
    for (var e = gid.x; e < total; e += groups.x * 256u) {
        let wo = i32(e % u32(g.wo)); let t = i32(e / u32(g.wo));
        let ho = t % g.ho; let t2 = t / g.ho; let o = t2 % g.oc; let n = t2 / g.oc;
        let grp = o / g.ocg;
        var acc = 0.0;
        if (cl.p.has_bias == 1u) { acc = cb[cl.p.bias_offset + u32(o)]; }
        for (var i = 0; i < g.icg; i++) {
            for (var ky = 0; ky < g.kh; ky++) {
                for (var kx = 0; kx < g.kw; kx++) {
                    acc = fma(x_tap(g, n, grp * g.icg + i, ho, wo, ky, kx), cw[at(cl.p.w, o, i, ky, kx)], acc);
                }
            }
        }
        let idx = at(cl.p.y, n, o, ho, wo);
        if (cl.p.accumulate == 1u) { acc += cy[idx]; }
        cy[idx] = acc;
    }
}

// ---- depthwise (groups = ic = oc) ----------------------------------------

@compute @workgroup_size(256)
fn slimmable_dwconv2d_fwd(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) groups: vec3<u32>) {
    let g = geom();
    let total = u32(g.n * g.oc * g.ho * g.wo);
    for (var e = gid.x; e < total; e += groups.x * 256u) {
        let wo = i32(e % u32(g.wo)); let t = i32(e / u32(g.wo));
        let ho = t % g.ho; let t2 = t / g.ho; let c = t2 % g.oc; let n = t2 / g.oc;
        var acc = 0.0;
        if (cl.p.has_bias == 1u) { acc = cb[cl.p.bias_offset + u32(c)]; }
        for (var ky = 0; ky < g.kh; ky++) {
            for (var kx = 0; kx < g.kw; kx++) {
                acc = fma(x_tap(g, n, c, ho, wo, ky, kx), cw[at(cl.p.w, c, 0, ky, kx)], acc);
            }
        }
        let idx = at(cl.p.y, n, c, ho, wo);
        if (cl.p.accumulate == 1u) { acc += cy[idx]; }
        cy[idx] = acc;
    }
}

@compute @workgroup_size(256)
fn slimmable_dwconv2d_dgrad(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) groups: vec3<u32>) {
    let g = geom();
    let total = u32(g.n * g.ic * g.h * g.w);
    for (var e = gid.x; e < total; e += groups.x * 256u) {
        let wi = i32(e % u32(g.w)); let t = i32(e / u32(g.w));
        let hi = t % g.h; let t2 = t / g.h; let c = t2 % g.ic; let n = t2 / g.ic;
        // Only taps with ky = (hi + ph) mod sh (+ sh, ...) meet an output
        // row, the output row falling by one per step; likewise columns.
        let ry = (hi + g.ph) % g.sh;
        let rx = (wi + g.pw) % g.sw;
        let wo0 = (wi + g.pw - rx) / g.sw;
        var ho = (hi + g.ph - ry) / g.sh;
        var acc = 0.0;
        for (var ky = ry; ky < g.kh; ky += g.sh) {
            if (ho >= 0 && ho < g.ho) {
                var wo = wo0;
                for (var kx = rx; kx < g.kw; kx += g.sw) {
                    if (wo >= 0 && wo < g.wo) {
                        acc = fma(cy[at(cl.p.y, n, c, ho, wo)], cw[at(cl.p.w, c, 0, ky, kx)], acc);
                    }
                    wo -= 1;
                }
            }
            ho -= 1;
        }
        let idx = at(cl.p.x, n, c, hi, wi);
        if (cl.p.accumulate == 1u) { acc += cx[idx]; }
        cx[idx] = acc;
    }
}

var<workgroup> partial: array<f32, 256>;

// Tree sum of `partial`; the total ends in partial[0].
fn workgroup_sum(lid: u32) {
    for (var s = 128u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) { partial[lid] += partial[lid + s]; }
    }
    workgroupBarrier();
}

// Workgroup (c, tap): dw[c, 0, ky, kx] += sum over batch and pixels of dy . x.
@compute @workgroup_size(256)
fn slimmable_dwconv2d_wgrad(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wg: vec3<u32>) {
    let g = geom();
    let c = i32(wg.x);
    let ky = i32(wg.y) / g.kw;
    let kx = i32(wg.y) % g.kw;
    let pixels = u32(g.n * g.ho * g.wo);
    var acc = 0.0;
    for (var e = lid; e < pixels; e += 256u) {
        let wo = i32(e % u32(g.wo)); let t = i32(e / u32(g.wo));
        let ho = t % g.ho; let n = t / g.ho;
        acc = fma(cy[at(cl.p.y, n, c, ho, wo)], x_tap(g, n, c, ho, wo, ky, kx), acc);
    }
    partial[lid] = acc;
    workgroup_sum(lid);
    if (lid == 0u) {
        let idx = at(cl.p.w, c, 0, ky, kx);
        cw[idx] = cw[idx] + partial[0];
    }
}

// ---- depthwise 3x3 stride 1, four outputs along a row per invocation ----
// Each output row needs six inputs of each of three rows, so an invocation
// loads 18 values and 9 weights for 4 outputs (the per-output kernels load
// 9 and 9 for one). Dgrad is the same correlation of dy with the kernel
// turned 180 degrees and padding 2 - p.

// Six values of row h of plane (n, c) from column w0: of x (forward) or
// of dy (dgrad), zero outside the plane.
fn source_row6(dgrad: bool, g: Geom, n: i32, c: i32, h: i32, w0: i32) -> array<f32, 6> {
    var r: array<f32, 6>;
    let rows = select(g.h, g.ho, dgrad);
    let cols = select(g.w, g.wo, dgrad);
    if (h < 0 || h >= rows) { return r; }
    for (var i = 0; i < 6; i++) {
        let w = w0 + i;
        if (w >= 0 && w < cols) {
            if (dgrad) { r[i] = cy[at(cl.p.y, n, c, h, w)]; } else { r[i] = cx[at(cl.p.x, n, c, h, w)]; }
        }
    }
    return r;
}

// out[q] = sum over kx of v[q + kx] * wr[kx], q = 0..3.
fn corr3_row4(v: array<f32, 6>, wr: vec3<f32>) -> vec4<f32> {
    return vec4<f32>(dot(vec3<f32>(v[0], v[1], v[2]), wr), dot(vec3<f32>(v[1], v[2], v[3]), wr),
                     dot(vec3<f32>(v[2], v[3], v[4]), wr), dot(vec3<f32>(v[3], v[4], v[5]), wr));
}

// Weight row ky of channel c, or of its 180-degree turn.
fn w_row3(c: i32, ky: i32, turned: bool) -> vec3<f32> {
    if (turned) {
        return vec3<f32>(cw[at(cl.p.w, c, 0, 2 - ky, 2)], cw[at(cl.p.w, c, 0, 2 - ky, 1)],
                         cw[at(cl.p.w, c, 0, 2 - ky, 0)]);
    }
    return vec3<f32>(cw[at(cl.p.w, c, 0, ky, 0)], cw[at(cl.p.w, c, 0, ky, 1)],
                     cw[at(cl.p.w, c, 0, ky, 2)]);
}

// The forward (y from x) or the dgrad (dx from dy, the kernel turned,
// padding 2 - p), four outputs of a row per invocation.
fn dw3s1_row4(dgrad: bool, gid: u32, stride: u32) {
    let g = geom();
    var rows = g.ho;
    var cols = g.wo;
    var pad_h = g.ph;
    var pad_w = g.pw;
    if (dgrad) {
        rows = g.h;
        cols = g.w;
        pad_h = 2 - g.ph;
        pad_w = 2 - g.pw;
    }
    let quads = (cols + 3) / 4;
    let total = u32(g.n * g.oc * rows * quads);
    for (var e = gid; e < total; e += stride) {
        let q4 = i32(e % u32(quads)); let t = i32(e / u32(quads));
        let row = t % rows; let t2 = t / rows; let c = t2 % g.oc; let n = t2 / g.oc;
        let col = 4 * q4;
        var acc = vec4<f32>(0.0);
        for (var ky = 0; ky < 3; ky++) {
            let v = source_row6(dgrad, g, n, c, row - pad_h + ky, col - pad_w);
            acc += corr3_row4(v, w_row3(c, ky, dgrad));
        }
        if (!dgrad && cl.p.has_bias == 1u) { acc += vec4<f32>(cb[cl.p.bias_offset + u32(c)]); }
        for (var q = 0; q < 4; q++) {
            if (col + q >= cols) { break; }
            var v = acc[q];
            if (dgrad) {
                let idx = at(cl.p.x, n, c, row, col + q);
                if (cl.p.accumulate == 1u) { v += cx[idx]; }
                cx[idx] = v;
            } else {
                let idx = at(cl.p.y, n, c, row, col + q);
                if (cl.p.accumulate == 1u) { v += cy[idx]; }
                cy[idx] = v;
            }
        }
    }
}

@compute @workgroup_size(256)
fn slimmable_dwconv2d_fwd_k3s1_row4(@builtin(global_invocation_id) gid: vec3<u32>,
                                    @builtin(num_workgroups) groups: vec3<u32>) {
    dw3s1_row4(false, gid.x, groups.x * 256u);
}

@compute @workgroup_size(256)
fn slimmable_dwconv2d_dgrad_k3s1_row4(@builtin(global_invocation_id) gid: vec3<u32>,
                                      @builtin(num_workgroups) groups: vec3<u32>) {
    dw3s1_row4(true, gid.x, groups.x * 256u);
}

// x[n][c][h][w0 .. w0+2], zero outside the plane.
fn x_row3(g: Geom, n: i32, c: i32, h: i32, w0: i32) -> vec3<f32> {
    var r = vec3<f32>(0.0);
    if (h < 0 || h >= g.h) { return r; }
    for (var i = 0; i < 3; i++) {
        let w = w0 + i;
        if (w >= 0 && w < g.w) { r[i] = cx[at(cl.p.x, n, c, h, w)]; }
    }
    return r;
}

var<workgroup> dw3_rows: array<vec3<f32>, 192>; // [ky][invocation]

// Depthwise 3x3 wgrad, workgroup (c, split) of 64 over split wg.y of the
// N*Ho*Wo pixels: all nine tap sums in registers (one pixel decode and one
// dy load serve them all), a tree across the workgroup, then into dw (one
// split) or the partials slimmable_conv2d_wgrad_reduce adds.
@compute @workgroup_size(64)
fn slimmable_dwconv2d_wgrad_k3(@builtin(local_invocation_index) lid: u32,
                               @builtin(workgroup_id) wg: vec3<u32>) {
    let g = geom();
    let t = i32(lid);
    let c = i32(wg.x);
    let split = i32(wg.y);
    let splits = i32(cl.split_k);
    let pixels = g.n * g.ho * g.wo;
    let per_split = (pixels + splits - 1) / splits;
    let p_end = min(pixels, (split + 1) * per_split);
    var r0 = vec3<f32>(0.0);
    var r1 = vec3<f32>(0.0);
    var r2 = vec3<f32>(0.0);
    for (var p = split * per_split + t; p < p_end; p += 64) {
        let q = decode_pixel(p, g.ho, g.wo);
        let d = vec3<f32>(cy[at(cl.p.y, q.x, c, q.y, q.z)]);
        let hb = q.y * g.sh - g.ph;
        let wb = q.z * g.sw - g.pw;
        r0 = fma(d, x_row3(g, q.x, c, hb, wb), r0);
        r1 = fma(d, x_row3(g, q.x, c, hb + 1, wb), r1);
        r2 = fma(d, x_row3(g, q.x, c, hb + 2, wb), r2);
    }
    dw3_reduce_store(g, t, c, split, splits, r0, r1, r2);
}

// The 3x3 depthwise wgrads' end: invocation t's tap sums (row ky in r_ky)
// summed over the 64 invocations by a tree in dw3_rows, then into dw (one
// split) or the partials slimmable_conv2d_wgrad_reduce adds. Every
// invocation of the workgroup calls it (it holds barriers).
fn dw3_reduce_store(g: Geom, t: i32, c: i32, split: i32, splits: i32,
                    r0: vec3<f32>, r1: vec3<f32>, r2: vec3<f32>) {
    dw3_rows[t] = r0;
    dw3_rows[64 + t] = r1;
    dw3_rows[128 + t] = r2;
    for (var s = 32; s > 0; s >>= 1) {
        workgroupBarrier();
        if (t < s) {
            for (var ky = 0; ky < 3; ky++) {
                dw3_rows[ky * 64 + t] += dw3_rows[ky * 64 + t + s];
            }
        }
    }
    workgroupBarrier();
    if (t < 9) {
        let ky = t / 3;
        let kx = t - 3 * ky;
        let v = dw3_rows[ky * 64][kx];
        if (splits == 1) {
            let idx = at(cl.p.w, c, 0, ky, kx);
            cw[idx] = cw[idx] + v;
        } else {
            cs[(split * g.oc + c) * 9 + t] = v;
        }
    }
}

// dy[n][c][ho][wo0 .. wo0+3], zero past the row's end.
fn dy_row4(g: Geom, n: i32, c: i32, ho: i32, wo0: i32) -> vec4<f32> {
    var r = vec4<f32>(0.0);
    for (var i = 0; i < 4; i++) {
        if (wo0 + i < g.wo) { r[i] = cy[at(cl.p.y, n, c, ho, wo0 + i)]; }
    }
    return r;
}

// Depthwise 3x3 stride-1 wgrad, workgroups (c, split) of 64 like
// slimmable_dwconv2d_wgrad_k3, but an invocation takes four outputs along a
// row at a time: 4 dy and 3 rows of 6 x serve all 36 products (the per-pixel
// kernel loads 10 values for 9 and decodes every pixel).
@compute @workgroup_size(64)
fn slimmable_dwconv2d_wgrad_k3s1_row4(@builtin(local_invocation_index) lid: u32,
                                      @builtin(workgroup_id) wg: vec3<u32>) {
    let g = geom();
    let t = i32(lid);
    let c = i32(wg.x);
    let split = i32(wg.y);
    let splits = i32(cl.split_k);
    let quads = (g.wo + 3) / 4;
    let total = g.n * g.ho * quads;
    let per_split = (total + splits - 1) / splits;
    let e_end = min(total, (split + 1) * per_split);
    var r0 = vec3<f32>(0.0);
    var r1 = vec3<f32>(0.0);
    var r2 = vec3<f32>(0.0);
    for (var e = split * per_split + t; e < e_end; e += 64) {
        let wo0 = 4 * (e % quads);
        let row = e / quads;
        let ho = row % g.ho;
        let n = row / g.ho;
        let d = dy_row4(g, n, c, ho, wo0);
        let hb = ho - g.ph;
        let wb = wo0 - g.pw;
        // Row ky of x under the quad: x[hb + ky][wb .. wb + 5]; tap kx
        // pairs dy[q] with x[q + kx].
        let v0 = source_row6(false, g, n, c, hb, wb);
        r0 += vec3<f32>(dot(d, vec4<f32>(v0[0], v0[1], v0[2], v0[3])),
                        dot(d, vec4<f32>(v0[1], v0[2], v0[3], v0[4])),
                        dot(d, vec4<f32>(v0[2], v0[3], v0[4], v0[5])));
        let v1 = source_row6(false, g, n, c, hb + 1, wb);
        r1 += vec3<f32>(dot(d, vec4<f32>(v1[0], v1[1], v1[2], v1[3])),
                        dot(d, vec4<f32>(v1[1], v1[2], v1[3], v1[4])),
                        dot(d, vec4<f32>(v1[2], v1[3], v1[4], v1[5])));
        let v2 = source_row6(false, g, n, c, hb + 2, wb);
        r2 += vec3<f32>(dot(d, vec4<f32>(v2[0], v2[1], v2[2], v2[3])),
                        dot(d, vec4<f32>(v2[1], v2[2], v2[3], v2[4])),
                        dot(d, vec4<f32>(v2[2], v2[3], v2[4], v2[5])));
    }
    dw3_reduce_store(g, t, c, split, splits, r0, r1, r2);
}

// Workgroup o: db[o] += sum of dy over the batch and pixels.
@compute @workgroup_size(256)
fn slimmable_conv2d_bias_grad(@builtin(local_invocation_index) lid: u32,
                              @builtin(workgroup_id) wg: vec3<u32>) {
    let g = geom();
    let o = i32(wg.x);
    let pixels = u32(g.n * g.ho * g.wo);
    var acc = 0.0;
    for (var e = lid; e < pixels; e += 256u) {
        let wo = i32(e % u32(g.wo)); let t = i32(e / u32(g.wo));
        acc += cy[at(cl.p.y, t / g.ho, o, t % g.ho, wo)];
    }
    partial[lid] = acc;
    workgroup_sum(lid);
    if (lid == 0u) {
        let idx = cl.p.bias_offset + u32(o);
        cb[idx] = cb[idx] + partial[0];
    }
}
