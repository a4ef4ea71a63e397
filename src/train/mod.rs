//! The MutualNet trainer: data, the iteration (`step`), the schedule,
//! evaluation over the width × resolution grid (`evaluate`), reports
//! (`report`), and checkpoints with the optimizer state for `--resume`.

pub mod config;
pub mod evaluate;
mod glyphs;
pub mod host_time;
pub mod mode;
pub mod report;
pub mod schedule;
pub mod step;

pub use config::TrainConfig;
pub use mode::TrainMode;

use crate::autograd::Memory;
use crate::autograd::Tensor;
use crate::backend::Backend;
use crate::data::loader::{Augment, BatchOrder, host_batch, upload_batch};
use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::models::checkpoint::{ConfigStats, RunningStats};
use crate::models::{Architecture, Checkpoint};
use crate::nn::{Pass, Sgd, SlimNet, mutualnet_step};
use crate::rng::Rng;
use crate::tensor_io::{self, HostTensor};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A training run in progress.
pub struct Trainer<'a> {
    pub be: &'a dyn Backend,
    pub cfg: TrainConfig,
    pub arch: Architecture,
    pub net: SlimNet,
    pub opt: Sgd,
    /// Completed iterations and epochs.
    pub iteration: usize,
    pub epoch: usize,
    pub train: Arc<Dataset>,
    pub test: Dataset,
    /// `num_batches_tracked` per BN tensor name.
    batches_tracked: BTreeMap<String, i64>,
    /// Largest tape memory of one iteration so far, in bytes.
    pub peak_step_bytes: usize,
    /// Host time uploading batches and issuing steps in this process.
    pub host_time: host_time::HostTime,
    /// The iteration the checkpoint on disk holds, when this run saved one
    /// or resumed from one (what a divergence error says is kept).
    last_saved: Cell<Option<usize>>,
}

/// Progress of one logged interval.
pub struct LogLine {
    pub epoch: usize,
    pub iteration: usize,
    pub total: usize,
    pub lr: f64,
    pub ce: f32,
    pub kl: Vec<f32>,
    pub images_per_s: f64,
    pub eta_s: f64,
    /// Most device memory one iteration's tape held (batch, activations,
    /// saved values, gradients of activations), in bytes.
    pub peak_step_bytes: usize,
}

/// The optimizer state's file beside a checkpoint.
pub fn optimizer_path(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().unwrap_or_default().to_os_string();
    name.push(".optimizer");
    checkpoint.with_file_name(name)
}

/// The settings a run saved in its optimizer state's header
/// (`train_config`), read from that header's metadata; `opt_path` names the
/// file in the error.
pub fn train_config_in(meta: &HashMap<String, String>, opt_path: &Path) -> Result<TrainConfig> {
    let text = meta.get("train_config").ok_or_else(|| {
        Error::io(
            opt_path,
            "no training configuration in this optimizer state (the run's settings); restore the file saved with the checkpoint",
        )
    })?;
    serde_json::from_str(text).map_err(|e| {
        Error::io(
            opt_path,
            format!(
                "the run's settings in this optimizer state do not read ({e}); restore the file saved with the checkpoint, or use a slimmable build that knows them"
            ),
        )
    })
}

/// Whole batches an epoch of `cfg` trains from a set of `count` images.
fn iterations_per_epoch(cfg: &TrainConfig, count: usize) -> usize {
    let n = if cfg.images_per_epoch == 0 {
        count
    } else {
        cfg.images_per_epoch.min(count)
    };
    n / cfg.batch_size
}

/// The schedule's iteration counts from a set of `count` images: per
/// epoch, in all, and in the warm-up; an error where the epochs overflow
/// them (checked when the trainer is made, before any folder, and again
/// when it runs, since `Trainer::cfg` is public).
fn iteration_counts(cfg: &TrainConfig, count: usize) -> Result<(usize, usize, usize)> {
    let per_epoch = iterations_per_epoch(cfg, count);
    match (
        per_epoch.checked_mul(cfg.epochs),
        per_epoch.checked_mul(cfg.warmup_epochs),
    ) {
        (Some(total), Some(warmup)) => Ok((per_epoch, total, warmup)),
        _ => Err(Error::invalid(
            "--epochs",
            format!(
                "{} epochs of {per_epoch} iterations overflow the iteration count; give fewer epochs",
                cfg.epochs
            ),
        )),
    }
}

/// Fails unless the optimizer state at `opt_path` (header `meta`) was saved
/// with the checkpoint at `checkpoint`: its settings describe that run only.
pub fn check_saved_together(
    checkpoint: &Path,
    opt_path: &Path,
    meta: &HashMap<String, String>,
) -> Result<()> {
    let bytes = std::fs::read(checkpoint).map_err(|e| Error::io(checkpoint, e))?;
    if meta.get("model_sha256") != Some(&sha256_hex(&bytes)) {
        return Err(Error::io(
            opt_path,
            "this optimizer state was saved with another checkpoint, so its settings (dataset, recalibration) are not this run's; keep each checkpoint with its own .optimizer file, or move this one away to evaluate with the fmnist-full settings",
        ));
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<'a> Trainer<'a> {
    /// A fresh run (seeded initialization) or, with `resume`, the state saved
    /// by [`Trainer::save`] at `resume`.
    pub fn new(
        be: &'a dyn Backend,
        cfg: TrainConfig,
        data_dir: Option<&Path>,
        resume: Option<&Path>,
    ) -> Result<Self> {
        cfg.check()?;
        let arch = cfg.architecture()?;
        let train = Arc::new(Dataset::load(cfg.dataset, Split::Train, data_dir)?);
        let test = Dataset::load(cfg.dataset, Split::Test, data_dir)?;
        let side = train.height.min(train.width);
        if cfg.crop_padding > side {
            return Err(Error::invalid(
                "training configuration",
                format!(
                    "crop padding {} is more than the images' {side} pixels a side; the saved settings are damaged",
                    cfg.crop_padding
                ),
            ));
        }
        let (per_epoch, _, _) = iteration_counts(&cfg, train.count)?;
        let slots = cfg.grid().len() + 1;
        let (ckpt, optimizer) = match resume {
            Some(path) => {
                let ckpt = Checkpoint::load(path, &arch)?;
                let opt = Self::load_optimizer(path, &cfg)?;
                (ckpt, Some(opt))
            }
            None => (
                Checkpoint::initial(&arch, &cfg.eval_widths, &cfg.resolutions, cfg.seed)?,
                None,
            ),
        };
        let net = SlimNet::new(be, &arch, &ckpt.tensors, slots)?;
        let mut opt = Sgd::new(
            be,
            &net,
            cfg.momentum as f32,
            cfg.weight_decay as f32,
            cfg.nesterov,
        )?;
        let (iteration, epoch) = match optimizer {
            Some((bufs, it, ep)) => {
                let mut host = Vec::new();
                for (spec, p) in net.params() {
                    let t = bufs.get(&spec.name).ok_or_else(|| {
                        Error::invalid(
                            "optimizer state",
                            format!("no momentum buffer for '{}'", spec.name),
                        )
                    })?;
                    if t.data.len() != p.len() {
                        return Err(Error::invalid(
                            "optimizer state",
                            format!("momentum buffer of '{}' has the wrong size", spec.name),
                        ));
                    }
                    host.push(t.data.as_slice());
                }
                let epoch_start = ep.checked_mul(per_epoch);
                // A stop after an epoch's last iteration saves before the
                // epoch count moves on, so `it` may sit at the epoch's end.
                let consistent =
                    ep <= cfg.epochs && epoch_start.is_some_and(|s| s <= it && it - s <= per_epoch);
                if !consistent {
                    return Err(Error::invalid(
                        "optimizer state",
                        format!(
                            "iteration {it} does not lie in epoch {ep} of {} ({per_epoch} iterations an epoch from {} training images); the file was changed, or the training data is not the run's (give its --data-dir)",
                            cfg.epochs, train.count
                        ),
                    ));
                }
                opt.restore(be, &host, it as u64)?;
                (it, ep)
            }
            None => (0, 0),
        };
        Ok(Trainer {
            be,
            cfg,
            arch,
            net,
            opt,
            iteration,
            epoch,
            train,
            test,
            batches_tracked: ckpt.batches_tracked,
            peak_step_bytes: 0,
            host_time: Default::default(),
            last_saved: Cell::new(resume.map(|_| iteration)),
        })
    }

    /// Iterations per epoch.
    pub fn iterations_per_epoch(&self) -> usize {
        iterations_per_epoch(&self.cfg, self.train.count)
    }

    /// The BN statistics slot used while training.
    pub fn train_slot(&self) -> usize {
        self.cfg.grid().len()
    }

    /// Trains until `cfg.epochs` epochs are done, saving after each epoch
    /// (and when `stop` is raised, after the iteration in flight) to
    /// `checkpoint`. `log` is called every `log_every` iterations.
    pub fn run(
        &mut self,
        checkpoint: &Path,
        log_every: usize,
        stop: &Arc<AtomicBool>,
        log: &mut dyn FnMut(&LogLine),
    ) -> Result<bool> {
        let per_epoch = self.iterations_per_epoch();
        if per_epoch == 0 {
            return Err(Error::invalid(
                "training",
                "the epoch holds less than one batch; use more images or a smaller batch",
            ));
        }
        let (_, total, warmup) = iteration_counts(&self.cfg, self.train.count)?;
        let augment = Augment {
            pad: self.cfg.crop_padding,
            flip: self.cfg.flip,
        };
        let started = std::time::Instant::now();
        let start_iteration = self.iteration;
        while self.epoch < self.cfg.epochs {
            let order = BatchOrder::shuffled(self.train.count, self.cfg.seed, self.epoch as u64);
            let done_in_epoch = self.iteration - self.epoch * per_epoch;
            let batches: Vec<Vec<usize>> = order
                .batches(self.cfg.batch_size, true)
                .into_iter()
                .take(per_epoch)
                .skip(done_in_epoch)
                .map(|b| b.to_vec())
                .collect();
            let (train, cfg, first) = (Arc::clone(&self.train), self.cfg.clone(), self.iteration);
            // The host side of the next batches (sampling the configs,
            // padding, crops, flips) is prepared on a second thread while the
            // device runs the current iteration.
            let stopped = std::thread::scope(|scope| -> Result<bool> {
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                scope.spawn(move || {
                    for (k, idx) in batches.iter().enumerate() {
                        // Every random choice of an iteration comes from its
                        // own seed, so a resumed run repeats the same choices.
                        let it = (first + k) as u64;
                        let mut rng = Rng::new(cfg.seed ^ it.wrapping_mul(0x2545_F491_4F6C_DD1D));
                        let configs = step::sample_configs(&cfg, &mut rng);
                        let mut resolutions: Vec<usize> = configs.iter().map(|c| c.1).collect();
                        resolutions.sort_unstable_by(|a, b| b.cmp(a));
                        resolutions.dedup();
                        let host = host_batch(&train, idx, &resolutions, Some(augment), &mut rng);
                        if tx.send(host.map(|h| (configs, h))).is_err() {
                            break; // the trainer stopped early
                        }
                    }
                });
                for (k, prepared) in rx.iter().enumerate() {
                    let (configs, host) = prepared?;
                    let b = done_in_epoch + k;
                    let memory = Memory::new();
                    let upload_started = std::time::Instant::now();
                    let batch = upload_batch(self.be, &self.train, &host)?;
                    let issue_started = std::time::Instant::now();
                    let labels = batch.labels;
                    let views: Vec<_> =
                        batch.resolutions.iter().copied().zip(batch.views).collect();
                    let arena = memory.adopt(batch.arena);
                    let inputs: Vec<(usize, Tensor)> = views
                        .into_iter()
                        .map(|(r, v)| (r, Tensor::constant(&arena, v)))
                        .collect();
                    let input = |r: usize| -> Result<&Tensor> {
                        inputs
                            .iter()
                            .find(|(res, _)| *res == r)
                            .map(|(_, t)| t)
                            .ok_or_else(|| {
                                Error::invalid(
                                    "MutualNet step",
                                    format!("no input packed at {r} px"),
                                )
                            })
                    };
                    let slot = self.train_slot();
                    let full = Pass {
                        width: configs[0].0,
                        config: slot,
                        x: input(configs[0].1)?,
                    };
                    let subs = configs[1..]
                        .iter()
                        .map(|&(w, r)| {
                            Ok(Pass {
                                width: w,
                                config: slot,
                                x: input(r)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let lr = schedule::learning_rate(self.cfg.lr, self.iteration, total, warmup);
                    let losses = mutualnet_step(
                        self.be,
                        &memory,
                        &self.net,
                        &mut self.opt,
                        lr as f32,
                        self.cfg.precision(),
                        full,
                        &labels,
                        &subs,
                    )?;
                    self.host_time
                        .add(issue_started - upload_started, issue_started.elapsed());
                    for n in self.batches_tracked.values_mut() {
                        *n += configs.len() as i64;
                    }
                    self.peak_step_bytes = self.peak_step_bytes.max(memory.peak_bytes());
                    self.iteration += 1;
                    let last = b + 1 == per_epoch;
                    if self.iteration.is_multiple_of(log_every.max(1)) || last {
                        let read = |b: &crate::autograd::DeviceBuffer| -> Result<f32> {
                            Ok(self.be.download(b)?[0])
                        };
                        let ce = read(&losses[0])?;
                        let kl = losses[1..]
                            .iter()
                            .map(|b| read(b))
                            .collect::<Result<Vec<_>>>()?;
                        // Weights a non-finite loss came from stay NaN: stop
                        // before the epoch's save replaces the last good one.
                        if !(ce.is_finite() && kl.iter().all(|v| v.is_finite())) {
                            return Err(self.diverged(format!(
                                "diverged at iteration {} (cross-entropy {ce}, KL {kl:?})",
                                self.iteration
                            )));
                        }
                        let elapsed = started.elapsed().as_secs_f64();
                        let done = (self.iteration - start_iteration) as f64;
                        log(&LogLine {
                            epoch: self.epoch,
                            iteration: self.iteration,
                            total,
                            lr,
                            ce,
                            kl,
                            images_per_s: done * self.cfg.batch_size as f64 / elapsed.max(1e-9),
                            peak_step_bytes: self.peak_step_bytes,
                            eta_s: elapsed / done.max(1.0) * (total - self.iteration) as f64,
                        });
                    }
                    if stop.load(Ordering::SeqCst) {
                        self.save(checkpoint, &[])?;
                        return Ok(true);
                    }
                }
                Ok(false)
            })?;
            if stopped {
                return Ok(false);
            }
            self.epoch += 1;
            self.save(checkpoint, &[])?;
        }
        Ok(true)
    }

    /// Writes the model (PyTorch names) and the optimizer state beside it
    /// as one step (both written before either is replaced), tied to the
    /// model file by its SHA-256, so a pair torn by a crash is refused on
    /// resume. `recalibrated` adds the per-config BN statistics of an
    /// evaluation.
    pub fn save(&self, path: &Path, recalibrated: &[(f64, usize, usize)]) -> Result<()> {
        // Parameters by their PyTorch names, then each BN's training
        // statistics (one download per BN).
        let mut tensors = self.net.parameters_to_host(self.be)?;
        // A step can blow the weights up after the last loss read (the end
        // of an epoch, Ctrl-C between reads): never save them over good ones.
        if let Some((name, _)) = tensors.iter().find(|(_, t)| !t.is_finite()) {
            return Err(self.diverged(format!(
                "diverged by iteration {}: {name} holds NaN or infinity, so it is not saved",
                self.iteration
            )));
        }
        for bn in self.net.batch_norms() {
            let (mean, var) = bn.running_stats(self.be, self.train_slot())?;
            let shape = vec![bn.spec.channels.full()];
            let name = &bn.spec.name;
            tensors.insert(
                format!("{name}.running_mean"),
                HostTensor::new(shape.clone(), mean)?,
            );
            tensors.insert(format!("{name}.running_var"), HostTensor::new(shape, var)?);
        }
        let mut bn_stats = Vec::new();
        for &(w, r, slot) in recalibrated {
            let mut running = BTreeMap::new();
            for bn in self.net.batch_norms() {
                let (m, v) = bn.running_stats(self.be, slot)?;
                let c = bn.spec.channels.at(w);
                running.insert(
                    bn.spec.name.clone(),
                    RunningStats {
                        mean: m[..c].to_vec(),
                        var: v[..c].to_vec(),
                    },
                );
            }
            bn_stats.push(ConfigStats {
                width: w,
                resolution: r,
                running,
            });
        }
        let ckpt = Checkpoint {
            model: self.arch.model.clone(),
            model_config: self.arch.config.clone(),
            widths: self.cfg.eval_widths.clone(),
            resolutions: self.cfg.resolutions.clone(),
            tensors,
            batches_tracked: self.batches_tracked.clone(),
            bn_stats,
            dataset: Some(self.cfg.dataset.name().to_string()),
        };
        let model_bytes = ckpt.to_bytes(&self.arch, path)?;
        let model_sha = sha256_hex(&model_bytes);
        let momentum: Vec<(String, HostTensor)> = self
            .net
            .params()
            .iter()
            .zip(self.opt.buffers())
            .map(|((s, p), m)| {
                Ok((
                    s.name.clone(),
                    HostTensor::new(vec![p.len()], self.be.download(m)?)?,
                ))
            })
            .collect::<Result<_>>()?;
        let meta = HashMap::from([
            ("model_sha256".to_string(), model_sha),
            ("iteration".to_string(), self.iteration.to_string()),
            ("epoch".to_string(), self.epoch.to_string()),
            (
                "train_config".to_string(),
                serde_json::to_string(&self.cfg).unwrap_or_default(),
            ),
        ]);
        // Both files written before either replaces its old one: a failed
        // write keeps the last good pair.
        let opt_path = optimizer_path(path);
        let opt_bytes = tensor_io::serialize(&opt_path, &momentum, Some(meta))?;
        tensor_io::write_all_atomic(&[(path, &model_bytes), (&opt_path, &opt_bytes)])?;
        self.last_saved.set(Some(self.iteration));
        Ok(())
    }

    /// The error for a run that diverged (`what` happened): what it leaves
    /// on disk, and what to change.
    fn diverged(&self, what: String) -> Error {
        let kept = match self.last_saved.get() {
            None => "this run saved no checkpoint".to_string(),
            Some(i) => format!("the checkpoint saved at iteration {i} is kept"),
        };
        Error::invalid(
            "training",
            format!(
                "{what}; {kept}; start again with a lower --lr (this run's: {}) or with --warmup-epochs",
                self.cfg.lr
            ),
        )
    }

    fn load_optimizer(
        path: &Path,
        cfg: &TrainConfig,
    ) -> Result<(HashMap<String, HostTensor>, usize, usize)> {
        let opt = optimizer_path(path);
        let meta = tensor_io::read_metadata(&opt)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        if meta.get("model_sha256") != Some(&sha256_hex(&bytes)) {
            return Err(Error::io(
                &opt,
                "this optimizer state belongs to another save of the checkpoint (interrupted write?); resume from a consistent pair",
            ));
        }
        if &train_config_in(&meta, &opt)? != cfg {
            return Err(Error::io(
                &opt,
                "the checkpoint was trained with other settings; resume with the same preset and options",
            ));
        }
        let num = |k: &str| -> Result<usize> {
            meta.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::io(&opt, format!("no '{k}' in the optimizer state")))
        };
        Ok((tensor_io::read(&opt)?, num("iteration")?, num("epoch")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings that do not read say why (e.g. a mode this build does not
    /// know), instead of only that they are unreadable.
    #[test]
    fn saved_settings_that_do_not_read_name_the_reason() {
        let path = Path::new("run/checkpoint.safetensors.optimizer");
        let mut json = serde_json::to_value(TrainConfig::fmnist_small()).unwrap();
        let mut meta = HashMap::new();
        meta.insert("train_config".to_string(), json.to_string());
        assert_eq!(
            train_config_in(&meta, path).unwrap(),
            TrainConfig::fmnist_small()
        );
        json["mode"] = "sandwich".into();
        meta.insert("train_config".to_string(), json.to_string());
        let err = train_config_in(&meta, path).unwrap_err().to_string();
        assert!(
            err.contains("mode 'sandwich' is not one of") && err.contains("optimizer"),
            "{err}"
        );
        meta.clear();
        let err = train_config_in(&meta, path).unwrap_err().to_string();
        assert!(err.contains("no training configuration"), "{err}");
    }
}
