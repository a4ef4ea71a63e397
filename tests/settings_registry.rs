//! `slimmable::settings` against the code: every `SLIMMABLE_*` variable a
//! source file, script or tool names is read (`KNOWN`, `ON_OFF`) or
//! `REMOVED`, every read one is still named somewhere, `ON_OFF` is what the on/off
//! macros read, and a removed or mistyped switch, or an on/off one set to
//! another value, makes the command line warn.

use slimmable::settings::{COUNTS, KNOWN, ON_OFF, REMOVED, is_read, warnings_in};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The folders whose files read variables (documentation and results
/// mention removed switches on purpose and are not read).
const CODE_DIRS: &[&str] = &[
    "src", "tests", "tools", "scripts", "kernels", "shaders", "examples", "benches", ".ci",
];

/// The registry and this test name every variable, or made-up ones: they
/// would make the check below pass whatever the rest of the code reads.
const NOT_SCANNED: &[&str] = &["src/settings.rs", "tests/settings_registry.rs"];

/// Every `SLIMMABLE_NAME` in `text` (a name ending in `_`, as in
/// `SLIMMABLE_FAKE_CUDA_*`, is a prefix, not a variable).
fn names_in(text: &str, found: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(i) = text[at..].find("SLIMMABLE_") {
        let start = at + i;
        let mut end = start + "SLIMMABLE_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let name = &text[start..end];
        if !name.ends_with('_') {
            found.insert(name.to_string());
        }
        at = end;
    }
}

fn walk(dir: &Path, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // Fixtures are data.
            if path.file_name().is_some_and(|n| n == "fixtures") {
                continue;
            }
            walk(&path, found);
        } else if path.extension().is_none_or(|e| e != "md")
            && !NOT_SCANNED.iter().any(|skip| path.ends_with(skip))
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            names_in(&text, found);
        }
    }
}

fn names_in_code() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = BTreeSet::new();
    for dir in CODE_DIRS {
        walk(&root.join(dir), &mut found);
    }
    found
}

#[test]
fn every_variable_the_code_names_is_registered_and_every_registered_one_is_named() {
    let found = names_in_code();
    let removed: BTreeSet<&str> = REMOVED.iter().map(|(name, _)| *name).collect();
    let unregistered: Vec<&String> = found
        .iter()
        .filter(|n| !is_read(n) && !removed.contains(n.as_str()))
        .collect();
    assert!(
        unregistered.is_empty(),
        "named in the code but missing from src/settings.rs KNOWN or ON_OFF (or REMOVED): {unregistered:?}"
    );
    let stale: Vec<&&str> = KNOWN
        .iter()
        .chain(ON_OFF)
        .filter(|n| !found.contains(**n))
        .collect();
    assert!(
        stale.is_empty(),
        "in src/settings.rs KNOWN or ON_OFF but named nowhere in the code (move them to REMOVED): {stale:?}"
    );
    let both: Vec<&&str> = KNOWN
        .iter()
        .chain(ON_OFF)
        .filter(|n| removed.contains(**n))
        .collect();
    assert!(both.is_empty(), "both read and removed: {both:?}");
    assert!(found.len() > 40, "the scan found too few names: {found:?}");
}

/// The names the on/off macros of src/switches.rs read
/// (`switched_on!("NAME")`, `opted_in!`, `forced!`).
fn on_off_names_in_src() -> BTreeSet<String> {
    fn walk_src(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk_src(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for mac in ["switched_on!(\"", "opted_in!(\"", "forced!(\""] {
                    for (at, _) in text.match_indices(mac) {
                        let rest = &text[at + mac.len()..];
                        if let Some(end) = rest.find('"') {
                            found.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk_src(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    // The macros' own definitions name `$name`, not a variable.
    found.retain(|n| n.starts_with("SLIMMABLE_"));
    found
}

#[test]
fn the_on_off_list_is_what_the_on_off_switches_read() {
    let read = on_off_names_in_src();
    let listed: BTreeSet<String> = ON_OFF.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        read, listed,
        "src/settings.rs ON_OFF against the names switched_on!/opted_in!/forced! read"
    );
    assert!(
        !ON_OFF.iter().any(|n| KNOWN.contains(n)),
        "in both ON_OFF and KNOWN: an on/off switch belongs in ON_OFF only"
    );
}

#[test]
fn removed_mistyped_and_misvalued_switches_are_named_and_the_rest_are_not() {
    let vars = [
        ("SLIMMABLE_CONV_HALO", "1"),
        ("SLIMMABLE_GEMM_LDSMM", "1"),
        ("SLIMMABLE_GEMM_WGMMA", "1"),
        ("SLIMMABLE_DW_K3", "0"),
        ("SLIMMABLE_PW_VEC", ""),
        ("SLIMMABLE_SGD_MANY", "off"),
        ("SLIMMABLE_DATA_DIR", "/data"),
        ("SLIMMABLE_WGRAD_SPLIT_BLOCKS", "264"),
        ("SLIMMABLE_WGSL_SUBMIT_EVERY", "0"),
        ("SLIMMABLE_GEMM_WGMMA_BK", "32k"),
        ("SLIMMABLE_WGSL_LOOP_BOUNDING", "true"),
        ("PATH", "/bin"),
    ]
    .map(|(n, v)| (n.to_string(), v.to_string()));
    let lines = warnings_in(vars);
    // Sorted by name.
    let expected = [
        "SLIMMABLE_CONV_HALO is set but no longer read: the halo conv tiles",
        "SLIMMABLE_GEMM_LDSMM is set but nothing reads it: a typo?",
        "SLIMMABLE_GEMM_WGMMA_BK=\"32k\" is not a positive whole number",
        "SLIMMABLE_SGD_MANY=\"off\" selects nothing: the switch takes 1",
        "SLIMMABLE_WGSL_LOOP_BOUNDING=\"true\" selects nothing: the switch takes 1",
        "SLIMMABLE_WGSL_SUBMIT_EVERY=\"0\" is not a positive whole number",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:?}");
    for (line, start) in lines.iter().zip(expected) {
        assert!(line.starts_with(start), "{lines:?}");
    }
}

#[test]
fn the_counts_are_known_settings_one_for_each_positive_count_the_backends_read() {
    let mut src = String::new();
    for dir in ["src/backend", "src/backend/cuda", "src/backend/wgsl"] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            src += &std::fs::read_to_string(entry.path()).unwrap_or_default();
        }
    }
    for name in COUNTS {
        assert!(KNOWN.contains(name), "{name} is in COUNTS but not KNOWN");
        assert!(
            src.contains(&format!("\"{name}\"")),
            "{name} is in COUNTS but no backend names it"
        );
    }
    let reads =
        src.matches("positive_from_env(").count() - src.matches("fn positive_from_env(").count();
    assert_eq!(
        reads,
        COUNTS.len(),
        "each positive_from_env read in src/backend is a setting in settings::COUNTS"
    );
}

#[test]
fn the_command_line_warns_about_a_removed_switch() {
    let out = Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .arg("--version")
        .env("SLIMMABLE_RESIZE_TILED", "1")
        .env("SLIMMABLE_GEMM_WGMMA", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: SLIMMABLE_RESIZE_TILED is set but no longer read"),
        "{stderr}"
    );
    assert!(!stderr.contains("SLIMMABLE_GEMM_WGMMA"), "{stderr}");
}
