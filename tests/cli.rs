//! The `slimmable` binary as a user runs it: `devices` never panics, `op`
//! round-trips the slice copy with identical outputs on every backend, and
//! bad input is a clear error with a non-zero exit.

mod common;

use slimmable::tensor_io::{self, HostTensor};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

#[test]
fn devices_reports_every_backend_without_panicking() {
    let o = common::slimmable(&["devices"]);
    let t = common::output_text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    for section in ["CUDA:", "wgpu:", "CPU reference", "auto selects"] {
        assert!(t.contains(section), "missing {section} in:\n{t}");
    }
}

fn write_input(path: &Path, seed: u64) -> HostTensor {
    let mut rng = slimmable::rng::Rng::new(seed);
    let shape = vec![3, 10, 5, 7];
    let x = HostTensor::new(shape.clone(), rng.vec_f32(3 * 10 * 5 * 7)).unwrap();
    tensor_io::write(path, &[("x".into(), x.clone())], None).unwrap();
    x
}

#[test]
fn op_slice_copy_round_trips_identically_on_every_backend() {
    let input = scratch("in.safetensors");
    let x = write_input(&input, common::seed());
    // Expected: channels 2..8 of x, dense.
    let mut expected = Vec::new();
    for n in 0..3 {
        for c in 2..8 {
            let base = (n * 10 + c) * 35;
            expected.extend_from_slice(&x.data[base..base + 35]);
        }
    }
    let mut outputs = Vec::new();
    for be in common::backends() {
        let name = be.kind().to_string();
        let out = scratch(&format!("out-{name}.safetensors"));
        let o = common::slimmable(&[
            "op",
            "--op",
            "slice_copy",
            "--params",
            r#"{"channel_begin": 2, "channels": 6}"#,
            "--inputs",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--backend",
            &name,
        ]);
        assert!(o.status.success(), "{name}: {}", common::output_text(&o));
        let y = tensor_io::read(&out)
            .unwrap()
            .remove("y")
            .expect("output y");
        assert_eq!(y.shape, vec![3, 6, 5, 7]);
        assert_eq!(y.data, expected, "{name} differs from the expected slice");
        outputs.push((name, y));
    }
    for (name, y) in &outputs[1..] {
        assert_eq!(y, &outputs[0].1, "{name} differs from cpu");
    }
}

#[test]
fn bad_op_input_is_a_clear_error() {
    let input = scratch("bad-in.safetensors");
    write_input(&input, 3);
    let out = scratch("bad-out.safetensors");
    let truncated = scratch("truncated.safetensors");
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (i, o, t) = (
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        truncated.to_str().unwrap(),
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                "{not json",
                "--inputs",
                i,
                "--out",
                o,
            ],
            "--params",
        ),
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                r#"{"channels": 4, "chanels": 1}"#,
                "--inputs",
                i,
                "--out",
                o,
            ],
            "unknown field",
        ),
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                r#"{"channel_begin": 8, "channels": 4}"#,
                "--inputs",
                i,
                "--out",
                o,
            ],
            "do not fit",
        ),
        (
            &["op", "--op", "no_such_op", "--inputs", i, "--out", o],
            "unknown operator",
        ),
        (
            &[
                "op",
                "--op",
                "fill",
                "--params",
                r#"{"channels": 1, "value": 1}"#,
                "--inputs",
                "/nonexistent.safetensors",
                "--out",
                o,
            ],
            "/nonexistent.safetensors",
        ),
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                r#"{"channels": 4}"#,
                "--inputs",
                env!("CARGO_MANIFEST_DIR"),
                "--out",
                o,
            ],
            "--inputs names a folder",
        ),
        (
            // serde read it as f32 infinity, and fill wrote that.
            &[
                "op",
                "--op",
                "fill",
                "--params",
                r#"{"channels": 1, "value": 1e40}"#,
                "--inputs",
                i,
                "--out",
                o,
            ],
            "does not fit in f32",
        ),
        (
            &[
                "op",
                "--op",
                "fill",
                "--params",
                "@/nonexistent/params.json",
                "--inputs",
                i,
                "--out",
                o,
            ],
            "--params @PATH reads the JSON from PATH",
        ),
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                r#"{"channels": 4}"#,
                "--inputs",
                t,
                "--out",
                o,
            ],
            "not a valid safetensors file",
        ),
        (
            // Near usize::MAX: begin + len wrapped and passed the check.
            &[
                "op",
                "--op",
                "fill",
                "--params",
                r#"{"channel_begin": 18446744073709551615, "channels": 1, "value": 7}"#,
                "--inputs",
                i,
                "--out",
                o,
            ],
            "do not fit",
        ),
        (
            &["verify", "--op", "no_such_op_anywhere"],
            "no case's op contains",
        ),
        (&["bench", "no_such_family"], "is not one of"),
        (&["bench", "copy", "--iters", "0"], "at least 1"),
        // Each case kept a vector of every run's time: a panic here before.
        (
            &["bench", "copy", "--iters", "18446744073709551615"],
            "at most 100000",
        ),
        // clap took a negative number for a flag: "unexpected argument".
        (&["bench", "copy", "--iters", "-2"], "not a whole number"),
        (&["verify", "--seed", "-1"], "not a whole number"),
        (
            &[
                "op",
                "--op",
                "slice_copy",
                "--params",
                r#"{"channels": 4}"#,
                "--inputs",
                i,
                "--out",
                env!("CARGO_MANIFEST_DIR"),
            ],
            "names a folder",
        ),
        (
            &[
                "eval",
                "--checkpoint",
                "/nonexistent/checkpoint.safetensors",
            ],
            "slimmable train wrote",
        ),
        (
            &["eval", "--checkpoint", env!("CARGO_MANIFEST_DIR")],
            "is a folder",
        ),
        (
            &["bench", "copy", "--torch", "/nonexistent.json"],
            "tools/bench_torch.py",
        ),
        (
            &["bench", "copy", "--peak-f32-tflops", "60"],
            "needs --copy-gbps",
        ),
    ];
    for (args, needle) in cases {
        let r = common::slimmable(&[args, &["--backend", "cpu"][..]].concat());
        let t = common::output_text(&r);
        assert!(!r.status.success(), "{args:?} succeeded:\n{t}");
        assert!(t.contains("error:"), "{args:?}: no error line:\n{t}");
        assert!(
            t.contains(needle),
            "{args:?}: message lacks '{needle}':\n{t}"
        );
        assert!(!t.contains("panicked"), "{args:?} panicked:\n{t}");
    }
    assert!(!out.exists(), "a failed op must not write its output file");
}

/// A tensor in the inputs file that the operator never reads (a misspelt
/// optional input) is named, not ignored without a word.
#[test]
fn op_names_the_inputs_it_did_not_read() {
    let input = scratch("unread-in.safetensors");
    let x = write_input(&input, common::seed());
    tensor_io::write(&input, &[("x".into(), x.clone()), ("bias".into(), x)], None).unwrap();
    let out = scratch("unread-out.safetensors");
    let o = common::run_op("relu", "{}", &input, &out, "cpu");
    let t = common::output_text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(r#"did not read ["bias"]"#), "{t}");
}

/// SLIMMABLE_BACKEND or SLIMMABLE_SEED with a bad value: clap names
/// `--backend` or `--seed`, which the user never gave; a note names the
/// variable.
#[test]
fn a_bad_backend_or_seed_setting_is_named() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .args(["verify", "--op", "relu"])
        .env("SLIMMABLE_BACKEND", "gpu")
        .output()
        .unwrap();
    let t = common::output_text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("SLIMMABLE_BACKEND=gpu"), "{t}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .args(["verify", "--op", "relu", "--backend", "cpu"])
        .env("SLIMMABLE_SEED", "-1")
        .output()
        .unwrap();
    let t = common::output_text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("SLIMMABLE_SEED=-1"), "{t}");
}

/// Sizes that overflow or exceed the kernels' 32-bit indexing are errors
/// before anything is allocated (they aborted the process, or wrapped into
/// a wrong result), and numbered images with a gap are not dropped.
#[test]
fn oversized_and_misshapen_op_inputs_are_clear_errors() {
    let mut rng = slimmable::rng::Rng::new(common::seed());
    let dy = HostTensor::new(vec![3, 10, 1, 1], rng.vec_f32(30)).unwrap();
    let img = HostTensor::new(
        vec![2, 6, 6, 3],
        (0..216).map(|v| (v % 256) as f32).collect(),
    )
    .unwrap();
    let input = scratch("sizes-in.safetensors");
    tensor_io::write(&input, &[("dy".into(), dy), ("images".into(), img)], None).unwrap();
    let gap = scratch("gap-in.safetensors");
    let one = |seed| HostTensor::new(vec![4, 4, 3], vec![seed; 48]).unwrap();
    tensor_io::write(
        &gap,
        &[("img0".into(), one(1.0)), ("img2".into(), one(2.0))],
        None,
    )
    .unwrap();
    let out = scratch("sizes-out.safetensors");
    let (i, g, o) = (
        input.to_str().unwrap(),
        gap.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let resize = |crop: &str| {
        format!(
            r#"{{"format": "u8_hwc", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2], "filter": "bilinear", "crops": [{crop}, null], "outputs": [{{"size": [4, 4]}}]}}"#
        )
    };
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (
            vec!["avg_pool_backward", i],
            r#"{"h": 100000, "w": 100000}"#.into(),
            "32-bit indexing",
        ),
        (
            vec!["resize_pack", i],
            resize("[18446744073709551615, 0, 2, 2]"),
            "outside",
        ),
        (vec!["resize_pack", g], resize("null"), "'img1' is missing"),
    ];
    for (what, params, needle) in &cases {
        let r = common::slimmable(&[
            "op",
            "--op",
            what[0],
            "--params",
            params,
            "--inputs",
            what[1],
            "--out",
            o,
            "--backend",
            "cpu",
        ]);
        let t = common::output_text(&r);
        assert!(!r.status.success(), "{what:?} {params} succeeded:\n{t}");
        assert!(
            t.contains(needle),
            "{what:?} {params}: message lacks '{needle}':\n{t}"
        );
        assert!(!t.contains("panicked"), "{what:?} {params} panicked:\n{t}");
    }
    assert!(!out.exists(), "a failed op must not write its output file");
}

#[test]
fn verify_passes_on_the_cpu_backend() {
    let o = common::slimmable(&["verify", "--backend", "cpu"]);
    let t = common::output_text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("0 failed"), "{t}");
}

#[test]
fn bench_profile_ops_splits_a_mutualnet_iteration_by_operation() {
    // The CPU's small form of the ImageNet iteration (batch 2), one timed run.
    let o = common::slimmable(&[
        "bench",
        "mutualnet",
        "--profile-ops",
        "--iters",
        "1",
        "--backend",
        "cpu",
    ]);
    let t = common::output_text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("profile: bench mutualnet on cpu"), "{t}");
    for op in [
        "conv dense 1x1 fwd",
        "conv dw 3x3 wgrad",
        "bn backward",
        "sgd step",
    ] {
        assert!(t.contains(op), "no '{op}' row in:\n{t}");
    }
    // Other families are refused with the command that works.
    let o = common::slimmable(&["bench", "conv", "--profile-ops", "--backend", "cpu"]);
    let t = common::output_text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("slimmable bench mutualnet --profile-ops"), "{t}");
}

/// `cubins` onto a file said "File exists"; into a folder it made, a
/// failure leaves nothing behind.
#[test]
fn cubins_names_a_file_in_the_way() {
    let file = scratch("cubins-in-the-way");
    std::fs::write(&file, b"").unwrap();
    let o = common::slimmable(&["cubins", file.to_str().unwrap()]);
    let t = common::output_text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("is a file; give a folder"), "{t}");
    // Without NVRTC on the loader path the compiles fail after the folder
    // is made: the folder goes again.
    let dir = scratch("cubins-no-nvrtc");
    let _ = std::fs::remove_dir_all(&dir);
    let cubins_without_nvrtc = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
            .args(["cubins", dir.to_str().unwrap(), "--arch", "sm_80"])
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("CUDA_HOME")
            .env_remove("CUDA_PATH")
            .output()
            .unwrap()
    };
    let o = cubins_without_nvrtc();
    let t = common::output_text(&o);
    assert!(!t.contains("panicked"), "{t}");
    if o.status.success() {
        println!("skipped: NVRTC loads without LD_LIBRARY_PATH here (/usr/local/cuda)");
        return;
    }
    assert!(!dir.exists(), "a failed cubins left {}: {t}", dir.display());
    // A folder that was there stays, and the error says its set may be
    // incomplete; no temporary file is left in it.
    std::fs::create_dir_all(&dir).unwrap();
    let o = cubins_without_nvrtc();
    let t = common::output_text(&o);
    assert!(
        !o.status.success() && t.contains("only some units' cubins"),
        "{t}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
