//! Writes the PTX NVRTC makes of every CUDA unit, for `ptxas -v` register and
//! spill reports without a GPU (scripts/ptxas-report.sh runs it).
//!
//! Usage: cargo run --example dump_ptx -- OUT_DIR [ARCH]   (ARCH: sm_90, sm_80, sm_75)

use slimmable::backend::cuda::nvrtc;
use slimmable::kernel_sources::CUDA_UNITS;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: dump_ptx OUT_DIR [ARCH]")?);
    let arch: &'static str = match args.next().as_deref() {
        None | Some("sm_90") => "sm_90",
        Some("sm_80") => "sm_80",
        Some("sm_75") => "sm_75",
        Some(other) => return Err(format!("arch {other}: use sm_90, sm_80 or sm_75").into()),
    };
    std::fs::create_dir_all(&out)?;
    for unit in CUDA_UNITS {
        let ptx = nvrtc::compile(unit.file, unit.source, arch)?;
        let path = out.join(unit.file.replace(".cu", ".ptx"));
        std::fs::write(&path, ptx.to_src())?;
        println!("{}", path.display());
    }
    Ok(())
}
