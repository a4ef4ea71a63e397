//! `slimmable op conv2d_fwd | conv2d_dgrad | conv2d_wgrad` on every backend
//! against the PyTorch fixture of a sliced dense conv
//! (tests/fixtures/conv_dense_slice.safetensors, tools/reference_conv.py):
//! forward through `w[:18, :12]` of a 24×16 weight with bias, the data
//! gradient, and full-size weight and bias gradients (zeros outside the
//! slice); plus the errors a user gets for bad parameters.

mod common;

use slimmable::tensor_io::{self, HostTensor};
use std::collections::HashMap;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch("opconv", name)
}

fn fixture() -> HashMap<String, HostTensor> {
    let root = env!("CARGO_MANIFEST_DIR");
    tensor_io::read(&PathBuf::from(root).join("tests/fixtures/conv_dense_slice.safetensors"))
        .unwrap()
}

fn close(label: &str, got: &HostTensor, want: &HostTensor, atol: f64, rtol: f64) {
    assert_eq!(got.shape, want.shape, "{label}: shape");
    for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        let err = (g as f64 - w as f64).abs();
        assert!(
            err <= atol + rtol * (w as f64).abs(),
            "{label}[{i}]: {g} vs PyTorch {w}"
        );
    }
}

#[test]
fn conv_ops_match_pytorch_on_every_backend() {
    let t = fixture();
    let input = scratch("conv-in.safetensors");
    tensor_io::write(
        &input,
        &[
            ("x".into(), t["x"].clone()),
            ("w".into(), t["w_full"].clone()),
            ("b".into(), t["b_full"].clone()),
            ("dy".into(), t["dy"].clone()),
        ],
        None,
    )
    .unwrap();
    let base = r#""in": 12, "out": 18, "padding": [1, 1]"#;
    for be in common::backends() {
        let name = be.kind().to_string();
        for (precision, atol, rtol) in [
            ("f32", 2e-5, 2e-5),
            ("tf32", 3e-2, 1e-2),
            ("bf16", 2.5e-1, 8e-2),
        ] {
            let run = |op: &str, extra: &str| -> HashMap<String, HostTensor> {
                let out = scratch(&format!("{op}-{name}-{precision}.safetensors"));
                let params = format!(r#"{{{base}, "precision": "{precision}"{extra}}}"#);
                let o = common::run_op(op, &params, &input, &out, &name);
                assert!(
                    o.status.success(),
                    "{op} on {name}: {}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                tensor_io::read(&out).unwrap()
            };
            let label = |what: &str| format!("{name} {precision} {what}");
            let y = run("conv2d_fwd", "");
            close(&label("y"), &y["y"], &t["y"], atol, rtol);
            let dx = run("conv2d_dgrad", r#", "input_size": [9, 11]"#);
            close(&label("dx"), &dx["dx"], &t["dx"], atol, rtol);
            let dw = run("conv2d_wgrad", r#", "bias": true"#);
            close(&label("dw"), &dw["dw"], &t["dw_full"], atol, rtol);
            close(&label("db"), &dw["db"], &t["db_full"], atol, rtol);
        }
    }
}

#[test]
fn conv_op_errors_say_what_to_do() {
    let t = fixture();
    let input = scratch("conv-bad.safetensors");
    tensor_io::write(
        &input,
        &[
            ("x".into(), t["x"].clone()),
            ("w".into(), t["w_full"].clone()),
        ],
        None,
    )
    .unwrap();
    let out = scratch("conv-bad-out.safetensors");
    for (params, expect) in [
        (r#"{"in": 12, "out": 30}"#, "weight"),
        (r#"{"in": 12, "precision": "fp8"}"#, "not f32, tf32 or bf16"),
        (r#"{"in": 12, "stride": [0, 1]}"#, "at least 1"),
        (r#"{"in": 12, "strde": [1, 1]}"#, "unknown field"),
        // Known keys the forward would not read were silently ignored.
        (r#"{"in": 12, "input_size": [9, 11]}"#, "does not apply"),
        (r#"{"in": 12, "bias": true}"#, "does not apply"),
        (r#"{"depthwise": true, "groups": 2}"#, "does not apply"),
        // A dense weight under depthwise was read through its first column.
        (
            r#"{"depthwise": true}"#,
            "a depthwise weight is [C, 1, kh, kw]",
        ),
        // More active channels than x holds was blamed on the weight.
        (r#"{"in": 13}"#, "more than the 12 channels of x"),
        (
            r#"{"in": 12, "padding": [18446744073709551615, 0]}"#,
            "does not fit",
        ),
    ] {
        let o = common::run_op("conv2d_fwd", params, &input, &out, "cpu");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.status.success(), "{params} should fail: {text}");
        assert!(
            text.contains(expect),
            "{params}: expected '{expect}' in {text}"
        );
        assert!(!text.contains("panicked"), "{params}: {text}");
    }
    let o = common::slimmable(&[
        "op",
        "--op",
        "conv2d_dgrad",
        "--params",
        r#"{"in": 12}"#,
        "--inputs",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success() && text.contains("dy"), "{text}");
}
