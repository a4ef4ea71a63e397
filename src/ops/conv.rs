//! conv2d on channel slices: validation, parameter building, and the pass
//! entry points. The weight view is the active block `[oc, ic/groups, kh,
//! kw]` of a full-size weight (see [`weight_block`]); activations may be
//! channel slices of wider buffers.

use crate::backend::{Backend, Buffer, ConvBuffers, ConvPass, Precision};
use crate::error::{Error, Result};
use crate::params::Conv2dParams;
use crate::view::View;

/// The active block `[oc, icg, kh, kw]` of a full-size OIHW weight of extents
/// `full = [O_full, I_full/groups, kh, kw]`, read through the full strides.
pub fn weight_block(full: [usize; 4], oc: usize, icg: usize) -> Result<View> {
    if oc > full[0] || icg > full[1] {
        return Err(Error::invalid(
            "conv weight slice",
            format!(
                "active block [{oc}, {icg}] is larger than the weight [{}, {}]; a width config cannot exceed the layer's full width",
                full[0], full[1]
            ),
        ));
    }
    let base = View::contiguous(full);
    Ok(View {
        offset: 0,
        dims: [oc, icg, full[2], full[3]],
        strides: base.strides,
    })
}

/// Geometry of a conv beyond its views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub groups: usize,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl ConvGeometry {
    /// Output extent along one axis, or `None` if the kernel does not fit.
    pub fn out_size(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
        input
            .checked_add(pad.checked_mul(2)?)?
            .checked_sub(kernel)
            .map(|r| r / stride.max(1) + 1)
    }
}

/// One conv launch: buffers with their views. Which buffers a pass writes:
/// forward `y`; dgrad `x` (dx, `y` holds dy); wgrad `w` and `bias` (dw, db,
/// accumulated; `y` holds dy).
pub struct ConvArgs<'a> {
    pub x: (&'a Buffer, View),
    pub w: (&'a Buffer, View),
    pub y: (&'a Buffer, View),
    /// Bias buffer and the element offset of channel 0's bias.
    pub bias: Option<(&'a Buffer, usize)>,
    pub geometry: ConvGeometry,
    /// Forward and dgrad: add into the output instead of overwriting it.
    pub accumulate: bool,
}

fn bad(reason: String) -> Error {
    Error::invalid("conv2d", reason)
}

/// The input- and output-side tensors as each pass calls them, so that an
/// error names the operand the caller passed.
fn operand_names(pass: ConvPass) -> (&'static str, &'static str) {
    match pass {
        ConvPass::Forward => ("x", "y"),
        ConvPass::Dgrad => ("dx", "dy"),
        ConvPass::Wgrad => ("x", "dy"),
    }
}

/// The shape rules of a conv pass on its views alone, without buffers
/// (also what `launch_conv::plan_conv2d` checks): strides, groups and
/// extents at least 1, coordinates within 32 bits, the batch and channels
/// of x, w and y consistent, y the size the kernel, stride and padding
/// give, every view's elements below 2^31.
pub fn check_views(pass: ConvPass, x: &View, w: &View, y: &View, g: ConvGeometry) -> Result<()> {
    let [n, ic, h, wd] = x.dims;
    let [yn, oc, ho, wo] = y.dims;
    let [woc, wicg, kh, kw] = w.dims;
    if g.groups == 0 || g.stride[0] == 0 || g.stride[1] == 0 {
        return Err(bad("groups and strides must be at least 1".into()));
    }
    let (xn, yn_name) = operand_names(pass);
    // The kernels form input coordinates as signed 32-bit `o·stride − pad`.
    let limit = i32::MAX as usize;
    for axis in 0..2 {
        let input = x.dims[2 + axis];
        let (stride, pad) = (g.stride[axis], g.padding[axis]);
        if stride > limit || pad.saturating_mul(2).saturating_add(input) > limit {
            return Err(bad(format!(
                "stride {stride} / padding {pad} with an input of {input} exceed the kernels' 32-bit coordinates; padding should be at most a few kernel widths"
            )));
        }
    }
    for (name, v) in [(xn, x), ("w", w), (yn_name, y)] {
        if v.numel() == 0 {
            return Err(bad(format!(
                "{name} has a zero extent {:?}; every extent must be at least 1",
                v.dims
            )));
        }
    }
    if yn != n {
        return Err(bad(format!(
            "batch of {xn} ({n}) and {yn_name} ({yn}) differ"
        )));
    }
    if ic % g.groups != 0 || oc % g.groups != 0 {
        return Err(bad(format!(
            "active channels in {ic} ({xn}) / out {oc} ({yn_name}) are not divisible by groups {}; slice grouped layers by whole groups",
            g.groups
        )));
    }
    if woc != oc || wicg != ic / g.groups {
        return Err(bad(format!(
            "weight block [{woc}, {wicg}] does not match {yn_name}'s {oc} channels and {xn}'s {} channels per group (of {} groups); give w, {xn} and {yn_name} the same active channels",
            ic / g.groups,
            g.groups
        )));
    }
    let eh = ConvGeometry::out_size(h, kh, g.stride[0], g.padding[0]);
    let ew = ConvGeometry::out_size(wd, kw, g.stride[1], g.padding[1]);
    if eh != Some(ho) || ew != Some(wo) {
        let extent =
            |e: Option<usize>| e.map_or("none (the kernel does not fit)".into(), |v| v.to_string());
        return Err(bad(format!(
            "input {h}x{wd} with kernel {kh}x{kw}, stride {:?}, padding {:?} gives output {} x {}, but {yn_name} is {ho}x{wo}",
            g.stride,
            g.padding,
            extent(eh),
            extent(ew)
        )));
    }
    x.check_signed_32(&format!("conv2d {xn}"))?;
    w.check_signed_32("conv2d w")?;
    y.check_signed_32(&format!("conv2d {yn_name}"))?;
    Ok(())
}

/// Checks every shape rule and returns the kernel parameters.
pub fn conv_params(pass: ConvPass, a: &ConvArgs) -> Result<Conv2dParams> {
    let (x, w, y) = (&a.x.1, &a.w.1, &a.y.1);
    check_views(pass, x, w, y, a.geometry)?;
    let (xn, yn_name) = operand_names(pass);
    let oc = y.dims[1];
    let g = a.geometry;
    x.check_within(&format!("conv2d {xn}"), a.x.0.len())?;
    w.check_within("conv2d w", a.w.0.len())?;
    y.check_within(&format!("conv2d {yn_name}"), a.y.0.len())?;
    if let Some((b, off)) = a.bias {
        super::checks::slice_fits("conv2d bias", b, off, oc)?;
    }
    // A written buffer must not also be read (kernels read and write in
    // parallel without ordering).
    let written: Vec<&Buffer> = match pass {
        ConvPass::Forward => vec![a.y.0],
        ConvPass::Dgrad => vec![a.x.0],
        ConvPass::Wgrad => [Some(a.w.0), a.bias.map(|b| b.0)]
            .into_iter()
            .flatten()
            .collect(),
    };
    let all: Vec<&Buffer> = [Some(a.x.0), Some(a.w.0), Some(a.y.0), a.bias.map(|b| b.0)]
        .into_iter()
        .flatten()
        .collect();
    for out in &written {
        if all.iter().filter(|b| b.same_storage(out)).count() > 1 {
            return Err(bad(
                "a buffer written by this pass is also passed as another operand; use separate buffers".into(),
            ));
        }
    }
    let u = |v: usize| v as u32;
    Ok(Conv2dParams {
        x: x.to_params(),
        w: w.to_params(),
        y: y.to_params(),
        bias_offset: u(a.bias.map_or(0, |b| b.1)),
        has_bias: u(a.bias.is_some() as usize),
        groups: u(g.groups),
        stride_h: u(g.stride[0]),
        stride_w: u(g.stride[1]),
        pad_h: u(g.padding[0]),
        pad_w: u(g.padding[1]),
        accumulate: u(a.accumulate as usize),
    })
}

/// Runs a conv's data gradient (`dgrad`: `x` is dx, `w` the weight) and
/// weight gradient (`wgrad`: `w` is dw, `bias` db) after checking both.
/// They read the same dy and write different buffers, so a backend may run
/// them at the same time ([`Backend::conv2d_backward`]); what either pass
/// writes must therefore be no operand of the other.
pub fn conv2d_backward(
    backend: &dyn Backend,
    precision: Precision,
    dgrad: &ConvArgs,
    wgrad: &ConvArgs,
) -> Result<()> {
    let dgrad_params = conv_params(ConvPass::Dgrad, dgrad)?;
    let wgrad_params = conv_params(ConvPass::Wgrad, wgrad)?;
    let clash = |written: &Buffer, other: &ConvArgs| {
        operands(other).iter().any(|b| b.same_storage(written))
    };
    let wgrad_writes = [Some(wgrad.w.0), wgrad.bias.map(|b| b.0)];
    if clash(dgrad.x.0, wgrad) || wgrad_writes.into_iter().flatten().any(|b| clash(b, dgrad)) {
        return Err(bad(
            "the data gradient and the weight gradient may run at the same time: what one writes (dx, dw, db) must not be an operand of the other; use separate buffers".into(),
        ));
    }
    backend.conv2d_backward(
        precision,
        (&buffers(dgrad), &dgrad_params),
        (&buffers(wgrad), &wgrad_params),
    )
}

fn operands<'b>(a: &ConvArgs<'b>) -> Vec<&'b Buffer> {
    [Some(a.x.0), Some(a.w.0), Some(a.y.0), a.bias.map(|b| b.0)]
        .into_iter()
        .flatten()
        .collect()
}

fn buffers<'b>(a: &ConvArgs<'b>) -> ConvBuffers<'b> {
    ConvBuffers {
        x: a.x.0,
        w: a.w.0,
        y: a.y.0,
        bias: a.bias.map(|b| b.0),
    }
}

/// Runs one conv pass after checking its arguments.
pub fn conv2d(
    backend: &dyn Backend,
    pass: ConvPass,
    precision: Precision,
    a: &ConvArgs,
) -> Result<()> {
    let p = conv_params(pass, a)?;
    backend.conv2d(pass, precision, &buffers(a), &p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;

    /// The CUDA conv kernels add offsets and strides in signed 32-bit: a
    /// view past element 2^31 − 1 (which `check_within`'s unsigned bound
    /// let through) would be written at a wrapped address.
    #[test]
    fn views_past_signed_32_bit_indexing_are_refused() {
        let be = CpuBackend::new();
        let (x, w, y) = (
            be.alloc(2 * 4 * 25).unwrap(),
            be.alloc(6 * 4 * 9).unwrap(),
            be.alloc(2 * 6 * 25).unwrap(),
        );
        let mut far = View::contiguous([2, 6, 5, 5]);
        far.offset = i32::MAX as usize - 10;
        let args = ConvArgs {
            x: (&x, View::contiguous([2, 4, 5, 5])),
            w: (&w, View::contiguous([6, 4, 3, 3])),
            y: (&y, far),
            bias: None,
            geometry: ConvGeometry {
                groups: 1,
                stride: [1, 1],
                padding: [1, 1],
            },
            accumulate: false,
        };
        let err = conv_params(ConvPass::Forward, &args)
            .unwrap_err()
            .to_string();
        assert!(err.contains("signed 32-bit"), "{err}");
        far.offset = 0;
        let near = ConvArgs {
            y: (&y, far),
            ..args
        };
        assert!(conv_params(ConvPass::Forward, &near).is_ok());
    }

    /// A 3×3 conv 4 → 6 channels on a 2×4×5×5 input, its gradients through
    /// `conv2d_backward` with `dx` and `dw` as given.
    fn backward(be: &CpuBackend, dx: &Buffer, dw: &Buffer, x: &Buffer, w: &Buffer) -> Result<()> {
        let dy = be.upload(&[0.5; 2 * 6 * 25]).unwrap();
        let geometry = ConvGeometry {
            groups: 1,
            stride: [1, 1],
            padding: [1, 1],
        };
        let (xv, wv, yv) = (
            View::contiguous([2, 4, 5, 5]),
            View::contiguous([6, 4, 3, 3]),
            View::contiguous([2, 6, 5, 5]),
        );
        let dgrad = ConvArgs {
            x: (dx, xv),
            w: (w, wv),
            y: (&dy, yv),
            bias: None,
            geometry,
            accumulate: false,
        };
        let wgrad = ConvArgs {
            x: (x, xv),
            w: (dw, wv),
            ..dgrad
        };
        conv2d_backward(be, Precision::F32, &dgrad, &wgrad)
    }

    #[test]
    fn a_buffer_one_backward_pass_writes_and_the_other_reads_is_refused() {
        let be = CpuBackend::new();
        let buf = |len: usize| be.upload(&vec![0.25; len]).unwrap();
        let (x, dx, w, dw) = (buf(200), buf(200), buf(216), buf(216));
        backward(&be, &dx, &dw, &x, &w).expect("separate buffers are fine");
        // dx is the wgrad's x; dw is the dgrad's weight: either pass could
        // read what the other is writing.
        for result in [
            backward(&be, &x, &dw, &x, &w),
            backward(&be, &dx, &w, &x, &w),
        ] {
            let text = result.expect_err("must be refused").to_string();
            assert!(text.contains("may run at the same time"), "{text}");
        }
    }
}
