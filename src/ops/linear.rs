//! Linear layer on a slice of a full-size weight `[out_full, in_full]`
//! (row-major): the active block is the leading `out × in`, read in place.
//! `x` views are `[N, in, 1, 1]`, `y`/`dy` views `[N, out, 1, 1]` (e.g.
//! channel slices of a pooled `[N, C_full, 1, 1]` activation).

use super::checks::{distinct, slice_fits};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::LinearParams;
use crate::view::View;

/// A full-size weight (and optional bias) of a linear layer.
#[derive(Clone, Copy)]
pub struct LinearWeight<'a> {
    pub w: &'a Buffer,
    pub out_full: usize,
    pub in_full: usize,
    pub bias: Option<&'a Buffer>,
}

/// Elements of the full weight, `out_full × in_full`, or an error where
/// the product overflows (a wrapped one would pass the size checks).
fn weight_len(op: &str, wt: &LinearWeight) -> Result<usize> {
    wt.out_full.checked_mul(wt.in_full).ok_or_else(|| {
        Error::invalid(
            op,
            format!(
                "a {}×{} weight has more elements than the address space",
                wt.out_full, wt.in_full
            ),
        )
    })
}

fn params(op: &str, wt: &LinearWeight, x_view: &View, y_view: &View) -> Result<LinearParams> {
    for (name, v) in [("x", x_view), ("y", y_view)] {
        if v.dims[2] != 1 || v.dims[3] != 1 {
            return Err(Error::invalid(
                op,
                format!(
                    "'{name}' has extents {:?}; give [N, features, 1, 1] views",
                    v.dims
                ),
            ));
        }
    }
    if x_view.dims[0] != y_view.dims[0] {
        return Err(Error::invalid(
            op,
            format!(
                "x has batch {} but y has {}; give the same batch",
                x_view.dims[0], y_view.dims[0]
            ),
        ));
    }
    let (i_f, o_f) = (x_view.dims[1], y_view.dims[1]);
    if i_f > wt.in_full || o_f > wt.out_full {
        return Err(Error::invalid(
            op,
            format!(
                "slice {o_f}×{i_f} is wider than the {}×{} weight; use at most the full features",
                wt.out_full, wt.in_full
            ),
        ));
    }
    slice_fits(&format!("{op} weight"), wt.w, 0, weight_len(op, wt)?)?;
    if let Some(b) = wt.bias {
        slice_fits(&format!("{op} bias"), b, 0, o_f)?;
    }
    Ok(LinearParams {
        x: x_view.to_params(),
        y: y_view.to_params(),
        w_offset: 0,
        w_ld: wt.in_full as u32,
        b_offset: 0,
        has_bias: wt.bias.is_some() as u32,
    })
}

/// `y = x·Wᵀ + b` on the active block.
pub fn linear_forward(
    backend: &dyn Backend,
    x: &Buffer,
    x_view: &View,
    wt: &LinearWeight,
    y: &Buffer,
    y_view: &View,
) -> Result<()> {
    let op = "linear_forward";
    x_view.check_within("linear_forward x", x.len())?;
    y_view.check_within("linear_forward y", y.len())?;
    let p = params(op, wt, x_view, y_view)?;
    // Without a bias the kernel still binds a buffer: the (read-only) weight.
    let b = wt.bias.unwrap_or(wt.w);
    distinct(
        op,
        &[("y", y)],
        &[("x", x), ("w", wt.w), ("b", b), ("y", y)],
    )?;
    backend.linear_forward(x, wt.w, b, y, &p)
}

/// Backward: `dx = dy·W` (written, if given), `dW[block] += dyᵀ·x`,
/// `db[0..out] += Σ_n dy` (if `db` is given); the rest of the full-size
/// gradient buffers is left untouched.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    backend: &dyn Backend,
    dy: &Buffer,
    dy_view: &View,
    x: &Buffer,
    x_view: &View,
    wt: &LinearWeight,
    dx: Option<(&Buffer, &View)>,
    dw: &Buffer,
    db: Option<&Buffer>,
) -> Result<()> {
    let op = "linear_backward";
    dy_view.check_within("linear_backward dy", dy.len())?;
    x_view.check_within("linear_backward x", x.len())?;
    let p = params(op, wt, x_view, dy_view)?;
    slice_fits("linear_backward dW", dw, 0, weight_len(op, wt)?)?;
    let mut args = vec![("dy", dy), ("x", x), ("w", wt.w), ("dw", dw)];
    let mut outs = vec![("dw", dw)];
    if let Some(db) = db {
        slice_fits("linear_backward db", db, 0, dy_view.dims[1])?;
        args.push(("db", db));
        outs.push(("db", db));
    }
    if let Some((dxb, dxv)) = dx {
        dxv.check_within("linear_backward dx", dxb.len())?;
        if dxv.dims != x_view.dims {
            return Err(Error::invalid(
                op,
                format!("dx has extents {:?} but x has {:?}", dxv.dims, x_view.dims),
            ));
        }
        args.push(("dx", dxb));
        outs.push(("dx", dxb));
    }
    distinct(op, &outs, &args)?;
    if let Some((dxb, dxv)) = dx {
        let pd = LinearParams {
            x: dxv.to_params(),
            ..p
        };
        backend.linear_backward_data(dy, wt.w, dxb, &pd)?;
    }
    backend.linear_backward_weight(dy, x, dw, &p)?;
    if let Some(db) = db {
        backend.linear_backward_bias(dy, db, &p)?;
    }
    Ok(())
}
