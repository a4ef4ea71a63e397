//! Validation shared by the training ops' checked entry points.

use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::view::View;

/// Fails if any output buffer is also another argument of the op: the WGSL
/// backend cannot bind one buffer both read and written in a dispatch, and
/// the kernels assume no aliasing.
pub(crate) fn distinct(
    op: &str,
    outputs: &[(&str, &Buffer)],
    all: &[(&str, &Buffer)],
) -> Result<()> {
    for (on, o) in outputs {
        for (an, a) in all {
            if on != an && o.same_storage(a) {
                return Err(Error::invalid(
                    op,
                    format!(
                        "'{on}' and '{an}' are the same buffer; give the output its own buffer"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Fails unless `buf` holds elements `offset..offset + len` (a 1-D slice of
/// a full-size parameter such as γ or a bias).
pub(crate) fn slice_fits(what: &str, buf: &Buffer, offset: usize, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid(
            what,
            "the slice is empty; give at least one element",
        ));
    }
    // (Checked: a wrapped sum would pass and reach the kernels.)
    let end = offset.checked_add(len);
    if end.is_none_or(|end| end > buf.len() || end > u32::MAX as usize) {
        return Err(Error::invalid(
            what,
            format!(
                "elements {offset}..{offset}+{len} do not fit in a buffer of {}; the slice is wider than the parameter (use a width ≤ the full size)",
                buf.len()
            ),
        ));
    }
    Ok(())
}

/// Fails unless two views have the same extents.
pub(crate) fn same_dims(op: &str, a: (&str, &View), b: (&str, &View)) -> Result<()> {
    if a.1.dims != b.1.dims {
        return Err(Error::invalid(
            op,
            format!(
                "'{}' has extents {:?} but '{}' has {:?}; give views of the same shape",
                a.0, a.1.dims, b.0, b.1.dims
            ),
        ));
    }
    Ok(())
}

/// Downloads the view and fails at the first NaN or infinity, naming its
/// position. A host round trip: call it when asked to check inputs, not in
/// a tight training loop.
pub fn check_finite(backend: &dyn Backend, what: &str, buf: &Buffer, view: &View) -> Result<()> {
    view.check_within(what, buf.len())?;
    let data = backend.download(buf)?;
    let [n, c, h, w] = view.dims;
    for i in 0..n {
        for j in 0..c {
            for k in 0..h {
                for l in 0..w {
                    let v = data[view.index([i, j, k, l])];
                    if !v.is_finite() {
                        return Err(Error::invalid(
                            what,
                            format!(
                                "element [{i}, {j}, {k}, {l}] is {v}; the input holds NaN or infinity (check the previous step, e.g. the learning rate)"
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
