//! MACs, parameters and parameter names against two referees:
//!
//! - the papers. MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381,
//!   Table 6) and the TF-slim model table it links: 1.0×/224: 300 M
//!   multiply-adds, 3.4 M parameters (TF-slim: 3.47 M); 0.35×/224: 59 M,
//!   1.7 M (TF-slim: 1.66 M). Those counts leave out BN γ/β; ours include
//!   them and report them apart. ResNet-20 (He et al. 2016, arXiv
//!   1512.03385, Table 6): 0.27 M parameters;
//! - PyTorch: `tools/reference_models.py` builds the same networks, runs a
//!   forward pass at each config and counts the MACs and parameters of the
//!   tensors it used, and lists every `state_dict` name and shape
//!   (metadata of `tests/fixtures/models_tiny_mobilenet_v2_io.safetensors`).

use slimmable::models::{self, MobileNetV2Config, ResNetConfig};
use slimmable::tensor_io;
use std::path::PathBuf;

fn fixture_metadata() -> std::collections::HashMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models_tiny_mobilenet_v2_io.safetensors");
    tensor_io::read_metadata(&path).unwrap()
}

/// The networks the PyTorch tool measured, built here from its configs.
fn reference_nets() -> serde_json::Map<String, serde_json::Value> {
    let meta = fixture_metadata();
    serde_json::from_str(&meta["state_dict_shapes"]).unwrap()
}

fn build(entry: &serde_json::Value) -> models::Architecture {
    models::build(entry["model"].as_str().unwrap(), &entry["config"]).unwrap()
}

#[test]
fn mobilenet_v2_imagenet_matches_the_paper() {
    let arch = MobileNetV2Config::imagenet().build().unwrap();
    println!(
        "MobileNetV2  ours: MACs   params (BN γ/β)        paper: MACs  params  TF-slim params"
    );
    let published = [(1.0, 300e6, 3.4e6, 3.47e6), (0.35, 59e6, 1.7e6, 1.66e6)];
    for (w, macs, params, slim_params) in published {
        let c = models::cost(&arch, w, 224).unwrap();
        let without_bn = (c.params - c.bn_params) as f64;
        println!(
            "{w:>4}×/224  {:>11} {:>9} ({:>6})   {:>9.0} M {:>5.1} M  {:>6.2} M",
            c.macs,
            c.params,
            c.bn_params,
            macs / 1e6,
            params / 1e6,
            slim_params / 1e6
        );
        // Published numbers are rounded to 1 M MACs and 0.01 M parameters.
        assert!((c.macs as f64 - macs).abs() <= 1e6, "{w}: {} MACs", c.macs);
        assert!(
            (without_bn - slim_params).abs() <= 0.01e6,
            "{w}: {without_bn} parameters without BN"
        );
    }
}

#[test]
fn resnet20_matches_the_paper() {
    let arch = ResNetConfig::resnet20(3, 10).build().unwrap();
    let c = models::cost(&arch, 1.0, 32).unwrap();
    println!("ResNet-20 1.0×/32: {} MACs, {} params", c.macs, c.params);
    // 0.27 M in the paper (option A shortcuts, no parameters); ours adds
    // two 1×1 projections (16·32 + 32·64 weights + their BN).
    assert!((c.params as f64 - 0.27e6).abs() <= 0.005e6, "{}", c.params);
}

#[test]
fn costs_match_pytorch_at_every_measured_config() {
    let nets = reference_nets();
    let costs: Vec<serde_json::Value> = serde_json::from_str(&fixture_metadata()["costs"]).unwrap();
    assert!(
        costs.len() >= 25,
        "the fixture lists {} configs",
        costs.len()
    );
    for c in &costs {
        let net = c["net"].as_str().unwrap();
        let (w, r) = (
            c["width"].as_f64().unwrap(),
            c["resolution"].as_u64().unwrap() as usize,
        );
        let ours = models::cost(&build(&nets[net]), w, r).unwrap();
        println!(
            "{net:<22} {w:>5}×/{r:<3} MACs {:>10} params {:>8}",
            ours.macs, ours.params
        );
        assert_eq!(ours.macs, c["macs"].as_u64().unwrap(), "{net} {w}x{r} MACs");
        assert_eq!(
            ours.params,
            c["params"].as_u64().unwrap(),
            "{net} {w}x{r} params"
        );
    }
}

#[test]
fn tensor_names_and_shapes_match_pytorch_state_dict() {
    for (label, entry) in reference_nets() {
        let arch = build(&entry);
        let ours: Vec<(String, Vec<usize>)> = arch
            .tensors()
            .into_iter()
            .map(|t| (t.name.clone(), t.full_shape()))
            .collect();
        let theirs: Vec<(String, Vec<usize>)> =
            serde_json::from_value(entry["tensors"].clone()).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{label}: tensor count");
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(o, t, "{label}: ours vs PyTorch state_dict, in order");
        }
        println!("{label}: {} tensors match", ours.len());
    }
}

#[test]
fn presets_are_the_configs_pytorch_measured() {
    let nets = reference_nets();
    let config = |k: &str| nets[k]["config"].clone();
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap();
    assert_eq!(
        json(serde_json::to_value(MobileNetV2Config::imagenet())),
        config("imagenet_mobilenet_v2")
    );
    assert_eq!(
        json(serde_json::to_value(MobileNetV2Config::small_image(1, 10))),
        config("small_mobilenet_v2")
    );
    assert_eq!(
        json(serde_json::to_value(ResNetConfig::resnet20(3, 10))),
        config("resnet20")
    );
}

#[test]
fn small_image_form_downsamples_8x_and_keeps_the_unsliced_ends() {
    let arch = MobileNetV2Config::small_image(1, 10).build().unwrap();
    let layers = models::cost_per_layer(&arch, 0.25, 32).unwrap();
    // The stem reads the 1 image channel at every width: 8 filters of 1×3×3
    // (make_divisible(32·0.25) = 8), stride 1.
    let stem = &layers[0];
    assert_eq!(
        (stem.name.as_str(), stem.output),
        ("features.0.0", [8, 32, 32])
    );
    assert_eq!(stem.params, 8 * 9);
    // 32 px / 8 = 4 px at the last 1×1 conv, which stays 1280 wide.
    let last = &layers[layers.len() - 3];
    assert_eq!(
        (last.name.as_str(), last.output),
        ("features.18.0", [1280, 4, 4])
    );
    // The classifier reads all 1280 features and writes every class.
    let fc = layers.last().unwrap();
    assert_eq!(
        (fc.name.as_str(), fc.params),
        ("classifier.0", 1280 * 10 + 10)
    );
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let arch = MobileNetV2Config::imagenet().build().unwrap();
    let msg = |r: slimmable::Result<models::Cost>| r.unwrap_err().to_string();
    assert!(msg(models::cost(&arch, 1.5, 224)).contains("outside (0, 1]"));
    assert!(msg(models::cost(&arch, 0.0, 224)).contains("outside (0, 1]"));
    assert!(msg(models::cost(&arch, 1.0, 0)).contains("0 px"));
    let mut bad = MobileNetV2Config::imagenet();
    bad.blocks[0][3] = 3;
    assert!(bad.build().unwrap_err().to_string().contains("s in {1, 2}"));
}
