//! `slimmable bench`: time operator families on a backend.

use crate::backend::{self, BackendKind};
use crate::bench::{self, Ceilings};
use crate::error::Result;
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
