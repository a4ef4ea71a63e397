//! Batch norm (training and eval forward, backward, fused ReLU/ReLU6) on
//! dense f64 arrays `[N][c][HW]`, the way the textbook writes it. The
//! backend wrapper gathers views into these arrays and scatters results.

use crate::params::act;

/// Applies the fused activation.
pub fn activate(v: f64, kind: u32) -> f64 {
    match kind {
        act::RELU => v.max(0.0),
        act::RELU6 => v.clamp(0.0, 6.0),
        _ => v,
    }
}

/// d(activation)/d(input) at pre-activation `v` (PyTorch: 0 at the kinks).
pub fn activate_grad(v: f64, kind: u32) -> f64 {
    match kind {
        act::RELU => f64::from(v > 0.0),
        act::RELU6 => f64::from(v > 0.0 && v < 6.0),
        _ => 1.0,
    }
}

/// Result of the training forward.
pub struct BnForward {
    pub y: Vec<f64>,
    pub mean: Vec<f64>,
    /// Biased batch variance (what normalizes).
    pub var: Vec<f64>,
    pub invstd: Vec<f64>,
}

/// Training forward: batch mean and biased variance per channel (two-pass).
#[allow(clippy::too_many_arguments)]
pub fn bn_train_forward(
    x: &[f64],
    n: usize,
    c: usize,
    hw: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    act_kind: u32,
) -> BnForward {
    let m = (n * hw) as f64;
    let at = |i: usize, ch: usize, s: usize| (i * c + ch) * hw + s;
    let mut mean = vec![0.0; c];
    let mut var = vec![0.0; c];
    for ch in 0..c {
        let mut sum = 0.0;
        for i in 0..n {
            for s in 0..hw {
                sum += x[at(i, ch, s)];
            }
        }
        mean[ch] = sum / m;
        let mut sq = 0.0;
        for i in 0..n {
            for s in 0..hw {
                sq += (x[at(i, ch, s)] - mean[ch]).powi(2);
            }
        }
        var[ch] = sq / m;
    }
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let y = normalize(x, n, c, hw, gamma, beta, &mean, &invstd, act_kind);
    BnForward {
        y,
        mean,
        var,
        invstd,
    }
}

/// `act((x − mean)·invstd·γ + β)` per channel.
#[allow(clippy::too_many_arguments)]
pub fn normalize(
    x: &[f64],
    n: usize,
    c: usize,
    hw: usize,
    gamma: &[f64],
    beta: &[f64],
    mean: &[f64],
    invstd: &[f64],
    act_kind: u32,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for i in 0..n {
        for ch in 0..c {
            for s in 0..hw {
                let k = (i * c + ch) * hw + s;
                y[k] = activate(
                    (x[k] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch],
                    act_kind,
                );
            }
        }
    }
    y
}

/// The running-statistics update: `r = (1 − f)·r + f·stat`, with the
/// unbiased batch variance (PyTorch). `f` is the momentum, or `1/k` for the
/// k-th batch of a cumulative average.
pub fn update_running(
    running_mean: &mut [f64],
    running_var: &mut [f64],
    mean: &[f64],
    var_biased: &[f64],
    count: usize,
    factor: f64,
) {
    let unbias = count as f64 / (count as f64 - 1.0);
    for ch in 0..mean.len() {
        running_mean[ch] = (1.0 - factor) * running_mean[ch] + factor * mean[ch];
        running_var[ch] = (1.0 - factor) * running_var[ch] + factor * var_biased[ch] * unbias;
    }
}

/// Gradients of the training forward.
pub struct BnBackward {
    pub dx: Vec<f64>,
    pub dgamma: Vec<f64>,
    pub dbeta: Vec<f64>,
}

/// Backward of the training forward (batch statistics depend on x).
/// With `g = dy·act'(pre)` and `x̂ = (x − mean)·invstd`:
/// `dβ = Σ g`, `dγ = Σ g·x̂`, `dx = γ·invstd·(g − dβ/M − x̂·dγ/M)`.
#[allow(clippy::too_many_arguments)]
pub fn bn_backward(
    x: &[f64],
    dy: &[f64],
    n: usize,
    c: usize,
    hw: usize,
    gamma: &[f64],
    beta: &[f64],
    mean: &[f64],
    invstd: &[f64],
    act_kind: u32,
) -> BnBackward {
    let m = (n * hw) as f64;
    let mut g = vec![0.0; x.len()];
    let mut xhat = vec![0.0; x.len()];
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for i in 0..n {
        for ch in 0..c {
            for s in 0..hw {
                let k = (i * c + ch) * hw + s;
                xhat[k] = (x[k] - mean[ch]) * invstd[ch];
                let pre = xhat[k] * gamma[ch] + beta[ch];
                g[k] = dy[k] * activate_grad(pre, act_kind);
                dbeta[ch] += g[k];
                dgamma[ch] += g[k] * xhat[k];
            }
        }
    }
    let mut dx = vec![0.0; x.len()];
    for i in 0..n {
        for ch in 0..c {
            for s in 0..hw {
                let k = (i * c + ch) * hw + s;
                dx[k] = gamma[ch] * invstd[ch] * (g[k] - dbeta[ch] / m - xhat[k] * dgamma[ch] / m);
            }
        }
    }
    BnBackward { dx, dgamma, dbeta }
}
