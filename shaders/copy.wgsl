// slimmable: strided copy and fill on views (WGSL twin of kernels/copy.cu).
//
// Dispatch: any number of 256-wide workgroups along x (at most 65535); each
// invocation walks the view's elements with a grid-stride loop.
// Bindings: 0 = params (uniform), 1 = src (read), 2 = dst (read_write);
// the vec4 entry binds src at 3 and dst at 4.

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

// The same buffers seen as 4-wide vectors (bindings 3 and 4 instead of 1 and
// 2), for views whose images are packed runs of C*H*W floats, 16-byte aligned
// (the host checks): one 16-byte access and one division per four floats.
// On lavapipe each storage access costs several nanoseconds, so this copy
// is about 5x the scalar one; on GPUs it is a 128-bit access.
@group(0) @binding(3) var<storage, read> copy_src4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> copy_dst4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn slimmable_slice_copy_runs_vec4(@builtin(global_invocation_id) gid: vec3<u32>,
                                  @builtin(num_workgroups) groups: vec3<u32>) {
    let d = copy_params.dst;
    let s = copy_params.src;
    let run4 = d.dims.y * d.dims.z * d.dims.w / 4u;
    let n = d.dims.x * run4;
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        let img = i / run4;
        let e = i - img * run4;
        copy_dst4[(d.offset + img * d.strides.x) / 4u + e] = copy_src4[(s.offset + img * s.strides.x) / 4u + e];
    }
}
