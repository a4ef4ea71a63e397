// slimmable: batch norm on a channel slice (WGSL twin of kernels/norm.cu;
// same entry points, same algorithm, f32 throughout: WGSL has no f64, so
// the partials are merged with Chan's formula in f32).
//
// Bindings by role (each entry point uses a subset; the host binds exactly
// those): 0 params, 1 x, 2 dy, 3 gamma, 4 beta, 5 saved, 6 running, 7 y/dx,
// 8 dgamma, 9 dbeta, 10 stats (normalize: saved or running statistics);
// the _vec4 entries bind x, dy and y/dx at 11, 12 and 13 instead.
// Reductions: workgroups (chunks, c) of BN_REDUCE, walking each chunk plane by
// plane; normalize / dx: workgroups (per plane, planes) of 256 with BN_PLANES,
// else a 1-D grid-stride loop that divides twice per element (plane, channel).

@group(0) @binding(0) var<uniform> bn: BnParams;
@group(0) @binding(1) var<storage, read> bn_x: array<f32>;
@group(0) @binding(2) var<storage, read> bn_dy: array<f32>;
@group(0) @binding(3) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> bn_beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> bn_saved: array<f32>;
@group(0) @binding(6) var<storage, read_write> bn_running: array<f32>;
@group(0) @binding(7) var<storage, read_write> bn_y: array<f32>;
@group(0) @binding(8) var<storage, read_write> bn_dgamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> bn_dbeta: array<f32>;
@group(0) @binding(10) var<storage, read> bn_stats_in: array<f32>;
// x, dy and y again as 4-wide vectors, for the _vec4 entries.
@group(0) @binding(11) var<storage, read> bn_x4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> bn_dy4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> bn_y4: array<vec4<f32>>;

const BN_UPDATE_RUNNING: u32 = 1u;
const BN_STATS_ARE_VAR: u32 = 2u;
const BN_PLANES: u32 = 4u;

// Reductions use workgroups of BN_REDUCE invocations.
const BN_REDUCE: u32 = 64u;
var<workgroup> bn_sh: array<vec3<f32>, BN_REDUCE>;

// Offset of element s of an (n, c) plane from the plane's start.
fn bn_plane_offset(v: ViewParams, s: u32) -> u32 {
    if (v.strides.w == 1u && v.strides.z == v.dims.w) { return s; }
    return (s / v.dims.w) * v.strides.z + (s % v.dims.w) * v.strides.w;
}

fn bn_plane_base(v: ViewParams, n: u32, ch: u32) -> u32 {
    return v.offset + n * v.strides.x + ch * v.strides.y;
}

// (n, channel, offset in the plane) of the i-th element: two divisions.
fn bn_flat_coords(i: u32, hw: u32, c: u32) -> vec3<u32> {
    let pl = i / hw;
    let n = pl / c;
    return vec3<u32>(n, pl - n * c, i - pl * hw);
}

fn bn_act(v: f32, kind: u32) -> f32 {
    if (kind == 1u) { return max(v, 0.0); }
    if (kind == 2u) { return clamp(v, 0.0, 6.0); }
    return v;
}

fn bn_act4(v: vec4<f32>, kind: u32) -> vec4<f32> {
    if (kind == 1u) { return max(v, vec4<f32>(0.0)); }
    if (kind == 2u) { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    return v;
}

fn bn_act_grad4(v: vec4<f32>, kind: u32) -> vec4<f32> {
    if (kind == 1u) { return select(vec4<f32>(0.0), vec4<f32>(1.0), v > vec4<f32>(0.0)); }
    if (kind == 2u) {
        return select(vec4<f32>(0.0), vec4<f32>(1.0), v > vec4<f32>(0.0) & v < vec4<f32>(6.0));
    }
    return vec4<f32>(1.0);
}

fn bn_act_grad(v: f32, kind: u32) -> f32 {
    if (kind == 1u) { return select(0.0, 1.0, v > 0.0); }
    if (kind == 2u) { return select(0.0, 1.0, v > 0.0 && v < 6.0); }
    return 1.0;
}

fn bn_partial(ch: u32, k: u32) -> u32 {
    return 4u * bn.x.dims.y + (ch * bn.chunks + k) * 3u;
}

// Chan's merge of (count, mean, M2).
fn welford_merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    let n = a.x + b.x;
    if (n == 0.0) { return a; }
    let d = b.y - a.y;
    let fb = b.x / n;
    return vec3<f32>(n, a.y + d * fb, a.z + b.z + d * d * a.x * fb);
}

// [lo, hi) of chunk k of a channel's N*H*W elements: bn.chunks chunks, each
// of a length rounded up to a multiple of `unit` (4 on the 4-wide paths, so
// that a 4-element group never straddles two chunks).
fn bn_chunk(k: u32, unit: u32) -> vec2<u32> {
    let len = ((bn.count + bn.chunks - 1u) / bn.chunks + unit - 1u) / unit * unit;
    let lo = min(k * len, bn.count);
    return vec2<u32>(lo, min(lo + len, bn.count));
}

// Reduces a workgroup's bn_sh into bn_sh[0]: Chan's merge (`welford`) or a sum.
fn bn_reduce_sh(t: u32, welford: bool) {
    workgroupBarrier();
    for (var s = BN_REDUCE / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            if (welford) {
                bn_sh[t] = welford_merge(bn_sh[t], bn_sh[t + s]);
            } else {
                bn_sh[t] = bn_sh[t] + bn_sh[t + s];
            }
        }
        workgroupBarrier();
    }
}

// Reduces the workgroup's `acc` and writes thread 0's result as partial k of
// channel ch: (count, mean, M2) by Chan's merge (`welford`, the stats), or
// the two sums (the backward).
fn bn_write_partial(t: u32, ch: u32, k: u32, acc: vec3<f32>, welford: bool) {
    bn_sh[t] = acc;
    bn_reduce_sh(t, welford);
    if (t == 0u) {
        let at = bn_partial(ch, k);
        bn_saved[at] = bn_sh[0].x;
        bn_saved[at + 1u] = bn_sh[0].y;
        if (welford) {
            bn_saved[at + 2u] = bn_sh[0].z;
        }
    }
}

@compute @workgroup_size(BN_REDUCE)
fn slimmable_bn_stats_f32(@builtin(workgroup_id) wg: vec3<u32>,
                          @builtin(local_invocation_index) t: u32) {
    let ch = wg.y;
    let r = bn_chunk(wg.x, 1u);
    let lo = r.x;
    let hi = r.y;
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    let hw = bn.x.dims.z * bn.x.dims.w;
    // Plane by plane: one division per plane, not per element.
    var j = lo;
    while (j < hi) {
        let n = j / hw;
        let s0 = j - n * hw;
        let s1 = min(hw, s0 + (hi - j));
        let base = bn_plane_base(bn.x, n, ch);
        for (var s = s0 + t; s < s1; s += BN_REDUCE) {
            let v = bn_x[base + bn_plane_offset(bn.x, s)];
            acc.x += 1.0;
            let d = v - acc.y;
            acc.y += d / acc.x;
            acc.z += d * (v - acc.y);
        }
        j += s1 - s0;
    }
    bn_write_partial(t, ch, wg.x, acc, true);
}

@compute @workgroup_size(256)
fn slimmable_bn_finalize_f32(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = bn.x.dims.y;
    let ch = gid.x;
    if (ch >= c) { return; }
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    for (var k = 0u; k < bn.chunks; k++) {
        let at = bn_partial(ch, k);
        acc = welford_merge(acc, vec3<f32>(bn_saved[at], bn_saved[at + 1u], bn_saved[at + 2u]));
    }
    let mean = acc.y;
    let variance = acc.z / acc.x;
    bn_saved[ch] = mean;
    bn_saved[c + ch] = 1.0 / sqrt(variance + bn.eps);
    if ((bn.flags & BN_UPDATE_RUNNING) != 0u) {
        let f = bn.factor;
        let mi = bn.mean_offset + ch;
        let vi = bn.var_offset + ch;
        bn_running[mi] = (1.0 - f) * bn_running[mi] + f * mean;
        bn_running[vi] = (1.0 - f) * bn_running[vi] + f * variance * bn.unbias;
    }
}

// Channel ch's normalize as one multiply-add, y = x * scale + shift: from
// its mean and inverse std (a variance with BN_STATS_ARE_VAR) in the stats
// binding, and gamma and beta.
fn bn_scale_shift(ch: u32) -> vec2<f32> {
    let mean = bn_stats_in[bn.mean_offset + ch];
    let s = bn_stats_in[bn.var_offset + ch];
    var inv = s;
    if ((bn.flags & BN_STATS_ARE_VAR) != 0u) { inv = 1.0 / sqrt(s + bn.eps); }
    let scale = inv * bn_gamma[bn.gamma_offset + ch];
    return vec2<f32>(scale, bn_beta[bn.beta_offset + ch] - mean * scale);
}

// Channel ch's constants of dx = g * inv * (d - mean_g - x_hat * mean_gx), with
// d = dy * act'(x_hat * g + b): saved mean, inverse std and the two backward
// sums (over count elements), gamma and beta.
struct BnDxChannel { mean: f32, inv: f32, g: f32, b: f32, mean_g: f32, mean_gx: f32 }

fn bn_dx_channel(ch: u32, c: u32) -> BnDxChannel {
    let inv_m = 1.0 / f32(bn.count);
    return BnDxChannel(bn_saved[ch], bn_saved[c + ch], bn_gamma[bn.gamma_offset + ch],
                       bn_beta[bn.beta_offset + ch], bn_saved[2u * c + ch] * inv_m,
                       bn_saved[3u * c + ch] * inv_m);
}

@compute @workgroup_size(256)
fn slimmable_bn_normalize_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                              @builtin(workgroup_id) wg: vec3<u32>,
                              @builtin(num_workgroups) groups: vec3<u32>) {
    let hw = bn.x.dims.z * bn.x.dims.w;
    let c = bn.x.dims.y;
    if ((bn.flags & BN_PLANES) != 0u) {
        // Workgroups (per plane, planes): per-channel constants once per plane.
        let planes = bn.x.dims.x * c;
        for (var pl = wg.y; pl < planes; pl += groups.y) {
            let n = pl / c;
            let ch = pl % c;
            let ss = bn_scale_shift(ch);
            let bx = bn_plane_base(bn.x, n, ch);
            let by = bn_plane_base(bn.y, n, ch);
            for (var e = gid.x; e < hw; e += groups.x * 256u) {
                bn_y[by + bn_plane_offset(bn.y, e)] =
                    bn_act(fma(bn_x[bx + bn_plane_offset(bn.x, e)], ss.x, ss.y), bn.act);
            }
        }
        return;
    }
    let total = view_numel(bn.x);
    for (var i = gid.x; i < total; i += groups.x * 256u) {
        let q = bn_flat_coords(i, hw, c);
        let n = q.x;
        let ch = q.y;
        let e = q.z;
        let ss = bn_scale_shift(ch);
        let xv = bn_x[bn_plane_base(bn.x, n, ch) + bn_plane_offset(bn.x, e)];
        bn_y[bn_plane_base(bn.y, n, ch) + bn_plane_offset(bn.y, e)] = bn_act(fma(xv, ss.x, ss.y), bn.act);
    }
}

@compute @workgroup_size(BN_REDUCE)
fn slimmable_bn_backward_partials_f32(@builtin(workgroup_id) wg: vec3<u32>,
                                      @builtin(local_invocation_index) t: u32) {
    let ch = wg.y;
    let c = bn.x.dims.y;
    let r = bn_chunk(wg.x, 1u);
    let lo = r.x;
    let hi = r.y;
    let mean = bn_saved[ch];
    let inv = bn_saved[c + ch];
    let g = bn_gamma[bn.gamma_offset + ch];
    let b = bn_beta[bn.beta_offset + ch];
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    let hw = bn.x.dims.z * bn.x.dims.w;
    var j = lo;
    while (j < hi) {
        let n = j / hw;
        let s0 = j - n * hw;
        let s1 = min(hw, s0 + (hi - j));
        let bx = bn_plane_base(bn.x, n, ch);
        let bd = bn_plane_base(bn.dy, n, ch);
        for (var s = s0 + t; s < s1; s += BN_REDUCE) {
            let xh = (bn_x[bx + bn_plane_offset(bn.x, s)] - mean) * inv;
            let d = bn_dy[bd + bn_plane_offset(bn.dy, s)] * bn_act_grad(xh * g + b, bn.act);
            acc.x += d;
            acc.y += d * xh;
        }
        j += s1 - s0;
    }
    bn_write_partial(t, ch, wg.x, acc, false);
}

@compute @workgroup_size(256)
fn slimmable_bn_backward_finalize_f32(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = bn.x.dims.y;
    let ch = gid.x;
    if (ch >= c) { return; }
    var s1 = 0.0;
    var s2 = 0.0;
    for (var k = 0u; k < bn.chunks; k++) {
        let at = bn_partial(ch, k);
        s1 += bn_saved[at];
        s2 += bn_saved[at + 1u];
    }
    bn_saved[2u * c + ch] = s1;
    bn_saved[3u * c + ch] = s2;
    bn_dbeta[bn.beta_offset + ch] += s1;
    bn_dgamma[bn.gamma_offset + ch] += s2;
}

@compute @workgroup_size(256)
fn slimmable_bn_backward_dx_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                @builtin(workgroup_id) wg: vec3<u32>,
                                @builtin(num_workgroups) groups: vec3<u32>) {
    let hw = bn.x.dims.z * bn.x.dims.w;
    let c = bn.x.dims.y;
    if ((bn.flags & BN_PLANES) != 0u) {
        let planes = bn.x.dims.x * c;
        for (var pl = wg.y; pl < planes; pl += groups.y) {
            let n = pl / c;
            let ch = pl % c;
            let k = bn_dx_channel(ch, c);
            let bx = bn_plane_base(bn.x, n, ch);
            let bd = bn_plane_base(bn.dy, n, ch);
            let bo = bn_plane_base(bn.y, n, ch);
            for (var e = gid.x; e < hw; e += groups.x * 256u) {
                let xh = (bn_x[bx + bn_plane_offset(bn.x, e)] - k.mean) * k.inv;
                let d = bn_dy[bd + bn_plane_offset(bn.dy, e)] * bn_act_grad(xh * k.g + k.b, bn.act);
                bn_y[bo + bn_plane_offset(bn.y, e)] = k.g * k.inv * (d - k.mean_g - xh * k.mean_gx);
            }
        }
        return;
    }
    let total = view_numel(bn.x);
    for (var i = gid.x; i < total; i += groups.x * 256u) {
        let q = bn_flat_coords(i, hw, c);
        let n = q.x;
        let ch = q.y;
        let e = q.z;
        let k = bn_dx_channel(ch, c);
        let xh = (bn_x[bn_plane_base(bn.x, n, ch) + bn_plane_offset(bn.x, e)] - k.mean) * k.inv;
        let dy = bn_dy[bn_plane_base(bn.dy, n, ch) + bn_plane_offset(bn.dy, e)];
        let d = dy * bn_act_grad(xh * k.g + k.b, bn.act);
        bn_y[bn_plane_base(bn.y, n, ch) + bn_plane_offset(bn.y, e)] =
            k.g * k.inv * (d - k.mean_g - xh * k.mean_gx);
    }
}

// ---- 4-wide normalize and dx --------------------------------------------
// For views whose planes are contiguous with H*W, offsets and plane starts
// multiples of 4 (the host checks): a 1-D grid-stride loop over 4-element
// groups, one 16-byte access per tensor and one decode per four floats.
// On lavapipe a storage access costs several nanoseconds whatever its
// width, so this is several times the scalar paths; on GPUs it is a
// 128-bit access.

@compute @workgroup_size(256)
fn slimmable_bn_normalize_vec4_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                   @builtin(num_workgroups) groups: vec3<u32>) {
    let c = bn.x.dims.y;
    let hw4 = bn.x.dims.z * bn.x.dims.w / 4u;
    let total = bn.x.dims.x * c * hw4;
    for (var i = gid.x; i < total; i += groups.x * 256u) {
        let q = bn_flat_coords(i, hw4, c);
        let ch = q.y;
        let ss = bn_scale_shift(ch);
        let xv = bn_x4[bn_plane_base(bn.x, q.x, ch) / 4u + q.z];
        bn_y4[bn_plane_base(bn.y, q.x, ch) / 4u + q.z] =
            bn_act4(fma(xv, vec4<f32>(ss.x), vec4<f32>(ss.y)), bn.act);
    }
}

@compute @workgroup_size(256)
fn slimmable_bn_backward_dx_vec4_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                     @builtin(num_workgroups) groups: vec3<u32>) {
    let c = bn.x.dims.y;
    let hw4 = bn.x.dims.z * bn.x.dims.w / 4u;
    let total = bn.x.dims.x * c * hw4;
    for (var i = gid.x; i < total; i += groups.x * 256u) {
        let q = bn_flat_coords(i, hw4, c);
        let ch = q.y;
        let k = bn_dx_channel(ch, c);
        let xh = (bn_x4[bn_plane_base(bn.x, q.x, ch) / 4u + q.z] - vec4<f32>(k.mean)) * k.inv;
        let dy = bn_dy4[bn_plane_base(bn.dy, q.x, ch) / 4u + q.z];
        let d = dy * bn_act_grad4(xh * k.g + vec4<f32>(k.b), bn.act);
        bn_y4[bn_plane_base(bn.y, q.x, ch) / 4u + q.z] =
            k.g * k.inv * (d - vec4<f32>(k.mean_g) - xh * k.mean_gx);
    }
}

// ---- 4-wide reductions ----------------------------------------------------
// The stats and backward partials for the same views as the 4-wide
// normalize: chunks are whole 4-element groups (their length rounded up to
// a multiple of 4), so a group never straddles two planes, and each group is
// one 16-byte load per tensor.

@compute @workgroup_size(BN_REDUCE)
fn slimmable_bn_stats_vec4_f32(@builtin(workgroup_id) wg: vec3<u32>,
                               @builtin(local_invocation_index) t: u32) {
    let ch = wg.y;
    let r = bn_chunk(wg.x, 4u);
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    let hw = bn.x.dims.z * bn.x.dims.w;
    var j = r.x;
    while (j < r.y) {
        let n = j / hw;
        let s0 = j - n * hw;
        let s1 = min(hw, s0 + (r.y - j));
        let base4 = bn_plane_base(bn.x, n, ch) / 4u;
        for (var s = s0 / 4u + t; s < s1 / 4u; s += BN_REDUCE) {
            // The group's own (count, mean, M2), merged into the running one.
            let v = bn_x4[base4 + s];
            let m = (v.x + v.y + v.z + v.w) * 0.25;
            let d = v - vec4<f32>(m);
            acc = welford_merge(acc, vec3<f32>(4.0, m, dot(d, d)));
        }
        j += s1 - s0;
    }
    bn_write_partial(t, ch, wg.x, acc, true);
}

@compute @workgroup_size(BN_REDUCE)
fn slimmable_bn_backward_partials_vec4_f32(@builtin(workgroup_id) wg: vec3<u32>,
                                           @builtin(local_invocation_index) t: u32) {
    let ch = wg.y;
    let c = bn.x.dims.y;
    let r = bn_chunk(wg.x, 4u);
    let mean = bn_saved[ch];
    let inv = bn_saved[c + ch];
    let g = bn_gamma[bn.gamma_offset + ch];
    let b = bn_beta[bn.beta_offset + ch];
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    let hw = bn.x.dims.z * bn.x.dims.w;
    var j = r.x;
    while (j < r.y) {
        let n = j / hw;
        let s0 = j - n * hw;
        let s1 = min(hw, s0 + (r.y - j));
        let bx4 = bn_plane_base(bn.x, n, ch) / 4u;
        let bd4 = bn_plane_base(bn.dy, n, ch) / 4u;
        for (var s = s0 / 4u + t; s < s1 / 4u; s += BN_REDUCE) {
            let xh = (bn_x4[bx4 + s] - vec4<f32>(mean)) * inv;
            let d = bn_dy4[bd4 + s] * bn_act_grad4(xh * g + vec4<f32>(b), bn.act);
            acc.x += d.x + d.y + d.z + d.w;
            acc.y += dot(d, xh);
        }
        j += s1 - s0;
    }
    bn_write_partial(t, ch, wg.x, acc, false);
}
