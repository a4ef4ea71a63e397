//! What a training run does: model, data, the width × resolution grid, the
//! optimizer and schedule. Presets give the README's main job (small enough
//! for two CPU cores) and the full recipe of issue 7.

use super::mode::TrainMode;
use crate::backend::Precision;
use crate::data::DatasetKind;
use crate::error::{Error, Result};
use crate::models::{self, Architecture, MobileNetV2Config};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model name and its configuration (see [`crate::models::build`]).
    pub model: String,
    pub model_config: serde_json::Value,
    pub dataset: DatasetKind,
    /// Width range sampled during training; its ends are always trained.
    pub width_min: f64,
    pub width_max: f64,
    /// Input resolutions; the first is the full resolution.
    pub resolutions: Vec<usize>,
    /// Widths evaluated (and recalibrated) after training.
    pub eval_widths: Vec<f64>,
    /// What each iteration trains (saved as the mode's name).
    pub mode: TrainMode,
    pub batch_size: usize,
    pub epochs: usize,
    /// Stop after this many training images per epoch (0: all).
    pub images_per_epoch: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub warmup_epochs: usize,
    pub crop_padding: usize,
    pub flip: bool,
    pub seed: u64,
    pub tf32: bool,
    /// BN recalibration: batches of `recal_batch_size` training images.
    pub recal_batches: usize,
    pub recal_batch_size: usize,
    /// Test images evaluated per config (0: all).
    pub eval_images: usize,
}

impl TrainConfig {
    /// The issue-7 recipe: small-image MobileNetV2, widths 0.25–1.0,
    /// resolutions 28/24/20/16, batch 128, lr 0.1, wd 5e-4, 12 epochs.
    pub fn fmnist_full() -> Self {
        TrainConfig {
            model: models::mobilenet_v2::MODEL_NAME.into(),
            model_config: serde_json::to_value(MobileNetV2Config::small_image(1, 10))
                .unwrap_or_default(),
            dataset: DatasetKind::FashionMnist,
            width_min: 0.25,
            width_max: 1.0,
            resolutions: vec![28, 24, 20, 16],
            eval_widths: vec![0.25, 0.5, 0.75, 1.0],
            mode: TrainMode::MutualNet,
            batch_size: 128,
            epochs: 12,
            images_per_epoch: 0,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: true,
            warmup_epochs: 0,
            crop_padding: 2,
            flip: true,
            seed: 0,
            tf32: true,
            recal_batches: 10,
            recal_batch_size: 1000,
            eval_images: 0,
        }
    }

    /// The main job on a machine without a GPU: a narrow MobileNetV2 and
    /// three slices of 6400 images, so that training and the 4×4
    /// evaluation grid (2000 test images a config) finish in minutes on
    /// two cores.
    pub fn fmnist_small() -> Self {
        let net = MobileNetV2Config {
            image_channels: 1,
            classes: 10,
            stem_channels: 8,
            stem_stride: 1,
            blocks: vec![[1, 8, 1, 1], [4, 16, 2, 2], [4, 24, 2, 2], [4, 32, 1, 1]],
            last_channels: 64,
        };
        TrainConfig {
            model_config: serde_json::to_value(net).unwrap_or_default(),
            batch_size: 32,
            epochs: 3,
            images_per_epoch: 6400,
            lr: 0.05,
            warmup_epochs: 0,
            recal_batches: 2,
            recal_batch_size: 200,
            eval_images: 2000,
            ..Self::fmnist_full()
        }
    }

    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "fmnist-small" => Ok(Self::fmnist_small()),
            "fmnist-full" => Ok(Self::fmnist_full()),
            other => Err(Error::invalid(
                "--preset",
                format!("'{other}' is not a preset; use fmnist-small or fmnist-full"),
            )),
        }
    }

    pub fn architecture(&self) -> Result<Architecture> {
        models::build(&self.model, &self.model_config)
    }

    pub fn precision(&self) -> Precision {
        if self.tf32 {
            Precision::Tf32
        } else {
            Precision::F32
        }
    }

    /// Checks the settings that would otherwise fail deep inside a run.
    pub fn check(&self) -> Result<()> {
        let bad = |r: String| Err(Error::invalid("training configuration", r));
        if !(self.width_min > 0.0 && self.width_min <= self.width_max && self.width_max <= 1.0) {
            return bad(format!(
                "widths {}..{} must satisfy 0 < min ≤ max ≤ 1",
                self.width_min, self.width_max
            ));
        }
        if self.resolutions.is_empty() || self.eval_widths.is_empty() {
            return bad("give at least one resolution and one evaluation width".into());
        }
        // Each config keeps its own BN statistics in the checkpoint: a
        // repeated one would only fail at the final save, after the run.
        for (i, r) in self.resolutions.iter().enumerate() {
            if *r > crate::ops::resize::MAX_EXTENT {
                return bad(format!(
                    "resolution {r} is above the resize kernels' limit of {} pixels a side (--resolutions)",
                    crate::ops::resize::MAX_EXTENT
                ));
            }
            if *r == 0 || self.resolutions[..i].contains(r) {
                return bad(format!(
                    "resolution {r} in {:?} is zero or repeated; give each resolution once (--resolutions)",
                    self.resolutions
                ));
            }
        }
        for (i, w) in self.eval_widths.iter().enumerate() {
            if !(*w > 0.0 && *w <= 1.0) {
                return bad(format!(
                    "evaluation width {w} is outside (0, 1]; give fractions of the full width such as 0.25,0.5,0.75,1.0 (--eval-widths)"
                ));
            }
            if self.eval_widths[..i].contains(w) {
                return bad(format!(
                    "evaluation width {w} in {:?} is repeated; give each width once (--eval-widths)",
                    self.eval_widths
                ));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= f32::MAX as f64) {
            return bad(format!(
                "learning rate {:e} is not a positive number the f32 optimizer can hold; give e.g. 0.1 (--lr)",
                self.lr
            ));
        }
        if self.batch_size < 2 {
            return bad("batch norm needs batches of at least 2".into());
        }
        // The rest cannot be given on the command line, only read from a
        // saved run's settings: a bad value there means a damaged file.
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return bad(format!("momentum {} is outside [0, 1)", self.momentum));
        }
        if !(self.weight_decay.is_finite()
            && self.weight_decay >= 0.0
            && self.weight_decay <= f32::MAX as f64)
        {
            return bad(format!(
                "weight decay {:e} is not a non-negative number the f32 optimizer can hold",
                self.weight_decay
            ));
        }
        if self.recal_batches == 0 || self.recal_batch_size < 2 {
            return bad(format!(
                "BN recalibration over {} batch(es) of {} images: give at least 1 batch of at least 2",
                self.recal_batches, self.recal_batch_size
            ));
        }
        let arch = self.architecture()?;
        self.check_tensor_sizes(&arch)?;
        Ok(())
    }

    /// Two evaluated widths that round to the same channels in every layer
    /// are one network: evaluating it twice would list one config twice in
    /// the grid and the query table. Checked for a new run only: a run
    /// saved before this check (e.g. `--eval-widths 0.9,1.0` on
    /// `fmnist-small`, whose widths from 0.875 up are one network) still
    /// resumes and evaluates.
    pub fn check_eval_widths_differ(&self) -> Result<()> {
        let mut seen: Vec<(f64, Vec<usize>)> = Vec::new();
        for &w in &self.eval_widths {
            let c = self.layer_channels(w)?;
            if let Some((earlier, _)) = seen.iter().find(|(_, s)| *s == c) {
                return Err(Error::invalid(
                    "training configuration",
                    format!(
                        "evaluation widths {earlier} and {w} give the same channels in every layer, so the same network; keep one of them (--eval-widths)"
                    ),
                ));
            }
            seen.push((w, c));
        }
        Ok(())
    }

    /// Whether the trained width range's two ends round to the same
    /// channels in every layer, so that the sandwich trains one network
    /// four times an iteration (e.g. 0.9–1.0 on `fmnist-small`).
    pub fn trained_widths_are_one_network(&self) -> Result<bool> {
        Ok(self.width_min < self.width_max
            && self.layer_channels(self.width_min)? == self.layer_channels(self.width_max)?)
    }

    /// Each layer's output channels at width `w`.
    fn layer_channels(&self, w: f64) -> Result<Vec<usize>> {
        let layers = models::cost::cost_per_layer(&self.architecture()?, w, self.resolutions[0])?;
        Ok(layers.iter().map(|l| l.output[0]).collect())
    }

    /// Every tensor a run makes must fit the conv kernels' signed 32-bit
    /// element indexing (`View::check_signed_32`): the packed batch of all
    /// resolutions, each resolution's input, and each layer's output at
    /// full width, for the largest batch (training, recalibration or
    /// evaluation). Found here, before a folder is made, rather than by the
    /// recalibration after a whole run. Counted in u128: a damaged file's
    /// batch size must not overflow the count.
    fn check_tensor_sizes(&self, arch: &Architecture) -> Result<()> {
        let limit = i32::MAX as u128;
        let largest_batch = self
            .batch_size
            .max(self.recal_batch_size)
            .max(super::evaluate::EVAL_BATCH) as u128;
        let channels = arch.image_channels as u128;
        let pixels = |r: usize| (r as u128) * (r as u128);
        let packed: u128 = self.resolutions.iter().map(|&r| pixels(r)).sum::<u128>()
            * self.batch_size as u128
            * channels;
        let mut largest = packed;
        for &r in &self.resolutions {
            largest = largest.max(largest_batch * channels * pixels(r));
            for layer in models::cost::cost_per_layer(arch, 1.0, r)? {
                let [c, h, w] = layer.output.map(|d| d as u128);
                largest = largest.max(largest_batch * c * h * w);
            }
        }
        if largest > limit {
            return Err(Error::invalid(
                "training configuration",
                format!(
                    "resolutions {:?} with batches of up to {largest_batch} make a tensor of {largest} elements, beyond the conv kernels' signed 32-bit indexing ({limit}); give smaller --resolutions",
                    self.resolutions
                ),
            ));
        }
        Ok(())
    }

    /// The evaluated configs, width-major (index = width index times the
    /// number of resolutions, plus the resolution index). One more BN
    /// statistics slot (the last) serves training.
    pub fn grid(&self) -> Vec<(f64, usize)> {
        self.eval_widths
            .iter()
            .flat_map(|&w| self.resolutions.iter().map(move |&r| (w, r)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings only a saved run's file carries are checked too: a damaged
    /// file had aborted the process (a 1.3 TB allocation for a crop
    /// padding of 100 000) or trained with nonsense.
    #[test]
    fn settings_from_a_saved_file_are_checked() {
        assert!(TrainConfig::fmnist_small().check().is_ok());
        assert!(TrainConfig::fmnist_full().check().is_ok());
        type Damage = fn(&mut TrainConfig);
        let cases: [(Damage, &str); 6] = [
            (|c| c.momentum = 1.0, "momentum"),
            (|c| c.momentum = f64::NAN, "momentum"),
            (|c| c.weight_decay = -1e-4, "weight decay"),
            (|c| c.recal_batches = 0, "recalibration"),
            (|c| c.recal_batch_size = 1, "recalibration"),
            (|c| c.resolutions = vec![28, 4096], "32-bit indexing"),
        ];
        // fmnist-small's widths from 0.875 up are one network: refused for
        // a new run, not for a saved one (which check() sees on resume).
        let mut same = TrainConfig::fmnist_small();
        same.eval_widths = vec![0.9, 1.0];
        assert!(same.check().is_ok());
        let err = same.check_eval_widths_differ().unwrap_err().to_string();
        assert!(err.contains("same network"), "{err}");
        // The same for the trained range: noted, not refused.
        let mut narrow_range = TrainConfig::fmnist_small();
        assert!(!narrow_range.trained_widths_are_one_network().unwrap());
        narrow_range.width_min = 0.9;
        assert!(narrow_range.trained_widths_are_one_network().unwrap());
        narrow_range.width_min = 1.0;
        assert!(!narrow_range.trained_widths_are_one_network().unwrap());
        for (change, needle) in cases {
            let mut cfg = TrainConfig::fmnist_small();
            change(&mut cfg);
            let err = cfg.check().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(needle), "{needle}: got '{err}'");
        }
    }
}
