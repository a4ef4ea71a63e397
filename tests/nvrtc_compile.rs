//! Every `kernels/*.cu` compiles with NVRTC for sm_75, sm_80, sm_90 and sm_90a and exports
//! its entry points. Needs only NVRTC (no GPU); CI installs the
//! `nvidia-cuda-nvrtc` wheel and sets SLIMMABLE_REQUIRE_NVRTC=1.

mod common;

use slimmable::backend::cuda::nvrtc;
use slimmable::kernel_sources;

#[test]
fn every_kernel_file_compiles_for_sm75_sm80_sm90_and_sm90a() {
    if !common::nvrtc_or_skip() {
        return;
    }
    // The repository root at run time (scripts/gpu-check.sh runs the test
    // binaries in a copy of the tree), else where it was built.
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let on_disk: Vec<String> = std::fs::read_dir(format!("{root}/kernels"))
        .expect("kernels/ folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cu"))
        .collect();
    for file in &on_disk {
        assert!(
            kernel_sources::CUDA_UNITS.iter().any(|u| u.file == file),
            "kernels/{file} is not listed in kernel_sources::CUDA_UNITS"
        );
    }
    // The units compiled concurrently, as CudaKernels::load does.
    for arch in ["sm_75", "sm_80", "sm_90", "sm_90a"] {
        let ptxs = nvrtc::compile_all(arch).unwrap_or_else(|e| panic!("{e}"));
        for (unit, ptx) in kernel_sources::CUDA_UNITS.iter().zip(ptxs) {
            let file = unit.file;
            assert!(!unit.entries.is_empty(), "no entry list for {file}");
            let text = ptx.to_src();
            for e in unit.entries {
                assert!(
                    text.contains(&format!(".entry {e}")),
                    "{file} for {arch} lacks {e}"
                );
            }
            // The warpgroup MMAs exist only for sm_90a (their twins trap
            // elsewhere): a 9.0 device must get them, no other arch may.
            let wgmma = text.contains("wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32");
            if file == "conv2d_ldsm.cu" {
                assert_eq!(
                    wgmma,
                    arch == "sm_90a",
                    "{file} for {arch}: wgmma present {wgmma}"
                );
            }
            println!("{file} {arch}: {} bytes of PTX", text.len());
        }
    }
}

#[test]
fn cubins_are_written_for_a_real_arch_and_found_only_whole_and_current() {
    use slimmable::backend::cuda::cubin_cache;
    if !common::nvrtc_or_skip() {
        return;
    }
    let dir = common::scratch("nvrtc", "cubins");
    let _ = std::fs::remove_dir_all(&dir);
    let paths = cubin_cache::write_all(&dir, "sm_90").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paths.len(), kernel_sources::CUDA_UNITS.len());
    for (unit, path) in kernel_sources::CUDA_UNITS.iter().zip(&paths) {
        let bytes = std::fs::read(path).unwrap();
        // Machine code: an ELF image naming every entry point.
        assert_eq!(&bytes[..4], b"\x7fELF", "{}", path.display());
        for e in unit.entries {
            assert!(
                bytes.windows(e.len()).any(|w| w == e.as_bytes()),
                "{} lacks {e}",
                path.display()
            );
        }
        println!("{}: {} bytes", path.display(), bytes.len());
    }
    let found = cubin_cache::load_all_from(&dir, "sm_90").expect("every cubin found");
    assert_eq!(found.len(), paths.len());
    // Another architecture's are not there: compile as usual.
    assert!(cubin_cache::load_all_from(&dir, "sm_80").is_none());
    // Nor is a set with a unit missing (or, alike, one of other source,
    // whose name carries another hash).
    std::fs::remove_file(&paths[0]).unwrap();
    assert!(cubin_cache::load_all_from(&dir, "sm_90").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
