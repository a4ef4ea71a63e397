//! Cases for the other training ops: linear on slices (forward, dx, dW and
//! db into full-size gradients), ReLU/ReLU6 and their backward, residual
//! add, accumulate, global average pool, cross-entropy (label smoothing,
//! large logits, more rows than a workgroup), distillation KL at T = 1 and
//! 4, two SGD steps (plain, momentum, Nesterov, weight decay), and two
//! multi-parameter SGD steps (slots of lengths that do and do not fill the
//! CUDA kernel's blocks, each its own weight decay, gradients cleared).

use super::{Case, CaseOutput, Tolerance, poisoned};
use crate::backend::{Backend, SgdSlot};
use crate::ops::{self, LinearWeight, SgdConfig, SgdManyStep};
use crate::rng::Rng;
use crate::view::View;

const F32_MATH: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-4,
};

fn out(name: &'static str, values: Vec<f32>, written: Vec<usize>, before: Vec<f32>) -> CaseOutput {
    CaseOutput {
        name,
        values,
        written,
        before,
    }
}

fn scaled(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    rng.vec_f32(n).into_iter().map(|v| v * scale).collect()
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    linear_cases(&mut v);
    eltwise_cases(&mut v);
    loss_cases(&mut v);
    sgd_cases(&mut v);
    sgd_many_cases(&mut v);
    v
}

/// `(N, in_full, out_full, in, out)`.
const LINEAR: &[(usize, usize, usize, usize, usize)] = &[
    (4, 16, 10, 16, 10), // width 1.0
    (4, 16, 10, 8, 10),  // classifier: input sliced, output full
    (1, 13, 9, 7, 5),    // batch 1, odd, both sliced
    (33, 40, 12, 27, 12),
    (37, 100, 70, 97, 65), // several 32x32 tiles and K steps, none full
];

fn linear_cases(v: &mut Vec<Case>) {
    for &(n, inf, outf, i, o) in LINEAR {
        for bias in [true, false] {
            v.push(Case {
                op: "linear_forward",
                name: format!("N={n} {o}x{i} of {outf}x{inf} bias={bias}"),
                tolerance: F32_MATH,
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let xv = View::channel_slice([n, inf, 1, 1], 0, i)?;
                    let yv = View::channel_slice([n, outf, 1, 1], 0, o)?;
                    let x = be.upload(&rng.vec_f32(n * inf))?;
                    let w = be.upload(&rng.vec_f32(outf * inf))?;
                    let b = be.upload(&rng.vec_f32(outf))?;
                    let written: Vec<usize> = yv.indices().collect();
                    let before = poisoned(n * outf, &written, &mut rng);
                    let y = be.upload(&before)?;
                    let wt = LinearWeight {
                        w: &w,
                        out_full: outf,
                        in_full: inf,
                        bias: bias.then_some(&b),
                    };
                    ops::linear_forward(be, &x, &xv, &wt, &y, &yv)?;
                    Ok(vec![out("y", be.download(&y)?, written, before)])
                }),
            });
        }
        v.push(Case {
            op: "linear_backward",
            name: format!("N={n} {o}x{i} of {outf}x{inf}"),
            tolerance: F32_MATH,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let xv = View::channel_slice([n, inf, 1, 1], 0, i)?;
                let yv = View::channel_slice([n, outf, 1, 1], 0, o)?;
                let x = be.upload(&rng.vec_f32(n * inf))?;
                let w = be.upload(&rng.vec_f32(outf * inf))?;
                let dy = be.upload(&rng.vec_f32(n * outf))?;
                let dx_written: Vec<usize> = xv.indices().collect();
                let dx_before = poisoned(n * inf, &dx_written, &mut rng);
                let dw_before = rng.vec_f32(outf * inf);
                let db_before = rng.vec_f32(outf);
                let (dx, dw, db) = (
                    be.upload(&dx_before)?,
                    be.upload(&dw_before)?,
                    be.upload(&db_before)?,
                );
                let wt = LinearWeight {
                    w: &w,
                    out_full: outf,
                    in_full: inf,
                    bias: None,
                };
                ops::linear_backward(be, &dy, &yv, &x, &xv, &wt, Some((&dx, &xv)), &dw, Some(&db))?;
                let dw_written = (0..o)
                    .flat_map(|r| (0..i).map(move |c| r * inf + c))
                    .collect();
                Ok(vec![
                    out("dx", be.download(&dx)?, dx_written, dx_before),
                    out("dW", be.download(&dw)?, dw_written, dw_before),
                    out("db", be.download(&db)?, (0..o).collect(), db_before),
                ])
            }),
        });
    }
}

/// `(full extents, channels)`: slices at several widths, batch 1 with 1×1.
const ELTWISE: &[([usize; 4], usize)] =
    &[([2, 16, 7, 9], 12), ([1, 5, 1, 1], 3), ([3, 9, 5, 5], 9)];

fn eltwise_cases(v: &mut Vec<Case>) {
    type Op = fn(&dyn Backend, &crate::Buffer, &View, &crate::Buffer, &View) -> crate::Result<()>;
    let unary: [(&'static str, Op); 2] = [("relu", ops::relu), ("relu6", ops::relu6)];
    type BinOp = fn(
        &dyn Backend,
        &crate::Buffer,
        &View,
        &crate::Buffer,
        &View,
        &crate::Buffer,
        &View,
    ) -> crate::Result<()>;
    let binary: [(&'static str, BinOp); 3] = [
        ("relu_backward", ops::relu_backward),
        ("relu6_backward", ops::relu6_backward),
        ("add", ops::add),
    ];
    for &(full, c) in ELTWISE {
        let numel: usize = full.iter().product();
        for (name, f) in unary {
            v.push(Case {
                op: name,
                name: format!("{full:?} c={c}"),
                tolerance: Tolerance::EXACT,
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let view = View::channel_slice(full, 0, c)?;
                    let x = be.upload(&scaled(&mut rng, numel, 8.0))?;
                    let written: Vec<usize> = view.indices().collect();
                    let before = poisoned(numel, &written, &mut rng);
                    let y = be.upload(&before)?;
                    f(be, &x, &view, &y, &view)?;
                    Ok(vec![out("y", be.download(&y)?, written, before)])
                }),
            });
        }
        for (name, f) in binary {
            v.push(Case {
                op: name,
                name: format!("{full:?} c={c}"),
                tolerance: Tolerance {
                    atol: 0.0,
                    rtol: 1e-7,
                },
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let view = View::channel_slice(full, 0, c)?;
                    let a = be.upload(&scaled(&mut rng, numel, 8.0))?;
                    let b = be.upload(&rng.vec_f32(numel))?;
                    let written: Vec<usize> = view.indices().collect();
                    let before = poisoned(numel, &written, &mut rng);
                    let y = be.upload(&before)?;
                    f(be, &a, &view, &b, &view, &y, &view)?;
                    Ok(vec![out("y", be.download(&y)?, written, before)])
                }),
            });
        }
        v.push(Case {
            op: "accumulate",
            name: format!("{full:?} c={c}"),
            tolerance: Tolerance {
                atol: 0.0,
                rtol: 1e-7,
            },
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let view = View::channel_slice(full, 0, c)?;
                let src = be.upload(&rng.vec_f32(numel))?;
                let before = rng.vec_f32(numel);
                let dst = be.upload(&before)?;
                ops::accumulate(be, &src, &view, &dst, &view)?;
                Ok(vec![out(
                    "dst",
                    be.download(&dst)?,
                    view.indices().collect(),
                    before,
                )])
            }),
        });
        v.push(Case {
            op: "avg_pool",
            name: format!("{full:?} c={c}"),
            tolerance: F32_MATH,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let xv = View::channel_slice(full, 0, c)?;
                let pooled = [full[0], full[1], 1, 1];
                let yv = View::channel_slice(pooled, 0, c)?;
                let x = be.upload(&rng.vec_f32(numel))?;
                let written: Vec<usize> = yv.indices().collect();
                let before = poisoned(full[0] * full[1], &written, &mut rng);
                let y = be.upload(&before)?;
                ops::avg_pool(be, &x, &xv, &y, &yv)?;
                Ok(vec![out("y", be.download(&y)?, written, before)])
            }),
        });
        v.push(Case {
            op: "avg_pool_backward",
            name: format!("{full:?} c={c}"),
            tolerance: F32_MATH,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let xv = View::channel_slice(full, 0, c)?;
                let yv = View::channel_slice([full[0], full[1], 1, 1], 0, c)?;
                let dy = be.upload(&rng.vec_f32(full[0] * full[1]))?;
                let written: Vec<usize> = xv.indices().collect();
                let before = poisoned(numel, &written, &mut rng);
                let dx = be.upload(&before)?;
                ops::avg_pool_backward(be, &dy, &yv, &dx, &xv)?;
                Ok(vec![out("dx", be.download(&dx)?, written, before)])
            }),
        });
    }
}

/// `(N, classes, logit scale)`.
const LOSS: &[(usize, usize, f32)] = &[
    (1, 10, 3.0),
    (7, 10, 3.0),
    (300, 13, 5.0),
    (5, 1000, 2.0),
    (6, 10, 60.0),
    (70, 1000, 4.0), // more rows than the CUDA block has warps
];

fn loss_cases(v: &mut Vec<Case>) {
    for &(n, k, scale) in LOSS {
        for smoothing in [0.0f32, 0.1] {
            v.push(Case {
                op: "cross_entropy",
                name: format!("N={n} K={k} logits±{scale} smoothing={smoothing}"),
                tolerance: F32_MATH,
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let lv = View::contiguous([n, k, 1, 1]);
                    let logits = be.upload(&scaled(&mut rng, n * k, scale))?;
                    let labels: Vec<f32> = (0..n).map(|_| rng.below(k as u64) as f32).collect();
                    let labels = be.upload(&labels)?;
                    let (loss_before, d_before) = (
                        poisoned(3, &[1], &mut rng),
                        poisoned(n * k, &(0..n * k).collect::<Vec<_>>(), &mut rng),
                    );
                    let (loss, d) = (be.upload(&loss_before)?, be.upload(&d_before)?);
                    ops::cross_entropy(be, &logits, &lv, &labels, smoothing, &loss, 1, &d, &lv)?;
                    Ok(vec![
                        out("loss", be.download(&loss)?, vec![1], loss_before),
                        out("dlogits", be.download(&d)?, (0..n * k).collect(), d_before),
                    ])
                }),
            });
        }
        for t in [1.0f32, 4.0] {
            v.push(Case {
                op: "kl_div",
                name: format!("N={n} K={k} logits±{scale} T={t}"),
                tolerance: F32_MATH,
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let lv = View::contiguous([n, k, 1, 1]);
                    let s = be.upload(&scaled(&mut rng, n * k, scale))?;
                    let tt = be.upload(&scaled(&mut rng, n * k, scale))?;
                    let (loss_before, d_before) = (
                        poisoned(3, &[1], &mut rng),
                        poisoned(n * k, &(0..n * k).collect::<Vec<_>>(), &mut rng),
                    );
                    let (loss, d) = (be.upload(&loss_before)?, be.upload(&d_before)?);
                    ops::kl_div(be, &s, &lv, &tt, &lv, t, &loss, 1, &d, &lv)?;
                    Ok(vec![
                        out("loss", be.download(&loss)?, vec![1], loss_before),
                        out("dstudent", be.download(&d)?, (0..n * k).collect(), d_before),
                    ])
                }),
            });
        }
    }
}

fn sgd_cases(v: &mut Vec<Case>) {
    let configs = [
        ("plain", 0.0, 0.0, false),
        ("momentum", 0.9, 0.0, false),
        ("nesterov+wd", 0.9, 5e-4, true),
        ("momentum+wd", 0.5, 1e-2, false),
    ];
    for (name, momentum, weight_decay, nesterov) in configs {
        for (len, offset) in [(1000usize, 0usize), (37, 11)] {
            v.push(Case {
                op: "sgd_step",
                name: format!("{name} {len} at {offset}, two steps"),
                tolerance: Tolerance {
                    atol: 1e-6,
                    rtol: 1e-5,
                },
                run: Box::new(move |be: &dyn Backend, seed| {
                    let mut rng = Rng::new(seed);
                    let total = offset + len + 5;
                    let p_before = rng.vec_f32(total);
                    let m_before = rng.vec_f32(total);
                    let (p, m) = (be.upload(&p_before)?, be.upload(&m_before)?);
                    let cfg = SgdConfig {
                        lr: 0.1,
                        momentum,
                        weight_decay,
                        nesterov,
                    };
                    for step in 0..2 {
                        let g = be.upload(&rng.vec_f32(total))?;
                        ops::sgd_step(be, &p, &g, &m, offset, len, &cfg, step == 0)?;
                    }
                    let range: Vec<usize> = (offset..offset + len).collect();
                    let m_written = if momentum != 0.0 {
                        range.clone()
                    } else {
                        vec![]
                    };
                    Ok(vec![
                        out("param", be.download(&p)?, range, p_before),
                        out("momentum", be.download(&m)?, m_written, m_before),
                    ])
                }),
            });
        }
    }
}

/// Parameter lengths of the multi-parameter SGD cases: one element, one
/// CUDA block's chunk (4096) exactly, one past it, several chunks and a
/// tail, and short odd ones between.
const SGD_MANY_LENS: &[usize] = &[1, 37, 4096, 4097, 10_000, 300];

fn sgd_many_cases(v: &mut Vec<Case>) {
    for (name, momentum, nesterov, zero_grad) in [
        ("nesterov, gradients cleared", 0.9, true, true),
        ("plain, gradients kept", 0.0, false, false),
    ] {
        v.push(Case {
            op: "sgd_step_many",
            name: format!("{name}, {} parameters, two steps", SGD_MANY_LENS.len()),
            tolerance: Tolerance {
                atol: 1e-6,
                rtol: 1e-5,
            },
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let total: usize = SGD_MANY_LENS.iter().sum();
                let (p_before, m_before) = (rng.vec_f32(total), rng.vec_f32(total));
                let mut bufs = Vec::new();
                let mut at = 0;
                for &len in SGD_MANY_LENS {
                    bufs.push((
                        be.upload(&p_before[at..at + len])?,
                        be.upload(&rng.vec_f32(len))?,
                        be.upload(&m_before[at..at + len])?,
                    ));
                    at += len;
                }
                let slots: Vec<SgdSlot> = bufs
                    .iter()
                    .enumerate()
                    .map(|(i, (p, g, m))| SgdSlot {
                        param: p,
                        grad: g,
                        momentum: m,
                        weight_decay: [0.0, 1e-2, 5e-4][i % 3],
                    })
                    .collect();
                let mut g_before = Vec::new();
                for step in 0..2 {
                    if step == 1 {
                        // The second step's gradients (the first step's
                        // were cleared, or are kept, by the kernel).
                        g_before.clear();
                        for (_, g, _) in &bufs {
                            let fresh = rng.vec_f32(g.len());
                            be.write(g, &fresh)?;
                            g_before.extend(fresh);
                        }
                    }
                    let cfg = SgdManyStep {
                        lr: 0.1,
                        momentum,
                        nesterov,
                        first_step: step == 0,
                        zero_grad,
                    };
                    ops::sgd_step_many(be, &slots, &cfg)?;
                }
                let mut got = [Vec::new(), Vec::new(), Vec::new()];
                for (p, g, m) in &bufs {
                    got[0].extend(be.download(p)?);
                    got[1].extend(be.download(m)?);
                    got[2].extend(be.download(g)?);
                }
                let all: Vec<usize> = (0..total).collect();
                let [params, moms, grads] = got;
                Ok(vec![
                    out("params", params, all.clone(), p_before),
                    out(
                        "momentum",
                        moms,
                        if momentum != 0.0 { all.clone() } else { vec![] },
                        m_before,
                    ),
                    out(
                        "grads",
                        grads,
                        if zero_grad { all } else { vec![] },
                        g_before,
                    ),
                ])
            }),
        });
    }
}
