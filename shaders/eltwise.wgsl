// slimmable: elementwise ops and the global average pool (WGSL twin of
// kernels/eltwise.cu). Bindings by role: 0 eltwise params, 1 a, 2 b, 3 y;
// pool: 4 pool params, 5 pool input (x or dy), 6 pool output (y or dx).
// 256-wide 1-D grid-stride.

@group(0) @binding(0) var<uniform> ew: EltwiseParams;
@group(0) @binding(1) var<storage, read> ew_a: array<f32>;
@group(0) @binding(2) var<storage, read> ew_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> ew_y: array<f32>;
@group(0) @binding(4) var<uniform> pool: PoolParams;
@group(0) @binding(5) var<storage, read> pool_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> pool_out: array<f32>;

@compute @workgroup_size(256)
fn slimmable_eltwise_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) groups: vec3<u32>) {
    let n = view_numel(ew.y);
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        // a, b and y have equal extents (EltwiseParams): one decode.
        let q = nchw_of(ew.y.dims, i);
        let av = ew_a[view_at(ew.a, q)];
        let yi = view_at(ew.y, q);
        var r: f32;
        switch ew.op {
            case 0u: { r = max(av, 0.0); }
            case 1u: { r = clamp(av, 0.0, 6.0); }
            case 2u: { r = select(0.0, ew_b[view_at(ew.b, q)], av > 0.0); }
            case 3u: { r = select(0.0, ew_b[view_at(ew.b, q)], av > 0.0 && av < 6.0); }
            case 4u: { r = av + ew_b[view_at(ew.b, q)]; }
            default: { r = ew_y[yi] + av; }
        }
        ew_y[yi] = r;
    }
}

@compute @workgroup_size(256)
fn slimmable_avg_pool_forward_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                  @builtin(num_workgroups) groups: vec3<u32>) {
    let c = pool.x.dims.y;
    let h = pool.x.dims.z;
    let w = pool.x.dims.w;
    let rows = pool.x.dims.x * c;
    for (var r = gid.x; r < rows; r += groups.x * 256u) {
        let n = r / c;
        let ch = r % c;
        let base = pool.x.offset + n * pool.x.strides.x + ch * pool.x.strides.y;
        var acc = 0.0;
        for (var i = 0u; i < h; i++) {
            for (var j = 0u; j < w; j++) {
                acc += pool_in[base + i * pool.x.strides.z + j * pool.x.strides.w];
            }
        }
        pool_out[pool.y.offset + n * pool.y.strides.x + ch * pool.y.strides.y] = acc / f32(h * w);
    }
}

@compute @workgroup_size(256)
fn slimmable_avg_pool_backward_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                                   @builtin(num_workgroups) groups: vec3<u32>) {
    let n = view_numel(pool.x);
    let hw = pool.x.dims.z * pool.x.dims.w;
    let c = pool.x.dims.y;
    let scale = 1.0 / f32(hw);
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        let row = i / hw;
        let nn = row / c;
        let ch = row % c;
        pool_out[view_index(pool.x, i)] =
            pool_in[pool.y.offset + nn * pool.y.strides.x + ch * pool.y.strides.y] * scale;
    }
}
