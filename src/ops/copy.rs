//! Strided slice copy and fill.

use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::{FillParams, SliceCopyParams};
use crate::view::View;

/// `dst[dst_view] = src[src_view]`; the views must have equal extents. The
/// same buffer may be both source and destination if the views are disjoint.
pub fn slice_copy(
    backend: &dyn Backend,
    src: &Buffer,
    src_view: &View,
    dst: &Buffer,
    dst_view: &View,
) -> Result<()> {
    if src_view.dims != dst_view.dims {
        return Err(Error::invalid(
            "slice_copy",
            format!(
                "source extents {:?} differ from destination extents {:?}; copy between views of the same shape",
                src_view.dims, dst_view.dims
            ),
        ));
    }
    src_view.check_within("slice_copy source", src.len())?;
    dst_view.check_within("slice_copy destination", dst.len())?;
    if src.same_storage(dst) && src_view.may_overlap(dst_view) {
        return Err(Error::invalid(
            "slice_copy",
            "source and destination views of the same buffer overlap; copy through a separate buffer",
        ));
    }
    backend.slice_copy(
        src,
        dst,
        &SliceCopyParams {
            src: src_view.to_params(),
            dst: dst_view.to_params(),
        },
    )
}

/// `dst[view] = value`.
pub fn fill(backend: &dyn Backend, dst: &Buffer, view: &View, value: f32) -> Result<()> {
    view.check_within("fill destination", dst.len())?;
    backend.fill(
        dst,
        &FillParams {
            dst: view.to_params(),
            value,
            _pad: [0; 3],
        },
    )
}
