// slimmable: declarations shared by every WGSL kernel; the host prepends this
// file to each shader. The structs mirror src/params.rs byte for byte under
// WGSL's uniform layout rules (checked by tests/param_layout.rs).

// A strided 4-D view (NCHW) into a flat f32 buffer, in elements.
struct ViewParams {
    dims: vec4<u32>,
    strides: vec4<u32>,
    offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct SliceCopyParams {
    src: ViewParams,
    dst: ViewParams,
}

struct FillParams {
    dst: ViewParams,
    value: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Conv2dParams {
    x: ViewParams,
    w: ViewParams,
    y: ViewParams,
    bias_offset: u32,
    has_bias: u32,
    groups: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    accumulate: u32,
}

struct ResizePackParams {
    scale: vec4<f32>,
    bias: vec4<f32>,
    num_images: u32,
    num_outputs: u32,
    channels: u32,
    format: u32,
    filter_mode: u32,
    align_corners: u32,
    cascade: u32,
    full_h: u32,
    full_w: u32,
    total_groups: u32,
    total_tiles: u32,
    max_taps: u32,
    same_size: u32,
    staged: u32,
    tile_runs: u32,
    tile_runs_at: u32,
}

struct BnParams {
    x: ViewParams,
    y: ViewParams,
    dy: ViewParams,
    gamma_offset: u32,
    beta_offset: u32,
    mean_offset: u32,
    var_offset: u32,
    chunks: u32,
    act: u32,
    flags: u32,
    count: u32,
    eps: f32,
    factor: f32,
    unbias: f32,
    _pad0: u32,
}

struct LinearParams {
    x: ViewParams,
    y: ViewParams,
    w_offset: u32,
    w_ld: u32,
    b_offset: u32,
    has_bias: u32,
}

struct EltwiseParams {
    a: ViewParams,
    b: ViewParams,
    y: ViewParams,
    op: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct PoolParams {
    x: ViewParams,
    y: ViewParams,
}

struct LossParams {
    logits: ViewParams,
    teacher: ViewParams,
    dlogits: ViewParams,
    loss_offset: u32,
    labels_offset: u32,
    smoothing: f32,
    temperature: f32,
}

struct SgdParams {
    offset: u32,
    len: u32,
    flags: u32,
    _pad0: u32,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    _pad1: u32,
}

fn view_numel(v: ViewParams) -> u32 {
    return v.dims.x * v.dims.y * v.dims.z * v.dims.w;
}

// (n, c, h, w) of the i-th element of extents `d` in NCHW order. Views of
// equal extents share one decode (three divisions) and differ only in
// view_at's multiply-adds.
fn nchw_of(d: vec4<u32>, flat: u32) -> vec4<u32> {
    let w = flat % d.w;
    let r = flat / d.w;
    let h = r % d.z;
    let p = r / d.z;
    let c = p % d.y;
    return vec4<u32>(p / d.y, c, h, w);
}

// Buffer index of coordinates (n, c, h, w) of a view.
fn view_at(v: ViewParams, q: vec4<u32>) -> u32 {
    return v.offset + q.x * v.strides.x + q.y * v.strides.y + q.z * v.strides.z + q.w * v.strides.w;
}

// Buffer index of the i-th element of a view in NCHW order.
fn view_index(v: ViewParams, flat: u32) -> u32 {
    return view_at(v, nchw_of(v.dims, flat));
}
