//! Bad inputs to the training ops give clear errors (never a panic):
//! labels out of range, NaN in inputs when asked to check, shape
//! mismatches, slices wider than the parameter, aliasing outputs, one
//! value per channel in training. Unchecked bad labels give a NaN loss on
//! every backend (never an out-of-bounds read).

mod common;

use slimmable::backend::{Backend, SgdSlot};
use slimmable::ops::{
    self, Activation, LinearWeight, RunningStats, SgdConfig, SgdManyStep, StatsUpdate,
};
use slimmable::view::View;

fn expect_err(r: slimmable::Result<()>, needle: &str) {
    match r {
        Ok(()) => panic!("expected an error mentioning '{needle}', got Ok"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(needle),
                "error '{msg}' does not mention '{needle}'"
            );
            println!("ok: {msg}");
        }
    }
}

#[test]
fn bad_inputs_are_refused_with_a_message() {
    let seed = common::seed();
    let mut rng = slimmable::rng::Rng::new(seed);
    for be in common::backends() {
        let be: &dyn Backend = be.as_ref();
        println!("backend {}", be.kind());
        let full = [2, 8, 3, 3];
        let x = be.upload(&rng.vec_f32(full.iter().product())).unwrap();
        let y = be.alloc(full.iter().product()).unwrap();
        let gamma = be.upload(&[1.0; 8]).unwrap();
        let beta = be.upload(&[0.0; 8]).unwrap();
        let short = be.upload(&[1.0; 4]).unwrap();
        let running = be.upload(&[0.5; 32]).unwrap();
        let view = View::channel_slice(full, 0, 6).unwrap();
        let saved = be.alloc(ops::bn_saved_len(6, 18)).unwrap();
        let stats = RunningStats::config(&running, 8, 1);
        let train = |g, b, xv: &View, yv: &View, stats, sv| {
            ops::batch_norm_train(
                be,
                &x,
                xv,
                g,
                b,
                stats,
                StatsUpdate::Momentum(0.1),
                sv,
                &y,
                yv,
                1e-5,
                Activation::Relu,
            )
        };
        // Slice wider than γ.
        expect_err(
            train(&short, &beta, &view, &view, stats, &saved),
            "wider than the parameter",
        );
        // Running statistics config beyond the buffer.
        expect_err(
            train(
                &gamma,
                &beta,
                &view,
                &view,
                RunningStats::config(&running, 8, 2),
                &saved,
            ),
            "wider than the parameter",
        );
        // Shape mismatch between x and y.
        let other = View::channel_slice(full, 0, 5).unwrap();
        expect_err(
            train(&gamma, &beta, &view, &other, stats, &saved),
            "same shape",
        );
        // Saved buffer too small.
        let tiny = be.alloc(3).unwrap();
        expect_err(
            train(&gamma, &beta, &view, &view, stats, &tiny),
            "bn_saved_len",
        );
        // Output aliasing an input.
        expect_err(
            ops::batch_norm_train(
                be,
                &x,
                &view,
                &gamma,
                &beta,
                stats,
                StatsUpdate::None,
                &saved,
                &x,
                &view,
                1e-5,
                Activation::None,
            ),
            "same buffer",
        );
        // One value per channel cannot be trained on.
        let one = be.upload(&[1.0; 8]).unwrap();
        let v1 = View::contiguous([1, 8, 1, 1]);
        let y1 = be.alloc(8).unwrap();
        expect_err(
            ops::batch_norm_train(
                be,
                &one,
                &v1,
                &gamma,
                &beta,
                RunningStats::config(&running, 8, 0),
                StatsUpdate::None,
                &saved,
                &y1,
                &v1,
                1e-5,
                Activation::None,
            ),
            "N·H·W = 1",
        );
        // NaN in an input, when asked to check.
        let mut host = rng.vec_f32(72);
        host[40] = f32::NAN;
        let bad = be.upload(&host).unwrap();
        expect_err(
            ops::check_finite(be, "x", &bad, &View::contiguous([2, 4, 3, 3])),
            "NaN",
        );
        ops::check_finite(be, "x", &x, &View::contiguous(full)).unwrap();

        // Labels out of range.
        let logits = be.upload(&rng.vec_f32(30)).unwrap();
        let lv = View::contiguous([3, 10, 1, 1]);
        let labels = be.upload(&[1.0, 10.0, 2.0]).unwrap();
        expect_err(ops::check_labels(be, &labels, 3, 10), "label 1 is 10");
        let neg = be.upload(&[1.0, 2.0, -1.0]).unwrap();
        expect_err(ops::check_labels(be, &neg, 3, 10), "label 2 is -1");
        // Unchecked, the kernel yields NaN rather than reading out of bounds.
        let loss = be.upload(&[0.0]).unwrap();
        let d = be.alloc(30).unwrap();
        ops::cross_entropy(be, &logits, &lv, &labels, 0.0, &loss, 0, &d, &lv).unwrap();
        assert!(
            be.download(&loss).unwrap()[0].is_nan(),
            "a bad label must poison the loss"
        );
        // Too few labels for the batch.
        let two = be.upload(&[1.0, 2.0]).unwrap();
        expect_err(
            ops::cross_entropy(be, &logits, &lv, &two, 0.0, &loss, 0, &d, &lv),
            "do not fit",
        );
        // Teacher and student of different shapes.
        let t = be.upload(&rng.vec_f32(40)).unwrap();
        expect_err(
            ops::kl_div(
                be,
                &logits,
                &lv,
                &t,
                &View::contiguous([4, 10, 1, 1]),
                1.0,
                &loss,
                0,
                &d,
                &lv,
            ),
            "same shape",
        );

        // Linear slice wider than the weight.
        let w = be.upload(&rng.vec_f32(40)).unwrap();
        let wt = LinearWeight {
            w: &w,
            out_full: 4,
            in_full: 10,
            bias: None,
        };
        let xin = be.upload(&rng.vec_f32(24)).unwrap();
        let yout = be.alloc(8).unwrap();
        expect_err(
            ops::linear_forward(
                be,
                &xin,
                &View::contiguous([2, 12, 1, 1]),
                &wt,
                &yout,
                &View::contiguous([2, 4, 1, 1]),
            ),
            "wider than",
        );
        // A weight whose element count wraps to a small number.
        let wrapping = LinearWeight {
            w: &w,
            out_full: (1 << (usize::BITS - 1)) + 1,
            in_full: 2,
            bias: None,
        };
        expect_err(
            ops::linear_forward(
                be,
                &xin,
                &View::contiguous([2, 2, 1, 1]),
                &wrapping,
                &yout,
                &View::contiguous([2, 4, 1, 1]),
            ),
            "more elements than the address space",
        );

        // SGD range beyond the parameter; Nesterov without momentum.
        let p = be.upload(&[1.0; 10]).unwrap();
        let g = be.upload(&[1.0; 10]).unwrap();
        let m = be.upload(&[0.0; 10]).unwrap();
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: true,
        };
        expect_err(
            ops::sgd_step(be, &p, &g, &m, 4, 8, &cfg, true),
            "wider than the parameter",
        );
        // An offset whose sum with the length wraps: it passed the check
        // in release builds and reached the kernel as 0xFFFFFFFF.
        expect_err(
            ops::sgd_step(be, &p, &g, &m, usize::MAX, 2, &cfg, true),
            "wider than the parameter",
        );
        let cfg0 = SgdConfig {
            momentum: 0.0,
            ..cfg
        };
        expect_err(
            ops::sgd_step(be, &p, &g, &m, 0, 10, &cfg0, true),
            "Nesterov",
        );

        // Multi-parameter SGD: nothing to update, a gradient of another
        // length, one buffer in two slots, a negative weight decay,
        // Nesterov without momentum. Nothing is written on refusal.
        let short = be.upload(&[1.0; 9]).unwrap();
        let (p2, g2, m2) = (
            be.upload(&[2.0; 10]).unwrap(),
            be.upload(&[3.0; 10]).unwrap(),
            be.upload(&[0.5; 10]).unwrap(),
        );
        let slot = |param, grad, momentum, weight_decay| SgdSlot {
            param,
            grad,
            momentum,
            weight_decay,
        };
        let step = SgdManyStep {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            first_step: false,
            zero_grad: true,
        };
        expect_err(ops::sgd_step_many(be, &[], &step), "no parameters");
        expect_err(
            ops::sgd_step_many(be, &[slot(&p, &short, &m, 0.0)], &step),
            "parameter's length",
        );
        expect_err(
            ops::sgd_step_many(be, &[slot(&p, &g, &m, 0.0), slot(&p2, &g, &m2, 0.0)], &step),
            "appears twice",
        );
        expect_err(
            ops::sgd_step_many(
                be,
                &[slot(&p, &g, &m, 0.0), slot(&p2, &g2, &m2, -1.0)],
                &step,
            ),
            "slot 1 weight_decay",
        );
        expect_err(
            ops::sgd_step_many(
                be,
                &[slot(&p, &g, &m, 0.0)],
                &SgdManyStep {
                    momentum: 0.0,
                    ..step
                },
            ),
            "Nesterov",
        );
        for (buf, value) in [(&p, 1.0), (&g, 1.0), (&m, 0.0), (&p2, 2.0), (&g2, 3.0)] {
            assert!(
                be.download(buf).unwrap().iter().all(|&v| v == value),
                "a refused SGD step wrote a buffer"
            );
        }

        // Eltwise and pool shapes.
        let pooled = be.alloc(32).unwrap();
        expect_err(
            ops::avg_pool(
                be,
                &x,
                &View::contiguous(full),
                &pooled,
                &View::contiguous([2, 8, 1, 2]),
            ),
            "[2, 8, 1, 1]",
        );
        expect_err(ops::relu(be, &x, &view, &y, &other), "same shape");
    }
}
