//! `slimmable train --resume`: the run's saved settings, and the options
//! given beside the flag that would change them.

use crate::data::DatasetKind;
use crate::error::{Error, Result};
use crate::tensor_io;
use crate::train::TrainConfig;
use std::path::Path;

/// The settings a run saved beside its checkpoint, for `--resume`.
pub fn saved_config(ckpt_path: &Path) -> Result<TrainConfig> {
    if !ckpt_path.exists() {
        return Err(Error::io(
            ckpt_path,
            "nothing to resume: no checkpoint here; drop --resume to start a new run",
        ));
    }
    let opt_path = crate::train::optimizer_path(ckpt_path);
    if !opt_path.exists() {
        return Err(Error::io(
            &opt_path,
            "missing: --resume needs the optimizer state saved with the checkpoint; restore it, or start a new run with --overwrite",
        ));
    }
    crate::train::train_config_in(&tensor_io::read_metadata(&opt_path)?, &opt_path)
}

/// The options given beside `--resume` that change the saved run's
/// settings, each named with both values: a resumed run is the same run.
/// `preset` and `dataset` are the `--preset` and `--dataset` given.
pub fn conflicts(
    saved: &TrainConfig,
    given: &TrainConfig,
    preset: Option<&str>,
    dataset: Option<DatasetKind>,
) -> Result<()> {
    let (s, g) = (
        serde_json::to_value(saved).unwrap_or_default(),
        serde_json::to_value(given).unwrap_or_default(),
    );
    let flag = |field: &str| match field {
        "width_min" | "width_max" => "--widths",
        "resolutions" => "--resolutions",
        "eval_widths" => "--eval-widths",
        "mode" => "--mode",
        "dataset" => "--dataset",
        "epochs" => "--epochs",
        "images_per_epoch" => "--images-per-epoch",
        "lr" => "--lr",
        "warmup_epochs" => "--warmup-epochs",
        "seed" => "--seed",
        "tf32" => "--f32",
        "eval_images" => "--eval-images",
        _ => "--preset",
    };
    let mut conflicts = Vec::new();
    if let (Some(s), Some(g)) = (s.as_object(), g.as_object()) {
        let dataset_differs = s.get("dataset") != g.get("dataset");
        for (k, sv) in s {
            // (--dataset sets the flip with the dataset, and only then does
            // the flip differ: the dataset names the change once.)
            if k == "flip" && dataset_differs {
                continue;
            }
            if g.get(k) != Some(sv) {
                let given = g.get(k).map_or("none".into(), |v| v.to_string());
                conflicts.push(format!("{} ({k}: saved {sv}, given {given})", flag(k)));
            }
        }
    }
    if let Some(p) = preset {
        let named = TrainConfig::preset(p)?;
        if (named.model_config != saved.model_config)
            // (--dataset replaces the preset's dataset.)
            || (dataset.unwrap_or(named.dataset) != saved.dataset)
            || (named.batch_size != saved.batch_size)
        {
            conflicts.push(format!(
                "--preset ({p}: another model, dataset or batch than the run's)"
            ));
        }
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "--resume",
        format!(
            "a resumed run keeps the settings it was started with; these options change them: {}. Drop them to continue the run, or start a new run with --overwrite or another --out",
            conflicts.join("; ")
        ),
    ))
}
