//! Bench: the conv suite of issue 3 (N = 64 on CUDA), each layer at widths
//! 1.0/0.5/0.25 (channels rounded to multiples of 8) and resolutions 224 and
//! 128: forward at TF32 and exact f32, and the training pass (forward +
//! dgrad + wgrad into the full-size gradient slice) at TF32. Names match
//! `tools/bench_torch.py`. Off CUDA (lavapipe) small cases time every pass
//! at f32 and compare the tiled WGSL kernel with the naive
//! one-output-per-invocation kernel.

use super::{BenchRow, Peak};
use crate::backend::{Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision};
use crate::error::Result;
use crate::ops::{self, ConvArgs, ConvGeometry};
use crate::view::View;

/// One layer of the suite at full width and 224 px.
#[derive(Clone, Copy)]
pub struct Layer {
    pub name: &'static str,
    pub ic: usize,
    pub oc: usize,
    pub k: usize,
    pub stride: usize,
    /// Input size at 224 px.
    pub hw224: usize,
    pub depthwise: bool,
    /// Image channels: never sliced.
    pub fixed_input: bool,
}

pub const SUITE: &[Layer] = &[
    Layer {
        name: "res3x3",
        ic: 128,
        oc: 128,
        k: 3,
        stride: 1,
        hw224: 28,
        depthwise: false,
        fixed_input: false,
    },
    Layer {
        name: "pw1x1",
        ic: 64,
        oc: 384,
        k: 1,
        stride: 1,
        hw224: 14,
        depthwise: false,
        fixed_input: false,
    },
    Layer {
        name: "dw3x3_a",
        ic: 384,
        oc: 384,
        k: 3,
        stride: 1,
        hw224: 14,
        depthwise: true,
        fixed_input: false,
    },
    Layer {
        name: "dw3x3_b",
        ic: 144,
        oc: 144,
        k: 3,
        stride: 1,
        hw224: 56,
        depthwise: true,
        fixed_input: false,
    },
    Layer {
        name: "stem",
        ic: 3,
        oc: 32,
        k: 3,
        stride: 2,
        hw224: 224,
        depthwise: false,
        fixed_input: true,
    },
];

/// Off CUDA only: a slim network's projection (many channels in, 16 out), the
/// shape the WGSL narrow and turned GEMM tiles are for.
const PROJ1X1: Layer = Layer {
    name: "proj1x1",
    ic: 96,
    oc: 16,
    k: 1,
    stride: 1,
    hw224: 14,
    depthwise: false,
    fixed_input: false,
};

pub const WIDTHS: &[f64] = &[1.0, 0.5, 0.25];
pub const RESOLUTIONS: &[usize] = &[224, 128];

/// The width rule lives with the models; re-exported for existing callers.
pub use crate::models::make_divisible;

/// A layer at one width and resolution, with buffers at full width.
pub struct Config {
    pub ic: usize,
    pub oc: usize,
    pub hw: usize,
    pub out_hw: usize,
    pub geometry: ConvGeometry,
    pub label: String,
}

pub fn config(l: &Layer, width: f64, res: usize) -> Config {
    let ic = if l.fixed_input {
        l.ic
    } else {
        make_divisible(l.ic as f64 * width, 8)
    };
    let oc = make_divisible(l.oc as f64 * width, 8);
    let hw = l.hw224 * res / 224;
    let pad = l.k / 2;
    let out_hw = (hw + 2 * pad - l.k) / l.stride + 1;
    Config {
        ic,
        oc,
        hw,
        out_hw,
        geometry: ConvGeometry {
            groups: if l.depthwise { ic } else { 1 },
            stride: [l.stride; 2],
            padding: [pad; 2],
        },
        label: format!("{}_w{width:.2}_r{res}", l.name),
    }
}

/// A conv's buffers at full size and the views of its active slice; the
/// CLI's family and `benches/ops.rs` time the same passes on it.
pub struct SlicedConv {
    /// Activation in, weights, activation out.
    pub views: [View; 3],
    pub geometry: ConvGeometry,
    pub x: Buffer,
    pub w: Buffer,
    pub y: Buffer,
    pub dx: Buffer,
    pub dw: Buffer,
    pub dy: Buffer,
}

impl SlicedConv {
    /// One pass's arguments: `x`, `w`, `y` are the pass's three tensors
    /// (for the backward passes, their gradients where they are written).
    pub fn args<'b>(&self, x: &'b Buffer, w: &'b Buffer, y: &'b Buffer) -> ConvArgs<'b> {
        conv_args(x, w, y, self.views, self.geometry)
    }

    pub fn forward(&self, be: &dyn Backend, p: Precision) -> Result<()> {
        ops::conv2d(
            be,
            ConvPass::Forward,
            p,
            &self.args(&self.x, &self.w, &self.y),
        )
    }

    /// Forward, then the backward passes together, as the autograd runs
    /// them (a backend may overlap them: SLIMMABLE_CONV_BACKWARD_STREAMS on
    /// CUDA); without `dgrad` (an image needs no gradient) the wgrad alone.
    pub fn training_pass(&self, be: &dyn Backend, p: Precision, dgrad: bool) -> Result<()> {
        self.forward(be, p)?;
        let wgrad = self.args(&self.x, &self.dw, &self.dy);
        if dgrad {
            ops::conv2d_backward(be, p, &self.args(&self.dx, &self.w, &self.dy), &wgrad)
        } else {
            ops::conv2d(be, ConvPass::Wgrad, p, &wgrad)
        }
    }
}

/// Which passes `run_layer` times.
#[derive(Clone, Copy, PartialEq)]
enum Passes {
    /// The exact-f32 forward alone.
    ForwardF32,
    /// Every pass at exact f32 (WGSL has no tensor-core precisions).
    AllF32,
    /// Both tensor-core forwards and the exact-f32 one, then the training
    /// pass and each backward pass at TF32 (CUDA).
    Suite,
}

/// Times one layer config's `passes`.
fn run_layer(
    be: &dyn Backend,
    n: usize,
    l: &Layer,
    c: &Config,
    iters: usize,
    passes: Passes,
) -> Result<Vec<BenchRow>> {
    let x_full = [n, l.ic, c.hw, c.hw];
    let y_full = [n, l.oc, c.out_hw, c.out_hw];
    let w_full = [l.oc, if l.depthwise { 1 } else { l.ic }, l.k, l.k];
    let len = |d: [usize; 4]| d.iter().product::<usize>();
    let alloc = |d: [usize; 4]| -> Result<Buffer> {
        let b = be.alloc(len(d))?;
        ops::fill(be, &b, &View::contiguous(d), 0.01)?;
        Ok(b)
    };
    let xv = View::channel_slice(x_full, 0, c.ic)?;
    let yv = View::channel_slice(y_full, 0, c.oc)?;
    let wv = ops::weight_block(w_full, c.oc, if l.depthwise { 1 } else { c.ic })?;
    let b = SlicedConv {
        views: [xv, wv, yv],
        geometry: c.geometry,
        x: alloc(x_full)?,
        w: alloc(w_full)?,
        y: alloc(y_full)?,
        dx: alloc(x_full)?,
        dw: alloc(w_full)?,
        dy: alloc(y_full)?,
    };
    let args = |x, w, y| b.args(x, w, y);
    let macs = (n * c.oc * c.out_hw * c.out_hw * (c.ic / c.geometry.groups) * l.k * l.k) as f64;
    let act_bytes = 4.0 * (n * c.ic * c.hw * c.hw + n * c.oc * c.out_hw * c.out_hw) as f64;
    let work = |mult: f64| -> (Option<f64>, Option<f64>) {
        if l.depthwise {
            (Some(mult * act_bytes), None)
        } else {
            (None, Some(mult * 2.0 * macs))
        }
    };
    let mut rows = Vec::new();
    let mut row = |suffix: &str, ms: f64, mult: f64, p: Precision| {
        let (bytes, flops) = work(mult);
        rows.push(BenchRow {
            name: format!("conv/{}/{suffix}", c.label),
            ms,
            bytes,
            flops,
            peak: p.into(),
        });
    };
    let precisions: &[Precision] = if l.depthwise || passes != Passes::Suite {
        &[Precision::F32]
    } else {
        &[Precision::Tf32, Precision::Bf16, Precision::F32]
    };
    for &p in precisions {
        let ms = be.time_ms(iters, &mut || b.forward(be, p))?;
        let tag = match (l.depthwise, p) {
            (true, _) => "fwd",
            (false, Precision::Tf32) => "fwd_tf32",
            (false, Precision::Bf16) => "fwd_bf16",
            (false, Precision::F32) => "fwd_f32",
        };
        row(tag, ms, 1.0, p);
    }
    if passes == Passes::ForwardF32 {
        return Ok(rows);
    }
    let p = if l.depthwise || passes == Passes::AllF32 {
        Precision::F32
    } else {
        Precision::Tf32
    };
    // The image needs no gradient: a stem's training pass has no dgrad
    // (tools/bench_torch.py likewise leaves requires_grad off there).
    let dgrad = !l.fixed_input;
    let ms = be.time_ms(iters, &mut || b.training_pass(be, p, dgrad))?;
    // Training pass: three (two without dgrad) passes' worth of FLOPs, or
    // bytes for depthwise (each pass reads and writes about one activation pair).
    let passes = if dgrad { 3.0 } else { 2.0 };
    row("train", ms, passes, p);
    // Each backward pass alone (ours only), to see where a training pass goes.
    if dgrad {
        let ms = be.time_ms(iters, &mut || {
            ops::conv2d(be, ConvPass::Dgrad, p, &args(&b.dx, &b.w, &b.dy))
        })?;
        row("dgrad", ms, 1.0, p);
    }
    let ms = be.time_ms(iters, &mut || {
        ops::conv2d(be, ConvPass::Wgrad, p, &args(&b.x, &b.dw, &b.dy))
    })?;
    row("wgrad", ms, 1.0, p);
    // A depthwise pass moves about one activation pair, a few tens of MB
    // in the suite: the copy of the same bytes between the same views is
    // the ceiling at that size (launch and ramp included, L2 as warm),
    // beside the large copy that "% roof" divides by.
    if l.depthwise && xv.dims == yv.dims {
        let ms = be.time_ms(iters, &mut || ops::slice_copy(be, &b.x, &xv, &b.y, &yv))?;
        row("copy_same_bytes", ms, 1.0, Precision::F32);
    }
    Ok(rows)
}

fn conv_args<'a>(
    x: &'a Buffer,
    w: &'a Buffer,
    y: &'a Buffer,
    views: [View; 3],
    geometry: ConvGeometry,
) -> ConvArgs<'a> {
    ConvArgs {
        x: (x, views[0]),
        w: (w, views[1]),
        y: (y, views[2]),
        bias: None,
        geometry,
        accumulate: false,
    }
}

pub fn run(be: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    if !be.on_gpu() {
        return run_small(be, iters);
    }
    // wgpu on a GPU runs the same suite, at exact f32 only.
    let passes = if be.kind() == BackendKind::Cuda {
        Passes::Suite
    } else {
        Passes::AllF32
    };
    let mut rows = Vec::new();
    for l in SUITE {
        for &w in WIDTHS {
            for &r in RESOLUTIONS {
                rows.extend(run_layer(be, 64, l, &config(l, w, r), iters, passes)?);
            }
        }
    }
    Ok(rows)
}

/// Off a GPU: res3x3 at N = 2, every pass, with the forward also through
/// the naive kernel on WGSL (the naive kernel is WGSL-only); pw1x1 and a
/// slim projection at N = 32 (wgrads reducing over many pixels into few
/// outputs, as in training); the depthwise layer at N = 2.
fn run_small(be: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let n = 2;
    // Off CUDA the batch differs from the suite's: say so in the names.
    let small = |l: &Layer, res: usize, n: usize| {
        let mut c = config(l, 1.0, res);
        c.label = format!("{}_n{n}", c.label);
        c
    };
    let l = &SUITE[0];
    let c = small(l, 224, n);
    let mut rows = run_layer(be, n, l, &c, iters, Passes::AllF32)?;
    if let Some(wgsl) = be
        .as_any()
        .downcast_ref::<crate::backend::wgsl::WgslBackend>()
    {
        let x_full = [n, l.ic, c.hw, c.hw];
        let y_full = [n, l.oc, c.out_hw, c.out_hw];
        let w_full = [l.oc, l.ic, l.k, l.k];
        let (x, w, y) = (
            be.upload(&vec![0.01; x_full.iter().product()])?,
            be.upload(&vec![0.01; w_full.iter().product()])?,
            be.alloc(y_full.iter().product())?,
        );
        let a = ConvArgs {
            x: (&x, View::contiguous(x_full)),
            w: (&w, View::contiguous(w_full)),
            y: (&y, View::contiguous(y_full)),
            bias: None,
            geometry: c.geometry,
            accumulate: false,
        };
        let p = ops::conv::conv_params(ConvPass::Forward, &a)?;
        let bufs = ConvBuffers {
            x: &x,
            w: &w,
            y: &y,
            bias: None,
        };
        let ms = be.time_ms(iters, &mut || {
            wgsl.conv2d_variant(ConvPass::Forward, &bufs, &p, true)
        })?;
        let macs = (n * l.oc * c.out_hw * c.out_hw * l.ic * 9) as f64;
        rows.push(BenchRow {
            name: format!("conv/{}/fwd_naive", c.label),
            ms,
            bytes: None,
            flops: Some(2.0 * macs),
            peak: Peak::F32,
        });
    }
    for l in [&SUITE[1], &PROJ1X1] {
        rows.extend(run_layer(
            be,
            32,
            l,
            &small(l, 224, 32),
            iters,
            Passes::AllF32,
        )?);
    }
    let dl = &SUITE[3];
    rows.extend(run_layer(
        be,
        n,
        dl,
        &small(dl, 128, n),
        iters,
        Passes::AllF32,
    )?);
    Ok(rows)
}
