//! ReLU, ReLU6, residual add and gradient accumulation on views, and the
//! global average pool, each with its backward.

use super::checks::{distinct, same_dims};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::{EltwiseParams, PoolParams, eltwise_op};
use crate::view::View;

#[allow(clippy::too_many_arguments)]
fn eltwise(
    backend: &dyn Backend,
    op_name: &str,
    op: u32,
    a: (&Buffer, &View),
    b: (&Buffer, &View),
    y: (&Buffer, &View),
) -> Result<()> {
    a.1.check_within(&format!("{op_name} input"), a.0.len())?;
    b.1.check_within(&format!("{op_name} second input"), b.0.len())?;
    y.1.check_within(&format!("{op_name} output"), y.0.len())?;
    same_dims(op_name, ("input", a.1), ("output", y.1))?;
    same_dims(op_name, ("second input", b.1), ("output", y.1))?;
    distinct(
        op_name,
        &[("output", y.0)],
        &[("input", a.0), ("second input", b.0), ("output", y.0)],
    )?;
    let p = EltwiseParams {
        a: a.1.to_params(),
        b: b.1.to_params(),
        y: y.1.to_params(),
        op,
        _pad: [0; 3],
    };
    backend.eltwise(a.0, b.0, y.0, &p)
}

/// `y = max(x, 0)`.
pub fn relu(be: &dyn Backend, x: &Buffer, xv: &View, y: &Buffer, yv: &View) -> Result<()> {
    eltwise(be, "relu", eltwise_op::RELU, (x, xv), (x, xv), (y, yv))
}

/// `y = min(max(x, 0), 6)`.
pub fn relu6(be: &dyn Backend, x: &Buffer, xv: &View, y: &Buffer, yv: &View) -> Result<()> {
    eltwise(be, "relu6", eltwise_op::RELU6, (x, xv), (x, xv), (y, yv))
}

/// `dx = dy · [x > 0]` (x: the forward input).
#[allow(clippy::too_many_arguments)]
pub fn relu_backward(
    be: &dyn Backend,
    x: &Buffer,
    xv: &View,
    dy: &Buffer,
    dyv: &View,
    dx: &Buffer,
    dxv: &View,
) -> Result<()> {
    eltwise(
        be,
        "relu_backward",
        eltwise_op::RELU_BACKWARD,
        (x, xv),
        (dy, dyv),
        (dx, dxv),
    )
}

/// `dx = dy · [0 < x < 6]` (PyTorch: no gradient at the kinks).
#[allow(clippy::too_many_arguments)]
pub fn relu6_backward(
    be: &dyn Backend,
    x: &Buffer,
    xv: &View,
    dy: &Buffer,
    dyv: &View,
    dx: &Buffer,
    dxv: &View,
) -> Result<()> {
    eltwise(
        be,
        "relu6_backward",
        eltwise_op::RELU6_BACKWARD,
        (x, xv),
        (dy, dyv),
        (dx, dxv),
    )
}

/// Residual add `y = a + b`. Its backward passes dy to both inputs: use
/// [`accumulate`] (or a slice copy) into each input's gradient.
#[allow(clippy::too_many_arguments)]
pub fn add(
    be: &dyn Backend,
    a: &Buffer,
    av: &View,
    b: &Buffer,
    bv: &View,
    y: &Buffer,
    yv: &View,
) -> Result<()> {
    eltwise(be, "add", eltwise_op::ADD, (a, av), (b, bv), (y, yv))
}

/// `dst += src` (gradient accumulation, e.g. the residual add's backward).
pub fn accumulate(
    be: &dyn Backend,
    src: &Buffer,
    sv: &View,
    dst: &Buffer,
    dv: &View,
) -> Result<()> {
    eltwise(
        be,
        "accumulate",
        eltwise_op::ACCUMULATE,
        (src, sv),
        (src, sv),
        (dst, dv),
    )
}

fn pool_params(op: &str, xv: &View, yv: &View) -> Result<PoolParams> {
    if yv.dims != [xv.dims[0], xv.dims[1], 1, 1] {
        return Err(Error::invalid(
            op,
            format!(
                "pooled view has extents {:?}; for input {:?} give [{}, {}, 1, 1]",
                yv.dims, xv.dims, xv.dims[0], xv.dims[1]
            ),
        ));
    }
    Ok(PoolParams {
        x: xv.to_params(),
        y: yv.to_params(),
    })
}

/// Global average pool: `y[n, c] = mean over H·W of x[n, c]`.
pub fn avg_pool(be: &dyn Backend, x: &Buffer, xv: &View, y: &Buffer, yv: &View) -> Result<()> {
    xv.check_within("avg_pool x", x.len())?;
    yv.check_within("avg_pool y", y.len())?;
    let p = pool_params("avg_pool", xv, yv)?;
    distinct("avg_pool", &[("y", y)], &[("x", x), ("y", y)])?;
    be.avg_pool_forward(x, y, &p)
}

/// Backward of [`avg_pool`]: `dx[n, c, h, w] = dy[n, c] / (H·W)` (written).
pub fn avg_pool_backward(
    be: &dyn Backend,
    dy: &Buffer,
    dyv: &View,
    dx: &Buffer,
    dxv: &View,
) -> Result<()> {
    dyv.check_within("avg_pool_backward dy", dy.len())?;
    dxv.check_within("avg_pool_backward dx", dx.len())?;
    let p = pool_params("avg_pool_backward", dxv, dyv)?;
    distinct(
        "avg_pool_backward",
        &[("dx", dx)],
        &[("dy", dy), ("dx", dx)],
    )?;
    be.avg_pool_backward(dy, dx, &p)
}
