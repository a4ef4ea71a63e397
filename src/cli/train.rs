//! `slimmable train` and `slimmable eval`.

use super::{resume, run_folder_lock};
use crate::backend::{self, BackendKind};
use crate::data::DatasetKind;
use crate::error::{Error, Result};
use crate::models::{self, Checkpoint};
use crate::tensor_io;
use crate::train::evaluate::{self, ConfigResult};
use crate::train::{LogLine, TrainConfig, TrainMode, Trainer, report};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of `slimmable train` beyond the preset.
pub struct TrainArgs {
    pub preset: Option<String>,
    pub backend: BackendKind,
    pub data_dir: Option<PathBuf>,
    pub out: PathBuf,
    pub resume: bool,
    pub overwrite: bool,
    pub epochs: Option<usize>,
    pub images_per_epoch: Option<usize>,
    pub eval_images: Option<usize>,
    pub dataset: Option<DatasetKind>,
    pub mode: Option<TrainMode>,
    pub widths: Option<Vec<f64>>,
    pub resolutions: Option<Vec<usize>>,
    pub eval_widths: Option<Vec<f64>>,
    pub seed: Option<u64>,
    pub lr: Option<f64>,
    pub warmup_epochs: Option<usize>,
    pub f32: bool,
    pub log_every: usize,
    pub skip_eval: bool,
    pub profile_ops: Option<usize>,
}

fn print_log(l: &LogLine) {
    let kl: Vec<String> = l.kl.iter().map(|v| format!("{v:.4}")).collect();
    let line = format!(
        "epoch {} iter {}/{} | lr {:.4} | CE {:.4} | KL [{}] | {:.0} img/s | ETA {:.0}s",
        l.epoch + 1,
        l.iteration,
        l.total,
        l.lr,
        l.ce,
        kl.join(", "),
        l.images_per_s,
        l.eta_s
    );
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r{line:<110}");
    } else {
        let _ = writeln!(err, "{line}");
    }
}

/// `--profile-ops N`: 2 warm-up iterations, then N with every backend
/// operation timed one at a time (a synchronize before and after each: the
/// total is an upper bound of an iteration, the split is what matters).
fn profile_ops(
    be: &dyn backend::Backend,
    mut cfg: TrainConfig,
    data_dir: Option<&Path>,
    make_out: &dyn Fn() -> Result<()>,
    out: &Path,
    n: usize,
) -> Result<i32> {
    let prof = backend::profiled::ProfiledBackend::new(be);
    let stop = Arc::new(AtomicBool::new(false));
    // The profile's own saves go to a scratch folder, removed after: OUT
    // may hold a run, and only profile.txt is the profile's output.
    let scratch = std::env::temp_dir().join(format!("slimmable-profile-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
    let ckpt = scratch.join("checkpoint.safetensors");
    let timed = profile_iterations(&prof, &mut cfg, data_dir, &ckpt, &stop, n);
    let _ = std::fs::remove_dir_all(&scratch);
    let wall = timed?;
    let table = prof.report(n as u64);
    let text = format!(
        "profile: {} on {} ({}), {} mode, batch {}, {n} iterations ({:.1} ms each with every operation synchronized; calls are backend operations, a split batch norm is 3 launches)\n{table}",
        cfg.model,
        be.kind(),
        be.device_name(),
        cfg.mode,
        cfg.batch_size,
        1e3 * wall / n as f64
    );
    print!("{text}");
    // Made now: a profile that cannot start (no data) leaves no folder.
    make_out()?;
    let path = out.join("profile.txt");
    std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
    Ok(0)
}

/// 2 warm-up iterations, then `n` timed ones on `prof`, each training as
/// one epoch saved to `ckpt`; returns the timed iterations' seconds.
fn profile_iterations(
    prof: &backend::profiled::ProfiledBackend,
    cfg: &mut TrainConfig,
    data_dir: Option<&Path>,
    ckpt: &Path,
    stop: &Arc<AtomicBool>,
    n: usize,
) -> Result<f64> {
    cfg.epochs = 1;
    let mut wall = 0.0;
    for iterations in [2.min(n), n] {
        cfg.images_per_epoch = iterations.saturating_mul(cfg.batch_size);
        let mut trainer = Trainer::new(prof, cfg.clone(), data_dir, None)?;
        // The epoch stops at the training set's end: fewer iterations than
        // asked would be profiled without a word.
        let available = trainer.iterations_per_epoch();
        if available < iterations {
            return Err(Error::invalid(
                "--profile-ops",
                format!(
                    "{iterations} iterations of {} images are more than the training set's {available} whole batches; give at most {available}",
                    cfg.batch_size
                ),
            ));
        }
        prof.reset();
        let t0 = std::time::Instant::now();
        trainer.run(ckpt, usize::MAX, stop, &mut |_| {})?;
        wall = t0.elapsed().as_secs_f64();
    }
    Ok(wall)
}

pub fn train(a: TrainArgs) -> Result<i32> {
    // A resumed run starts from its own saved settings, so `--resume` alone
    // continues it; options given beside it must agree with them.
    let ckpt_path = a.out.join("checkpoint.safetensors");
    let saved = if a.resume {
        run_folder_lock::refuse_if_busy(&a.out)?;
        Some(resume::saved_config(&ckpt_path)?)
    } else {
        None
    };
    let mut cfg = match &saved {
        Some(s) => s.clone(),
        None => TrainConfig::preset(a.preset.as_deref().unwrap_or("fmnist-small"))?,
    };
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if let Some(n) = a.images_per_epoch {
        cfg.images_per_epoch = n;
    }
    if let Some(n) = a.eval_images {
        cfg.eval_images = n;
    }
    if let Some(d) = a.dataset.filter(|&d| d != cfg.dataset) {
        // A mirrored digit is another glyph (or none): MNIST trains without
        // the presets' horizontal flip.
        cfg.flip = d != DatasetKind::Mnist;
        cfg.dataset = d;
    }
    if let Some(m) = a.mode {
        cfg.mode = m;
    }
    if let Some(w) = a.widths {
        let [lo, hi] = w[..] else {
            return Err(Error::invalid(
                "--widths",
                "give two widths, MIN,MAX (e.g. 0.25,1.0)",
            ));
        };
        cfg.width_min = lo;
        cfg.width_max = hi;
    }
    if let Some(r) = a.resolutions {
        cfg.resolutions = r;
    }
    if let Some(w) = a.eval_widths {
        cfg.eval_widths = w;
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(lr) = a.lr {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::invalid(
                "--lr",
                format!("{lr} is not a learning rate; give a positive number such as 0.1"),
            ));
        }
        cfg.lr = lr;
    }
    if let Some(w) = a.warmup_epochs {
        // (With --epochs 0 nothing trains: the checkpoint only carries the
        // recipe, as for tools/reference_trainer.py --init.)
        if w > 0 && cfg.epochs > 0 && w >= cfg.epochs {
            return Err(Error::invalid(
                "--warmup-epochs",
                format!(
                    "{w} warm-up epochs leave none of the {} for the cosine; use fewer than --epochs",
                    cfg.epochs
                ),
            ));
        }
        cfg.warmup_epochs = w;
    }
    if a.f32 {
        cfg.tf32 = false;
    }
    if let Some(saved) = &saved {
        resume::conflicts(saved, &cfg, a.preset.as_deref(), a.dataset)?;
    }
    // Settings that would fail deep inside the run fail here, before any
    // folder is made.
    match &saved {
        // A resumed run's settings are the saved ones (the options beside
        // --resume may not change them).
        Some(_) => cfg.check().map_err(|e| {
            Error::io(
                crate::train::optimizer_path(&ckpt_path),
                format!(
                    "{e}. These are the run's saved settings: the file was changed since `slimmable train` wrote it; resume from an intact checkpoint pair"
                ),
            )
        })?,
        None => {
            cfg.check()?;
            cfg.check_eval_widths_differ()?;
        }
    }
    note_full_resolution_not_largest(&cfg.resolutions);
    note_eval_widths_outside_training(&cfg);
    if cfg.trained_widths_are_one_network()? {
        eprintln!(
            "train: widths {}–{} give the same channels in every layer, so the run trains one network (its sandwich repeats it); widen the range, or give one width twice (--widths 1.0,1.0) to say so",
            cfg.width_min, cfg.width_max
        );
    }
    if a.out.exists() && !a.out.is_dir() {
        return Err(Error::io(
            &a.out,
            "--out names a file; give a folder for the run (checkpoint, optimizer state, results)",
        ));
    }
    // A saved run is never replaced by accident (the default --out is
    // shared by every run that does not name one).
    if a.profile_ops.is_none() && !a.resume && !a.overwrite && ckpt_path.exists() {
        return Err(Error::io(
            &a.out,
            "a run is already saved here; pass --resume to continue it, --overwrite to replace it, or another --out",
        ));
    }
    if a.profile_ops == Some(0) {
        return Err(Error::invalid("--profile-ops", "give at least 1 iteration"));
    }
    let be = open_for_training(a.backend)?;
    let make_out = || -> Result<()> {
        tensor_io::make_folder(&a.out, "the run (--out)")?;
        // Found now, not at the first save after an epoch of training.
        let probe = a.out.join(".slimmable-write-test");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| {
                Error::io(
                    &a.out,
                    format!("cannot write in this folder ({e}); choose a writable --out"),
                )
            })
    };
    if let Some(n) = a.profile_ops {
        return profile_ops(
            be.as_ref(),
            cfg,
            a.data_dir.as_deref(),
            &make_out,
            &a.out,
            n,
        );
    }
    let resume = a.resume.then_some(ckpt_path.as_path());
    // The data loads (and a resumed run is checked) before the folder is
    // made: a run that cannot start leaves nothing behind.
    let mut trainer = Trainer::new(be.as_ref(), cfg, a.data_dir.as_deref(), resume)?;
    let asked = trainer.cfg.images_per_epoch;
    let used = trainer.iterations_per_epoch() * trainer.cfg.batch_size;
    if used == 0 && trainer.train.count < trainer.cfg.batch_size {
        return Err(Error::invalid(
            "training data",
            format!(
                "the training set holds {} image(s), fewer than one batch of {} (the preset's); use a larger dataset",
                trainer.train.count, trainer.cfg.batch_size
            ),
        ));
    }
    if used == 0 {
        return Err(Error::invalid(
            "--images-per-epoch",
            format!(
                "{asked} images make no whole batch of {}; give at least {} (or 0 for all {})",
                trainer.cfg.batch_size, trainer.cfg.batch_size, trainer.train.count
            ),
        ));
    }
    make_out()?;
    // Held until the process ends: a second run into the same folder would
    // interleave its saves with this one's.
    let _lock = run_folder_lock::lock(&a.out)?;
    if a.overwrite {
        remove_earlier_results(&a.out)?;
    }
    if asked != 0 && asked != used {
        eprintln!(
            "train: --images-per-epoch {asked} trains {used} images an epoch (whole batches of {}, at most the {} training images)",
            trainer.cfg.batch_size, trainer.train.count
        );
    }
    let eval_asked = trainer.cfg.eval_images;
    if !a.skip_eval && eval_asked > trainer.test.count {
        eprintln!(
            "train: --eval-images {eval_asked} evaluates all {} test images",
            trainer.test.count
        );
    }
    println!(
        "train: {} on {} ({}), {} mode, widths {}–{}, resolutions {:?}, batch {}, {} epoch(s) × {} iterations{}",
        trainer.cfg.model,
        be.kind(),
        be.device_name(),
        trainer.cfg.mode,
        trainer.cfg.width_min,
        trainer.cfg.width_max,
        trainer.cfg.resolutions,
        trainer.cfg.batch_size,
        trainer.cfg.epochs,
        trainer.iterations_per_epoch(),
        if resume.is_some() {
            format!(", resumed at iteration {}", trainer.iteration)
        } else {
            String::new()
        }
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // A second handler (tests running several trainings) is not an error.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let t0 = std::time::Instant::now();
    let finished = trainer.run(&ckpt_path, a.log_every, &stop, &mut print_log)?;
    eprintln!();
    let train_s = t0.elapsed().as_secs_f64();
    if !finished {
        println!(
            "interrupted: saved {} at iteration {}; continue with --resume",
            ckpt_path.display(),
            trainer.iteration
        );
        return Ok(130);
    }
    if resume.is_none() && trainer.iteration == 0 {
        // `--epochs 0` ran no epoch, so nothing was saved: write the initial
        // weights (e.g. to start tools/reference_trainer.py from them), over
        // a run --overwrite gave up.
        trainer.save(&ckpt_path, &[])?;
    }
    println!(
        "trained in {train_s:.1} s; checkpoint {}",
        ckpt_path.display()
    );
    if let Some((upload, issue)) = trainer.host_time.per_iteration_ms() {
        let per_iteration = 1e3 * train_s / trainer.host_time.iterations as f64;
        println!(
            "host per iteration: {upload:.2} ms uploading the batch (on CUDA this waits for the previous iteration), {issue:.2} ms issuing the step, of {per_iteration:.2} ms (the rest: the next batch's host-side preparation, progress reads, checkpoints)"
        );
    }
    let mib = |b: usize| b as f64 / (1u64 << 20) as f64;
    println!(
        "device memory: {:.1} MiB peak per iteration (batch, activations, saved values) + {:.1} MiB parameters, gradients and BN statistics + {:.1} MiB momentum",
        mib(trainer.peak_step_bytes),
        mib(trainer.net.state_bytes()),
        mib(trainer.opt.state_bytes())
    );
    if a.skip_eval {
        return Ok(0);
    }
    if let Some(note) = evaluate::recalibration_note(&trainer.cfg, trainer.train.count) {
        eprintln!("train: {note}");
    }
    let t1 = std::time::Instant::now();
    let results = evaluate::evaluate_grid(
        be.as_ref(),
        &trainer.net,
        &trainer.train,
        &trainer.test,
        &trainer.cfg,
        &mut |r: &ConfigResult| {
            eprintln!("  {:.2}× {:>2} px: {:.2}%", r.width, r.resolution, r.top1);
            // Ctrl-C between configs: nothing is being written (the
            // recalibrated statistics are saved after the grid), so stop.
            if stop.load(Ordering::SeqCst) {
                println!(
                    "interrupted during evaluation: the trained checkpoint {} is intact; `slimmable eval --checkpoint` evaluates it",
                    ckpt_path.display()
                );
                std::process::exit(130);
            }
        },
    )?;
    let recal: Vec<(f64, usize, usize)> = trainer
        .cfg
        .grid()
        .iter()
        .enumerate()
        .map(|(slot, &(w, r))| (w, r, slot))
        .collect();
    let eval_s = t1.elapsed().as_secs_f64();
    println!("\n{}", report::table(&results));
    trainer.save(&ckpt_path, &recal).map_err(|e| {
        Error::invalid(
            "saving the recalibrated statistics",
            format!(
                "{e}. The trained checkpoint is intact (saved before the evaluation); `slimmable eval --checkpoint {}` recalibrates and evaluates it again",
                ckpt_path.display()
            ),
        )
    })?;
    let run = serde_json::json!({
        "config": trainer.cfg,
        "backend": be.kind().to_string(),
        "device": be.device_name(),
        "train_seconds": train_s,
        "eval_seconds": eval_s,
        "iterations": trainer.iteration,
    });
    let title = format!(
        "{} on {} ({})",
        trainer.cfg.dataset,
        trainer.cfg.mode,
        be.device_name()
    );
    report::write_all(&a.out, &results, &title, run)?;
    println!(
        "evaluated in {eval_s:.1} s; wrote {}/{{results.json,results.csv,accuracy_vs_macs.svg,accuracy_vs_macs.png,table.txt}}",
        a.out.display()
    );
    Ok(0)
}

/// The first resolution is the full config's, trained with cross-entropy
/// and the teacher of the others; listing a larger one after it is allowed
/// (the recipe is the caller's) but is usually an ascending list by mistake.
/// Evaluated widths past either end of the trained range run channels the
/// run never trained (or a smaller network than it did): allowed, since a
/// user may ask, but said.
fn note_eval_widths_outside_training(cfg: &TrainConfig) {
    for &w in &cfg.eval_widths {
        if w < cfg.width_min || w > cfg.width_max {
            eprintln!(
                "train: evaluation width {w} is outside the trained widths {}–{}; its accuracy measures channels or a network the run did not train",
                cfg.width_min, cfg.width_max
            );
        }
    }
}

fn note_full_resolution_not_largest(resolutions: &[usize]) {
    let (Some(&first), Some(&largest)) = (resolutions.first(), resolutions.iter().max()) else {
        return;
    };
    if largest > first {
        eprintln!(
            "train: --resolutions starts with {first} px, so {first} px is the full config; {largest} px is larger. List the largest first (e.g. 28,24,20,16) for MutualNet's recipe"
        );
    }
}

/// `--overwrite`: the earlier run's results go when the new run starts, so
/// an interrupted new run never sits beside results it did not produce.
fn remove_earlier_results(out: &Path) -> Result<()> {
    let mut removed = Vec::new();
    for name in report::RESULT_FILES {
        let path = out.join(name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        eprintln!(
            "train: --overwrite removed the earlier run's {} (its checkpoint is replaced at the first save)",
            removed.join(", ")
        );
    }
    Ok(())
}

/// `auto` for training: CUDA, else a hardware wgpu adapter, else the CPU
/// (a software Vulkan adapter such as lavapipe runs the many small launches
/// of a training step slower than the CPU reference does).
fn open_for_training(kind: BackendKind) -> Result<Box<dyn crate::backend::Backend>> {
    if kind != BackendKind::Auto {
        return backend::open(kind);
    }
    if let Ok(b) = backend::open(BackendKind::Cuda) {
        return Ok(b);
    }
    let hardware = crate::backend::wgsl::adapter::select()
        .is_ok_and(|a| a.get_info().device_type != wgpu::DeviceType::Cpu);
    if hardware && let Ok(b) = backend::open(BackendKind::Wgpu) {
        return Ok(b);
    }
    backend::open(BackendKind::Cpu)
}

pub fn eval(
    checkpoint: &Path,
    budget: Option<u64>,
    kind: BackendKind,
    data_dir: Option<&Path>,
) -> Result<i32> {
    if checkpoint.is_dir() {
        let inside = checkpoint.join("checkpoint.safetensors");
        let hint = if inside.is_file() {
            format!(
                "give the checkpoint inside it: --checkpoint {}",
                inside.display()
            )
        } else {
            "give a checkpoint file (slimmable train writes OUT/checkpoint.safetensors)".to_string()
        };
        return Err(Error::io(checkpoint, format!("is a folder; {hint}")));
    }
    if !checkpoint.exists() {
        return Err(Error::io(
            checkpoint,
            "no such file; give the checkpoint.safetensors that slimmable train wrote in its --out folder",
        ));
    }
    let meta = tensor_io::read_metadata(checkpoint)?;
    let model = meta.get("model").ok_or_else(|| {
        let hint = if meta.contains_key("model_sha256") {
            "this is a run's optimizer state; give the checkpoint.safetensors beside it"
        } else {
            "not a slimmable checkpoint (no model in its header); give the checkpoint.safetensors slimmable train wrote"
        };
        Error::io(checkpoint, hint)
    })?;
    let config: serde_json::Value = match meta.get("model_config") {
        None => return Err(Error::io(checkpoint, "no model configuration in the header")),
        Some(s) => serde_json::from_str(s).map_err(|e| {
            Error::io(
                checkpoint,
                format!("the header's model configuration is not valid JSON ({e}); the checkpoint is damaged"),
            )
        })?,
    };
    let arch = models::build(model, &config)?;
    let ckpt = Checkpoint::load(checkpoint, &arch)?;
    if let Some((name, _)) = ckpt.tensors.iter().find(|(_, t)| !t.is_finite()) {
        return Err(Error::io(
            checkpoint,
            format!(
                "{name} holds NaN or infinite values: the run diverged; retrain it with a lower --lr"
            ),
        ));
    }
    // Evaluation settings: the run's own, when its optimizer state is beside it.
    // Missing: the fmnist-full settings, said aloud. Present but unreadable:
    // an error, since the run's dataset and recalibration live there.
    let opt_path = crate::train::optimizer_path(checkpoint);
    let mut cfg = if opt_path.exists() {
        let opt_meta = tensor_io::read_metadata(&opt_path)?;
        crate::train::check_saved_together(checkpoint, &opt_path, &opt_meta)?;
        crate::train::train_config_in(&opt_meta, &opt_path)?
    } else {
        // The dataset from the checkpoint's header where it names one.
        let mut fallback = TrainConfig::fmnist_full();
        if let Some(d) = meta.get("dataset") {
            fallback.dataset = d.parse().map_err(|e: String| {
                Error::io(
                    checkpoint,
                    format!("{e} (the header's dataset); the checkpoint is damaged"),
                )
            })?;
        }
        eprintln!(
            "eval: no optimizer state beside the checkpoint ({}): evaluating {} with the fmnist-full recalibration and all test images",
            opt_path.display(),
            fallback.dataset
        );
        fallback
    };
    cfg.model = arch.model.clone();
    cfg.model_config = arch.config.clone();
    cfg.eval_widths = ckpt.widths.clone();
    cfg.resolutions = ckpt.resolutions.clone();
    // `train` checked the run's settings before it saved them.
    let source = if opt_path.is_file() {
        format!("the rest from {}", opt_path.display())
    } else {
        "the rest from the fmnist-full preset (no optimizer state beside it)".to_string()
    };
    cfg.check().map_err(|e| {
        Error::io(
            checkpoint,
            format!(
                "{e}. eval takes the widths and resolutions from the checkpoint's header and {source}; a checkpoint `slimmable train` wrote passes this check unless its files were changed"
            ),
        )
    })?;
    // A budget no config meets fails before the evaluation, not after it.
    if let Some(b) = budget {
        let mut costs = Vec::new();
        for (w, r) in cfg.grid() {
            costs.push((models::cost(&arch, w, r)?.macs, w, r));
        }
        if let Some(&(macs, w, r)) = costs.iter().min_by_key(|c| c.0)
            && macs > b
        {
            return Err(Error::invalid(
                "--budget",
                format!(
                    "no config fits {b} MACs (the cheapest, {w:.2}× at {r} px, needs {macs}); give --budget {macs} or more"
                ),
            ));
        }
    }
    let be = open_for_training(kind)?;
    let train = crate::data::Dataset::load(cfg.dataset, crate::data::Split::Train, data_dir)?;
    let test = crate::data::Dataset::load(cfg.dataset, crate::data::Split::Test, data_dir)?;
    let net = crate::nn::SlimNet::new(be.as_ref(), &arch, &ckpt.tensors, cfg.grid().len() + 1)?;
    println!(
        "eval: {} on {} ({})",
        checkpoint.display(),
        be.kind(),
        be.device_name()
    );
    if let Some(note) = evaluate::recalibration_note(&cfg, train.count) {
        eprintln!("eval: {note}");
    }
    let results = evaluate::evaluate_grid(be.as_ref(), &net, &train, &test, &cfg, &mut |r| {
        eprintln!("  {:.2}× {:>2} px: {:.2}%", r.width, r.resolution, r.top1);
    })?;
    println!("\n{}", report::table(&results));
    // (A budget no config meets was refused before the evaluation.)
    if let Some(b) = budget
        && let Some(r) = evaluate::pick_for_budget(&results, b)
    {
        println!(
            "budget {b} MACs: width {:.2}×, {} px, {} MACs, top-1 {:.2}%",
            r.width, r.resolution, r.macs, r.top1
        );
    }
    Ok(0)
}
