//! The PyTorch fixture of the tiny MobileNetV2 holds what the autograd
//! comparison will need, and agrees with our width rules: for each config,
//! PyTorch's gradient of every parameter is non-zero only inside the leading
//! block our `TensorSpec::shape_at` gives, and BN running statistics moved
//! only inside the active channels.

use slimmable::models::{self, Checkpoint, TensorRole};
use slimmable::tensor_io::{self, HostTensor};
use std::collections::HashMap;
use std::path::PathBuf;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Whether flat index `i` of a tensor of shape `full` is inside `block`.
fn inside(mut i: usize, full: &[usize], block: &[usize]) -> bool {
    let mut ok = true;
    for d in (0..full.len()).rev() {
        ok &= i % full[d] < block[d];
        i /= full[d];
    }
    ok
}

#[test]
fn gradients_and_statistics_live_in_the_slices_our_rules_give() {
    let io_path = path("models_tiny_mobilenet_v2_io.safetensors");
    let io: HashMap<String, HostTensor> = tensor_io::read(&io_path).unwrap();
    let meta = tensor_io::read_metadata(&io_path).unwrap();
    let ckpt_meta =
        tensor_io::read_metadata(&path("models_tiny_mobilenet_v2.safetensors")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&ckpt_meta["model_config"]).unwrap();
    let arch = models::build(&ckpt_meta["model"], &config).unwrap();
    let ckpt = Checkpoint::load(&path("models_tiny_mobilenet_v2.safetensors"), &arch).unwrap();
    let configs: Vec<(f64, usize)> = serde_json::from_str(&meta["configs"]).unwrap();
    assert_eq!(configs.len(), 2);
    let labels = &io["labels"].data;
    for (w, r) in configs {
        let key = format!("{w:?}x{r}");
        let x = &io[&format!("x/{r}")];
        assert_eq!(x.shape, [labels.len(), arch.image_channels, r, r]);
        let logits = &io[&format!("logits/{key}")];
        assert_eq!(logits.shape, [labels.len(), arch.classes]);
        assert_eq!(
            io[&format!("logits_recalibrated/{key}")].shape,
            logits.shape
        );

        // The stored loss is the mean cross-entropy of the stored logits.
        let ce: f64 = logits
            .data
            .chunks(arch.classes)
            .zip(labels)
            .map(|(row, &y)| {
                let m = row.iter().fold(f64::MIN, |a, &v| a.max(v as f64));
                let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                lse - row[y as usize] as f64
            })
            .sum::<f64>()
            / labels.len() as f64;
        let loss = io[&format!("loss/{key}")].data[0] as f64;
        assert!((ce - loss).abs() < 1e-5, "{key}: loss {loss} vs {ce}");

        let mut checked = 0;
        for spec in arch.tensors() {
            let (full, block) = (spec.full_shape(), spec.shape_at(w));
            let (t, what) = match spec.role {
                r if r.is_trainable() => (&io[&format!("grad/{key}/{}", spec.name)], "gradient"),
                TensorRole::BnRunningMean | TensorRole::BnRunningVar => (
                    &io[&format!("after/{key}/{}", spec.name)],
                    "running statistic",
                ),
                _ => continue,
            };
            assert_eq!(t.shape, full, "{key} {}", spec.name);
            let initial = ckpt.tensors.get(&spec.name).unwrap();
            let mut moved_inside = 0;
            for (i, &v) in t.data.iter().enumerate() {
                let base = if spec.role.is_trainable() {
                    0.0
                } else {
                    initial.data[i]
                };
                let moved = v != base;
                if inside(i, &full, &block) {
                    moved_inside += moved as usize;
                } else {
                    assert!(
                        !moved,
                        "{key} {}: {what} [{i}] outside {block:?}",
                        spec.name
                    );
                }
            }
            assert!(
                moved_inside > 0,
                "{key} {}: {what} zero in {block:?}",
                spec.name
            );
            checked += 1;
        }
        println!("{key}: loss {loss:.6}; {checked} tensors confined to their active slices");
    }
}
