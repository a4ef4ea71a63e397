// slimmable: strided copy and fill on views (WGSL twin of kernels/copy.cu).
//
// Dispatch: any number of 256-wide workgroups along x (at most 65535); each
// invocation walks the view's elements with a grid-stride loop.
// Bindings: 0 = params (uniform), 1 = src (read), 2 = dst (read_write).

@group(0) @binding(0) var<uniform> copy_params: SliceCopyParams;
@group(0) @binding(1) var<storage, read> copy_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> copy_dst: array<f32>;

@compute @workgroup_size(256)
fn slimmable_slice_copy_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) groups: vec3<u32>) {
    let n = view_numel(copy_params.dst);
    let step = groups.x * 256u;
    for (var i = gid.x; i < n; i += step) {
        // src and dst have equal extents (SliceCopyParams): one decode.
        let q = nchw_of(copy_params.dst.dims, i);
        copy_dst[view_at(copy_params.dst, q)] = copy_src[view_at(copy_params.src, q)];
    }
}
