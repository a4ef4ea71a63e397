//! `slimmable op --op resize_pack` as a user runs it: a PyTorch fixture
//! through the binary on every backend, and a bad request as a clear error
//! with a non-zero exit.

mod common;

use slimmable::tensor_io;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    PathBuf::from(format!("{root}/tests/fixtures/{name}"))
}

fn params_of(path: &PathBuf) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().as_ref().unwrap()["params"].clone()
}

#[test]
fn op_resize_pack_matches_the_fixture_on_every_backend() {
    let input = fixture("resize_antialias_u8hwc_rgb.safetensors");
    let params = params_of(&input);
    let expected = tensor_io::read(&input).unwrap();
    let dir = std::env::temp_dir().join(format!("slimmable-resize-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for be in common::backends() {
        let kind = be.kind().to_string();
        let out = dir.join(format!("{kind}.safetensors"));
        let o = common::run_op("resize_pack", &params, &input, &out, &kind);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got = tensor_io::read(&out).unwrap();
        assert_eq!(got.len(), 5, "{kind}: {:?}", got.keys());
        for (name, t) in &got {
            let want = &expected[&name.replace("out", "expect")];
            assert_eq!(t.shape, want.shape);
            let max = t
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max <= 1e-5, "{kind} {name}: max abs err {max}");
        }
    }
}

#[test]
fn op_resize_pack_refuses_a_mean_of_the_wrong_length() {
    let input = fixture("resize_bilinear_u8hwc_rgb.safetensors");
    let params = params_of(&input).replace("\"mean\": [0.485, 0.456, 0.406]", "\"mean\": [0.485]");
    assert!(params.contains("[0.485]"), "{params}");
    let out = std::env::temp_dir().join("slimmable-resize-cli-never-written.safetensors");
    let o = common::slimmable(&[
        "op",
        "--op",
        "resize_pack",
        "--params",
        &params,
        "--inputs",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("one mean and one std per channel"), "{err}");
    assert!(!out.exists());
}
