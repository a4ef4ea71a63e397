//! `slimmable op`: run one operator on tensors from a safetensors file and
//! return its outputs. The parameters come as JSON; unknown keys are errors so
//! that a typo never silently runs something else.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops;
use crate::ops::resize::{
    CropBox, Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use crate::tensor_io::HostTensor;
use crate::view::View;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

/// Operators `slimmable op` knows, with a one-line description each.
pub const OPS: &[(&str, &str)] = &[
    (
        "slice_copy",
        "inputs: x [N,C,H,W]; params {\"channel_begin\": b, \"channels\": k}; outputs: y = x[:, b:b+k] (dense)",
    ),
    (
        "fill",
        "inputs: x [N,C,H,W]; params {\"channel_begin\": b, \"channels\": k, \"value\": v}; outputs: y = x with channels b..b+k set to v",
    ),
    (
        "resize_pack",
        "inputs: images [N,H,W,C] (u8_hwc) or [N,C,H,W] (u8_chw, f32), or img0, img1, ... of one image each (sizes may differ); u8 formats hold integers 0..255; \
         params {\"format\": \"u8_hwc\"|\"u8_chw\"|\"f32\", \"mean\": [..], \"std\": [..], \"filter\": \"nearest\"|\"bilinear\", \"align_corners\": false, \"antialias\": false, \
         \"order\": \"direct\"|\"mutualnet\", \"full\": [h, w] (mutualnet), \"crops\": [[top, left, h, w] or null per image], \"flips\": [bool per image], \
         \"outputs\": [{\"size\": [h, w], \"images\": [i, ...] (default all)}]}; outputs: out0, out1, ... [count,C,h,w], normalized (x/255-mean)/std (f32 input: (x-mean)/std)",
    ),
    (
        "conv2d_fwd",
        "inputs: x [N,C_full,H,W], w [O_full,I_full/groups,kh,kw], optional b [O_full]; params {\"in\": i, \"out\": o (defaults: full), \"groups\": 1, \"depthwise\": false, \"stride\": [1, 1], \"padding\": [0, 0], \"precision\": \"f32\"|\"tf32\"|\"bf16\"}; outputs: y [N,o,Ho,Wo] = conv(x[:, :i], w[:o, :i/groups]) + b[:o]",
    ),
    (
        "conv2d_dgrad",
        "inputs: dy [N,o,Ho,Wo], w [O_full,I_full/groups,kh,kw]; params as conv2d_fwd plus \"input_size\": [H, W]; outputs: dx [N,i,H,W]",
    ),
    (
        "conv2d_wgrad",
        "inputs: x [N,C_full,H,W], dy [N,o,Ho,Wo], w (its full shape); params as conv2d_fwd plus \"bias\": false; outputs: dw [O_full,I_full/groups,kh,kw] (zero outside w[:o, :i/groups]), db [O_full] with bias",
    ),
    (
        "batch_norm_train",
        "inputs: x [N,C,H,W], gamma, beta, running_mean, running_var [C_full]; params {\"channels\": c, \"eps\": 1e-5, \"momentum\": 0.1 or null (cumulative), \"batches_seen\": 0, \"act\": \"none\"|\"relu\"|\"relu6\"}; outputs: y [N,c,H,W], saved_mean, saved_invstd [c], running_mean, running_var [C_full]",
    ),
    (
        "batch_norm_eval",
        "inputs: x, gamma, beta, running_mean, running_var; params {\"channels\", \"eps\", \"act\"}; outputs: y [N,c,H,W]",
    ),
    (
        "batch_norm_backward",
        "inputs: x [N,C,H,W], dy [N,c,H,W], gamma, beta [C_full]; params {\"channels\", \"eps\", \"act\"} (batch statistics recomputed); outputs: dx [N,c,H,W], dgamma, dbeta [C_full] (zero outside the slice)",
    ),
    (
        "linear_forward",
        "inputs: x [N,in_full], w [out_full,in_full], optional b [out_full]; params {\"in\": i, \"out\": o}; outputs: y [N,o] = x[:, :i]·w[:o, :i]ᵀ + b[:o]",
    ),
    (
        "linear_backward",
        "inputs: x [N,in_full], w [out_full,in_full], dy [N,o]; params {\"in\": i, \"out\": o}; outputs: dx [N,i], dw [out_full,in_full], db [out_full] (zero outside the slice)",
    ),
    ("relu", "inputs: x; params {}; outputs: y = max(x, 0)"),
    (
        "relu6",
        "inputs: x; params {}; outputs: y = min(max(x, 0), 6)",
    ),
    (
        "relu_backward",
        "inputs: x, dy (same shape); params {}; outputs: dx = dy·[x > 0]",
    ),
    (
        "relu6_backward",
        "inputs: x, dy (same shape); params {}; outputs: dx = dy·[0 < x < 6]",
    ),
    (
        "add",
        "inputs: a, b (same shape); params {}; outputs: y = a + b",
    ),
    (
        "avg_pool",
        "inputs: x [N,C,H,W]; params {}; outputs: y [N,C,1,1] (global average)",
    ),
    (
        "avg_pool_backward",
        "inputs: dy [N,C,1,1]; params {\"h\": H, \"w\": W}; outputs: dx [N,C,H,W]",
    ),
    (
        "cross_entropy",
        "inputs: logits [N,K], labels [N] (class indices as floats); params {\"smoothing\": 0.0}; outputs: loss [1] (batch mean), dlogits [N,K]",
    ),
    (
        "kl_div",
        "inputs: student, teacher [N,K]; params {\"temperature\": 1.0}; outputs: loss [1] = KL(softmax(t/T) ‖ log_softmax(s/T)) batchmean (no T²), dlogits [N,K]",
    ),
    (
        "sgd_step",
        "inputs: param, grad, optional momentum_buffer (same length); params {\"lr\", \"momentum\": 0, \"weight_decay\": 0, \"nesterov\": false, \"first_step\": true}; outputs: param, momentum_buffer",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelSliceParams {
    #[serde(default)]
    channel_begin: usize,
    channels: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FillOpParams {
    #[serde(default)]
    channel_begin: usize,
    channels: usize,
    /// Read as f64 so that a value past f32's range is refused, not
    /// written as infinity.
    value: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResizeOutputJson {
    size: [usize; 2],
    #[serde(default)]
    images: Option<Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResizePackJson {
    format: String,
    mean: Vec<f32>,
    std: Vec<f32>,
    filter: String,
    #[serde(default)]
    align_corners: bool,
    #[serde(default)]
    antialias: bool,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    full: Option<[usize; 2]>,
    #[serde(default)]
    crops: Option<Vec<Option<[usize; 4]>>>,
    #[serde(default)]
    flips: Option<Vec<bool>>,
    outputs: Vec<ResizeOutputJson>,
}

/// One source image of `resize_pack`: channels, height, width, values.
type RawImage = (usize, usize, usize, Vec<f32>);

/// The source images of `resize_pack`: `images` (a batch) or `img0, img1, ...`,
/// as `(height, width, values)` in the format's element order.
fn resize_inputs(op: &str, inputs: &OpInputs<'_>, format: ImageFormat) -> Result<Vec<RawImage>> {
    let split = |t: &HostTensor, name: &str, batched: bool| -> Result<Vec<RawImage>> {
        let want = if batched { 4 } else { 3 };
        if t.shape.len() != want {
            return Err(Error::invalid(
                format!("input '{name}' for {op}"),
                format!(
                    "shape {:?} has rank {}; give rank {want} ({})",
                    t.shape,
                    t.shape.len(),
                    usage(op)
                ),
            ));
        }
        let s = &t.shape[t.shape.len() - 3..];
        let (c, h, w) = match format {
            ImageFormat::U8Hwc => (s[2], s[0], s[1]),
            _ => (s[0], s[1], s[2]),
        };
        let n = if batched { t.shape[0] } else { 1 };
        let per = c * h * w;
        Ok((0..n)
            .map(|i| (c, h, w, t.data[i * per..(i + 1) * per].to_vec()))
            .collect())
    };
    // Every `img<k>` the file holds is used, or the call fails: a gap in
    // the numbering or a mix with `images` must not drop images silently.
    let numbered: Vec<&String> = inputs
        .names()
        .filter(|k| {
            k.strip_prefix("img")
                .is_some_and(|d| d.parse::<usize>().is_ok())
        })
        .collect();
    if let Some(t) = inputs.get("images") {
        if !numbered.is_empty() {
            return Err(Error::invalid(
                format!("inputs for {op}"),
                "give either one 'images' batch or 'img0', 'img1', ..., not both".to_string(),
            ));
        }
        return split(t, "images", true);
    }
    let mut out = Vec::new();
    while let Some(t) = inputs.get(&format!("img{}", out.len())) {
        out.extend(split(t, &format!("img{}", out.len()), false)?);
    }
    if numbered.len() != out.len() {
        return Err(Error::invalid(
            format!("inputs for {op}"),
            format!(
                "found {} numbered images but 'img{}' is missing; number them img0, img1, ... without gaps",
                numbered.len(),
                out.len()
            ),
        ));
    }
    if out.is_empty() {
        return input(op, inputs, "images").map(|_| Vec::new());
    }
    Ok(out)
}

fn run_resize_pack(
    backend: &dyn Backend,
    op: &str,
    params_json: &str,
    inputs: &OpInputs<'_>,
) -> Result<Vec<(String, HostTensor)>> {
    let p: ResizePackJson = parse(op, params_json)?;
    let bad =
        |what: &str, reason: String| Error::invalid(format!("--params for {op}: {what}"), reason);
    let format = match p.format.as_str() {
        "u8_hwc" => ImageFormat::U8Hwc,
        "u8_chw" => ImageFormat::U8Chw,
        "f32" => ImageFormat::F32Chw,
        f => return Err(bad("format", format!("'{f}'; use u8_hwc, u8_chw or f32"))),
    };
    let filter = match (p.filter.as_str(), p.antialias) {
        ("nearest", false) => Filter::Nearest,
        ("bilinear", false) => Filter::Bilinear,
        ("bilinear", true) => Filter::BilinearAntialias,
        ("nearest", true) => {
            return Err(bad("antialias", "applies to bilinear only".into()));
        }
        (f, _) => return Err(bad("filter", format!("'{f}'; use nearest or bilinear"))),
    };
    let order = match (p.order.as_deref().unwrap_or("direct"), p.full) {
        ("direct", Some(_)) => {
            return Err(bad(
                "full",
                "applies to the mutualnet order only (the direct order resizes each crop itself); drop it or add \"order\": \"mutualnet\"".into(),
            ));
        }
        ("direct", None) => Order::Direct,
        ("mutualnet", Some([h, w])) => Order::MutualNet {
            full_height: h,
            full_width: w,
        },
        ("mutualnet", None) => {
            return Err(bad(
                "full",
                "the mutualnet order needs \"full\": [h, w]".into(),
            ));
        }
        (o, _) => return Err(bad("order", format!("'{o}'; use direct or mutualnet"))),
    };
    let imgs = resize_inputs(op, inputs, format)?;
    if imgs.is_empty() {
        return Err(bad(
            "images",
            "the batch holds no images; give at least one".into(),
        ));
    }
    let channels = imgs[0].0;
    if let Some((i, im)) = imgs.iter().enumerate().find(|(_, im)| im.0 != channels) {
        return Err(bad(
            "images",
            format!(
                "image {i} has {} channels but image 0 has {channels}; give every image the same channels",
                im.0
            ),
        ));
    }
    for (what, len) in [
        ("crops", p.crops.as_ref().map(|v| v.len())),
        ("flips", p.flips.as_ref().map(|v| v.len())),
    ] {
        if let Some(len) = len
            && len != imgs.len()
        {
            return Err(bad(
                what,
                format!(
                    "{len} entries for {} images; give one per image",
                    imgs.len()
                ),
            ));
        }
    }
    let mut images = Vec::new();
    let mut bytes = Vec::new();
    let mut floats = Vec::new();
    for (i, (_, h, w, data)) in imgs.iter().enumerate() {
        let offset = if format == ImageFormat::F32Chw {
            floats.len()
        } else {
            bytes.len()
        };
        if format == ImageFormat::F32Chw {
            floats.extend_from_slice(data);
        } else {
            for v in data {
                if !(0.0..=255.0).contains(v) || v.fract() != 0.0 {
                    return Err(bad(
                        "images",
                        format!(
                            "image {i} holds {v}, not a u8 value; give integers 0..255 for the u8 formats"
                        ),
                    ));
                }
                bytes.push(*v as u8);
            }
        }
        images.push(SourceImage {
            offset,
            height: *h,
            width: *w,
            crop: p
                .crops
                .as_ref()
                .and_then(|c| c[i])
                .map(|[top, left, height, width]| CropBox {
                    top,
                    left,
                    height,
                    width,
                }),
            flip: p.flips.as_ref().is_some_and(|f| f[i]),
        });
    }
    let outputs: Vec<OutputSpec> = p
        .outputs
        .iter()
        .map(|o| OutputSpec {
            height: o.size[0],
            width: o.size[1],
            images: o.images.clone(),
        })
        .collect();
    let cfg = ResizePackConfig {
        format,
        channels,
        mean: p.mean,
        std: p.std,
        filter,
        align_corners: p.align_corners,
        order,
        arena_offset: 0,
    };
    let pack = ResizePack::new(backend, &images, &outputs, &cfg)?;
    let src = if format == ImageFormat::F32Chw {
        backend.upload(&floats)?
    } else {
        backend.upload_u8(&bytes)?
    };
    let arena = backend.alloc(pack.arena_len())?;
    pack.run(backend, &src, &arena)?;
    let all = backend.download(&arena)?;
    pack.views()
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let data = all[v.offset..v.offset + v.numel()].to_vec();
            Ok((format!("out{j}"), HostTensor::new(v.dims.to_vec(), data)?))
        })
        .collect()
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(op: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::invalid(
            format!("--params for {op}"),
            format!("{e}; expected {}", usage(op)),
        )
    })
}

/// A known `--params` key this op would not read: an error, as an unknown
/// key is.
pub(crate) fn not_applicable(op: &str, key: &str, why: &str) -> Error {
    Error::invalid(
        format!("--params for {op}"),
        format!("\"{key}\" does not apply here: {why}; drop it"),
    )
}

/// A bias input holds one value per output: of the full-size weight (the
/// layer's parameter) or of the active slice. Any other length is refused,
/// not truncated.
pub(crate) fn exact_bias<'a>(
    op: &str,
    b: &'a HostTensor,
    active: usize,
    full: usize,
) -> Result<&'a HostTensor> {
    let len = b.data.len();
    if len != full && len != active {
        return Err(Error::invalid(
            format!("input 'b' for {op}"),
            format!(
                "{len} values for {active} active of {full} outputs; give the full-size bias ({full} values) or the active slice's ({active})"
            ),
        ));
    }
    Ok(b)
}

/// Whether the `--params` JSON names `key` (for keys whose default cannot
/// be told from an explicit value once parsed).
pub(crate) fn names_key(json: &str, key: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key(key)))
        .unwrap_or(false)
}

pub(crate) fn usage(op: &str) -> &'static str {
    OPS.iter()
        .find(|(n, _)| *n == op)
        .map(|(_, u)| *u)
        .unwrap_or("")
}

/// The tensors of one `op` call, remembering which names the operator
/// asked for: one it never asked for (a misspelt optional input such as
/// `bias` for `b`) is reported instead of being ignored without a word.
pub(crate) struct OpInputs<'a> {
    tensors: &'a HashMap<String, HostTensor>,
    asked: RefCell<BTreeSet<String>>,
}

impl<'a> OpInputs<'a> {
    fn new(tensors: &'a HashMap<String, HostTensor>) -> Self {
        OpInputs {
            tensors,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    /// The tensor named `name`, if the file has it.
    pub(crate) fn get(&self, name: &str) -> Option<&'a HostTensor> {
        self.asked.borrow_mut().insert(name.to_string());
        self.tensors.get(name)
    }

    /// Every name in the file, asked for or not.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'a String> {
        self.tensors.keys()
    }

    /// The file's names the operator never asked for, sorted.
    fn never_asked(&self) -> Vec<&'a String> {
        let asked = self.asked.borrow();
        let mut left: Vec<&String> = self.names().filter(|n| !asked.contains(*n)).collect();
        left.sort();
        left
    }
}

pub(crate) fn input<'a>(op: &str, inputs: &OpInputs<'a>, name: &str) -> Result<&'a HostTensor> {
    inputs.get(name).ok_or_else(|| {
        let mut have: Vec<&String> = inputs.names().collect();
        have.sort();
        Error::invalid(
            format!("inputs for {op}"),
            format!(
                "no tensor named '{name}' (the file has {have:?}); {}",
                usage(op)
            ),
        )
    })
}

/// Runs `op` on `backend`; returns the named outputs. Tensors in `inputs`
/// that `op` does not read are named on stderr (one file may serve several
/// operators, so they are not an error).
pub fn run(
    backend: &dyn Backend,
    op: &str,
    params_json: &str,
    inputs: &HashMap<String, HostTensor>,
) -> Result<Vec<(String, HostTensor)>> {
    let inputs = OpInputs::new(inputs);
    let outputs = run_on(backend, op, params_json, &inputs)?;
    let unread = inputs.never_asked();
    if !unread.is_empty() {
        eprintln!(
            "note: {op} did not read {unread:?} from the inputs ({})",
            usage(op)
        );
    }
    Ok(outputs)
}

fn run_on(
    backend: &dyn Backend,
    op: &str,
    params_json: &str,
    inputs: &OpInputs<'_>,
) -> Result<Vec<(String, HostTensor)>> {
    match op {
        "slice_copy" => {
            let p: ChannelSliceParams = parse(op, params_json)?;
            let x = input(op, inputs, "x")?;
            let full = x.dims4("x")?;
            let src_view = View::channel_slice(full, p.channel_begin, p.channels)?;
            let dst_view = View::contiguous(src_view.dims);
            let src = backend.upload(&x.data)?;
            let dst = backend.alloc(dst_view.numel())?;
            ops::slice_copy(backend, &src, &src_view, &dst, &dst_view)?;
            let y = HostTensor::new(src_view.dims.to_vec(), backend.download(&dst)?)?;
            Ok(vec![("y".into(), y)])
        }
        "fill" => {
            let p: FillOpParams = parse(op, params_json)?;
            let x = input(op, inputs, "x")?;
            let full = x.dims4("x")?;
            let view = View::channel_slice(full, p.channel_begin, p.channels)?;
            let buf = backend.upload(&x.data)?;
            if p.value.abs() > f32::MAX as f64 {
                return Err(Error::invalid(
                    op,
                    format!(
                        "value {:e} does not fit in f32 (at most ±{:e}); give a smaller value",
                        p.value,
                        f32::MAX
                    ),
                ));
            }
            ops::fill(backend, &buf, &view, p.value as f32)?;
            let y = HostTensor::new(x.shape.clone(), backend.download(&buf)?)?;
            Ok(vec![("y".into(), y)])
        }
        "resize_pack" => run_resize_pack(backend, op, params_json, inputs),
        "conv2d_fwd" | "conv2d_dgrad" | "conv2d_wgrad" => {
            crate::op_runner_conv::run(backend, op, params_json, inputs)
        }
        other if OPS.iter().any(|(n, _)| *n == other) => {
            crate::op_runner_train::run(backend, op, params_json, inputs)
        }
        other => {
            let known: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
            Err(Error::invalid(
                "--op",
                format!("unknown operator '{other}'; known: {known:?}"),
            ))
        }
    }
}
