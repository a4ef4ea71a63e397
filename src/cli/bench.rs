//! `slimmable bench`: time operator families on a backend.

use crate::backend::{self, BackendKind};
use crate::bench::{self, Ceilings};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The family name and repetition count, checked before a backend opens
/// (opening CUDA compiles the kernels: a typo should not wait for that).
pub fn check_args(family: &str, iters: usize) -> Result<()> {
    bench::check_family(family)?;
    if iters == 0 {
        return Err(Error::invalid(
            "--iters",
            "0 timed runs measure nothing; give at least 1",
        ));
    }
    // Every case keeps its times to take the median; far more runs than a
    // median needs would only hold the machine (or fail to allocate).
    const MAX_ITERS: usize = 100_000;
    if iters > MAX_ITERS {
        return Err(Error::invalid(
            "--iters",
            format!("{iters} timed runs a case: give at most {MAX_ITERS} (the default is 20)"),
        ));
    }
    Ok(())
}

/// The roofline ceilings from the measured peaks. The percentages need the
/// copy bandwidth (memory-bound rows) and take each FLOP peak that is
/// given; a peak without the bandwidth, or one that is not positive, is an
/// error rather than a flag silently dropped.
pub fn ceilings(
    copy_gbps: Option<f64>,
    peaks_tflops: [Option<f64>; 3],
) -> Result<Option<Ceilings>> {
    for (name, v) in [
        ("--copy-gbps", copy_gbps),
        ("--peak-f32-tflops", peaks_tflops[0]),
        ("--peak-tf32-tflops", peaks_tflops[1]),
        ("--peak-bf16-tflops", peaks_tflops[2]),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v > 0.0)
        {
            return Err(Error::invalid(
                name,
                format!("{v} is not a positive measured rate"),
            ));
        }
    }
    let Some(g) = copy_gbps else {
        if peaks_tflops.iter().any(Option::is_some) {
            return Err(Error::invalid(
                "--peak-*-tflops",
                "the % of roofline column needs --copy-gbps as well (the measured copy bandwidth, e.g. from `slimmable bench copy`)",
            ));
        }
        return Ok(None);
    };
    let peak = |t: Option<f64>| t.unwrap_or(f64::INFINITY) * 1e12;
    Ok(Some(Ceilings {
        copy_bytes_per_s: g * 1e9,
        f32_flops_per_s: peak(peaks_tflops[0]),
        tf32_flops_per_s: peak(peaks_tflops[1]),
        bf16_flops_per_s: peak(peaks_tflops[2]),
    }))
}

pub fn run(
    kind: BackendKind,
    family: &str,
    iters: usize,
    torch: Option<&Path>,
    ceilings: Option<Ceilings>,
) -> Result<i32> {
    let be = backend::open(kind)?;
    let (torch_device, torch_ms) = match torch {
        Some(p) => {
            let (d, m) = bench::read_torch(p)?;
            (Some(d), m)
        }
        None => (None, HashMap::new()),
    };
    let mutualnet = if family == "all" || family == "mutualnet" {
        format!(
            " ({} for the mutualnet iteration)",
            bench::mutualnet::timed_runs(iters)
        )
    } else {
        String::new()
    };
    println!(
        "bench: backend {} ({}), {iters} timed runs{mutualnet}, medians",
        be.kind(),
        be.device_name()
    );
    if let Some(d) = torch_device {
        println!("PyTorch timings from {d}");
    }
    let rows = bench::run(be.as_ref(), family, iters)?;
    bench::print_table(&rows, &torch_ms, ceilings);
    // Names that changed on one side leave every PyTorch column empty.
    if let Some(p) = torch
        && !rows.iter().any(|r| torch_ms.contains_key(&r.name))
    {
        eprintln!(
            "warning: no case in {} matches these rows' names; run tools/bench_torch.py from this version for PyTorch's times beside ours",
            p.display()
        );
    }
    Ok(0)
}

/// `slimmable bench mutualnet --profile-ops`: the ImageNet MutualNet
/// iteration with every backend operation timed one at a time.
pub fn profile_mutualnet(kind: BackendKind, family: &str, iters: usize) -> Result<i32> {
    if family != "mutualnet" {
        return Err(Error::invalid(
            "--profile-ops",
            format!(
                "profiles the mutualnet family only, not '{family}': run `slimmable bench mutualnet --profile-ops`"
            ),
        ));
    }
    let be = backend::open(kind)?;
    let prof = backend::profiled::ProfiledBackend::new(be.as_ref());
    let runs = bench::mutualnet::timed_runs(iters);
    bench::mutualnet::run(&prof, runs)?;
    let iterations = prof.timed_runs();
    println!(
        "profile: bench mutualnet on {} ({}), {iterations} iterations, every operation synchronized\n{}",
        be.kind(),
        be.device_name(),
        prof.report(iterations)
    );
    Ok(0)
}
