//! Kernels compiled ahead of time to cubins, so that a GPU machine loads
//! machine code instead of compiling PTX when a process starts.
//!
//! Without them each process compiles every CUDA unit with NVRTC, and the
//! driver then compiles the PTX for the device (`conv2d.cu` alone is 4.6 MB
//! of PTX). NVRTC can compile for a real architecture anywhere, no GPU
//! needed: `slimmable cubins DIR` (or `scripts/gpu-check.sh build`) writes
//! one cubin a unit, and with `SLIMMABLE_CUBIN_DIR=DIR` the CUDA backend
//! loads them. Other engines can load the same files with
//! `cuModuleLoadData`.
//!
//! A cubin is named by its unit, architecture and a hash of the unit's
//! source (headers inlined) and NVRTC's options, so a cubin of other source
//! is never picked up: a missing or stale one means compiling as usual. A
//! whole set needs no NVRTC where it runs; one the driver refuses (made by
//! an NVRTC newer than the driver, say) means compiling too.

use super::nvrtc;
use crate::error::{Error, Result};
use crate::kernel_sources::{self, CudaUnit};
use cudarc::nvrtc::Ptx;
use std::path::{Path, PathBuf};

/// The environment variable naming the folder of cubins to load.
pub const DIR_VAR: &str = "SLIMMABLE_CUBIN_DIR";

/// NVRTC's options for `arch`: those of [`nvrtc::compile`] but its
/// include path, which no kernel needs (they include only each other,
/// inlined by `cuda_source`), and which would make a machine with a CUDA
/// toolkit name its cubins apart from one without.
fn options(arch: &str) -> Vec<String> {
    let mut opts = vec![format!("--gpu-architecture={arch}")];
    opts.extend(super::nvrtc::LANGUAGE_FLAGS.iter().map(|f| f.to_string()));
    opts
}

/// FNV-1a, 64 bits: stable across Rust releases (unlike `DefaultHasher`),
/// since the cubins outlive the binary that wrote them.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain([0u8].iter()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The file name of `unit`'s cubin for `arch`.
pub fn file_name(unit: &CudaUnit, arch: &str) -> String {
    let source = kernel_sources::cuda_source(unit.source);
    let opts = options(arch).join(" ");
    let hash = fnv1a(&[source.as_bytes(), opts.as_bytes()]);
    let stem = unit.file.trim_end_matches(".cu");
    format!("{stem}.{arch}.{hash:016x}.cubin")
}

/// Compiles `unit` for the real architecture `arch` to a cubin.
pub fn compile(unit: &CudaUnit, arch: &str) -> Result<Vec<u8>> {
    nvrtc::ensure_nvrtc()?;
    let fail = |log: String| Error::Compile {
        kernel: unit.file.to_string(),
        arch: arch.to_string(),
        log,
    };
    let source = std::ffi::CString::new(kernel_sources::cuda_source(unit.source))
        .map_err(|_| fail("the source holds a NUL byte".into()))?;
    let prog =
        cudarc::nvrtc::result::create_program(&source, None).map_err(|e| fail(format!("{e:?}")))?;
    // SAFETY: `prog` was just created, is used only here and destroyed once.
    let cubin = unsafe { compile_program(prog, arch) };
    // SAFETY: as above; nothing uses `prog` after this.
    let _ = unsafe { cudarc::nvrtc::result::destroy_program(prog) };
    cubin.map_err(fail)
}

/// Compiles `prog` for `arch` and returns its cubin, or the reason (with
/// NVRTC's log) why not.
///
/// # Safety
/// `prog` must be a live program of `nvrtcCreateProgram`.
unsafe fn compile_program(
    prog: cudarc::nvrtc::sys::nvrtcProgram,
    arch: &str,
) -> std::result::Result<Vec<u8>, String> {
    use cudarc::nvrtc::{result, sys};
    // SAFETY (all calls): `prog` is live (contract); the out-pointers are
    // valid for the sizes NVRTC reports.
    unsafe {
        if let Err(e) = result::compile_program(prog, &options(arch)) {
            let log = result::get_program_log(prog)
                .map(|l| {
                    let bytes: Vec<u8> = l.iter().map(|&c| c as u8).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .unwrap_or_default();
            return Err(format!("{e:?}: {log}"));
        }
        let mut size = 0usize;
        let status = sys::nvrtcGetCUBINSize(prog, &mut size);
        if status != sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
            return Err(format!(
                "no cubin ({status:?}); {arch} must be a real architecture"
            ));
        }
        let mut buf = vec![0u8; size];
        match sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast()) {
            sys::nvrtcResult::NVRTC_SUCCESS => Ok(buf),
            status => Err(format!("nvrtcGetCUBIN: {status:?}")),
        }
    }
}

/// Writes every unit's cubin for `arch` into `dir` (each through a
/// temporary file, so a half-written cubin is never found), one thread a
/// unit; returns the paths.
pub fn write_all(dir: &Path, arch: &str) -> Result<Vec<PathBuf>> {
    let made = crate::tensor_io::make_folder(dir, "the cubins")?;
    let written = compile_into(dir, arch);
    match written {
        // A folder this call made holds only its own files: a failure
        // leaves nothing behind (not even the empty folder).
        Err(e) if made => {
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
        // In a folder that was there, the cubins finished stay (each one
        // whole and named by its source's hash; the backend loads a set
        // only when every unit's is there), and the error says so.
        Err(e) => Err(Error::invalid(
            "cubins",
            format!(
                "{e}. {} may now hold only some units' cubins for {arch}, which the backend does \
                 not load; fix the cause and run `slimmable cubins` again",
                dir.display()
            ),
        )),
        ok => ok,
    }
}

fn compile_into(dir: &Path, arch: &str) -> Result<Vec<PathBuf>> {
    std::thread::scope(|s| {
        let jobs: Vec<_> = kernel_sources::CUDA_UNITS
            .iter()
            .map(|u| {
                s.spawn(move || -> Result<PathBuf> {
                    let path = dir.join(file_name(u, arch));
                    let tmp = path.with_extension("cubin.tmp");
                    let cubin = compile(u, arch)?;
                    let stored = std::fs::write(&tmp, cubin)
                        .map_err(|e| Error::io(&tmp, e))
                        .and_then(|_| {
                            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
                        });
                    if stored.is_err() {
                        // No half-written temporary left beside the cubins.
                        let _ = std::fs::remove_file(&tmp);
                    }
                    stored.map(|_| path)
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join().unwrap_or_else(|_| {
                    Err(Error::invalid("cubins", "a compiling thread panicked"))
                })
            })
            .collect()
    })
}

/// Every unit's cubin for `arch` from `$SLIMMABLE_CUBIN_DIR`, in
/// [`kernel_sources::CUDA_UNITS`] order, when the variable is set and the
/// folder holds all of them for this source; `None` otherwise.
pub fn load_all(arch: &str) -> Option<Vec<Ptx>> {
    load_all_from(Path::new(&std::env::var_os(DIR_VAR)?), arch)
}

/// Whether `$SLIMMABLE_CUBIN_DIR` holds every unit's cubin for `arch` and
/// this source (what [`load_all`] would read), without reading them.
pub fn all_present(arch: &str) -> bool {
    std::env::var_os(DIR_VAR).is_some_and(|dir| all_present_in(Path::new(&dir), arch))
}

/// Whether `dir` holds a file by every unit's cubin name for `arch`.
pub fn all_present_in(dir: &Path, arch: &str) -> bool {
    kernel_sources::CUDA_UNITS
        .iter()
        .all(|u| dir.join(file_name(u, arch)).is_file())
}

/// Every unit's cubin for `arch` from `dir`, when it holds all of them for
/// this source; `None` otherwise.
pub fn load_all_from(dir: &Path, arch: &str) -> Option<Vec<Ptx>> {
    kernel_sources::CUDA_UNITS
        .iter()
        .map(|u| {
            let path = dir.join(file_name(u, arch));
            std::fs::read(path).ok().map(Ptx::from_binary)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{all_present_in, file_name, fnv1a};
    use crate::kernel_sources::CUDA_UNITS;

    #[test]
    fn presence_needs_every_units_cubin_for_the_arch() {
        let dir = std::env::temp_dir().join(format!("slimmable-cubins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for u in CUDA_UNITS {
            std::fs::write(dir.join(file_name(u, "sm_90")), b"").unwrap();
        }
        assert!(all_present_in(&dir, "sm_90"));
        assert!(
            !all_present_in(&dir, "sm_80"),
            "another arch's names differ"
        );
        std::fs::remove_file(dir.join(file_name(&CUDA_UNITS[0], "sm_90"))).unwrap();
        assert!(!all_present_in(&dir, "sm_90"), "one unit missing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_hash_separates_its_parts() {
        // FNV-1a's published test vector, then the part separator at work.
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    }
}
