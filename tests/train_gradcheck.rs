//! Finite-difference gradient checks of every op with a backward, on the
//! CPU reference in f64: batch norm (training, with batch statistics; no
//! activation, ReLU, ReLU6; N·H·W = 2), linear, global average pool,
//! ReLU/ReLU6, cross-entropy (with label smoothing) and the distillation KL
//! at T = 1 and 4. Each compares the analytic gradient of a scalar
//! `L = Σ r·y` (r random) or of the loss with central differences.

mod common;

use slimmable::backend::cpu::{eltwise, linear, loss, norm};
use slimmable::params::{act, eltwise_op};
use slimmable::rng::Rng;

const H: f64 = 1e-6;

fn randn(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| scale * (2.0 * rng.uniform() - 1.0))
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Central differences of `f` at `x` against `analytic`; returns how many
/// elements were checked.
fn check(what: &str, x: &[f64], analytic: &[f64], f: &dyn Fn(&[f64]) -> f64) -> usize {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    for i in 0..x.len() {
        let mut p = x.to_vec();
        p[i] += H;
        let up = f(&p);
        p[i] -= 2.0 * H;
        let down = f(&p);
        let fd = (up - down) / (2.0 * H);
        let err = (fd - analytic[i]).abs();
        assert!(
            err <= 1e-6 + 1e-5 * analytic[i].abs(),
            "{what}[{i}]: finite difference {fd} vs analytic {}",
            analytic[i]
        );
    }
    x.len()
}

#[test]
fn batch_norm_gradients_match_finite_differences() {
    let seed = common::seed();
    let mut rng = Rng::new(seed);
    for (n, c, hw) in [(3, 2, 5), (2, 3, 1), (1, 1, 7)] {
        for kind in [act::NONE, act::RELU, act::RELU6] {
            let x = randn(&mut rng, n * c * hw, 3.0);
            let g: Vec<f64> = (0..c).map(|_| 0.5 + rng.uniform()).collect();
            let b: Vec<f64> = randn(&mut rng, c, 2.0).iter().map(|v| v + 2.0).collect();
            let r = randn(&mut rng, n * c * hw, 1.0);
            let eps = 1e-5;
            let fwd = norm::bn_train_forward(&x, n, c, hw, &g, &b, eps, kind);
            let bwd = norm::bn_backward(&x, &r, n, c, hw, &g, &b, &fwd.mean, &fwd.invstd, kind);
            let loss = |x: &[f64], g: &[f64], b: &[f64]| {
                dot(&norm::bn_train_forward(x, n, c, hw, g, b, eps, kind).y, &r)
            };
            let what = format!("bn N={n} c={c} hw={hw} act={kind}");
            let mut checked = check(&format!("{what} dx"), &x, &bwd.dx, &|p| loss(p, &g, &b));
            checked += check(&format!("{what} dgamma"), &g, &bwd.dgamma, &|p| {
                loss(&x, p, &b)
            });
            checked += check(&format!("{what} dbeta"), &b, &bwd.dbeta, &|p| {
                loss(&x, &g, p)
            });
            println!("{what}: {checked} gradient elements match");
        }
    }
}

#[test]
fn linear_gradients_match_finite_differences() {
    let seed = common::seed();
    let mut rng = Rng::new(seed);
    let (n, i_f, o_f) = (3, 5, 4);
    let x = randn(&mut rng, n * i_f, 1.0);
    let w = randn(&mut rng, o_f * i_f, 1.0);
    let b = randn(&mut rng, o_f, 1.0);
    let r = randn(&mut rng, n * o_f, 1.0);
    let (dx, dw, db) = linear::linear_backward(&x, &w, &r, n, i_f, o_f);
    let l = |x: &[f64], w: &[f64], b: &[f64]| {
        dot(&linear::linear_forward(x, w, Some(b), n, i_f, o_f), &r)
    };
    check("linear dx", &x, &dx, &|p| l(p, &w, &b));
    check("linear dW", &w, &dw, &|p| l(&x, p, &b));
    check("linear db", &b, &db, &|p| l(&x, &w, p));
}

#[test]
fn pool_and_activation_gradients_match_finite_differences() {
    let seed = common::seed();
    let mut rng = Rng::new(seed);
    let (rows, hw) = (6, 9);
    let x = randn(&mut rng, rows * hw, 1.0);
    let r = randn(&mut rng, rows, 1.0);
    let dx = eltwise::avg_pool_backward(&r, hw);
    check("avg_pool dx", &x, &dx, &|p| {
        dot(&eltwise::avg_pool_forward(p, rows, hw), &r)
    });
    for (fwd, bwd, name) in [
        (eltwise_op::RELU, eltwise_op::RELU_BACKWARD, "relu"),
        (eltwise_op::RELU6, eltwise_op::RELU6_BACKWARD, "relu6"),
    ] {
        let x = randn(&mut rng, 40, 8.0);
        let r = randn(&mut rng, 40, 1.0);
        let dx: Vec<f64> = (0..40)
            .map(|i| eltwise::eltwise(bwd, x[i], r[i], 0.0))
            .collect();
        let l = |p: &[f64]| {
            (0..40)
                .map(|i| r[i] * eltwise::eltwise(fwd, p[i], 0.0, 0.0))
                .sum::<f64>()
        };
        check(name, &x, &dx, &l);
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let seed = common::seed();
    let mut rng = Rng::new(seed);
    let (n, k) = (4, 7);
    let labels: Vec<f64> = (0..n).map(|_| rng.below(k as u64) as f64).collect();
    for eps in [0.0, 0.1] {
        let z = randn(&mut rng, n * k, 3.0);
        let (_, d) = loss::cross_entropy(&z, &labels, n, k, eps);
        check(&format!("cross_entropy eps={eps}"), &z, &d, &|p| {
            loss::cross_entropy(p, &labels, n, k, eps).0
        });
    }
    for t in [1.0, 4.0] {
        let s = randn(&mut rng, n * k, 3.0);
        let te = randn(&mut rng, n * k, 3.0);
        let (_, d) = loss::kl_div(&s, &te, n, k, t);
        check(&format!("kl_div T={t}"), &s, &d, &|p| {
            loss::kl_div(p, &te, n, k, t).0
        });
    }
}
