//! Writes the PTX NVRTC makes of every CUDA unit, for `ptxas -v` register and
//! spill reports without a GPU (scripts/ptxas-report.sh runs it).
//!
//! Usage: cargo run --example dump_ptx -- OUT_DIR [ARCH]   (ARCH: sm_90 by
//! default, or any real architecture NVRTC 13.0 builds for, sm_90a included)

use slimmable::backend::cuda::nvrtc;
use slimmable::kernel_sources::CUDA_UNITS;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: dump_ptx OUT_DIR [ARCH]")?);
    let arch = nvrtc::real_arch(args.next().as_deref().unwrap_or("sm_90"))?;
    std::fs::create_dir_all(&out)?;
    for unit in CUDA_UNITS {
        let ptx = nvrtc::compile(unit.file, unit.source, arch)?;
        let path = out.join(unit.file.replace(".cu", ".ptx"));
        std::fs::write(&path, ptx.to_src())?;
        println!("{}", path.display());
    }
    Ok(())
}
