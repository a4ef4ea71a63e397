//! Batch norm (training and eval forward, backward, fused ReLU/ReLU6) on
//! dense f64 arrays `[N][c][HW]`, the way the textbook writes it. The
//! backend wrapper gathers views into these arrays and scatters results.
//! Channels (for sums) or images (for values) are split between threads;
//! every sum keeps its order, so any thread count gives the same bits.

use super::split::{for_each_run, in_blocks, threads_for};
use crate::params::act;

/// Indices of image `i`'s channel `ch` in a `[N][c][hw]` array.
fn plane(i: usize, ch: usize, c: usize, hw: usize) -> std::ops::Range<usize> {
    (i * c + ch) * hw..(i * c + ch + 1) * hw
}

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

/// Channels whose sums run side by side: independent chains, so a sum
/// does not wait for the previous term's addition.
const CHANNELS_AT_ONCE: usize = 4;

/// `[mean, biased variance]` of channels `ch0..ch0 + L` into `out`: each
/// a sum over (image, pixel) in order, then the squared deviations alike.
// (The pixel index walks L planes in step: a range loop says it best.)
#[allow(clippy::needless_range_loop)]
fn channel_stats<const L: usize>(
    x: &[f64],
    n: usize,
    c: usize,
    hw: usize,
    ch0: usize,
    out: &mut [[f64; 2]],
) {
    let m = (n * hw) as f64;
    let mut sum = [0.0f64; L];
    for i in 0..n {
        let planes: [&[f64]; L] = std::array::from_fn(|b| &x[plane(i, ch0 + b, c, hw)]);
        for s in 0..hw {
            for b in 0..L {
                sum[b] += planes[b][s];
            }
        }
    }
    let mean = sum.map(|v| v / m);
    let mut sq = [0.0f64; L];
    for i in 0..n {
        let planes: [&[f64]; L] = std::array::from_fn(|b| &x[plane(i, ch0 + b, c, hw)]);
        for s in 0..hw {
            for b in 0..L {
                sq[b] += (planes[b][s] - mean[b]).powi(2);
            }
        }
    }
    for (b, st) in out.iter_mut().enumerate() {
        *st = [mean[b], sq[b] / m];
    }
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
    // [mean, biased variance] of each channel; channels split between threads.
    let mut stats = vec![[0.0f64; 2]; c];
    for_each_run(&mut stats, 1, threads_for(x.len()), |first, run| {
        in_blocks(run.len(), CHANNELS_AT_ONCE, |k, lanes| {
            let out = &mut run[k..k + lanes];
            match lanes {
                CHANNELS_AT_ONCE => channel_stats::<CHANNELS_AT_ONCE>(x, n, c, hw, first + k, out),
                _ => channel_stats::<1>(x, n, c, hw, first + k, out),
            }
        });
    });
    let mean: Vec<f64> = stats.iter().map(|st| st[0]).collect();
    let var: Vec<f64> = stats.iter().map(|st| st[1]).collect();
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
    debug_assert_eq!(x.len(), n * c * hw);
    let mut y = vec![0.0; x.len()];
    // Images split between threads: each value is computed on its own.
    for_each_run(&mut y, c * hw, threads_for(x.len()), |first, run| {
        for (k, image) in run.chunks_mut(c * hw).enumerate() {
            for (ch, ys) in image.chunks_mut(hw).enumerate() {
                let xs = &x[plane(first + k, ch, c, hw)];
                for (y, &xv) in ys.iter_mut().zip(xs) {
                    *y = activate(
                        (xv - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch],
                        act_kind,
                    );
                }
            }
        }
    });
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
    // g and x̂ of an element of channel ch, computed alike by both passes.
    let terms = |xv: f64, dyv: f64, ch: usize| {
        let xhat = (xv - mean[ch]) * invstd[ch];
        let pre = xhat * gamma[ch] + beta[ch];
        (dyv * activate_grad(pre, act_kind), xhat)
    };
    // [dβ, dγ] of each channel, summed over (image, pixel) in order;
    // channels split between threads.
    let mut sums = vec![[0.0f64; 2]; c];
    for_each_run(&mut sums, 1, threads_for(x.len()), |first, run| {
        in_blocks(run.len(), CHANNELS_AT_ONCE, |k, lanes| {
            let out = &mut run[k..k + lanes];
            match lanes {
                CHANNELS_AT_ONCE => {
                    backward_sums::<CHANNELS_AT_ONCE>(x, dy, (n, c, hw), first + k, &terms, out)
                }
                _ => backward_sums::<1>(x, dy, (n, c, hw), first + k, &terms, out),
            }
        });
    });
    let dbeta: Vec<f64> = sums.iter().map(|s| s[0]).collect();
    let dgamma: Vec<f64> = sums.iter().map(|s| s[1]).collect();
    let mut dx = vec![0.0; x.len()];
    // Images split between threads.
    for_each_run(&mut dx, c * hw, threads_for(x.len()), |first, run| {
        for (k, image) in run.chunks_mut(c * hw).enumerate() {
            for (ch, dxs) in image.chunks_mut(hw).enumerate() {
                let i = first + k;
                let (xs, dys) = (&x[plane(i, ch, c, hw)], &dy[plane(i, ch, c, hw)]);
                for ((dx, &xv), &dyv) in dxs.iter_mut().zip(xs).zip(dys) {
                    let (g, xhat) = terms(xv, dyv, ch);
                    *dx = gamma[ch] * invstd[ch] * (g - dbeta[ch] / m - xhat * dgamma[ch] / m);
                }
            }
        }
    });
    BnBackward { dx, dgamma, dbeta }
}

/// `[dβ, dγ]` of channels `ch0..ch0 + L` into `out`, each summed over
/// (image, pixel) in order; `terms(x, dy, ch)` gives an element's g and x̂.
fn backward_sums<const L: usize>(
    x: &[f64],
    dy: &[f64],
    (n, c, hw): (usize, usize, usize),
    ch0: usize,
    terms: &impl Fn(f64, f64, usize) -> (f64, f64),
    out: &mut [[f64; 2]],
) {
    let mut acc = [[0.0f64; 2]; L];
    for i in 0..n {
        let xs: [&[f64]; L] = std::array::from_fn(|b| &x[plane(i, ch0 + b, c, hw)]);
        let dys: [&[f64]; L] = std::array::from_fn(|b| &dy[plane(i, ch0 + b, c, hw)]);
        for s in 0..hw {
            for b in 0..L {
                let (g, xhat) = terms(xs[b][s], dys[b][s], ch0 + b);
                acc[b][0] += g;
                acc[b][1] += g * xhat;
            }
        }
    }
    out.copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    //! The threaded loops against the serial textbook loops: the same bits,
    //! on sizes large enough to be split between threads.
    use super::*;
    use crate::rng::Rng;

    fn serial_forward(x: &[f64], n: usize, c: usize, hw: usize) -> (Vec<f64>, Vec<f64>) {
        let m = (n * hw) as f64;
        let at = |i: usize, ch: usize, s: usize| (i * c + ch) * hw + s;
        let (mut mean, mut var) = (vec![0.0; c], vec![0.0; c]);
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
        (mean, var)
    }

    #[allow(clippy::too_many_arguments)]
    fn serial_backward(
        x: &[f64],
        dy: &[f64],
        (n, c, hw): (usize, usize, usize),
        gamma: &[f64],
        beta: &[f64],
        mean: &[f64],
        invstd: &[f64],
        act_kind: u32,
    ) -> BnBackward {
        let m = (n * hw) as f64;
        let (mut g, mut xhat) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut dgamma, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
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
                    dx[k] =
                        gamma[ch] * invstd[ch] * (g[k] - dbeta[ch] / m - xhat[k] * dgamma[ch] / m);
                }
            }
        }
        BnBackward { dx, dgamma, dbeta }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn threaded_loops_equal_the_serial_loops_bit_for_bit() {
        let seed = crate::rng::seed_from_env_or_clock();
        // (Shown when the test fails; SLIMMABLE_SEED=<seed> reruns the case.)
        println!("seed {seed}");
        let mut rng = Rng::new(seed);
        // 7 images × 13 channels × 97·67 pixels: work for two threads.
        let (n, c, hw) = (7, 13, 97 * 67);
        let wide = |rng: &mut Rng, len: usize| -> Vec<f64> {
            rng.vec_f32(len).iter().map(|&v| v as f64 * 3.0).collect()
        };
        let x = wide(&mut rng, n * c * hw);
        let dy = wide(&mut rng, n * c * hw);
        let (gamma, beta) = (wide(&mut rng, c), wide(&mut rng, c));
        for act_kind in [act::NONE, act::RELU, act::RELU6] {
            let f = bn_train_forward(&x, n, c, hw, &gamma, &beta, 1e-5, act_kind);
            let (mean, var) = serial_forward(&x, n, c, hw);
            assert_eq!((bits(&f.mean), bits(&f.var)), (bits(&mean), bits(&var)));
            let mut y = vec![0.0; x.len()];
            for (k, y) in y.iter_mut().enumerate() {
                let ch = k / hw % c;
                let pre = (x[k] - mean[ch]) * f.invstd[ch] * gamma[ch] + beta[ch];
                *y = activate(pre, act_kind);
            }
            assert_eq!(bits(&f.y), bits(&y), "forward, activation {act_kind}");
            let b = bn_backward(&x, &dy, n, c, hw, &gamma, &beta, &mean, &f.invstd, act_kind);
            let s = serial_backward(
                &x,
                &dy,
                (n, c, hw),
                &gamma,
                &beta,
                &mean,
                &f.invstd,
                act_kind,
            );
            assert_eq!(bits(&b.dx), bits(&s.dx), "dx, activation {act_kind}");
            assert_eq!(
                bits(&b.dgamma),
                bits(&s.dgamma),
                "dγ, activation {act_kind}"
            );
            assert_eq!(bits(&b.dbeta), bits(&s.dbeta), "dβ, activation {act_kind}");
        }
    }
}
