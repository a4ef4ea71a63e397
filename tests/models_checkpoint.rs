//! Checkpoints: a file written by PyTorch (`tools/reference_models.py`)
//! loads here; ours round-trip; every kind of bad file is an error that
//! names the file and the tensor; a failed save leaves the old file as it was.

use safetensors::{Dtype, SafeTensors};
use slimmable::models::checkpoint::{ConfigStats, RunningStats};
use slimmable::models::{self, Checkpoint, MobileNetV2Config, ResNetConfig};
use slimmable::tensor_io;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models_tiny_mobilenet_v2.safetensors")
}

/// A fresh folder per test under cargo's temporary directory.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("models_checkpoint_{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `TINY` of tools/reference_models.py, written out here.
fn tiny() -> MobileNetV2Config {
    MobileNetV2Config {
        image_channels: 1,
        classes: 10,
        stem_channels: 16,
        stem_stride: 1,
        blocks: vec![[1, 8, 1, 1], [6, 16, 2, 2], [6, 24, 2, 2]],
        last_channels: 64,
    }
}

type Raw = (String, Dtype, Vec<usize>, Vec<u8>);
/// A named edit of the fixture's tensors and the error it must cause.
type BadCase<'a> = (&'a str, Box<dyn Fn(&mut Vec<Raw>)>, &'a str);

/// Copies the fixture to `dst`, letting `edit` change the tensor list and
/// the metadata: a way to write the bad files our `save` refuses to write.
fn rewrite(dst: &Path, edit: impl FnOnce(&mut Vec<Raw>, &mut HashMap<String, String>)) -> PathBuf {
    let bytes = std::fs::read(fixture()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut raw: Vec<Raw> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    let mut meta = tensor_io::read_metadata(&fixture()).unwrap();
    edit(&mut raw, &mut meta);
    let views = raw
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect::<Vec<_>>();
    std::fs::write(dst, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
    dst.to_path_buf()
}

fn load_err(path: &Path, arch: &models::Architecture) -> String {
    let e = Checkpoint::load(path, arch).unwrap_err().to_string();
    println!("{e}");
    assert!(
        e.contains(&path.display().to_string()),
        "names the file: {e}"
    );
    e
}

#[test]
fn pytorch_checkpoint_loads_with_every_tensor_checked() {
    let arch = tiny().build().unwrap();
    let ckpt = Checkpoint::load(&fixture(), &arch).unwrap();
    assert_eq!(ckpt.model, "slimmable_mobilenet_v2");
    assert_eq!(ckpt.widths, [0.25, 0.375, 0.5, 0.75, 1.0]);
    assert_eq!(ckpt.resolutions, [28, 24, 20, 16]);
    // Every f32 tensor is the file's own, bit for bit; counters are PyTorch's 0.
    let bytes = std::fs::read(fixture()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let raw: HashMap<String, Vec<f32>> = st
        .tensors()
        .into_iter()
        .filter(|(_, v)| v.dtype() == Dtype::F32)
        .map(|(n, v)| (n, bytemuck::pod_collect_to_vec(v.data())))
        .collect();
    let specs = arch.tensors();
    assert_eq!(ckpt.tensors.len() + ckpt.batches_tracked.len(), specs.len());
    for (name, t) in &ckpt.tensors {
        assert_eq!(t.data, raw[name], "{name}");
    }
    assert!(ckpt.batches_tracked.values().all(|&n| n == 0));
    // The per-config statistics PyTorch recalibrated, at the active widths.
    let configs: Vec<(f64, usize)> = ckpt
        .bn_stats
        .iter()
        .map(|c| (c.width, c.resolution))
        .collect();
    assert_eq!(configs, [(1.0, 28), (0.375, 20)]);
    for config in &ckpt.bn_stats {
        assert_eq!(config.running.len(), arch.batch_norms().len());
        for bn in arch.batch_norms() {
            let s = &config.running[&bn.name];
            let c = bn.channels.at(config.width);
            assert_eq!((s.mean.len(), s.var.len()), (c, c), "{}", bn.name);
            let key = format!("bn_stats/{}/{}.running_var", config.key(), bn.name);
            assert_eq!(s.var, raw[&key]);
            assert!(s.var.iter().all(|&v| v > 0.0), "variances are positive");
        }
    }
    println!(
        "loaded {} tensors, {} BN counters, {} configs of BN statistics",
        ckpt.tensors.len(),
        ckpt.batches_tracked.len(),
        ckpt.bn_stats.len()
    );
}

#[test]
fn save_then_load_gives_the_same_state() {
    let dir = scratch("round_trip");
    // A PyTorch-written checkpoint, saved by us and loaded again.
    let arch = tiny().build().unwrap();
    let theirs = Checkpoint::load(&fixture(), &arch).unwrap();
    let path = dir.join("tiny.safetensors");
    theirs.save(&arch, &path).unwrap();
    assert_eq!(Checkpoint::load(&path, &arch).unwrap(), theirs);

    // A fresh ResNet with a counter and statistics of its own.
    let arch = ResNetConfig::resnet20(3, 10).build().unwrap();
    let mut ours = Checkpoint::initial(&arch, &[0.25, 1.0], &[32, 24], 7).unwrap();
    ours.batches_tracked
        .insert("layer2.0.bn1.num_batches_tracked".into(), 12345);
    let running = arch
        .batch_norms()
        .iter()
        .map(|bn| {
            let c = bn.channels.at(0.25);
            let stats = RunningStats {
                mean: (0..c).map(|i| i as f32 * 0.5).collect(),
                var: (0..c).map(|i| 1.0 + i as f32).collect(),
            };
            (bn.name.clone(), stats)
        })
        .collect();
    ours.bn_stats.push(ConfigStats {
        width: 0.25,
        resolution: 24,
        running,
    });
    let path = dir.join("resnet.safetensors");
    ours.save(&arch, &path).unwrap();
    assert_eq!(Checkpoint::load(&path, &arch).unwrap(), ours);
    // PyTorch's names and types on disk: readable as plain f32 tensors too.
    let meta = tensor_io::read_metadata(&path).unwrap();
    assert_eq!(meta["model"], "slimmable_resnet");
    assert_eq!(meta["bn_stats_configs"], "[[0.25,24]]");
}

#[test]
fn truncated_file_is_a_clear_error() {
    let dir = scratch("truncated");
    let arch = tiny().build().unwrap();
    let bytes = std::fs::read(fixture()).unwrap();
    for cut in [4, 100, bytes.len() / 2, bytes.len() - 1] {
        let path = dir.join(format!("cut{cut}.safetensors"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = load_err(&path, &arch);
        assert!(e.contains("truncated"), "{e}");
    }
    let e = load_err(&dir.join("absent.safetensors"), &arch);
    assert!(e.contains("No such file"), "{e}");
}

#[test]
fn another_model_or_configuration_is_refused() {
    let resnet = ResNetConfig::resnet20(1, 10).build().unwrap();
    let e = load_err(&fixture(), &resnet);
    assert!(
        e.contains(
            "checkpoint of model 'slimmable_mobilenet_v2', but the model here is 'slimmable_resnet'"
        ),
        "{e}"
    );
    let mut eleven = tiny();
    eleven.classes = 11;
    let e = load_err(&fixture(), &eleven.build().unwrap());
    assert!(
        e.contains("\"classes\":10") && e.contains("\"classes\":11"),
        "{e}"
    );

    let dir = scratch("metadata");
    let arch = tiny().build().unwrap();
    let path = rewrite(&dir.join("plain.safetensors"), |_, meta| {
        meta.clear();
    });
    assert!(load_err(&path, &arch).contains("metadata has no 'format'"));
}

/// Applies `f` to the fixture's tensor `name`.
fn set(raw: &mut [Raw], name: &str, f: &dyn Fn(&mut Raw)) {
    f(raw.iter_mut().find(|r| r.0 == name).unwrap());
}

#[test]
fn each_bad_tensor_is_named() {
    let dir = scratch("bad_tensors");
    let arch = tiny().build().unwrap();
    let cases: Vec<BadCase> = vec![
        (
            "wrong_shape",
            Box::new(|raw| {
                set(raw, "features.3.body.0.weight", &|r| {
                    r.2 = vec![96, 8, 1, 2]
                });
            }),
            "tensor 'features.3.body.0.weight' has shape [96, 8, 1, 2]; slimmable_mobilenet_v2 expects [96, 16, 1, 1]",
        ),
        (
            "missing",
            Box::new(|raw| raw.retain(|r| r.0 != "classifier.0.bias")),
            "missing tensor 'classifier.0.bias' (expected shape [10])",
        ),
        (
            "missing_counter",
            Box::new(|raw| raw.retain(|r| r.0 != "features.2.body.1.num_batches_tracked")),
            "missing tensor 'features.2.body.1.num_batches_tracked'",
        ),
        (
            "unexpected",
            Box::new(|raw| {
                raw.push((
                    "features.9.0.weight".into(),
                    Dtype::F32,
                    vec![1],
                    vec![0; 4],
                ));
            }),
            "unexpected tensor 'features.9.0.weight'",
        ),
        (
            "f64",
            Box::new(|raw| {
                set(raw, "classifier.0.bias", &|r| {
                    r.1 = Dtype::F64;
                    r.2 = vec![5];
                });
            }),
            "tensor 'classifier.0.bias' is F64",
        ),
        (
            "float_counter",
            Box::new(|raw| {
                set(raw, "features.0.1.num_batches_tracked", &|r| {
                    r.1 = Dtype::F32;
                    r.2 = vec![2];
                });
            }),
            "tensor 'features.0.1.num_batches_tracked' is F32 [2]; expected an I64 scalar",
        ),
        (
            "stats_shape",
            Box::new(|raw| {
                // Width 0.375 uses 8 of the stem's 16 channels.
                set(raw, "bn_stats/0.375x20/features.0.1.running_var", &|r| {
                    r.2 = vec![16];
                    r.3 = vec![0; 64];
                });
            }),
            "tensor 'bn_stats/0.375x20/features.0.1.running_var' has shape [16]; width 0.375 gives [8]",
        ),
        (
            "stats_missing",
            Box::new(|raw| raw.retain(|r| r.0 != "bn_stats/1.0x28/features.5.body.7.running_mean")),
            "missing tensor 'bn_stats/1.0x28/features.5.body.7.running_mean' (expected shape [24])",
        ),
        (
            "stats_unlisted",
            Box::new(|raw| {
                raw.push((
                    "bn_stats/0.5x16/features.0.1.running_mean".into(),
                    Dtype::F32,
                    vec![8],
                    vec![0; 32],
                ));
            }),
            "tensor 'bn_stats/0.5x16/features.0.1.running_mean' is for config 0.5x16, which metadata 'bn_stats_configs' does not list",
        ),
    ];
    for (label, edit, expected) in cases {
        let path = rewrite(&dir.join(format!("{label}.safetensors")), |raw, _| {
            edit(raw)
        });
        let e = load_err(&path, &arch);
        assert!(e.contains(expected), "{label}: got {e}");
    }
}

#[test]
fn a_failed_save_leaves_the_old_file_untouched() {
    let dir = scratch("no_overwrite");
    let arch = tiny().build().unwrap();
    let good = Checkpoint::load(&fixture(), &arch).unwrap();
    let path = dir.join("ckpt.safetensors");
    good.save(&arch, &path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let mut bad = good.clone();
    let w = bad.tensors.get_mut("features.1.body.3.weight").unwrap();
    w.shape = vec![8, 8];
    w.data.truncate(64);
    let e = bad.save(&arch, &path).unwrap_err().to_string();
    println!("{e}");
    assert!(
        e.contains("checkpoint not written: tensor 'features.1.body.3.weight' has shape [8, 8]")
    );

    let mut bad = good.clone();
    bad.widths.push(1.5);
    let e = bad.save(&arch, &path).unwrap_err().to_string();
    assert!(e.contains("1.5 is outside (0, 1]"), "{e}");

    // A state of another model is refused before anything is written.
    let resnet = ResNetConfig::resnet20(1, 10).build().unwrap();
    assert!(good.save(&resnet, &path).is_err());

    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old file is intact"
    );
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file is left behind");

    // A folder that does not exist: an error, not a panic.
    assert!(
        good.save(&arch, &dir.join("no/such/dir/ckpt.safetensors"))
            .is_err()
    );
}

#[test]
fn initial_checkpoint_is_valid_for_every_model() {
    let nets = [
        MobileNetV2Config::imagenet().build().unwrap(),
        MobileNetV2Config::small_image(3, 100).build().unwrap(),
        ResNetConfig::resnet20(1, 10).build().unwrap(),
        tiny().build().unwrap(),
    ];
    for arch in &nets {
        let ckpt = Checkpoint::initial(arch, &[0.25, 1.0], &[32], 1).unwrap();
        let sizes: BTreeMap<&str, usize> = ckpt
            .tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.data.len()))
            .collect();
        assert_eq!(
            sizes.len() + ckpt.batches_tracked.len(),
            arch.tensors().len()
        );
        assert!(ckpt.validate(arch).is_ok());
    }
}

/// A configuration from a damaged checkpoint with absurd numbers is an
/// error at once: 10^15 repeats looped until memory ran out, and a huge
/// expansion overflowed the channel counts.
#[test]
fn absurd_model_configurations_are_refused_at_once() {
    let mut config = serde_json::to_value(MobileNetV2Config::imagenet()).unwrap();
    config["blocks"][1][2] = serde_json::json!(1_000_000_000_000_000u64);
    let err = models::build("slimmable_mobilenet_v2", &config).unwrap_err();
    assert!(err.to_string().contains("repeats"), "{err}");
    let mut config = serde_json::to_value(MobileNetV2Config::imagenet()).unwrap();
    config["blocks"][1][0] = serde_json::json!(1u64 << 62);
    let err = models::build("slimmable_mobilenet_v2", &config).unwrap_err();
    assert!(err.to_string().contains("expansion"), "{err}");
    let mut config = serde_json::to_value(ResNetConfig::resnet20(3, 10)).unwrap();
    config["stem_channels"] = serde_json::json!(1u64 << 40);
    let err = models::build("slimmable_resnet", &config).unwrap_err();
    assert!(err.to_string().contains("stem channels"), "{err}");
}
