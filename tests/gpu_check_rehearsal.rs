//! `scripts/gpu-check.sh run` rehearsed against stubs (no GPU):
//! `tools/gpu_check_rehearsal.sh` runs the script's A/B, QUICK, past-
//! DEADLINE and failing-step forms in a copy of the tree and checks each
//! summary. A device session has 15 minutes; a bash error in a branch only
//! the GPU machine takes would spend them.

use std::path::Path;
use std::process::Command;

#[test]
fn gpu_check_script_runs_every_form_against_stubs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        // The rehearsal copies the tree git tracks.
        println!("skipped: not a git checkout, the rehearsal copies the tracked tree");
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("tools/gpu_check_rehearsal.sh"))
        .current_dir(root)
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the rehearsal failed:\n{text}");
    assert!(
        text.contains("every check held (4 runs"),
        "the rehearsal exited 0 without its closing line:\n{text}"
    );
}
