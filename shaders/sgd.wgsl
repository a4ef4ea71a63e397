// slimmable: fused SGD step (WGSL twin of kernels/sgd.cu).
// Bindings: 0 params, 1 param (rw), 2 grad (rw: flag 4 clears it once
// read), 3 momentum buffer (rw). 256-wide 1-D grid-stride over
// offset..offset + len.

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(1) var<storage, read_write> sgd_param: array<f32>;
@group(0) @binding(2) var<storage, read_write> sgd_grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> sgd_buf: array<f32>;

@compute @workgroup_size(256)
fn slimmable_sgd_step_f32(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) groups: vec3<u32>) {
    for (var t = gid.x; t < sgd.len; t += groups.x * 256u) {
        let i = sgd.offset + t;
        let w = sgd_param[i];
        let d = sgd_grad[i] + sgd.weight_decay * w;
        if ((sgd.flags & 4u) != 0u) { sgd_grad[i] = 0.0; }
        var step = d;
        if (sgd.momentum != 0.0) {
            var b = d;
            if ((sgd.flags & 2u) == 0u) { b = sgd.momentum * sgd_buf[i] + d; }
            sgd_buf[i] = b;
            step = b;
            if ((sgd.flags & 1u) != 0u) { step = d + sgd.momentum * b; }
        }
        sgd_param[i] = w - sgd.lr * step;
    }
}
