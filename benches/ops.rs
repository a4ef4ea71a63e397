//! Criterion benches of the sliced kernels, on every backend this machine
//! opens (CPU always; wgpu and CUDA as the tests find them, printing
//! `skipped: ...` for an absent one, or failing where
//! `SLIMMABLE_REQUIRE_VULKAN` / `_CUDA=1` requires it):
//! `cargo bench --bench ops [-- FILTER]`, e.g.
//! `-- wgpu/conv`. Each case is named `{backend}/{family}/{case}` and runs
//! the public `ops` API on buffers allocated once, with a synchronize in
//! every iteration, so a sample is the device's time for the operator plus
//! its launch.
//!
//! The shapes are those of `slimmable bench` (src/bench/): the issue-3 conv
//! layers (`bench::conv::SUITE`) at a full and a sliced width, the channel
//! slice copy, the resize-pack batches and batch norm; batches are the
//! suite's on a GPU and small elsewhere, and the names carry them. Criterion
//! prints memory-bound cases as bytes/s (minimal traffic, as the CLI counts
//! it) and compute-bound ones as elements/s, where an element is one FLOP.
//! `slimmable bench` is the tool for roofline fractions and PyTorch beside
//! ours; these benches are for tracking a kernel change over time.
//!
//! Under `cargo test --all-targets` (CI) Criterion runs each case once, so a
//! case that stops working fails the tests.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slimmable::backend::{Backend, BackendKind, Buffer, Precision};
use slimmable::bench::conv::{Layer, SUITE, SlicedConv, config};
use slimmable::bench::norm::BnPass;
use slimmable::bench::resize;
use slimmable::error::Result;
use slimmable::ops::{self, Activation};
use slimmable::rng::Rng;
use slimmable::view::View;
use std::rc::Rc;
use std::time::Duration;

/// One prepared case: its buffers live in `run`, which launches the
/// operator once (without waiting for it).
struct Case<'a> {
    name: String,
    work: Throughput,
    run: Box<dyn FnMut() -> Result<()> + 'a>,
}

fn random(be: &dyn Backend, rng: &mut Rng, len: usize) -> Result<Buffer> {
    be.upload(&rng.vec_f32(len))
}

/// 128 of 256 channels at 56×56 into a packed tensor (`copy/slice_*`).
fn copy_cases(be: &dyn Backend) -> Result<Vec<Case<'_>>> {
    let n = if be.on_gpu() { 64 } else { 8 };
    let full = [n, 256, 56, 56];
    let src_view = View::channel_slice(full, 0, 128)?;
    let dst_view = View::contiguous(src_view.dims);
    let src = random(be, &mut Rng::new(1), full.iter().product())?;
    let dst = be.alloc(dst_view.numel())?;
    Ok(vec![Case {
        name: format!("copy/slice_{n}x128of256x56x56"),
        work: Throughput::Bytes(2 * 4 * dst_view.numel() as u64),
        run: Box::new(move || ops::slice_copy(be, &src, &src_view, &dst, &dst_view)),
    }])
}

/// A layer of the suite at `width` and 224 px: the forward, and the
/// training pass (forward, dgrad, wgrad into the full-size gradient's
/// slice), at TF32 on CUDA and exact f32 elsewhere. Buffers are full width.
fn conv_cases<'a>(be: &'a dyn Backend, layer: &Layer, width: f64) -> Result<Vec<Case<'a>>> {
    let n = if be.on_gpu() { 64 } else { 2 };
    let c = config(layer, width, 224);
    let precision = if be.kind() == BackendKind::Cuda {
        Precision::Tf32
    } else {
        Precision::F32
    };
    let x_full = [n, layer.ic, c.hw, c.hw];
    let y_full = [n, layer.oc, c.out_hw, c.out_hw];
    let w_in = if layer.depthwise { 1 } else { layer.ic };
    let w_full = [layer.oc, w_in, layer.k, layer.k];
    let views = [
        View::channel_slice(x_full, 0, c.ic)?,
        ops::weight_block(w_full, c.oc, if layer.depthwise { 1 } else { c.ic })?,
        View::channel_slice(y_full, 0, c.oc)?,
    ];
    let len = |d: [usize; 4]| d.iter().product::<usize>();
    let mut rng = Rng::new(2);
    let macs =
        (n * c.oc * c.out_hw * c.out_hw * (c.ic / c.geometry.groups) * layer.k * layer.k) as u64;
    let activation_bytes = 4 * (n * c.ic * c.hw * c.hw + n * c.oc * c.out_hw * c.out_hw) as u64;
    // Depthwise convs are memory-bound (bytes), the others compute-bound.
    let work = |passes: u64| {
        if layer.depthwise {
            Throughput::Bytes(passes * activation_bytes)
        } else {
            Throughput::Elements(passes * 2 * macs)
        }
    };
    let label = format!("conv/{}_n{n}", c.label);
    let (x, w, dy) = (
        random(be, &mut rng, len(x_full))?,
        random(be, &mut rng, len(w_full))?,
        random(be, &mut rng, len(y_full))?,
    );
    let (y, dx, dw) = (
        be.alloc(len(y_full))?,
        be.alloc(len(x_full))?,
        be.alloc(len(w_full))?,
    );
    // Shared by the two cases.
    let conv = Rc::new(SlicedConv {
        views,
        geometry: c.geometry,
        x,
        w,
        y,
        dx,
        dw,
        dy,
    });
    // The image needs no gradient: the stem's training pass has no dgrad.
    let dgrad = !layer.fixed_input;
    let forward_case = Case {
        name: format!("{label}/fwd"),
        work: work(1),
        run: Box::new({
            let conv = Rc::clone(&conv);
            move || conv.forward(be, precision)
        }),
    };
    let train_case = Case {
        name: format!("{label}/train"),
        work: work(if dgrad { 3 } else { 2 }),
        run: Box::new(move || conv.training_pass(be, precision, dgrad)),
    };
    Ok(vec![forward_case, train_case])
}

/// The fused resize-pack batches of `slimmable bench resize`.
fn resize_cases(be: &dyn Backend) -> Result<Vec<Case<'_>>> {
    resize::batches(be)
        .into_iter()
        .map(|batch| {
            let p = batch.prepare(be)?;
            Ok(Case {
                name: batch.name,
                work: Throughput::Bytes(p.bytes as u64),
                run: Box::new(move || p.pack.run(be, &p.src, &p.arena)),
            })
        })
        .collect()
}

/// Batch norm's training forward and backward with ReLU6 fused (the
/// MobileNetV2 blocks' form), 32 channels at 112×112.
fn bn_cases(be: &dyn Backend) -> Result<Vec<Case<'_>>> {
    let n = if be.on_gpu() { 64 } else { 8 };
    let pass = BnPass::new(be, [n, 32, 112, 112], 4)?;
    Ok(vec![Case {
        name: format!("bn/relu6_fused_fwd_bwd_{n}x32x112x112"),
        work: Throughput::Bytes(pass.min_bytes() as u64),
        run: Box::new(move || pass.training_pass(be, Activation::Relu6)),
    }])
}

/// Every case for one backend: `res3x3` and `pw1x1` at full and half
/// width (half width reads a channel slice of the full-size weights),
/// `dw3x3_b` at both, and the stem, then copy, resize-pack and batch norm.
fn cases(be: &dyn Backend) -> Result<Vec<Case<'_>>> {
    let mut cases = Vec::new();
    for layer in SUITE.iter().filter(|l| l.name != "dw3x3_a") {
        let widths: &[f64] = if layer.fixed_input {
            &[1.0]
        } else {
            &[1.0, 0.5]
        };
        for &width in widths {
            cases.extend(conv_cases(be, layer, width)?);
        }
    }
    cases.extend(copy_cases(be)?);
    cases.extend(resize_cases(be)?);
    cases.extend(bn_cases(be)?);
    Ok(cases)
}

fn bench_backend(c: &mut Criterion, be: &dyn Backend) -> Result<()> {
    let kind = be.kind();
    let mut group = c.benchmark_group(kind.to_string());
    // Off a GPU a case takes up to about a second: fewer, longer samples.
    if be.on_gpu() {
        group.measurement_time(Duration::from_secs(3));
    } else {
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(4));
    }
    for mut case in cases(be)? {
        // Once outside the timing: a case that fails says so instead of
        // being timed.
        (case.run)()?;
        be.synchronize()?;
        group.throughput(case.work.clone());
        group.bench_function(&case.name, |b| {
            b.iter(|| {
                (case.run)().expect("the case ran once before timing");
                be.synchronize().expect("the device synchronizes");
            })
        });
    }
    group.finish();
    Ok(())
}

fn ops(c: &mut Criterion) {
    let mut failed = Vec::new();
    // The tests' rule: a backend absent here prints `skipped: ...`, or fails
    // where SLIMMABLE_REQUIRE_VULKAN / _CUDA=1 says it must be present.
    for be in common::backends() {
        if let Err(e) = bench_backend(c, be.as_ref()) {
            failed.push(format!("{}: {e}", be.kind()));
        }
    }
    assert!(failed.is_empty(), "benches that failed: {failed:#?}");
}

criterion_group!(benches, ops);
criterion_main!(benches);
