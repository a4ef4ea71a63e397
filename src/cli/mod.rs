//! The `slimmable` command line: `devices`, `verify`, `op`.

mod devices;
mod op;
mod verify;

use crate::backend::BackendKind;
use clap::{Parser, Subcommand};
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
    /// Run the operator case list on a backend against the CPU reference.
    Verify {
        /// Backend to check (auto: CUDA, else wgpu, else CPU).
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
        /// Only cases whose operator name contains this text.
        #[arg(long)]
        op: Option<String>,
        /// Seed for the random inputs (default: fresh each run).
        #[arg(long, env = "SLIMMABLE_SEED")]
        seed: Option<u64>,
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
        #[arg(long, env = "SLIMMABLE_BACKEND", default_value = "auto")]
        backend: BackendKind,
    },
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    quiet_mesa_warning();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Devices => devices::run(),
        Command::Verify { backend, op, seed } => verify::run(backend, op.as_deref(), seed),
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

/// Mesa prints "XDG_RUNTIME_DIR is invalid or not set" on every Vulkan
/// instance when the variable is unset; point it at the temp folder.
fn quiet_mesa_warning() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
