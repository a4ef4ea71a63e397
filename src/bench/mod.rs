//! `slimmable bench`: device timings of each operator family, printed beside
//! PyTorch's timings for the same shapes when `tools/bench_torch.py` results
//! are given, and as a fraction of the roofline (copy bandwidth, peak FLOP/s).
//!
//! Each family lives in its own file and returns rows; case names are shared
//! with `tools/bench_torch.py` (`family/case`), which is how the two meet.

pub mod conv;
pub mod copy;
pub mod mutualnet;
pub mod norm;
pub mod resize;

use crate::backend::Backend;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// One measured case.
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// `family/case`, as in `tools/bench_torch.py`.
    pub name: String,
    pub ms: f64,
    /// Minimal bytes moved (read once + written once), if memory-bound.
    pub bytes: Option<f64>,
    /// Useful floating-point operations (2 per multiply-add), if compute-bound.
    pub flops: Option<f64>,
    /// Which arithmetic the FLOPs ran on (picks the peak).
    pub peak: Peak,
}

/// The compute ceiling a row's FLOPs are measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peak {
    F32,
    Tf32,
    Bf16,
}

impl From<crate::backend::Precision> for Peak {
    fn from(p: crate::backend::Precision) -> Self {
        match p {
            crate::backend::Precision::F32 => Peak::F32,
            crate::backend::Precision::Tf32 => Peak::Tf32,
            crate::backend::Precision::Bf16 => Peak::Bf16,
        }
    }
}

/// Device ceilings for the roofline fractions.
#[derive(Clone, Copy, Debug)]
pub struct Ceilings {
    /// Bytes read + written per second by a device-to-device copy.
    pub copy_bytes_per_s: f64,
    /// Exact-f32 FLOP/s (no tensor cores).
    pub f32_flops_per_s: f64,
    /// TF32 tensor-core FLOP/s.
    pub tf32_flops_per_s: f64,
    /// BF16 tensor-core FLOP/s (f32 accumulation).
    pub bf16_flops_per_s: f64,
}

/// Families `slimmable bench` knows.
pub const FAMILIES: &[&str] = &["copy", "conv", "resize", "bn", "mutualnet"];

/// Runs one family (or `all`).
/// `family` names one of [`FAMILIES`] or `all`.
pub fn check_family(family: &str) -> Result<()> {
    if family != "all" && !FAMILIES.contains(&family) {
        return Err(Error::invalid(
            "bench family",
            format!("'{family}' is not one of {FAMILIES:?} or all"),
        ));
    }
    Ok(())
}

pub fn run(backend: &dyn Backend, family: &str, iters: usize) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    let all = family == "all";
    check_family(family)?;
    if all || family == "copy" {
        rows.extend(copy::run(backend, iters)?);
    }
    if all || family == "conv" {
        rows.extend(conv::run(backend, iters)?);
    }
    if all || family == "resize" {
        rows.extend(resize::run(backend, iters)?);
    }
    if all || family == "bn" {
        rows.extend(norm::run(backend, iters)?);
    }
    if all || family == "mutualnet" {
        rows.extend(mutualnet::run(backend, mutualnet::timed_runs(iters))?);
    }
    Ok(rows)
}

/// Reads `tools/bench_torch.py` output: `{"device": ..., "cases": {name: {"ms": x}}}`.
pub fn read_torch(path: &Path) -> Result<(String, HashMap<String, f64>)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::io(
            path,
            format!("{e}; give the JSON that tools/bench_torch.py wrote (--torch)"),
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::io(
            path,
            format!("not JSON ({e}); give the file tools/bench_torch.py wrote (--torch)"),
        )
    })?;
    let shape = |what: String| {
        Error::io(
            path,
            format!(
                "{what}; give the JSON tools/bench_torch.py writes ({{\"device\": ..., \"cases\": {{name: {{\"ms\": ...}}}}}})"
            ),
        )
    };
    let device = v["device"]
        .as_str()
        .ok_or_else(|| shape("no \"device\" string".into()))?
        .to_string();
    let obj = v["cases"]
        .as_object()
        .ok_or_else(|| shape("no \"cases\" object".into()))?;
    let mut cases = HashMap::new();
    for (k, c) in obj {
        match c["ms"].as_f64() {
            Some(ms) if ms.is_finite() && ms > 0.0 => {
                cases.insert(k.clone(), ms);
            }
            _ => return Err(shape(format!("case '{k}' has no positive \"ms\" number"))),
        }
    }
    Ok((device, cases))
}

/// Prints the rows as a table, with PyTorch's time and our speed-up where
/// known; for training passes also PyTorch with a pre-copied contiguous
/// weight (`<name>_contig`), the cost without slicing.
pub fn print_table(rows: &[BenchRow], torch: &HashMap<String, f64>, ceilings: Option<Ceilings>) {
    println!(
        "{:<44} {:>9} {:>8} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7}",
        "case", "ms", "GB/s", "GFLOP/s", "% roof", "torch ms", "speedup", "contig ms", "speedup"
    );
    for r in rows {
        let gbs = r.bytes.map(|b| b / r.ms / 1e6);
        let gflops = r.flops.map(|f| f / r.ms / 1e6);
        let roof = ceilings.and_then(|c| match (r.bytes, r.flops) {
            (_, Some(f)) => {
                let peak = match r.peak {
                    Peak::F32 => c.f32_flops_per_s,
                    Peak::Tf32 => c.tf32_flops_per_s,
                    Peak::Bf16 => c.bf16_flops_per_s,
                };
                Some(100.0 * f / (r.ms * 1e-3) / peak)
            }
            (Some(b), None) => Some(100.0 * b / (r.ms * 1e-3) / c.copy_bytes_per_s),
            _ => None,
        });
        let t = torch.get(&r.name).copied();
        let tc = torch.get(&format!("{}_contig", r.name)).copied();
        let fmt = |x: Option<f64>, p: usize| x.map_or("-".into(), |v| format!("{v:.p$}"));
        // Rates to three significant digits below 100 (off a GPU they
        // are single GB/s, which no decimals printed as 0).
        let rate = |x: Option<f64>| {
            let digits = match x {
                Some(v) if v.abs() < 10.0 => 2,
                Some(v) if v.abs() < 100.0 => 1,
                _ => 0,
            };
            fmt(x, digits)
        };
        println!(
            "{:<44} {:>9.4} {:>8} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7}",
            r.name,
            r.ms,
            rate(gbs),
            rate(gflops),
            fmt(roof.filter(|v| v.is_finite()), 1),
            fmt(t, 4),
            fmt(t.map(|t| t / r.ms), 2),
            fmt(tc, 4),
            fmt(tc.map(|t| t / r.ms), 2),
        );
    }
}
