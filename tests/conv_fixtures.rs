//! conv2d against PyTorch: forward and backward through `w[:oc, :ic]` of a
//! full-size weight (tools/reference_conv.py, float64 in PyTorch). Our
//! gradients go into zeroed full-size buffers and must equal PyTorch's
//! full-size `.grad`, zeros outside the slice included.

mod common;

use slimmable::backend::{Backend, ConvPass, Precision};
use slimmable::ops::{self, ConvArgs, ConvGeometry};
use slimmable::tensor_io::{self, HostTensor};
use slimmable::view::View;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> (HashMap<String, HostTensor>, HashMap<String, String>) {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = PathBuf::from(root)
        .join("tests/fixtures")
        .join(format!("{name}.safetensors"));
    (
        tensor_io::read(&path).unwrap(),
        tensor_io::read_metadata(&path).unwrap(),
    )
}

fn dims4(t: &HostTensor) -> [usize; 4] {
    t.dims4("fixture").unwrap()
}

fn check(label: &str, got: &[f32], want: &[f32], tol: (f64, f64)) {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w as f64).abs();
        worst = worst.max(err);
        assert!(
            err <= tol.0 + tol.1 * (w as f64).abs(),
            "{label}[{i}]: {g} vs PyTorch {w} (err {err:.3e})"
        );
    }
    println!("{label}: max abs err {worst:.2e}");
}

fn run_case(be: &dyn Backend, name: &str, precision: Precision, tol: (f64, f64)) {
    let (t, meta) = fixture(name);
    let m = |k: &str| meta[k].parse::<usize>().unwrap();
    let (oc, ic, groups) = (m("oc"), m("ic"), m("groups"));
    let x_dims = dims4(&t["x"]);
    let y_dims = dims4(&t["y"]);
    let w_full = dims4(&t["w_full"]);
    let label = format!("{} {name} {precision:?}", be.kind());
    let views = (
        View::contiguous(x_dims),
        ops::weight_block(w_full, oc, ic / groups).unwrap(),
        View::contiguous(y_dims),
    );
    let geometry = ConvGeometry {
        groups,
        stride: [m("stride"); 2],
        padding: [m("padding"); 2],
    };
    let up = |k: &str| be.upload(&t[k].data).unwrap();
    let (x, w, b, dy) = (up("x"), up("w_full"), up("b_full"), up("dy"));
    let bias = (m("bias") == 1).then_some((&b, 0));
    let y = be.upload(&vec![f32::NAN; t["y"].data.len()]).unwrap();
    let args = |x, w, y, bias| ConvArgs {
        x: (x, views.0),
        w: (w, views.1),
        y: (y, views.2),
        bias,
        geometry,
        accumulate: false,
    };
    ops::conv2d(be, ConvPass::Forward, precision, &args(&x, &w, &y, bias)).unwrap();
    check(
        &format!("{label} y"),
        &be.download(&y).unwrap(),
        &t["y"].data,
        tol,
    );

    let dx = be.upload(&vec![f32::NAN; t["dx"].data.len()]).unwrap();
    ops::conv2d(be, ConvPass::Dgrad, precision, &args(&dx, &w, &dy, None)).unwrap();
    check(
        &format!("{label} dx"),
        &be.download(&dx).unwrap(),
        &t["dx"].data,
        tol,
    );

    let dw = be.upload(&vec![0.0; t["dw_full"].data.len()]).unwrap();
    let db = be.upload(&vec![0.0; t["db_full"].data.len()]).unwrap();
    let dbias = (m("bias") == 1).then_some((&db, 0));
    ops::conv2d(be, ConvPass::Wgrad, precision, &args(&x, &dw, &dy, dbias)).unwrap();
    check(
        &format!("{label} dw_full"),
        &be.download(&dw).unwrap(),
        &t["dw_full"].data,
        tol,
    );
    check(
        &format!("{label} db_full"),
        &be.download(&db).unwrap(),
        &t["db_full"].data,
        tol,
    );
}

#[test]
fn conv_matches_pytorch_on_every_backend() {
    for be in common::backends() {
        for name in ["conv_dense_slice", "conv_depthwise_s2", "conv_pointwise"] {
            run_case(be.as_ref(), name, Precision::F32, (2e-5, 2e-5));
            run_case(be.as_ref(), name, Precision::Tf32, (3e-2, 1e-2));
            // BF16 keeps 8 significant bits: about 8x TF32's rounding.
            run_case(be.as_ref(), name, Precision::Bf16, (2.5e-1, 8e-2));
        }
    }
}
