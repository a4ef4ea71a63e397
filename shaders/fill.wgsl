// slimmable: fill a view with one value (WGSL twin of slimmable_fill_f32 in
// kernels/copy.cu). Bindings: 0 = params (uniform), 1 = dst (read_write).

@group(0) @binding(0) var<uniform> fill_params: FillParams;
@group(0) @binding(1) var<storage, read_write> fill_dst: array<f32>;

@compute @workgroup_size(256)
fn slimmable_fill_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) groups: vec3<u32>) {
    let n = view_numel(fill_params.dst);
    let step = groups.x * 256u;
    for (var i = gid.x; i < n; i += step) {
        fill_dst[view_index(fill_params.dst, i)] = fill_params.value;
    }
}
