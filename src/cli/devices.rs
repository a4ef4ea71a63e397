//! `slimmable devices`: each backend, whether it works, and why not.

use crate::backend::{self, cuda, wgsl};
use crate::error::Result;

pub fn run() -> Result<i32> {
    println!("CUDA:");
    match cuda::device_info(0) {
        Ok(info) => {
            println!(
                "  device {}: {} | compute capability {}.{} | {} SMs | {:.1} GiB",
                info.ordinal,
                info.name,
                info.compute_capability.0,
                info.compute_capability.1,
                info.sm_count,
                info.total_memory_bytes as f64 / (1u64 << 30) as f64
            );
            let (major, minor) = info.compute_capability;
            let arch = cuda::nvrtc::arch_name(major, minor);
            let cubin_dir = std::env::var(cuda::cubin_cache::DIR_VAR).ok();
            match (cuda::nvrtc::nvrtc_version(), arch) {
                (_, Ok(arch)) if cuda::cubin_cache::all_present(arch) => {
                    println!(
                        "  kernels: {arch} cubins from {}",
                        cubin_dir.unwrap_or_default()
                    )
                }
                (Ok((a, b)), _) => {
                    if let Some(dir) = cubin_dir {
                        println!(
                            "  {dir} lacks this build's cubins for this device \
                             (write them with `slimmable cubins {dir} --arch ARCH`)"
                        );
                    }
                    println!("  NVRTC {a}.{b}: kernels compile at run time")
                }
                (Err(e), _) => println!("  not usable: {e}"),
            }
        }
        Err(e) => println!("  unavailable: {e}"),
    }
    match cuda::nvrtc::nvrtc_version() {
        Ok((a, b)) => println!("  NVRTC {a}.{b} found (kernels can be compiled to PTX here)"),
        Err(e) => println!("  NVRTC: {e}"),
    }

    println!("wgpu:");
    let adapters = wgsl::adapter::enumerate();
    if adapters.is_empty() {
        println!(
            "  unavailable: {}",
            wgsl::adapter::select()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
    }
    for a in &adapters {
        let r = wgsl::adapter::report(a);
        println!(
            "  {} | backend {} | type {} | driver {}",
            r.name, r.backend, r.device_type, r.driver
        );
        println!(
            "    limits: storage binding {} MiB, {} invocations/workgroup, {} KiB workgroup memory",
            r.max_storage_binding_bytes >> 20,
            r.max_invocations_per_workgroup,
            r.max_workgroup_storage_bytes >> 10
        );
        println!("    features: {}", r.features.join(", "));
    }

    println!("CPU reference: always available");
    let best = backend::open(backend::BackendKind::Auto)?;
    println!("auto selects: {} ({})", best.kind(), best.device_name());
    Ok(0)
}
