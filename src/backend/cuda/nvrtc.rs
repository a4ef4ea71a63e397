//! Finding NVRTC and compiling kernels to PTX, once per process per arch.
//!
//! cudarc panics when it cannot load `libnvrtc`, so [`ensure_nvrtc`] must
//! succeed before any cudarc NVRTC call. It looks on the loader path first,
//! then in `$CUDA_HOME`, `$CUDA_PATH` and `/usr/local/cuda`; a library found
//! there is opened by full path and stays loaded, so cudarc's later lookup by
//! name finds it.

use crate::error::{Error, Result};
use crate::kernel_sources;
use cudarc::nvrtc::{CompileOptions, Ptx};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Folders that may hold `libnvrtc.so*`, besides the loader path.
fn nvrtc_dirs() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .collect();
    roots.push(PathBuf::from("/usr/local/cuda"));
    roots
        .into_iter()
        .flat_map(|r| {
            [
                r.join("lib64"),
                r.join("lib"),
                r.join("targets/x86_64-linux/lib"),
            ]
        })
        .collect()
}

/// The CUDA include folder for headers such as `cuda_bf16.h`, if any.
pub fn cuda_include_dir() -> Option<PathBuf> {
    ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .chain([PathBuf::from("/usr/local/cuda")])
        .map(|r| r.join("include"))
        .find(|p| p.join("cuda_bf16.h").exists())
}

/// Makes sure NVRTC can be loaded, or says how to install it.
pub fn ensure_nvrtc() -> Result<()> {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            // SAFETY: only tries to dlopen the library by its usual names.
            if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                return Ok(());
            }
            for dir in nvrtc_dirs() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut libs: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("libnvrtc") && n.contains(".so"))
                    })
                    .collect();
                // Builtins first: libnvrtc opens them by name when compiling.
                libs.sort_by_key(|p| !p.to_string_lossy().contains("builtins"));
                let mut opened_main = false;
                for lib in libs {
                    // SAFETY: loading NVIDIA's NVRTC libraries runs no
                    // initialisers with preconditions; the handles are kept
                    // for the life of the process.
                    if let Ok(handle) = unsafe { libloading::Library::new(&lib) } {
                        std::mem::forget(handle);
                        opened_main |= !lib.to_string_lossy().contains("builtins");
                    }
                }
                if opened_main && unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                    return Ok(());
                }
            }
            Err("libnvrtc was not found on the loader path nor under $CUDA_HOME, $CUDA_PATH or /usr/local/cuda. \
                 Install the CUDA toolkit, or `pip install nvidia-cuda-nvrtc==13.0.88` and put its nvidia/cu13/lib \
                 folder on LD_LIBRARY_PATH (scripts/setup.sh does this)".to_string())
        })
        .clone()
        .map_err(|reason| Error::BackendUnavailable {
            backend: "cuda",
            reason,
        })
}

/// NVRTC's version as `(major, minor)`.
pub fn nvrtc_version() -> Result<(i32, i32)> {
    ensure_nvrtc()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is loaded (checked above); the out-pointers are valid.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    if status != cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(Error::BackendUnavailable {
            backend: "cuda",
            reason: format!("nvrtcVersion failed: {status:?}"),
        });
    }
    Ok((major, minor))
}

/// The compute capabilities NVRTC 13.0 targets, with their arch names.
/// A 9.0 device gets `sm_90a` (the first match): sm_90 plus the
/// instructions only that chip has, such as the warpgroup MMAs of
/// kernels/wgmma.cuh, which compiled for plain `sm_90` trap. `sm_90` stays
/// a valid `--arch` (without them).
const ARCHES: &[(i32, i32, &str)] = &[
    (7, 5, "sm_75"),
    (8, 0, "sm_80"),
    (8, 6, "sm_86"),
    (8, 7, "sm_87"),
    (8, 9, "sm_89"),
    (9, 0, "sm_90a"),
    (9, 0, "sm_90"),
    (10, 0, "sm_100"),
    (10, 3, "sm_103"),
    (11, 0, "sm_110"),
    (12, 0, "sm_120"),
    (12, 1, "sm_121"),
];

/// `name` as one of NVRTC 13.0's real architectures (`"sm_90"`), or an
/// error listing them.
pub fn real_arch(name: &str) -> Result<&'static str> {
    ARCHES
        .iter()
        .find(|(_, _, n)| *n == name)
        .map(|(_, _, n)| *n)
        .ok_or_else(|| {
            let known: Vec<&str> = ARCHES.iter().map(|(_, _, n)| *n).collect();
            Error::invalid(
                "--arch",
                format!(
                    "'{name}' is not an architecture NVRTC 13.0 builds for; use one of {}",
                    known.join(", ")
                ),
            )
        })
}

/// `"sm_90"` style name for a compute capability.
pub fn arch_name(major: i32, minor: i32) -> Result<&'static str> {
    ARCHES
        .iter()
        .find(|(a, b, _)| *a == major && *b == minor)
        .map(|(_, _, n)| *n)
        .ok_or_else(|| Error::BackendUnavailable {
            backend: "cuda",
            reason: format!("compute capability {major}.{minor} is not a target of NVRTC 13.0 (7.5 and newer are)"),
        })
}

/// NVRTC's flags beside the architecture and include path (also part of a
/// cubin's name: `cubin_cache`); an engine compiling the sources itself
/// needs them too.
pub const LANGUAGE_FLAGS: &[&str] = &["--std=c++17"];

/// Compiles one translation unit (`name` for messages) for `arch`.
pub fn compile(name: &str, unit: &str, arch: &'static str) -> Result<Ptx> {
    ensure_nvrtc()?;
    let opts = CompileOptions {
        arch: Some(arch),
        include_paths: cuda_include_dir()
            .map(|p| vec![p.display().to_string()])
            .unwrap_or_default(),
        options: LANGUAGE_FLAGS.iter().map(|f| f.to_string()).collect(),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(kernel_sources::cuda_source(unit), opts).map_err(|e| {
        let log = match e {
            cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                log.to_string_lossy().into_owned()
            }
            other => format!("{other:?}"),
        };
        Error::Compile {
            kernel: name.to_string(),
            arch: arch.to_string(),
            log,
        }
    })
}

/// Every unit of [`crate::kernel_sources::CUDA_UNITS`] compiled for `arch`
/// (through the cache), one thread a unit: NVRTC compiles separate programs
/// concurrently, and the units take seconds each.
pub fn compile_all(arch: &'static str) -> Result<Vec<Ptx>> {
    std::thread::scope(|s| {
        let jobs: Vec<_> = crate::kernel_sources::CUDA_UNITS
            .iter()
            .map(|u| {
                (
                    u.file,
                    s.spawn(move || compile_cached(u.file, u.source, arch)),
                )
            })
            .collect();
        jobs.into_iter()
            .map(|(file, job)| {
                job.join().unwrap_or_else(|_| {
                    Err(Error::Compile {
                        kernel: file.to_string(),
                        arch: arch.to_string(),
                        log: "the compiling thread panicked".into(),
                    })
                })
            })
            .collect()
    })
}

/// [`compile`], cached for the life of the process.
pub fn compile_cached(name: &'static str, unit: &'static str, arch: &'static str) -> Result<Ptx> {
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(src) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(name, arch))
    {
        return Ok(Ptx::from_src(src.clone()));
    }
    let ptx = compile(name, unit, arch)?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((name, arch), ptx.to_src());
    Ok(ptx)
}
