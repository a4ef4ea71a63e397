//! The checker itself can fail: for every case, outputs damaged in each way
//! a kernel can go wrong (an element left unwritten, a wrong value, a write
//! outside the output view) must be reported, never passed.

use slimmable::backend::cpu::CpuBackend;
use slimmable::verify::{self, CaseOutput, Tolerance};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Unwritten,
    WrongValue,
    WriteOutside,
}

/// Applies `fault` to a copy of `out`; `None` when it cannot apply (a view
/// that covers its whole buffer has no outside).
fn damage(out: &CaseOutput, fault: Fault, tol: Tolerance) -> Option<CaseOutput> {
    let mut values = out.values.clone();
    let last = *out.written.last()?;
    match fault {
        Fault::Unwritten => values[last] = out.before[last],
        // Just beyond the case's tolerance.
        Fault::WrongValue => {
            let v = values[last] as f64;
            values[last] = (v + 1.5 * (tol.atol + tol.rtol * v.abs()) + 1e-6) as f32
        }
        Fault::WriteOutside => {
            let inside: std::collections::HashSet<usize> = out.written.iter().copied().collect();
            let i = (0..values.len()).find(|i| !inside.contains(i))?;
            values[i] = 0.5;
        }
    }
    Some(CaseOutput {
        name: out.name,
        values,
        written: out.written.clone(),
        before: out.before.clone(),
    })
}

#[test]
fn every_fault_fails_every_case() {
    let cpu = CpuBackend::new();
    let mut checked = 0;
    for case in verify::cases() {
        let reference = (case.run)(&cpu, 11).expect("reference runs");
        let clean = verify::compare(&case, &reference, &reference);
        assert!(
            clean.passed(),
            "{} {} fails against itself",
            case.op,
            case.name
        );
        for k in 0..reference.len() {
            for fault in [Fault::Unwritten, Fault::WrongValue, Fault::WriteOutside] {
                let Some(bad) = damage(&reference[k], fault, case.tolerance) else {
                    continue;
                };
                let mut outputs: Vec<CaseOutput> = reference
                    .iter()
                    .map(|o| CaseOutput {
                        name: o.name,
                        values: o.values.clone(),
                        written: o.written.clone(),
                        before: o.before.clone(),
                    })
                    .collect();
                outputs[k] = bad;
                let r = verify::compare(&case, &outputs, &reference);
                assert!(
                    !r.passed(),
                    "{fault:?} in output {} not caught: {} {}",
                    reference[k].name,
                    case.op,
                    case.name
                );
                checked += 1;
            }
        }
    }
    println!("{checked} injected faults, all caught");
}
