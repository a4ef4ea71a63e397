//! Linear layer `y = x·Wᵀ + b` on dense f64 arrays: x `[N][in]`, W `[out][in]`.

pub fn linear_forward(
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    n: usize,
    i_f: usize,
    o_f: usize,
) -> Vec<f64> {
    let mut y = vec![0.0; n * o_f];
    for r in 0..n {
        for o in 0..o_f {
            let mut acc = b.map_or(0.0, |b| b[o]);
            for i in 0..i_f {
                acc += x[r * i_f + i] * w[o * i_f + i];
            }
            y[r * o_f + o] = acc;
        }
    }
    y
}

/// `dx = dy·W`, `dW = dyᵀ·x`, `db = Σ_n dy`.
pub fn linear_backward(
    x: &[f64],
    w: &[f64],
    dy: &[f64],
    n: usize,
    i_f: usize,
    o_f: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; n * i_f];
    let mut dw = vec![0.0; o_f * i_f];
    let mut db = vec![0.0; o_f];
    for r in 0..n {
        for o in 0..o_f {
            let g = dy[r * o_f + o];
            db[o] += g;
            for i in 0..i_f {
                dx[r * i_f + i] += g * w[o * i_f + i];
                dw[o * i_f + i] += g * x[r * i_f + i];
            }
        }
    }
    (dx, dw, db)
}
