//! `slimmable cubins DIR --arch sm_90`: every CUDA kernel compiled ahead of
//! time for one architecture (see `backend::cuda::cubin_cache`).

use crate::backend::cuda::{cubin_cache, nvrtc};
use crate::error::Result;
use std::path::Path;

pub fn run(dir: &Path, arch: &str) -> Result<i32> {
    let arch = nvrtc::real_arch(arch)?;
    for path in cubin_cache::write_all(dir, arch)? {
        println!("{}", path.display());
    }
    println!(
        "load them on a {arch} GPU with {}={}",
        cubin_cache::DIR_VAR,
        dir.display()
    );
    Ok(0)
}
