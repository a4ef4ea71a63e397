//! Cases for batch norm on channel slices: training forward with momentum
//! and cumulative running-stat updates into one config of a multi-config
//! statistics buffer, eval forward, backward with dγ/dβ accumulated into
//! full-size gradients; no activation, ReLU, ReLU6; batch 1, 1×1 spatial,
//! odd channel counts, several reduction chunks, large and small magnitudes;
//! views the CUDA kernels read as float4s (planes of a multiple of 4, aligned)
//! and the same shapes shifted off alignment (the scalar fallback).

use super::{Case, CaseOutput, Tolerance, poisoned};
use crate::backend::Backend;
use crate::ops::{self, Activation, RunningStats, StatsUpdate};
use crate::rng::Rng;
use crate::view::View;

/// Statistics configs in the running buffer; cases use config 1.
const CONFIGS: usize = 3;

struct Shape {
    full: [usize; 4],
    c: usize,
    /// First channel of the slice.
    c0: usize,
    /// Elements before the tensor in its buffer (1: no view is 16-byte aligned).
    lead: usize,
    /// Columns the view keeps (< `full[3]`: a spatial crop, rows not dense).
    w: usize,
    act: Activation,
    /// Inputs are `offset + scale·U(−1, 1)`.
    offset: f32,
    scale: f32,
    tol: Tolerance,
}

const NORMAL: Tolerance = Tolerance {
    atol: 1e-4,
    rtol: 1e-3,
};

fn shapes() -> Vec<Shape> {
    let s = |full: [usize; 4], c, act, offset, scale, tol| Shape {
        full,
        c,
        c0: 0,
        lead: 0,
        w: full[3],
        act,
        offset,
        scale,
        tol,
    };
    vec![
        s([4, 16, 8, 8], 16, Activation::None, 0.0, 1.0, NORMAL),
        s([4, 16, 8, 8], 12, Activation::Relu, 0.0, 1.0, NORMAL),
        s([3, 32, 7, 5], 8, Activation::Relu6, 0.0, 4.0, NORMAL),
        s([2, 13, 1, 1], 7, Activation::None, 0.0, 1.0, NORMAL),
        s([1, 9, 3, 3], 5, Activation::Relu6, 0.0, 1.0, NORMAL),
        s([16, 6, 40, 40], 3, Activation::Relu, 0.0, 1.0, NORMAL),
        // Batch 256: several reduction chunks.
        s([256, 4, 7, 7], 3, Activation::Relu6, 0.0, 4.0, NORMAL),
        // A spatial crop (16 of 24 columns): planes of 320 with strided rows.
        Shape {
            w: 16,
            ..s([2, 6, 20, 24], 4, Activation::Relu, 0.0, 1.0, NORMAL)
        },
        // Planes of 196 (49 float4s), two chunks, a slice from channel 1;
        // then the same one element off alignment (scalar path).
        Shape {
            c0: 1,
            ..s([40, 6, 14, 14], 5, Activation::Relu6, 0.0, 4.0, NORMAL)
        },
        Shape {
            c0: 1,
            lead: 1,
            ..s([40, 6, 14, 14], 5, Activation::Relu6, 0.0, 4.0, NORMAL)
        },
        // Large planes (3136 elements), two chunks.
        s([2, 3, 56, 56], 3, Activation::None, 0.0, 1.0, NORMAL),
        // CUDA takes N·H·W ≤ 16384 in one block per channel (kernels/norm.cu,
        // "channel-resident"): exactly full in one round; one past it (the
        // split reduction); past it off alignment (the scalar split path).
        s([64, 5, 16, 16], 4, Activation::Relu6, 0.0, 4.0, NORMAL),
        s([64, 3, 16, 17], 3, Activation::Relu, 0.0, 1.0, NORMAL),
        Shape {
            lead: 1,
            ..s([40, 4, 20, 21], 3, Activation::None, 0.0, 1.0, NORMAL)
        },
        // One float4 per plane: a block's step spans several channels.
        s([8, 5, 2, 2], 5, Activation::Relu, 0.0, 1.0, NORMAL),
        s([2, 10, 9, 11], 9, Activation::None, 5e3, 1e3, NORMAL),
        s([2, 10, 9, 11], 5, Activation::None, 0.0, 1e-3, NORMAL),
        // Mean 100× the spread: naive Σx² − (Σx)² would cancel.
        s(
            [4, 8, 16, 16],
            8,
            Activation::Relu,
            100.0,
            1.0,
            Tolerance {
                atol: 2e-3,
                rtol: 1e-3,
            },
        ),
    ]
}

/// The case's view: leading `c` channels, leading `w` columns.
fn slice_view(sh: &Shape) -> crate::Result<View> {
    let mut v = View::channel_slice(sh.full, sh.c0, sh.c)?;
    v.dims[3] = sh.w;
    v.offset += sh.lead;
    Ok(v)
}

fn act_name(a: Activation) -> &'static str {
    match a {
        Activation::None => "",
        Activation::Relu => " +relu",
        Activation::Relu6 => " +relu6",
    }
}

/// Random inputs of one case: x, γ, β (full-size), running stats.
struct Inputs {
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    running: Vec<f32>,
}

fn inputs(sh: &Shape, rng: &mut Rng) -> Inputs {
    let cf = sh.full[1];
    let n: usize = sh.lead + sh.full.iter().product::<usize>();
    let x = (0..n)
        .map(|_| sh.offset + sh.scale * rng.uniform_f32(-1.0, 1.0))
        .collect();
    // x is uniform, so x̂ stays within ±√3: with ReLU6, γ of 3 to 5 takes
    // γ·x̂ + β past 6 (the clamp and its zero gradient are exercised);
    // γ ≤ 1.5 never reached it.
    let (g_lo, g_hi) = match sh.act {
        Activation::Relu6 => (3.0, 5.0),
        _ => (0.5, 1.5),
    };
    let gamma = (0..cf).map(|_| rng.uniform_f32(g_lo, g_hi)).collect();
    let beta = (0..cf).map(|_| rng.uniform_f32(-0.5, 0.5)).collect();
    // Means anywhere, variances positive.
    let mut running = Vec::with_capacity(2 * CONFIGS * cf);
    for _ in 0..CONFIGS {
        running.extend((0..cf).map(|_| rng.uniform_f32(-1.0, 1.0)));
        running.extend((0..cf).map(|_| rng.uniform_f32(0.5, 2.0)));
    }
    Inputs {
        x,
        gamma,
        beta,
        running,
    }
}

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for sh in shapes() {
        let sh = std::rc::Rc::new(sh);
        let count = sh.full[0] * sh.full[2] * sh.w;
        let at = match (sh.c0, sh.lead) {
            (0, 0) => String::new(),
            (c0, lead) => format!(" from ch {c0} lead {lead}"),
        };
        let label = format!(
            "{:?} c={}{at}{} x~{}±{}",
            sh.full,
            sh.c,
            act_name(sh.act),
            sh.offset,
            sh.scale
        );
        if count >= 2 {
            for update in [
                StatsUpdate::Momentum(0.1),
                StatsUpdate::Cumulative { batches_seen: 2 },
            ] {
                let s = sh.clone();
                out.push(Case {
                    op: "batch_norm_train",
                    name: format!("{label} {update:?}"),
                    tolerance: sh.tol,
                    run: Box::new(move |be: &dyn Backend, seed| train_case(be, seed, &s, update)),
                });
            }
            let s = sh.clone();
            out.push(Case {
                op: "batch_norm_backward",
                name: label.clone(),
                tolerance: Tolerance {
                    atol: sh.tol.atol.max(2e-4),
                    rtol: 2e-3,
                },
                run: Box::new(move |be: &dyn Backend, seed| backward_case(be, seed, &s)),
            });
        }
        let s = sh.clone();
        out.push(Case {
            op: "batch_norm_eval",
            name: label,
            tolerance: sh.tol,
            run: Box::new(move |be: &dyn Backend, seed| eval_case(be, seed, &s)),
        });
    }
    out
}

fn train_case(
    be: &dyn Backend,
    seed: u64,
    sh: &Shape,
    update: StatsUpdate,
) -> crate::Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let inp = inputs(sh, &mut rng);
    let view = slice_view(sh)?;
    let count = sh.full[0] * sh.full[2] * sh.w;
    let y_written: Vec<usize> = view.indices().collect();
    let y_before = poisoned(inp.x.len(), &y_written, &mut rng);
    let saved_len = ops::bn_saved_len(sh.c, count);
    let saved_written: Vec<usize> = (0..2 * sh.c).collect();
    let saved_before = poisoned(saved_len, &saved_written, &mut rng);
    let (x, g, b) = (
        be.upload(&inp.x)?,
        be.upload(&inp.gamma)?,
        be.upload(&inp.beta)?,
    );
    let running = be.upload(&inp.running)?;
    let saved = be.upload(&saved_before)?;
    let y = be.upload(&y_before)?;
    // Both layouts of per-config statistics: interleaved and planar.
    let stats = match update {
        StatsUpdate::Cumulative { .. } => RunningStats::planar(&running, CONFIGS, sh.full[1], 1),
        _ => RunningStats::config(&running, sh.full[1], 1),
    };
    let run_written: Vec<usize> = (0..sh.c)
        .flat_map(|i| [stats.mean_offset + i, stats.var_offset + i])
        .collect();
    ops::batch_norm_train(
        be, &x, &view, &g, &b, stats, update, &saved, &y, &view, 1e-5, sh.act,
    )?;
    let mut saved_out = be.download(&saved)?;
    // Only mean and inv-std are results; the rest is the kernels' scratch.
    saved_out.truncate(2 * sh.c);
    Ok(vec![
        CaseOutput {
            name: "y",
            values: be.download(&y)?,
            written: y_written,
            before: y_before,
        },
        CaseOutput {
            name: "saved mean/invstd",
            values: saved_out,
            written: saved_written,
            before: saved_before[..2 * sh.c].to_vec(),
        },
        CaseOutput {
            name: "running stats",
            values: be.download(&running)?,
            written: run_written,
            before: inp.running,
        },
    ])
}

fn eval_case(be: &dyn Backend, seed: u64, sh: &Shape) -> crate::Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let mut inp = inputs(sh, &mut rng);
    // Running statistics that fit the inputs' magnitude.
    let cf = sh.full[1];
    for ch in 0..cf {
        inp.running[2 * cf + ch] = sh.offset + 0.1 * sh.scale * rng.uniform_f32(-1.0, 1.0);
        inp.running[3 * cf + ch] = sh.scale * sh.scale * rng.uniform_f32(0.2, 0.5);
    }
    let view = slice_view(sh)?;
    let written: Vec<usize> = view.indices().collect();
    let before = poisoned(inp.x.len(), &written, &mut rng);
    let (x, g, b) = (
        be.upload(&inp.x)?,
        be.upload(&inp.gamma)?,
        be.upload(&inp.beta)?,
    );
    let running = be.upload(&inp.running)?;
    let y = be.upload(&before)?;
    let stats = RunningStats::config(&running, cf, 1);
    ops::batch_norm_eval(be, &x, &view, &g, &b, stats, &y, &view, 1e-5, sh.act)?;
    Ok(vec![CaseOutput {
        name: "y",
        values: be.download(&y)?,
        written,
        before,
    }])
}

fn backward_case(be: &dyn Backend, seed: u64, sh: &Shape) -> crate::Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let inp = inputs(sh, &mut rng);
    let cf = sh.full[1];
    let view = slice_view(sh)?;
    let count = sh.full[0] * sh.full[2] * sh.w;
    let mut dy_host = rng.vec_f32(inp.x.len());
    if sh.act != Activation::None {
        // Where the pre-activation sits within rounding of a kink, f32 and
        // f64 may disagree on the mask; a zero upstream gradient there makes
        // the mask irrelevant, so the comparison tests the math, not luck.
        let idx: Vec<usize> = view.indices().collect();
        let xs: Vec<f64> = idx.iter().map(|&i| inp.x[i] as f64).collect();
        let g: Vec<f64> = inp.gamma.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = inp.beta.iter().map(|&v| v as f64).collect();
        let hw = sh.full[2] * sh.w;
        let pre =
            crate::backend::cpu::norm::bn_train_forward(&xs, sh.full[0], sh.c, hw, &g, &b, 1e-5, 0)
                .y;
        for (k, &i) in idx.iter().enumerate() {
            if pre[k].abs() < 1e-3 || (pre[k] - 6.0).abs() < 1e-3 {
                dy_host[i] = 0.0;
            }
        }
    }
    let dx_written: Vec<usize> = view.indices().collect();
    let dx_before = poisoned(inp.x.len(), &dx_written, &mut rng);
    // Gradients accumulate: start from random values, not poison.
    let dg_before = rng.vec_f32(cf);
    let db_before = rng.vec_f32(cf);
    let (x, g, b) = (
        be.upload(&inp.x)?,
        be.upload(&inp.gamma)?,
        be.upload(&inp.beta)?,
    );
    let running = be.upload(&inp.running)?;
    let saved = be.alloc(ops::bn_saved_len(sh.c, count))?;
    let y = be.upload(&vec![0.0; inp.x.len()])?;
    let stats = RunningStats::config(&running, cf, 1);
    ops::batch_norm_train(
        be,
        &x,
        &view,
        &g,
        &b,
        stats,
        StatsUpdate::None,
        &saved,
        &y,
        &view,
        1e-5,
        sh.act,
    )?;
    let dy = be.upload(&dy_host)?;
    let (dx, dg, db) = (
        be.upload(&dx_before)?,
        be.upload(&dg_before)?,
        be.upload(&db_before)?,
    );
    ops::batch_norm_backward(
        be, &x, &view, &dy, &view, &g, &b, &saved, &dg, &db, &dx, &view, sh.act,
    )?;
    Ok(vec![
        CaseOutput {
            name: "dx",
            values: be.download(&dx)?,
            written: dx_written,
            before: dx_before,
        },
        CaseOutput {
            name: "dgamma",
            values: be.download(&dg)?,
            written: (0..sh.c).collect(),
            before: dg_before,
        },
        CaseOutput {
            name: "dbeta",
            values: be.download(&db)?,
            written: (0..sh.c).collect(),
            before: db_before,
        },
    ])
}
