//! The training ops on every available backend against PyTorch fixtures
//! (`tools/reference_norm.py`, committed in tests/fixtures/): batch norm on
//! a channel slice with the momentum and cumulative running-stat updates,
//! fused ReLU6, backward into full-size gradients; cross-entropy with label
//! smoothing; distillation KL at T = 1 and 4; two Nesterov SGD steps with
//! and without weight decay.

mod common;

use slimmable::backend::Backend;
use slimmable::ops::{self, Activation, RunningStats, SgdConfig, StatsUpdate};
use slimmable::tensor_io::{self, HostTensor};
use slimmable::view::View;
use std::collections::HashMap;

fn fixtures() -> HashMap<String, HostTensor> {
    // The repository root at run time (scripts/gpu-check.sh runs the test
    // binaries in a copy of the tree), else where it was built.
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{root}/tests/fixtures/norm_train_ops.safetensors");
    tensor_io::read(std::path::Path::new(&path))
        .expect("fixture file (regenerate with tools/make_reference.py)")
}

fn t<'a>(f: &'a HashMap<String, HostTensor>, name: &str) -> &'a [f32] {
    &f.get(name)
        .unwrap_or_else(|| panic!("fixture lacks {name}"))
        .data
}

fn close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "{what}[{i}]: got {g}, PyTorch {w}"
        );
        worst = worst.max(err);
    }
    println!("  {what}: {} values, max abs err {worst:.2e}", got.len());
}

fn bn_checks(be: &dyn Backend, f: &HashMap<String, HostTensor>) {
    let (n, cf, h, w, c) = (4, 6, 5, 5, 5);
    let full = [n, cf, h, w];
    let view = View::channel_slice(full, 0, c).unwrap();
    let dense = View::contiguous([n, c, h, w]);
    let x = be.upload(t(f, "bn_x")).unwrap();
    let dy = be.upload(t(f, "bn_dy")).unwrap();
    let gamma = be.upload(t(f, "bn_gamma")).unwrap();
    let beta = be.upload(t(f, "bn_beta")).unwrap();
    for (act, tag) in [(Activation::None, "none"), (Activation::Relu6, "relu6")] {
        // Running stats: config 1 of a [2 configs][mean, var][6] buffer.
        let mut running = vec![7.0f32; 4 * cf];
        running[2 * cf..3 * cf].copy_from_slice(t(f, "bn_rm0"));
        running[3 * cf..].copy_from_slice(t(f, "bn_rv0"));
        let rbuf = be.upload(&running).unwrap();
        let stats = RunningStats::config(&rbuf, cf, 1);
        let saved = be.alloc(ops::bn_saved_len(c, n * h * w)).unwrap();
        let y = be.alloc(n * c * h * w).unwrap();
        ops::batch_norm_train(
            be,
            &x,
            &view,
            &gamma,
            &beta,
            stats,
            StatsUpdate::Momentum(0.1),
            &saved,
            &y,
            &dense,
            1e-5,
            act,
        )
        .unwrap();
        close(
            &format!("bn {tag} y"),
            &be.download(&y).unwrap(),
            t(f, &format!("bn_y_{tag}")),
            1e-5,
            1e-5,
        );
        let r = be.download(&rbuf).unwrap();
        close(
            "bn running mean",
            &r[2 * cf..3 * cf],
            t(f, "bn_rm1"),
            1e-6,
            1e-5,
        );
        close("bn running var", &r[3 * cf..], t(f, "bn_rv1"), 1e-6, 1e-5);
        assert!(
            r[..2 * cf].iter().all(|&v| v == 7.0),
            "other configs' statistics changed"
        );
        // Gradients accumulate into full-size buffers: start from 1.
        let dg = be.upload(&[1.0; 6]).unwrap();
        let db = be.upload(&[1.0; 6]).unwrap();
        let dx = be.alloc(n * c * h * w).unwrap();
        ops::batch_norm_backward(
            be, &x, &view, &dy, &view, &gamma, &beta, &saved, &dg, &db, &dx, &dense, act,
        )
        .unwrap();
        close(
            &format!("bn {tag} dx"),
            &be.download(&dx).unwrap(),
            t(f, &format!("bn_dx_{tag}")),
            1e-5,
            1e-4,
        );
        let plus1 =
            |name: &str| -> Vec<f32> { t(f, name).iter().map(|v| v + 1.0).chain([1.0]).collect() };
        close(
            &format!("bn {tag} dgamma"),
            &be.download(&dg).unwrap(),
            &plus1(&format!("bn_dgamma_{tag}")),
            1e-4,
            1e-5,
        );
        close(
            &format!("bn {tag} dbeta"),
            &be.download(&db).unwrap(),
            &plus1(&format!("bn_dbeta_{tag}")),
            1e-4,
            1e-5,
        );
    }
    // Cumulative average (momentum=None) over two batches, from a reset.
    let dims = [3, 5, 4, 4];
    let v = View::contiguous(dims);
    let rbuf = be
        .upload(&[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
        .unwrap();
    let g5 = be.upload(&[1.0; 5]).unwrap();
    let b5 = be.upload(&[0.0; 5]).unwrap();
    let saved = be.alloc(ops::bn_saved_len(5, 48)).unwrap();
    let y = be.alloc(240).unwrap();
    for k in 1..=2u64 {
        let xk = be.upload(t(f, &format!("cum_x{k}"))).unwrap();
        let stats = RunningStats::config(&rbuf, 5, 0);
        let upd = StatsUpdate::Cumulative {
            batches_seen: k - 1,
        };
        ops::batch_norm_train(
            be,
            &xk,
            &v,
            &g5,
            &b5,
            stats,
            upd,
            &saved,
            &y,
            &v,
            1e-5,
            Activation::None,
        )
        .unwrap();
        let r = be.download(&rbuf).unwrap();
        close(
            &format!("cumulative mean after {k}"),
            &r[..5],
            t(f, &format!("cum_rm{k}")),
            1e-6,
            1e-5,
        );
        close(
            &format!("cumulative var after {k}"),
            &r[5..],
            t(f, &format!("cum_rv{k}")),
            1e-6,
            1e-5,
        );
    }
}

fn loss_checks(be: &dyn Backend, f: &HashMap<String, HostTensor>) {
    let lv = View::contiguous([6, 10, 1, 1]);
    let z = be.upload(t(f, "ce_logits")).unwrap();
    let labels = be.upload(t(f, "ce_labels")).unwrap();
    ops::check_labels(be, &labels, 6, 10).unwrap();
    let loss = be.alloc(1).unwrap();
    let d = be.alloc(60).unwrap();
    for (tag, eps) in [("s0", 0.0), ("s1", 0.1)] {
        ops::cross_entropy(be, &z, &lv, &labels, eps, &loss, 0, &d, &lv).unwrap();
        close(
            &format!("ce {tag} loss"),
            &be.download(&loss).unwrap(),
            t(f, &format!("ce_loss_{tag}")),
            1e-6,
            1e-5,
        );
        close(
            &format!("ce {tag} dlogits"),
            &be.download(&d).unwrap(),
            t(f, &format!("ce_dlogits_{tag}")),
            1e-6,
            1e-4,
        );
    }
    let s = be.upload(t(f, "kl_student")).unwrap();
    let te = be.upload(t(f, "kl_teacher")).unwrap();
    for temp in [1, 4] {
        ops::kl_div(be, &s, &lv, &te, &lv, temp as f32, &loss, 0, &d, &lv).unwrap();
        close(
            &format!("kl T={temp} loss"),
            &be.download(&loss).unwrap(),
            t(f, &format!("kl_loss_t{temp}")),
            1e-6,
            1e-5,
        );
        close(
            &format!("kl T={temp} dstudent"),
            &be.download(&d).unwrap(),
            t(f, &format!("kl_dstudent_t{temp}")),
            1e-6,
            1e-4,
        );
    }
}

fn sgd_checks(be: &dyn Backend, f: &HashMap<String, HostTensor>) {
    for (name, len, wd) in [("p", 37, 1e-2), ("q", 11, 0.0)] {
        let p = be.upload(t(f, &format!("sgd_{name}0"))).unwrap();
        let m = be.upload(&vec![123.0; len]).unwrap();
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: wd,
            nesterov: true,
        };
        for step in 1..=2 {
            let g = be.upload(t(f, &format!("sgd_g{name}{step}"))).unwrap();
            ops::sgd_step(be, &p, &g, &m, 0, len, &cfg, step == 1).unwrap();
            close(
                &format!("sgd {name} step {step}"),
                &be.download(&p).unwrap(),
                t(f, &format!("sgd_{name}{step}")),
                1e-6,
                1e-5,
            );
        }
        if name == "p" {
            close(
                "sgd p momentum buffer",
                &be.download(&m).unwrap(),
                t(f, "sgd_pbuf2"),
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn every_backend_matches_pytorch_fixtures() {
    let f = fixtures();
    for be in common::backends() {
        println!("backend {} ({})", be.kind(), be.device_name());
        bn_checks(be.as_ref(), &f);
        loss_checks(be.as_ref(), &f);
        sgd_checks(be.as_ref(), &f);
    }
}
