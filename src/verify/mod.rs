//! The operator case list and its runner: the same cases run on every
//! backend against the CPU reference (`slimmable verify`, and the tests in
//! `tests/`).
//!
//! A case builds fresh random inputs from a seed, poisons every output
//! element it expects to be written (NaN) and fills the rest of each output
//! buffer with random sentinels, runs the operator on the CPU reference and
//! on the backend under test, and compares. It fails if any expected element
//! is off by more than `atol + rtol·|ref|`, was left unwritten (still NaN), or
//! if any element outside the written region changed.

mod conv_cases;
mod copy_cases;
mod norm_cases;
mod resize_cases;
mod train_cases;

use crate::backend::Backend;
use crate::error::Result;

/// Tolerance `|out − ref| ≤ atol + rtol·|ref|`.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
}

impl Tolerance {
    /// Bit-exact (data movement ops).
    pub const EXACT: Tolerance = Tolerance {
        atol: 0.0,
        rtol: 0.0,
    };
}

/// Runs a case on a backend with inputs from a seed; returns the output
/// buffers (whole) and, for each, which indices were to be written.
pub type CaseFn = Box<dyn Fn(&dyn Backend, u64) -> Result<Vec<CaseOutput>>>;

/// One entry of the case list.
pub struct Case {
    pub op: &'static str,
    pub name: String,
    pub tolerance: Tolerance,
    pub run: CaseFn,
}

/// One output buffer of a case run.
pub struct CaseOutput {
    pub name: &'static str,
    pub values: Vec<f32>,
    /// Indices the operator must write.
    pub written: Vec<usize>,
    /// The buffer's contents before the run (poison and sentinels).
    pub before: Vec<f32>,
}

/// The outcome of one case on one backend.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub op: &'static str,
    pub case: String,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub tolerance: Tolerance,
    /// Expected elements that were not written (still NaN).
    pub unwritten: usize,
    /// Elements outside the written region that changed.
    pub clobbered: usize,
    /// Elements beyond tolerance.
    pub mismatched: usize,
    /// Set when the backend returned an error.
    pub error: Option<String>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.unwritten == 0 && self.clobbered == 0 && self.mismatched == 0
    }
}

/// Every case, in a stable order.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(copy_cases::cases());
    all.extend(conv_cases::cases());
    all.extend(resize_cases::cases());
    all.extend(norm_cases::cases());
    all.extend(train_cases::cases());
    all
}

/// Runs `case` on `backend` and on the CPU reference with the same seed.
pub fn run_case(case: &Case, backend: &dyn Backend, seed: u64) -> CaseReport {
    let mut report = empty_report(case);
    let reference = match (case.run)(&crate::backend::cpu::CpuBackend::new(), seed) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("reference failed: {e}"));
            return report;
        }
    };
    match (case.run)(backend, seed) {
        Ok(outputs) => compare(case, &outputs, &reference),
        Err(e) => {
            report.error = Some(e.to_string());
            report
        }
    }
}

fn empty_report(case: &Case) -> CaseReport {
    CaseReport {
        op: case.op,
        case: case.name.clone(),
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        tolerance: case.tolerance,
        unwritten: 0,
        clobbered: 0,
        mismatched: 0,
        error: None,
    }
}

/// Compares a case's outputs with the reference's.
pub fn compare(case: &Case, outputs: &[CaseOutput], reference: &[CaseOutput]) -> CaseReport {
    let mut report = empty_report(case);
    if outputs.len() != reference.len() {
        report.error = Some(format!(
            "{} outputs, reference has {}",
            outputs.len(),
            reference.len()
        ));
    }
    for (out, refr) in outputs.iter().zip(reference) {
        compare_output(out, refr, case.tolerance, &mut report);
    }
    report
}

fn compare_output(out: &CaseOutput, refr: &CaseOutput, tol: Tolerance, report: &mut CaseReport) {
    let mut expected = vec![false; out.values.len()];
    for &i in &out.written {
        expected[i] = true;
        let (o, r) = (out.values[i] as f64, refr.values[i] as f64);
        if o.is_nan() && !r.is_nan() {
            report.unwritten += 1;
            continue;
        }
        let abs = (o - r).abs();
        let rel = if r != 0.0 { abs / r.abs() } else { abs };
        report.max_abs_err = report.max_abs_err.max(abs);
        report.max_rel_err = report.max_rel_err.max(rel);
        if abs.is_nan() || abs > tol.atol + tol.rtol * r.abs() {
            report.mismatched += 1;
        }
    }
    for (i, was_expected) in expected.iter().enumerate() {
        if !was_expected && out.values[i].to_bits() != out.before[i].to_bits() {
            report.clobbered += 1;
        }
    }
}

/// A buffer's initial contents for a case: NaN at `written`, random
/// sentinels elsewhere.
pub fn poisoned(len: usize, written: &[usize], rng: &mut crate::rng::Rng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..len).map(|_| rng.uniform_f32(100.0, 200.0)).collect();
    for &i in written {
        v[i] = f32::NAN;
    }
    v
}
