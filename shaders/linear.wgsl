// slimmable: linear layer on a weight slice (WGSL twin of kernels/linear.cu).
// Bindings by role: 0 params, 1 x, 2 w, 3 b, 4 y, 5 dy, 6 dx, 7 dw, 8 db.
// 256-wide 1-D grid-stride, one invocation per output element.

@group(0) @binding(0) var<uniform> lin: LinearParams;
@group(0) @binding(1) var<storage, read> lin_x: array<f32>;
@group(0) @binding(2) var<storage, read> lin_w: array<f32>;
@group(0) @binding(3) var<storage, read> lin_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> lin_y: array<f32>;
@group(0) @binding(5) var<storage, read> lin_dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> lin_dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> lin_dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> lin_db: array<f32>;

fn lin_row(v: ViewParams, r: u32, f: u32) -> u32 {
    return v.offset + r * v.strides.x + f * v.strides.y;
}

@compute @workgroup_size(256)
fn slimmable_linear_forward_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                @builtin(num_workgroups) groups: vec3<u32>) {
    let rows = lin.x.dims.x;
    let in_f = lin.x.dims.y;
    let out_f = lin.y.dims.y;
    for (var t = gid.x; t < rows * out_f; t += groups.x * 256u) {
        let r = t / out_f;
        let o = t % out_f;
        var acc = 0.0;
        if (lin.has_bias != 0u) { acc = lin_b[lin.b_offset + o]; }
        let wr = lin.w_offset + o * lin.w_ld;
        for (var i = 0u; i < in_f; i++) {
            acc = fma(lin_x[lin_row(lin.x, r, i)], lin_w[wr + i], acc);
        }
        lin_y[lin_row(lin.y, r, o)] = acc;
    }
}

@compute @workgroup_size(256)
fn slimmable_linear_backward_data_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                      @builtin(num_workgroups) groups: vec3<u32>) {
    let rows = lin.x.dims.x;
    let in_f = lin.x.dims.y;
    let out_f = lin.y.dims.y;
    for (var t = gid.x; t < rows * in_f; t += groups.x * 256u) {
        let r = t / in_f;
        let i = t % in_f;
        var acc = 0.0;
        for (var o = 0u; o < out_f; o++) {
            acc = fma(lin_dy[lin_row(lin.y, r, o)], lin_w[lin.w_offset + o * lin.w_ld + i], acc);
        }
        lin_dx[lin_row(lin.x, r, i)] = acc;
    }
}

@compute @workgroup_size(256)
fn slimmable_linear_backward_weight_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                        @builtin(num_workgroups) groups: vec3<u32>) {
    let rows = lin.x.dims.x;
    let in_f = lin.x.dims.y;
    let out_f = lin.y.dims.y;
    for (var t = gid.x; t < out_f * in_f; t += groups.x * 256u) {
        let o = t / in_f;
        let i = t % in_f;
        var acc = 0.0;
        for (var r = 0u; r < rows; r++) {
            acc = fma(lin_dy[lin_row(lin.y, r, o)], lin_x[lin_row(lin.x, r, i)], acc);
        }
        let at = lin.w_offset + o * lin.w_ld + i;
        lin_dw[at] = lin_dw[at] + acc;
    }
}

@compute @workgroup_size(256)
fn slimmable_linear_backward_bias_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                      @builtin(num_workgroups) groups: vec3<u32>) {
    let rows = lin.y.dims.x;
    let out_f = lin.y.dims.y;
    for (var o = gid.x; o < out_f; o += groups.x * 256u) {
        var acc = 0.0;
        for (var r = 0u; r < rows; r++) { acc += lin_dy[lin_row(lin.y, r, o)]; }
        lin_db[lin.b_offset + o] = lin_db[lin.b_offset + o] + acc;
    }
}
