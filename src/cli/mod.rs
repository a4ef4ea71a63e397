//! The `slimmable` command line: `devices`, `cubins`, `shaders`, `verify`, `bench`, `op`, `train`, `eval`.

mod bench;
mod conv_plan;
mod cubins;
mod devices;
mod op;
mod resume;
mod run_folder_lock;
mod shaders;
mod train;
mod verify;

use crate::backend::{BackendKind, Precision};
use crate::data::DatasetKind;
use crate::train::TrainMode;
use clap::{Parser, Subcommand};
use conv_plan::PassName;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "slimmable",
    version,
    about = "Slimmable-network kernels: sliced convolutions, batch norm and resize on CUDA, WGSL and a CPU reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every backend, whether it works here, and why not.
    Devices,
    /// Compile every CUDA kernel to machine code for one GPU architecture
    /// (no GPU needed); a GPU machine then loads them with
    /// SLIMMABLE_CUBIN_DIR=DIR instead of compiling at start-up.
    Cubins {
        /// Folder to write the cubins into.
        dir: PathBuf,
        /// Architecture, e.g. sm_90a (H100, H200: what the CUDA backend
        /// loads there) or sm_80 (A100).
        #[arg(long, default_value = "sm_90a")]
        arch: String,
    },
    /// Print the CUDA launches of one conv pass (entry, grid, block, shared
    /// memory, arguments), for an engine that loads our cubins itself; no
    /// GPU needed. The layer is JSON: x, w and y views ({"dims": [N, C,
    /// H, W], "strides": [...], "offset": 0}; strides default to dense),
    /// "groups", "stride", "padding", "bias", "bias_offset", "accumulate".
    ConvPlan {
        /// The layer as JSON, or @PATH to read it from a file.
        #[arg(long)]
        layer: String,
        #[arg(long, value_enum, default_value = "forward")]
        pass: PassName,
        #[arg(long, value_enum, default_value = "tf32")]
        precision: Precision,
        /// Architecture, as for `cubins`.
        #[arg(long, default_value = "sm_90a")]
        arch: String,
        /// The x and y pointers may not be 16-byte aligned (keeps the
        /// pointwise convs off their 16-byte gathers).
        #[arg(long)]
        unaligned: bool,
        /// JSON instead of text (ConvPlan::to_json).
        #[arg(long)]
        json: bool,
    },
    /// Compile every WGSL kernel with one Vulkan driver and print what its
    /// compiler reports per kernel: registers, spills, scratch memory, code
    /// size. Mesa's AMD compiler works without an AMD GPU:
    /// `RADV_FORCE_FAMILY=navi21 slimmable shaders --adapter radv`.
    Shaders {
        /// The Vulkan device whose name contains this text (default: the
        /// first GPU, else the first device).
        #[arg(long)]
        adapter: Option<String>,
        /// Only entry points whose name contains this text.
        #[arg(long)]
        entry: Option<String>,
        /// Compile this WGSL file (whole, nothing prepended) instead of
        /// the crate's shaders; may be repeated.
        #[arg(long = "shader")]
        shader_files: Vec<PathBuf>,
        /// Every statistic the driver reports, with its description,
        /// instead of the table.
        #[arg(long)]
        all: bool,
        /// The report as JSON (adapter, driver, every kernel's statistics).
        #[arg(long, conflicts_with = "all")]
        json: bool,
        /// Also write the driver's internal representations (its IR and
        /// disassembly) into this folder, a file per kernel and form.
        #[arg(long)]
        isa: Option<PathBuf>,
    },
    /// Run the operator case list on a backend against the CPU reference.
    Verify {
        /// Backend to check (auto: CUDA, else wgpu, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
        /// Only cases whose operator name contains this text.
        #[arg(long)]
        op: Option<String>,
        /// Seed for the random inputs (default: fresh each run).
        #[arg(long, env = "SLIMMABLE_SEED", allow_negative_numbers = true, value_parser = whole_number_u64)]
        seed: Option<u64>,
    },
    /// Time operator families (copy, resize, ... or all) on a backend.
    Bench {
        /// Family to time, or `all`.
        #[arg(default_value = "all")]
        family: String,
        /// Backend (auto: CUDA, else wgpu, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
        /// Timed repetitions per case (median reported).
        #[arg(long, default_value_t = 20, allow_negative_numbers = true, value_parser = whole_number)]
        iters: usize,
        /// PyTorch timings from tools/bench_torch.py, printed beside ours.
        #[arg(long)]
        torch: Option<PathBuf>,
        /// Measured copy bandwidth in GB/s (bytes read + written), for % of roofline.
        #[arg(long, allow_hyphen_values = true)]
        copy_gbps: Option<f64>,
        /// Measured exact-f32 TFLOP/s, for % of roofline.
        #[arg(long, allow_hyphen_values = true)]
        peak_f32_tflops: Option<f64>,
        /// Measured TF32 tensor-core TFLOP/s, for % of roofline.
        #[arg(long, allow_hyphen_values = true)]
        peak_tf32_tflops: Option<f64>,
        /// Measured BF16 tensor-core TFLOP/s, for % of roofline.
        #[arg(long, allow_hyphen_values = true)]
        peak_bf16_tflops: Option<f64>,
        /// `mutualnet` only: time every backend operation one at a time
        /// (synchronized) and print where an iteration's time goes.
        #[arg(long)]
        profile_ops: bool,
    },
    /// Train a slimmable network with MutualNet, then evaluate every
    /// width × resolution config and print the query table.
    Train {
        /// fmnist-small (the main job, minutes on a CPU; the default) or
        /// fmnist-full (the issue-7 recipe). With --resume: the run's own.
        #[arg(long)]
        preset: Option<String>,
        /// Backend (auto: CUDA, else a hardware wgpu adapter, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
        /// Dataset folder (default: installed location, or SLIMMABLE_DATA_DIR).
        #[arg(long, env = "SLIMMABLE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Run folder: checkpoint, optimizer state, results.
        #[arg(long, default_value = "runs/latest")]
        out: PathBuf,
        /// Continue the run saved in --out exactly (optimizer state included).
        #[arg(long)]
        resume: bool,
        /// Start a new run in --out even though one is saved there (its
        /// checkpoint is replaced at the first save); without it that is an error.
        #[arg(long, conflicts_with = "resume")]
        overwrite: bool,
        /// Epochs to train (default: the preset's; 0 saves the untrained
        /// checkpoint).
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number)]
        epochs: Option<usize>,
        /// Training images per epoch (default: the preset's; 0: all).
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number)]
        images_per_epoch: Option<usize>,
        /// Test images evaluated per config (default: the preset's; 0: all).
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number)]
        eval_images: Option<usize>,
        /// fashion-mnist (the presets') or mnist (`scripts/setup.sh --mnist`
        /// installs it); the model and recipe stay the preset's, except that
        /// MNIST trains without horizontal flips (a mirrored digit is not one).
        #[arg(long)]
        dataset: Option<DatasetKind>,
        /// What each iteration trains (default: mutualnet; with --resume,
        /// the run's).
        #[arg(long)]
        mode: Option<TrainMode>,
        /// Trained width range `MIN,MAX` (with --mode alone or alone-random-res:
        /// MAX is the width trained).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        widths: Option<Vec<f64>>,
        /// Resolutions, the first being the full one (e.g. `28,24,20,16`).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_parser = whole_number)]
        resolutions: Option<Vec<usize>>,
        /// Widths evaluated after training (e.g. `0.25,0.5,0.75,1.0`).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        eval_widths: Option<Vec<f64>>,
        /// Seed for the initial weights, the data order, the crops and flips
        /// and the sampled configs (default: 0).
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number_u64)]
        seed: Option<u64>,
        /// Peak learning rate of the schedule (default: the preset's, 0.1 for
        /// fmnist-full, 0.05 for fmnist-small).
        #[arg(long, allow_hyphen_values = true)]
        lr: Option<f64>,
        /// Epochs of linear learning-rate warm-up before the cosine
        /// (default: the preset's, 0).
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number)]
        warmup_epochs: Option<usize>,
        /// Exact f32 convolutions instead of TF32 on CUDA.
        #[arg(long)]
        f32: bool,
        /// A progress line every N iterations (0 counts as 1).
        #[arg(long, default_value_t = 20, allow_negative_numbers = true, value_parser = whole_number)]
        log_every: usize,
        /// Stop after training (no recalibration or evaluation).
        #[arg(long)]
        skip_eval: bool,
        /// Instead of a run: N training iterations with every operation timed
        /// one at a time (after 2 warm-up iterations); prints where an
        /// iteration's time goes and writes it to OUT/profile.txt.
        #[arg(
            long,
            value_name = "N",
            allow_negative_numbers = true,
            value_parser = whole_number,
            // (--overwrite is accepted: the profile replaces nothing, and
            // the GPU scripts pass it.)
            conflicts_with_all = ["resume", "epochs", "images_per_epoch", "eval_images", "eval_widths", "skip_eval"]
        )]
        profile_ops: Option<usize>,
    },
    /// Recalibrate and evaluate a checkpoint's grid; pick a config for a MACs budget.
    Eval {
        /// A checkpoint saved by `slimmable train` (its optimizer state
        /// beside it holds the dataset and recalibration settings).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Multiply-accumulates per image allowed.
        #[arg(long, allow_negative_numbers = true, value_parser = whole_number_u64)]
        budget: Option<u64>,
        /// Backend (auto: CUDA, else a hardware wgpu adapter, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
        /// Dataset folder (default: installed location, or SLIMMABLE_DATA_DIR).
        #[arg(long, env = "SLIMMABLE_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Run one operator on tensors from a safetensors file.
    Op {
        /// Operator name (`--op list` prints them).
        #[arg(long)]
        op: String,
        /// Parameters as JSON, or @file.json.
        #[arg(long, default_value = "{}")]
        params: String,
        /// Input tensors (safetensors, f32).
        #[arg(long)]
        inputs: Option<PathBuf>,
        /// Where to write the outputs (safetensors).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Backend (auto: CUDA, else wgpu, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
    },
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    quiet_mesa_warning();
    drop_empty_settings();
    for line in crate::settings::warnings() {
        eprintln!("warning: {line}");
    }
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::InvalidValue | ErrorKind::ValueValidation
        ) {
            note_bad_settings();
        }
        std::process::exit(e.exit_code())
    });
    let result = match cli.command {
        Command::Devices => devices::run(),
        Command::Cubins { dir, arch } => cubins::run(&dir, &arch),
        Command::ConvPlan {
            layer,
            pass,
            precision,
            arch,
            unaligned,
            json,
        } => conv_plan::run(&layer, pass.into(), precision, &arch, unaligned, json),
        Command::Shaders {
            adapter,
            entry,
            shader_files,
            all,
            json,
            isa,
        } => shaders::run(shaders::ShadersArgs {
            adapter: adapter.as_deref(),
            entry: entry.as_deref(),
            shader_files: &shader_files,
            all,
            json,
            isa_dir: isa.as_deref(),
        }),
        Command::Verify { backend, op, seed } => verify::run(backend, op.as_deref(), seed),
        Command::Bench {
            family,
            backend,
            iters,
            torch,
            copy_gbps,
            peak_f32_tflops,
            peak_tf32_tflops,
            peak_bf16_tflops,
            profile_ops,
        } => {
            let run = || -> crate::error::Result<i32> {
                bench::check_args(&family, iters)?;
                let ceilings = bench::ceilings(
                    copy_gbps,
                    [peak_f32_tflops, peak_tf32_tflops, peak_bf16_tflops],
                )?;
                if profile_ops {
                    bench::profile_mutualnet(backend, &family, iters)
                } else {
                    bench::run(backend, &family, iters, torch.as_deref(), ceilings)
                }
            };
            run()
        }
        Command::Train {
            preset,
            backend,
            data_dir,
            out,
            resume,
            overwrite,
            epochs,
            images_per_epoch,
            eval_images,
            dataset,
            mode,
            widths,
            resolutions,
            eval_widths,
            seed,
            lr,
            warmup_epochs,
            f32,
            log_every,
            skip_eval,
            profile_ops,
        } => train::train(train::TrainArgs {
            preset,
            backend,
            data_dir,
            out,
            resume,
            overwrite,
            epochs,
            images_per_epoch,
            eval_images,
            dataset,
            mode,
            widths,
            resolutions,
            eval_widths,
            seed,
            lr,
            warmup_epochs,
            f32,
            log_every,
            skip_eval,
            profile_ops,
        }),
        Command::Eval {
            checkpoint,
            budget,
            backend,
            data_dir,
        } => train::eval(&checkpoint, budget, backend, data_dir.as_deref()),
        Command::Op {
            op,
            params,
            inputs,
            out,
            backend,
        } => op::run(&op, &params, inputs.as_deref(), out.as_deref(), backend),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// A JSON option's text: the value itself, or with `@PATH` the file at
/// PATH (`flag` names the option in the error).
fn json_or_file(value: &str, flag: &str) -> crate::error::Result<String> {
    match value.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|e| {
            crate::error::Error::io(
                file,
                format!("{e}; {flag} @PATH reads the JSON from PATH, or give the JSON itself"),
            )
        }),
        None => Ok(value.to_string()),
    }
}

/// A count or size option: a whole number, 0 or more. (Declared with
/// `allow_negative_numbers`, so that `--epochs -1` reaches this message
/// rather than clap's "unexpected argument '-1'".)
fn whole_number(s: &str) -> std::result::Result<usize, String> {
    whole_number_u64(s)?
        .try_into()
        .map_err(|_| format!("'{s}' is too large; give at most {}", usize::MAX))
}

/// [`whole_number`] for seeds and budgets, which may pass 2^32.
fn whole_number_u64(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    t.parse().map_err(|_| {
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            format!("'{s}' is too large; give at most {}", u64::MAX)
        } else {
            format!("'{s}' is not a whole number of 0 or more")
        }
    })
}

/// An environment variable set to the empty string (`SLIMMABLE_DATA_DIR=`)
/// means "not set": otherwise clap reports "a value is required for
/// '--data-dir'", naming a flag the user never gave.
fn drop_empty_settings() {
    for name in ["SLIMMABLE_DATA_DIR", "SLIMMABLE_BACKEND"] {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            // SAFETY: called first thing in main, before any thread exists.
            unsafe { std::env::remove_var(name) };
        }
    }
}

/// clap names `--backend` or `--seed` when SLIMMABLE_BACKEND or
/// SLIMMABLE_SEED holds a bad value, a flag the user may never have given:
/// say where the value came from.
fn note_bad_settings() {
    let given =
        |flag: &str| std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
    if let (false, Ok(v)) = (given("--backend"), std::env::var("SLIMMABLE_BACKEND"))
        // (clap matches the names case-sensitively)
        && <BackendKind as clap::ValueEnum>::from_str(&v, false).is_err()
    {
        eprintln!(
            "note: the value comes from SLIMMABLE_BACKEND={v}; set it to auto, cuda, wgpu or cpu, or unset it"
        );
    }
    if let (false, Ok(v)) = (given("--seed"), std::env::var("SLIMMABLE_SEED"))
        && whole_number_u64(&v).is_err()
    {
        eprintln!(
            "note: the value comes from SLIMMABLE_SEED={v}; set it to a whole number, or unset it"
        );
    }
}

/// Mesa prints "XDG_RUNTIME_DIR is invalid or not set" on every Vulkan
/// instance when the variable is unset; point it at the temp folder.
fn quiet_mesa_warning() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
