// slimmable: conv2d on channel slices of full-size tensors (WGSL twin of
// kernels/conv2d.cu; same entry names, same Conv2dParams).
//
// Dense, grouped and pointwise convs: one implicit GEMM per group
// (workgroup_id.z = group), 64x64 output tile per workgroup of 256
// invocations, each 4x4 outputs, K staged 16 at a time in workgroup memory:
//   forward  C[m=(n,ho,wo)][j=o]   = sum_k=(i,ky,kx)  x . w
//   dgrad    C[m=(n,h,w)][j=i]     = sum_k=(o,ky,kx)  dy . w
//   wgrad    C[m=o][j=(i,ky,kx)]  += sum_k=(n,ho,wo) dy . x
// (no split-K here: WGSL has no float atomics, so each wgrad output is
// summed by one invocation). Depthwise convs have direct kernels; the bias
// gradient is a per-channel workgroup reduction. slimmable_conv2d_fwd_naive
// (one invocation per output, full loop) is kept as the bench baseline.
//
// Bindings: 0 = params (uniform), 1 = x, 2 = w, 3 = y, 4 = bias; all
// storage read_write, since which of them is written depends on the pass.

@group(0) @binding(0) var<uniform> cp: Conv2dParams;
@group(0) @binding(1) var<storage, read_write> cx: array<f32>;
@group(0) @binding(2) var<storage, read_write> cw: array<f32>;
@group(0) @binding(3) var<storage, read_write> cy: array<f32>;
@group(0) @binding(4) var<storage, read_write> cb: array<f32>;

struct Geom {
    n: i32, ic: i32, h: i32, w: i32, oc: i32, ho: i32, wo: i32,
    kh: i32, kw: i32, khw: i32, icg: i32, ocg: i32, sh: i32, sw: i32, ph: i32, pw: i32,
}

fn geom() -> Geom {
    var g: Geom;
    g.n = i32(cp.x.dims.x); g.ic = i32(cp.x.dims.y); g.h = i32(cp.x.dims.z); g.w = i32(cp.x.dims.w);
    g.oc = i32(cp.y.dims.y); g.ho = i32(cp.y.dims.z); g.wo = i32(cp.y.dims.w);
    g.kh = i32(cp.w.dims.z); g.kw = i32(cp.w.dims.w); g.khw = g.kh * g.kw;
    g.icg = g.ic / i32(cp.groups); g.ocg = g.oc / i32(cp.groups);
    g.sh = i32(cp.stride_h); g.sw = i32(cp.stride_w); g.ph = i32(cp.pad_h); g.pw = i32(cp.pad_w);
    return g;
}

fn at(v: ViewParams, a: i32, b: i32, c: i32, d: i32) -> u32 {
    return v.offset + u32(a) * v.strides.x + u32(b) * v.strides.y + u32(c) * v.strides.z + u32(d) * v.strides.w;
}

const PASS_FWD: u32 = 0u;
const PASS_DGRAD: u32 = 1u;
const PASS_WGRAD: u32 = 2u;

// (M, N, K) of one group's GEMM.
fn gemm_dims(pass_id: u32, g: Geom) -> vec3<i32> {
    if (pass_id == PASS_FWD) { return vec3<i32>(g.n * g.ho * g.wo, g.ocg, g.icg * g.khw); }
    if (pass_id == PASS_DGRAD) { return vec3<i32>(g.n * g.h * g.w, g.icg, g.ocg * g.khw); }
    return vec3<i32>(g.ocg, g.icg * g.khw, g.n * g.ho * g.wo);
}

// x at (n, c, ho*s - p + ky, wo*s - p + kx), zero in the padding.
fn x_tap(g: Geom, n: i32, c: i32, ho: i32, wo: i32, ky: i32, kx: i32) -> f32 {
    let hi = ho * g.sh - g.ph + ky;
    let wi = wo * g.sw - g.pw + kx;
    if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) { return 0.0; }
    return cx[at(cp.x, n, c, hi, wi)];
}

fn load_a(pass_id: u32, g: Geom, grp: i32, m: i32, k: i32, d: vec3<i32>) -> f32 {
    if (m >= d.x || k >= d.z) { return 0.0; }
    if (pass_id == PASS_FWD) {
        let wo = m % g.wo; let t = m / g.wo; let ho = t % g.ho; let n = t / g.ho;
        let kx = k % g.kw; let t2 = k / g.kw; let ky = t2 % g.kh; let i = t2 / g.kh;
        return x_tap(g, n, grp * g.icg + i, ho, wo, ky, kx);
    }
    if (pass_id == PASS_DGRAD) {
        let wi = m % g.w; let t = m / g.w; let hi = t % g.h; let n = t / g.h;
        let kx = k % g.kw; let t2 = k / g.kw; let ky = t2 % g.kh; let o = t2 / g.kh;
        let th = hi + g.ph - ky;
        let tw = wi + g.pw - kx;
        if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0) { return 0.0; }
        let ho = th / g.sh;
        let wo = tw / g.sw;
        if (ho >= g.ho || wo >= g.wo) { return 0.0; }
        return cy[at(cp.y, n, grp * g.ocg + o, ho, wo)];
    }
    let wo = k % g.wo; let t = k / g.wo; let ho = t % g.ho; let n = t / g.ho;
    return cy[at(cp.y, n, grp * g.ocg + m, ho, wo)];
}

fn load_b(pass_id: u32, g: Geom, grp: i32, k: i32, j: i32, d: vec3<i32>) -> f32 {
    if (k >= d.z || j >= d.y) { return 0.0; }
    if (pass_id == PASS_FWD) {
        let kx = k % g.kw; let t2 = k / g.kw; let ky = t2 % g.kh; let i = t2 / g.kh;
        return cw[at(cp.w, grp * g.ocg + j, i, ky, kx)];
    }
    if (pass_id == PASS_DGRAD) {
        let kx = k % g.kw; let t2 = k / g.kw; let ky = t2 % g.kh; let o = t2 / g.kh;
        return cw[at(cp.w, grp * g.ocg + o, j, ky, kx)];
    }
    let wo = k % g.wo; let t = k / g.wo; let ho = t % g.ho; let n = t / g.ho;
    let kx = j % g.kw; let t2 = j / g.kw; let ky = t2 % g.kh; let i = t2 / g.kh;
    return x_tap(g, n, grp * g.icg + i, ho, wo, ky, kx);
}

fn store_c(pass_id: u32, g: Geom, grp: i32, m: i32, j: i32, d: vec3<i32>, value: f32) {
    if (m >= d.x || j >= d.y) { return; }
    var v = value;
    if (pass_id == PASS_FWD) {
        let wo = m % g.wo; let t = m / g.wo; let ho = t % g.ho; let n = t / g.ho;
        let o = grp * g.ocg + j;
        if (cp.has_bias == 1u) { v += cb[cp.bias_offset + u32(o)]; }
        let idx = at(cp.y, n, o, ho, wo);
        if (cp.accumulate == 1u) { v += cy[idx]; }
        cy[idx] = v;
    } else if (pass_id == PASS_DGRAD) {
        let wi = m % g.w; let t = m / g.w; let hi = t % g.h; let n = t / g.h;
        let idx = at(cp.x, n, grp * g.icg + j, hi, wi);
        if (cp.accumulate == 1u) { v += cx[idx]; }
        cx[idx] = v;
    } else {
        let kx = j % g.kw; let t2 = j / g.kw; let ky = t2 % g.kh; let i = t2 / g.kh;
        let idx = at(cp.w, grp * g.ocg + m, i, ky, kx);
        cw[idx] = cw[idx] + v;
    }
}

const TBM: i32 = 64;
const TBN: i32 = 64;
const TBK: i32 = 16;
var<workgroup> tile_a: array<f32, 1024>; // [TBK][TBM]
var<workgroup> tile_b: array<f32, 1024>; // [TBK][TBN]

fn gemm(pass_id: u32, lid: u32, wg: vec3<u32>) {
    let g = geom();
    let d = gemm_dims(pass_id, g);
    let grp = i32(wg.z);
    let m0 = i32(wg.x) * TBM;
    let n0 = i32(wg.y) * TBN;
    let t = i32(lid);
    let tm = (t % 16) * 4;
    let tn = (t / 16) * 4;
    var acc: array<f32, 16>;
    for (var k0 = 0; k0 < d.z; k0 += TBK) {
        for (var r = 0; r < 4; r++) {
            let e = r * 256 + t;
            // Along m when m is a pixel, along k when k is (wgrad).
            var ml = e % TBM;
            var kl = e / TBM;
            if (pass_id == PASS_WGRAD) { kl = e % TBK; ml = e / TBK; }
            tile_a[kl * TBM + ml] = load_a(pass_id, g, grp, m0 + ml, k0 + kl, d);
            var jl = e % TBN;
            var kb = e / TBN;
            if (pass_id == PASS_FWD) { kb = e % TBK; jl = e / TBK; }
            tile_b[kb * TBN + jl] = load_b(pass_id, g, grp, k0 + kb, n0 + jl, d);
        }
        workgroupBarrier();
        for (var kk = 0; kk < TBK; kk++) {
            let a = vec4<f32>(tile_a[kk * TBM + tm], tile_a[kk * TBM + tm + 1],
                              tile_a[kk * TBM + tm + 2], tile_a[kk * TBM + tm + 3]);
            let b = vec4<f32>(tile_b[kk * TBN + tn], tile_b[kk * TBN + tn + 1],
                              tile_b[kk * TBN + tn + 2], tile_b[kk * TBN + tn + 3]);
            for (var i = 0; i < 4; i++) {
                for (var j = 0; j < 4; j++) {
                    acc[i * 4 + j] = fma(a[i], b[j], acc[i * 4 + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0; i < 4; i++) {
        for (var j = 0; j < 4; j++) {
            store_c(pass_id, g, grp, m0 + tm + i, n0 + tn + j, d, acc[i * 4 + j]);
        }
    }
}

@compute @workgroup_size(256)
fn slimmable_conv2d_fwd_f32(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wg: vec3<u32>) {
    gemm(PASS_FWD, lid, wg);
}

@compute @workgroup_size(256)
fn slimmable_conv2d_dgrad_f32(@builtin(local_invocation_index) lid: u32,
                              @builtin(workgroup_id) wg: vec3<u32>) {
    gemm(PASS_DGRAD, lid, wg);
}

@compute @workgroup_size(256)
fn slimmable_conv2d_wgrad_f32(@builtin(local_invocation_index) lid: u32,
                              @builtin(workgroup_id) wg: vec3<u32>) {
    gemm(PASS_WGRAD, lid, wg);
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
        if (cp.has_bias == 1u) { acc = cb[cp.bias_offset + u32(o)]; }
        for (var i = 0; i < g.icg; i++) {
            for (var ky = 0; ky < g.kh; ky++) {
                for (var kx = 0; kx < g.kw; kx++) {
                    acc = fma(x_tap(g, n, grp * g.icg + i, ho, wo, ky, kx), cw[at(cp.w, o, i, ky, kx)], acc);
                }
            }
        }
        let idx = at(cp.y, n, o, ho, wo);
        if (cp.accumulate == 1u) { acc += cy[idx]; }
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
        if (cp.has_bias == 1u) { acc = cb[cp.bias_offset + u32(c)]; }
        for (var ky = 0; ky < g.kh; ky++) {
            for (var kx = 0; kx < g.kw; kx++) {
                acc = fma(x_tap(g, n, c, ho, wo, ky, kx), cw[at(cp.w, c, 0, ky, kx)], acc);
            }
        }
        let idx = at(cp.y, n, c, ho, wo);
        if (cp.accumulate == 1u) { acc += cy[idx]; }
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
        var acc = 0.0;
        for (var ky = 0; ky < g.kh; ky++) {
            let th = hi + g.ph - ky;
            if (th < 0 || th % g.sh != 0 || th / g.sh >= g.ho) { continue; }
            for (var kx = 0; kx < g.kw; kx++) {
                let tw = wi + g.pw - kx;
                if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.wo) { continue; }
                acc = fma(cy[at(cp.y, n, c, th / g.sh, tw / g.sw)], cw[at(cp.w, c, 0, ky, kx)], acc);
            }
        }
        let idx = at(cp.x, n, c, hi, wi);
        if (cp.accumulate == 1u) { acc += cx[idx]; }
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
        acc = fma(cy[at(cp.y, n, c, ho, wo)], x_tap(g, n, c, ho, wo, ky, kx), acc);
    }
    partial[lid] = acc;
    workgroup_sum(lid);
    if (lid == 0u) {
        let idx = at(cp.w, c, 0, ky, kx);
        cw[idx] = cw[idx] + partial[0];
    }
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
        acc += cy[at(cp.y, t / g.ho, o, t % g.ho, wo)];
    }
    partial[lid] = acc;
    workgroup_sum(lid);
    if (lid == 0u) {
        let idx = cp.bias_offset + u32(o);
        cb[idx] = cb[idx] + partial[0];
    }
}
