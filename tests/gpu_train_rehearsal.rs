//! `scripts/gpu-train.sh` rehearsed against stubs (no GPU):
//! `tools/gpu_train_rehearsal.sh` runs the script's default, long-pair,
//! comparison, several-seeds and over-budget forms in a copy of the tree,
//! with stand-in trainers that copy real CPU runs' results, and checks the
//! calls each form made and the archive it left. A bash error in a form
//! only the GPU machine runs would spend a device call.

use std::path::Path;
use std::process::Command;

#[test]
fn gpu_train_script_runs_every_form_against_stubs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        println!("skipped: not a git checkout, the rehearsal copies the tracked tree");
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("tools/gpu_train_rehearsal.sh"))
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
        text.contains("every check held (5 runs"),
        "the rehearsal exited 0 without its closing line:\n{text}"
    );
}
