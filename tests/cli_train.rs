//! `slimmable op` on the training ops: batch norm (train, with fused
//! ReLU6, on a channel slice) gives the same outputs on every backend
//! within tolerance, each op in the table runs, and bad input (a label out
//! of range, an unknown parameter, a slice wider than γ) is a clear error.

mod common;

use slimmable::tensor_io::{self, HostTensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-train", name)
}

fn t(shape: Vec<usize>, data: Vec<f32>) -> HostTensor {
    HostTensor::new(shape, data).unwrap()
}

/// Runs `op` on `input`; the output is named after the input too, so that
/// two tests running the same op at once (the test threads share one
/// folder) do not write and read each other's file.
fn run_op(op: &str, params: &str, input: &Path, backend: &str) -> (Output, PathBuf) {
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("input");
    let out = scratch(&format!("{stem}-{op}-{backend}.safetensors"));
    (common::run_op(op, params, input, &out, backend), out)
}

fn backends() -> Vec<&'static str> {
    common::backends()
        .iter()
        .map(|b| match b.kind() {
            slimmable::BackendKind::Cuda => "cuda",
            slimmable::BackendKind::Wgpu => "wgpu",
            _ => "cpu",
        })
        .collect()
}

#[test]
fn batch_norm_train_agrees_across_backends() {
    let mut rng = slimmable::rng::Rng::new(common::seed());
    let input = scratch("bn.safetensors");
    let tensors = vec![
        (
            "x".to_string(),
            t(
                vec![3, 8, 4, 5],
                rng.vec_f32(480).iter().map(|v| 4.0 * v).collect(),
            ),
        ),
        (
            "gamma".to_string(),
            t(
                vec![8],
                rng.vec_f32(8).iter().map(|v| 1.0 + 0.5 * v).collect(),
            ),
        ),
        ("beta".to_string(), t(vec![8], rng.vec_f32(8))),
        ("running_mean".to_string(), t(vec![8], rng.vec_f32(8))),
        ("running_var".to_string(), t(vec![8], vec![1.0; 8])),
    ];
    tensor_io::write(&input, &tensors, None).unwrap();
    let params = r#"{"channels": 5, "momentum": 0.1, "act": "relu6"}"#;
    let mut results: Vec<(&str, HashMap<String, HostTensor>)> = Vec::new();
    for be in backends() {
        let (o, out) = run_op("batch_norm_train", params, &input, be);
        assert!(o.status.success(), "{be}: {}", common::output_text(&o));
        results.push((be, tensor_io::read(&out).unwrap()));
    }
    let (_, reference) = &results[0];
    assert_eq!(reference["y"].shape, vec![3, 5, 4, 5]);
    for (be, r) in &results[1..] {
        for name in [
            "y",
            "saved_mean",
            "saved_invstd",
            "running_mean",
            "running_var",
        ] {
            for (a, b) in r[name].data.iter().zip(&reference[name].data) {
                assert!(
                    (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
                    "{be} {name}: {a} vs cpu {b}"
                );
            }
        }
        println!("{be}: batch_norm_train matches the CPU reference");
    }
}

#[test]
fn every_training_op_runs_and_bad_input_is_refused() {
    let mut rng = slimmable::rng::Rng::new(common::seed());
    let input = scratch("all.safetensors");
    let mut v = |n: usize| rng.vec_f32(n);
    let tensors = vec![
        ("x".to_string(), t(vec![2, 6, 3, 3], v(108))),
        ("dy".to_string(), t(vec![2, 6, 3, 3], v(108))),
        ("a".to_string(), t(vec![2, 6, 3, 3], v(108))),
        ("b".to_string(), t(vec![2, 6, 3, 3], v(108))),
        ("gamma".to_string(), t(vec![6], v(6))),
        ("beta".to_string(), t(vec![6], v(6))),
        ("running_mean".to_string(), t(vec![6], v(6))),
        ("running_var".to_string(), t(vec![6], vec![1.0; 6])),
        ("logits".to_string(), t(vec![3, 4], v(12))),
        ("labels".to_string(), t(vec![3], vec![0.0, 3.0, 1.0])),
        ("student".to_string(), t(vec![3, 4], v(12))),
        ("teacher".to_string(), t(vec![3, 4], v(12))),
        ("param".to_string(), t(vec![10], v(10))),
        ("grad".to_string(), t(vec![10], v(10))),
    ];
    tensor_io::write(&input, &tensors, None).unwrap();
    let lin = scratch("lin.safetensors");
    tensor_io::write(
        &lin,
        &[
            ("x".to_string(), t(vec![2, 6], v(12))),
            ("w".to_string(), t(vec![4, 6], v(24))),
            ("b".to_string(), t(vec![4], v(4))),
            ("dy".to_string(), t(vec![2, 3], v(6))),
        ],
        None,
    )
    .unwrap();
    let pool_dy = scratch("pool.safetensors");
    tensor_io::write(
        &pool_dy,
        &[("dy".to_string(), t(vec![2, 6, 1, 1], v(12)))],
        None,
    )
    .unwrap();
    let ok: &[(&str, &str, &PathBuf)] = &[
        (
            "batch_norm_train",
            r#"{"channels": 4, "momentum": null, "batches_seen": 1}"#,
            &input,
        ),
        (
            "batch_norm_eval",
            r#"{"channels": 3, "act": "relu"}"#,
            &input,
        ),
        ("batch_norm_backward", r#"{"act": "relu6"}"#, &input),
        ("relu", "{}", &input),
        ("relu6", "{}", &input),
        ("relu_backward", "{}", &input),
        ("relu6_backward", "{}", &input),
        ("add", "{}", &input),
        ("avg_pool", "{}", &input),
        ("avg_pool_backward", r#"{"h": 3, "w": 3}"#, &pool_dy),
        ("cross_entropy", r#"{"smoothing": 0.1}"#, &input),
        ("kl_div", r#"{"temperature": 4.0}"#, &input),
        (
            "sgd_step",
            r#"{"lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4}"#,
            &input,
        ),
        ("linear_forward", r#"{"in": 5, "out": 4}"#, &lin),
        ("linear_backward", r#"{"in": 5, "out": 3}"#, &lin),
    ];
    for (op, params, file) in ok {
        let (o, out) = run_op(op, params, file, "cpu");
        assert!(o.status.success(), "{op}: {}", common::output_text(&o));
        let outputs = tensor_io::read(&out).unwrap();
        assert!(
            outputs
                .values()
                .all(|t| t.data.iter().all(|v| v.is_finite())),
            "{op} wrote non-finite values"
        );
    }
    let bad_labels = scratch("bad_labels.safetensors");
    tensor_io::write(
        &bad_labels,
        &[
            ("logits".to_string(), t(vec![3, 4], v(12))),
            ("labels".to_string(), t(vec![3], vec![0.0, 4.0, 1.0])),
        ],
        None,
    )
    .unwrap();
    let bad: &[(&str, &str, &PathBuf, &str)] = &[
        ("cross_entropy", "{}", &bad_labels, "label 1 is 4"),
        (
            "batch_norm_train",
            r#"{"channels": 9}"#,
            &input,
            "do not fit",
        ),
        (
            "batch_norm_train",
            r#"{"chanels": 4}"#,
            &input,
            "unknown field",
        ),
        ("linear_forward", r#"{"in": 7}"#, &lin, "do not fit"),
        // Known keys the op would not read were silently ignored.
        (
            "batch_norm_eval",
            r#"{"channels": 3, "momentum": 0.5}"#,
            &input,
            "does not apply",
        ),
        (
            "batch_norm_train",
            r#"{"channels": 3, "momentum": 0.1, "batches_seen": 4}"#,
            &input,
            "does not apply",
        ),
        (
            "sgd_step",
            r#"{"momentum": 0.9}"#,
            &input,
            "missing field `lr`",
        ),
    ];
    for (op, params, file, needle) in bad {
        let (o, out) = run_op(op, params, file, "cpu");
        let msg = common::output_text(&o);
        assert!(!o.status.success(), "{op} {params} should fail");
        assert!(
            msg.contains(needle),
            "{op} {params}: '{msg}' lacks '{needle}'"
        );
        assert!(!msg.contains("panicked"), "{msg}");
        assert!(!out.exists() || tensor_io::read(&out).is_ok());
    }
}
