//! `slimmable bench`: time operator families on a backend.

use crate::backend::{self, BackendKind};
use crate::bench::{self, Ceilings};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

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
    println!(
        "bench: backend {} ({}), {iters} timed runs, medians",
        be.kind(),
        be.device_name()
    );
    if let Some(d) = torch_device {
        println!("PyTorch timings from {d}");
    }
    let rows = bench::run(be.as_ref(), family, iters)?;
    bench::print_table(&rows, &torch_ms, ceilings);
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
