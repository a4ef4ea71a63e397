//! `slimmable verify`: the case list on one backend against the CPU reference.

use crate::backend::{self, BackendKind};
use crate::error::{Error, Result};
use crate::verify;

pub fn run(kind: BackendKind, filter: Option<&str>, seed: Option<u64>) -> Result<i32> {
    // Checked before the backend opens: a typo in `--op` must fail, not
    // report "0 passed, 0 failed" and exit 0.
    if let Some(f) = filter {
        let all = verify::cases();
        if !all.iter().any(|c| c.op.contains(f)) {
            let mut ops: Vec<&str> = Vec::new();
            for c in &all {
                if !ops.contains(&c.op) {
                    ops.push(c.op);
                }
            }
            return Err(Error::invalid(
                "verify --op",
                format!(
                    "no case's op contains {f:?}; the ops are: {}",
                    ops.join(", ")
                ),
            ));
        }
    }
    let be = backend::open(kind)?;
    let seed = seed.unwrap_or_else(crate::rng::seed_from_env_or_clock);
    println!(
        "verify: backend {} ({}), seed {seed}",
        be.kind(),
        be.device_name()
    );
    let cases: Vec<_> = verify::cases()
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.op.contains(f)))
        .collect();
    // Columns as wide as the longest op and case name, so rows line up.
    let op_w = cases.iter().map(|c| c.op.len()).max().unwrap_or(0).max(2);
    let case_w = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<op_w$} {:<case_w$} {:>10} {:>10} {:>16} {:>6}",
        "op", "case", "max abs", "max rel", "atol/rtol", "result"
    );
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let r = verify::run_case(case, be.as_ref(), seed);
        let verdict = if r.passed() { "PASS" } else { "FAIL" };
        println!(
            "{:<op_w$} {:<case_w$} {:>10.2e} {:>10.2e} {:>16} {:>6}",
            r.op,
            r.case,
            r.max_abs_err,
            r.max_rel_err,
            format!("{:.0e}/{:.0e}", r.tolerance.atol, r.tolerance.rtol),
            verdict
        );
        if !r.passed() {
            failed += 1;
            if let Some(e) = &r.error {
                println!("    error: {e}");
            }
            if r.unwritten + r.clobbered + r.mismatched > 0 {
                println!(
                    "    {} unwritten, {} written outside the output view, {} beyond tolerance",
                    r.unwritten, r.clobbered, r.mismatched
                );
            }
        } else {
            passed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { 1 })
}
