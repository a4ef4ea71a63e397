//! Elementwise ops and the global average pool, on f64 values.

use crate::params::eltwise_op;

/// One element of [`crate::params::EltwiseParams`]'s ops; `y` is the old
/// output value (for accumulation).
pub fn eltwise(op: u32, a: f64, b: f64, y: f64) -> f64 {
    match op {
        eltwise_op::RELU => a.max(0.0),
        eltwise_op::RELU6 => a.clamp(0.0, 6.0),
        eltwise_op::RELU_BACKWARD => {
            if a > 0.0 {
                b
            } else {
                0.0
            }
        }
        eltwise_op::RELU6_BACKWARD => {
            if a > 0.0 && a < 6.0 {
                b
            } else {
                0.0
            }
        }
        eltwise_op::ADD => a + b,
        _ => y + a,
    }
}

/// Global average pool of `[rows][hw]` (rows = N·C): one mean per row.
pub fn avg_pool_forward(x: &[f64], rows: usize, hw: usize) -> Vec<f64> {
    (0..rows)
        .map(|r| x[r * hw..(r + 1) * hw].iter().sum::<f64>() / hw as f64)
        .collect()
}

/// Backward: every input of a row gets `dy / hw`.
pub fn avg_pool_backward(dy: &[f64], hw: usize) -> Vec<f64> {
    dy.iter()
        .flat_map(|&g| std::iter::repeat_n(g / hw as f64, hw))
        .collect()
}
