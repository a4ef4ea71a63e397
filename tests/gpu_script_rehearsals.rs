//! The GPU machine's scripts rehearsed against stubs (no GPU). A device
//! session has 15 minutes; a bash error in a branch only that machine takes
//! would spend them.
//! - `tools/gpu_check_rehearsal.sh`: `scripts/gpu-check.sh run`'s A/B,
//!   QUICK, past-DEADLINE and failing-step forms, each summary checked;
//! - `tools/gpu_train_rehearsal.sh`: `scripts/gpu-train.sh`'s default,
//!   long-pair, comparison, several-seeds and over-budget forms (on a
//!   fresh and on a used scratch folder), with
//!   stand-in trainers that copy real CPU runs' results, the calls each
//!   form made and the archive it left checked.

use std::path::Path;
use std::process::Command;

/// Runs `tools/<script>` from the checkout and asserts it exited 0 with
/// its closing line (`closing`).
fn rehearse(script: &str, closing: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        // The rehearsals copy the tree git tracks.
        println!("skipped: not a git checkout, {script} copies the tracked tree");
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("tools").join(script))
        .current_dir(root)
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    assert!(
        text.contains(closing),
        "{script} exited 0 without its closing line:\n{text}"
    );
}

#[test]
fn gpu_check_script_runs_every_form_against_stubs() {
    rehearse(
        "gpu_check_rehearsal.sh",
        "every check held (4 runs of scripts/gpu-check.sh run",
    );
}

#[test]
fn gpu_train_script_runs_every_form_against_stubs() {
    rehearse(
        "gpu_train_rehearsal.sh",
        "every check held (6 runs of scripts/gpu-train.sh",
    );
}
