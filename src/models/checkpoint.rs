//! Checkpoints: safetensors files with PyTorch parameter names, so the
//! reference model in `tools/reference_models.py` loads them with
//! `safetensors.torch.load_file` + `load_state_dict` and writes files that
//! load here.
//!
//! Contents:
//! - every tensor of the model's `state_dict` at full size (f32;
//!   `num_batches_tracked` as PyTorch's int64 scalar);
//! - per width×resolution config, the BN running statistics of its active
//!   channels, as `bn_stats/{width}x{resolution}/{bn}.running_mean` and
//!   `.running_var` (width written as Python's `repr`, e.g. `0.25`, `1.0`);
//! - string metadata: `format`, `model`, `model_config` (JSON), `widths`,
//!   `resolutions` and `bn_stats_configs` (JSON lists).
//!
//! Saving validates everything first and writes through a temporary file
//! and a rename; loading validates the model, its configuration and every
//! tensor's name, dtype and shape, and names the first tensor that is wrong.

use super::Architecture;
use super::init::initial_tensors;
use super::layers::TensorRole;
use super::width::check_width;
use crate::error::{Error, Result};
use crate::tensor_io::{self, HostTensor};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Written into every checkpoint; bumped if the layout changes.
pub const FORMAT: &str = "slimmable.checkpoint.v1";

const BN_STATS_PREFIX: &str = "bn_stats/";

/// Running statistics of one BN's active channels.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// BN statistics recalibrated for one width×resolution config, by BN name.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigStats {
    pub width: f64,
    pub resolution: usize,
    pub running: BTreeMap<String, RunningStats>,
}

impl ConfigStats {
    /// `0.25x28`: the config's part of the tensor names.
    pub fn key(&self) -> String {
        config_key(self.width, self.resolution)
    }
}

/// Width as Python's `repr` writes a float (`1.0`, `0.25`): Rust's `{:?}`
/// prints the same shortest round-trip form.
fn config_key(width: f64, resolution: usize) -> String {
    format!("{width:?}x{resolution}")
}

/// A model's state as stored on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: String,
    pub model_config: serde_json::Value,
    pub widths: Vec<f64>,
    pub resolutions: Vec<usize>,
    /// Parameters and running statistics, full size, by PyTorch name.
    pub tensors: BTreeMap<String, HostTensor>,
    /// `num_batches_tracked` of each BN, by tensor name.
    pub batches_tracked: BTreeMap<String, i64>,
    pub bn_stats: Vec<ConfigStats>,
    /// The dataset the run trained on (`fashion-mnist`, `mnist`), so that
    /// `eval` finds it without the optimizer state. `None` in checkpoints
    /// written before 2026-11-28 and in fresh initial weights.
    pub dataset: Option<String>,
}

impl Checkpoint {
    /// A freshly initialized model (see [`super::init`]) with no
    /// per-config statistics yet.
    pub fn initial(
        arch: &Architecture,
        widths: &[f64],
        resolutions: &[usize],
        seed: u64,
    ) -> Result<Self> {
        let batches_tracked = arch
            .tensors()
            .into_iter()
            .filter(|s| s.role == TensorRole::BnBatchesTracked)
            .map(|s| (s.name, 0))
            .collect();
        let ckpt = Checkpoint {
            model: arch.model.clone(),
            model_config: arch.config.clone(),
            widths: widths.to_vec(),
            resolutions: resolutions.to_vec(),
            tensors: initial_tensors(arch, seed)?,
            batches_tracked,
            bn_stats: vec![],
            dataset: None,
        };
        ckpt.validate(arch)
            .map_err(|reason| Error::invalid("initial checkpoint", reason))?;
        Ok(ckpt)
    }

    /// Writes the checkpoint atomically. It is validated against `arch`
    /// first, so an invalid state fails here and the file at `path`, if
    /// any, is left as it was.
    pub fn save(&self, arch: &Architecture, path: &Path) -> Result<()> {
        tensor_io::write_atomic(path, &self.to_bytes(arch, path)?)
    }

    /// The checkpoint file's bytes (validated against `arch`; `path` names
    /// the file they are meant for in errors), for a caller that writes it
    /// together with another file.
    pub fn to_bytes(&self, arch: &Architecture, path: &Path) -> Result<Vec<u8>> {
        self.validate(arch)
            .map_err(|reason| Error::io(path, format!("checkpoint not written: {reason}")))?;
        let mut blobs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.tensors {
            blobs.push((
                name.clone(),
                Dtype::F32,
                t.shape.clone(),
                f32_bytes(&t.data),
            ));
        }
        for (name, &n) in &self.batches_tracked {
            blobs.push((name.clone(), Dtype::I64, vec![], n.to_le_bytes().to_vec()));
        }
        for config in &self.bn_stats {
            for (bn, stats) in &config.running {
                let base = format!("{BN_STATS_PREFIX}{}/{bn}", config.key());
                let c = stats.mean.len();
                blobs.push((
                    format!("{base}.running_mean"),
                    Dtype::F32,
                    vec![c],
                    f32_bytes(&stats.mean),
                ));
                blobs.push((
                    format!("{base}.running_var"),
                    Dtype::F32,
                    vec![c],
                    f32_bytes(&stats.var),
                ));
            }
        }
        let views = blobs
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| Error::io(path, format!("tensor '{name}': {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        safetensors::serialize(views, Some(self.metadata()))
            .map_err(|e| Error::io(path, format!("serializing the checkpoint: {e}")))
    }

    fn metadata(&self) -> HashMap<String, String> {
        let configs: Vec<(f64, usize)> = self
            .bn_stats
            .iter()
            .map(|c| (c.width, c.resolution))
            .collect();
        let mut meta = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("model".to_string(), self.model.clone()),
            ("model_config".to_string(), self.model_config.to_string()),
            ("widths".to_string(), json(&self.widths)),
            ("resolutions".to_string(), json(&self.resolutions)),
            ("bn_stats_configs".to_string(), json(&configs)),
        ]);
        if let Some(d) = &self.dataset {
            meta.insert("dataset".to_string(), d.clone());
        }
        meta
    }

    /// Reads and validates a checkpoint for `arch`. Every failure names the
    /// file and, where it is about a tensor, the tensor.
    pub fn load(path: &Path, arch: &Architecture) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let fail = |reason: String| Error::io(path, reason);
        let st = SafeTensors::deserialize(&bytes).map_err(|e| {
            fail(format!(
                "not a complete safetensors file ({} bytes; truncated or not a checkpoint?): {e}",
                bytes.len()
            ))
        })?;
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| fail(format!("unreadable safetensors header: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            meta.get(key).ok_or_else(|| {
                fail(format!(
                    "metadata has no '{key}': not a slimmable checkpoint (format {FORMAT})"
                ))
            })
        };
        if field("format")? != FORMAT {
            return Err(fail(format!(
                "format '{}' is not '{FORMAT}'",
                field("format")?
            )));
        }
        let model = field("model")?.clone();
        if model != arch.model {
            return Err(fail(format!(
                "checkpoint of model '{model}', but the model here is '{}'",
                arch.model
            )));
        }
        let parse = |key: &str| -> Result<serde_json::Value> {
            serde_json::from_str(field(key)?)
                .map_err(|e| fail(format!("metadata '{key}' is not valid JSON: {e}")))
        };
        let model_config = parse("model_config")?;
        if model_config != arch.config {
            return Err(fail(format!(
                "checkpoint of {model} with configuration {model_config}, but the model here has {}",
                arch.config
            )));
        }
        let widths: Vec<f64> = serde_json::from_value(parse("widths")?)
            .map_err(|e| fail(format!("metadata 'widths': {e}")))?;
        let resolutions: Vec<usize> = serde_json::from_value(parse("resolutions")?)
            .map_err(|e| fail(format!("metadata 'resolutions': {e}")))?;
        let configs: Vec<(f64, usize)> = serde_json::from_value(parse("bn_stats_configs")?)
            .map_err(|e| fail(format!("metadata 'bn_stats_configs': {e}")))?;

        let mut ckpt = Checkpoint {
            dataset: meta.get("dataset").cloned(),
            model,
            model_config,
            widths,
            resolutions,
            tensors: BTreeMap::new(),
            batches_tracked: BTreeMap::new(),
            bn_stats: configs
                .iter()
                .map(|&(width, resolution)| ConfigStats {
                    width,
                    resolution,
                    running: BTreeMap::new(),
                })
                .collect(),
        };
        let keys: Vec<String> = ckpt.bn_stats.iter().map(ConfigStats::key).collect();
        for (name, view) in st.tensors() {
            let dtype = view.dtype();
            if name.ends_with(".num_batches_tracked") && !name.starts_with(BN_STATS_PREFIX) {
                if dtype != Dtype::I64 || !view.shape().is_empty() {
                    return Err(fail(format!(
                        "tensor '{name}' is {dtype:?} {:?}; expected an I64 scalar as PyTorch stores it",
                        view.shape()
                    )));
                }
                let b = view.data();
                let n = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
                ckpt.batches_tracked.insert(name, n);
                continue;
            }
            if dtype != Dtype::F32 {
                return Err(fail(format!(
                    "tensor '{name}' is {dtype:?}; checkpoints hold F32 tensors (save with .float())"
                )));
            }
            let data = f32_values(view.data());
            let Some(rest) = name.strip_prefix(BN_STATS_PREFIX) else {
                let t = HostTensor::new(view.shape().to_vec(), data)?;
                ckpt.tensors.insert(name, t);
                continue;
            };
            let parsed = rest.split_once('/').and_then(|(key, bn_stat)| {
                let (bn, stat) = bn_stat.rsplit_once('.')?;
                Some((key, bn, stat))
            });
            let Some((key, bn, stat)) = parsed else {
                return Err(fail(format!(
                    "tensor '{name}' is not named {BN_STATS_PREFIX}<width>x<resolution>/<bn>.running_mean|running_var"
                )));
            };
            let Some(config) = keys.iter().position(|k| k == key) else {
                return Err(fail(format!(
                    "tensor '{name}' is for config {key}, which metadata 'bn_stats_configs' does not list"
                )));
            };
            if view.shape().len() != 1 {
                return Err(fail(format!(
                    "tensor '{name}' has shape {:?}; per-config statistics are vectors",
                    view.shape()
                )));
            }
            let entry = ckpt.bn_stats[config]
                .running
                .entry(bn.to_string())
                .or_insert_with(|| RunningStats {
                    mean: vec![],
                    var: vec![],
                });
            match stat {
                "running_mean" => entry.mean = data,
                "running_var" => entry.var = data,
                _ => {
                    return Err(fail(format!(
                        "tensor '{name}': '{stat}' is neither running_mean nor running_var"
                    )));
                }
            }
        }
        ckpt.validate(arch).map_err(fail)?;
        Ok(ckpt)
    }

    /// Checks everything against `arch`; the reason names the first
    /// tensor that is missing, unexpected or of the wrong shape.
    pub fn validate(&self, arch: &Architecture) -> std::result::Result<(), String> {
        if self.model != arch.model || self.model_config != arch.config {
            return Err(format!(
                "state of {} {} does not belong to {} {}",
                self.model, self.model_config, arch.model, arch.config
            ));
        }
        if self.widths.is_empty() || self.resolutions.is_empty() {
            return Err("the width and resolution lists must not be empty".into());
        }
        for &w in &self.widths {
            check_width(w).map_err(|e| e.to_string())?;
        }
        if self.resolutions.contains(&0) {
            return Err("a resolution of 0 px".into());
        }
        let specs = arch.tensors();
        for spec in &specs {
            let want = spec.full_shape();
            if spec.role == TensorRole::BnBatchesTracked {
                match self.batches_tracked.get(&spec.name) {
                    Some(&n) if n >= 0 => {}
                    Some(n) => return Err(format!("tensor '{}' is negative ({n})", spec.name)),
                    None => return Err(format!("missing tensor '{}' (I64 scalar)", spec.name)),
                }
                continue;
            }
            match self.tensors.get(&spec.name) {
                None => {
                    return Err(format!(
                        "missing tensor '{}' (expected shape {want:?})",
                        spec.name
                    ));
                }
                Some(t) if t.shape != want => {
                    return Err(format!(
                        "tensor '{}' has shape {:?}; {} expects {want:?}",
                        spec.name, t.shape, arch.model
                    ));
                }
                Some(t) if t.data.len() != want.iter().product::<usize>() => {
                    return Err(format!(
                        "tensor '{}' has the wrong element count",
                        spec.name
                    ));
                }
                Some(_) => {}
            }
        }
        let known: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.name.as_str()).collect();
        let stray = self
            .tensors
            .keys()
            .chain(self.batches_tracked.keys())
            .find(|n| !known.contains(n.as_str()));
        if let Some(name) = stray {
            return Err(format!(
                "unexpected tensor '{name}': {} has no such parameter",
                arch.model
            ));
        }

        let bns = arch.batch_norms();
        let mut seen = Vec::new();
        for config in &self.bn_stats {
            let key = config.key();
            if seen.contains(&key) {
                return Err(format!("BN statistics for config {key} appear twice"));
            }
            seen.push(key.clone());
            if !self.widths.contains(&config.width)
                || !self.resolutions.contains(&config.resolution)
            {
                return Err(format!(
                    "BN statistics for config {key}, which is not in widths {:?} × resolutions {:?}",
                    self.widths, self.resolutions
                ));
            }
            for bn in &bns {
                let c = bn.channels.at(config.width);
                let base = format!("{BN_STATS_PREFIX}{key}/{}", bn.name);
                let Some(stats) = config.running.get(&bn.name) else {
                    return Err(format!(
                        "missing tensor '{base}.running_mean' (expected shape [{c}])"
                    ));
                };
                for (stat, v) in [("running_mean", &stats.mean), ("running_var", &stats.var)] {
                    if v.is_empty() {
                        return Err(format!(
                            "missing tensor '{base}.{stat}' (expected shape [{c}])"
                        ));
                    }
                    if v.len() != c {
                        return Err(format!(
                            "tensor '{base}.{stat}' has shape [{}]; width {:?} gives [{c}]",
                            v.len(),
                            config.width
                        ));
                    }
                }
            }
            if let Some(name) = config
                .running
                .keys()
                .find(|n| !bns.iter().any(|b| &b.name == *n))
            {
                return Err(format!(
                    "unexpected tensor '{BN_STATS_PREFIX}{key}/{name}.running_mean': {} has no BN '{name}'",
                    arch.model
                ));
            }
        }
        Ok(())
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_values(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// JSON text of a small metadata value.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain values serialize")
}
