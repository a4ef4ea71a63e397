//! Raw-pointer launches: the entry points other engines call on their own
//! memory and stream, and that [`super::CudaBackend`] calls on its buffers.
//!
//! Every function takes device pointers (`CUdeviceptr`), the stream to launch
//! on, the loaded [`CudaKernels`] for that stream's context, and the kernel's
//! parameter struct from [`crate::params`]. Launch errors are returned, never
//! ignored.

use super::nvrtc;
use crate::error::{Error, Result};
use crate::kernel_sources::{self, entry};
use crate::params::{FillParams, SliceCopyParams};
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg, sys};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::sync::Arc;

// SAFETY: the structs are #[repr(C)], Pod, and mirrored byte for byte by
// kernels/common.cuh (checked by tests/param_layout.rs).
unsafe impl cudarc::driver::DeviceRepr for SliceCopyParams {}
unsafe impl cudarc::driver::DeviceRepr for FillParams {}

/// Threads per block for the elementwise kernels.
pub(crate) const BLOCK: u32 = 256;

/// Converts a driver error without calling into the driver (formatting a
/// `DriverError` with `Display` would call `cuGetErrorString`).
pub(crate) fn driver_err(context: &str, e: cudarc::driver::DriverError) -> Error {
    Error::Cuda {
        context: context.to_string(),
        message: format!("{:?}", e.0),
    }
}

/// Entry points launched with more dynamic shared memory than the default
/// 48 KiB limit, and how much: `load` raises each one's limit.
const DYNAMIC_SHARED_MEMORY: &[(&[&str], u32)] = {
    use super::launch_conv::WgmmaPipeline;
    use kernel_sources::entry::*;
    &[
        (
            &[BN_BACKWARD_RESIDENT_F32],
            super::launch_norm::RESIDENT_BACKWARD_SMEM,
        ),
        // The three-stage 128-row ldmatrix tiles, TF32 and BF16.
        (
            &[
                CONV2D_FWD_TF32_LDSM,
                CONV2D_DGRAD_TF32_LDSM,
                CONV2D_WGRAD_TF32_LDSM,
                CONV2D_FWD_BF16_LDSM,
                CONV2D_DGRAD_BF16_LDSM,
                CONV2D_WGRAD_BF16_LDSM,
            ],
            super::launch_conv::ldsm_shared_bytes(3, 128),
        ),
        // Their warpgroup-MMA twins, each pipeline's (past the 48 KiB a
        // block gets without asking, with the static decode table).
        (
            &WgmmaPipeline::Stages3.entries(),
            WgmmaPipeline::Stages3.shared_bytes(),
        ),
        (
            &WgmmaPipeline::Stages4.entries(),
            WgmmaPipeline::Stages4.shared_bytes(),
        ),
        (
            &WgmmaPipeline::Stages4Overlapped.entries(),
            WgmmaPipeline::Stages4Overlapped.shared_bytes(),
        ),
        (
            &WgmmaPipeline::Stages3K32.entries(),
            WgmmaPipeline::Stages3K32.shared_bytes(),
        ),
    ]
};

/// The dynamic shared memory `load` gives `entry`, if more than the default
/// 48 KiB. An engine that loads our cubins itself must raise the entry's
/// `CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES` to this before its
/// first launch, or the launch fails.
pub fn dynamic_shared_memory(entry: &str) -> Option<u32> {
    DYNAMIC_SHARED_MEMORY
        .iter()
        .find(|(entries, _)| entries.contains(&entry))
        .map(|&(_, bytes)| bytes)
}

/// The kernels compiled for one context's device, ready to launch: every
/// entry point of every unit in [`kernel_sources::CUDA_UNITS`].
pub struct CudaKernels {
    pub arch: &'static str,
    functions: HashMap<&'static str, CudaFunction>,
}

impl CudaKernels {
    /// Compiles (once per process and arch), or finds as cubins
    /// ([`super::cubin_cache`]), and loads every kernel into `ctx`.
    pub fn load(ctx: &Arc<CudaContext>) -> Result<Self> {
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| driver_err("cuDeviceGetAttribute", e))?;
        let arch = nvrtc::arch_name(major, minor)?;
        // Cubins written ahead of time where $SLIMMABLE_CUBIN_DIR has them
        // all for this source; else, or where the driver refuses one,
        // NVRTC's PTX (the driver compiles it).
        if let Some(cubins) = super::cubin_cache::load_all(arch) {
            match Self::load_modules(ctx, arch, cubins) {
                Ok(kernels) => return Ok(kernels),
                Err(e) => eprintln!(
                    "warning: the cubins in ${} did not load ({e}); compiling the kernels instead",
                    super::cubin_cache::DIR_VAR
                ),
            }
        }
        Self::load_modules(ctx, arch, nvrtc::compile_all(arch)?)
    }

    /// Loads one module a unit of [`kernel_sources::CUDA_UNITS`] (`ptxs` in
    /// its order: PTX or cubins) and looks up every entry point.
    fn load_modules(ctx: &Arc<CudaContext>, arch: &'static str, ptxs: Vec<Ptx>) -> Result<Self> {
        // The most shared memory a block may have on this device: 227 KiB
        // on an H100 or H200, 99 KiB on 8.6 and 8.9, 64 KiB on 7.5.
        let optin = ctx
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            )
            .map_err(|e| driver_err("cuDeviceGetAttribute", e))?;
        let mut functions = HashMap::new();
        for (unit, ptx) in kernel_sources::CUDA_UNITS.iter().zip(ptxs) {
            let module = ctx
                .load_module(ptx)
                .map_err(|e| driver_err(&format!("cuModuleLoadData({})", unit.file), e))?;
            for &name in unit.entries {
                let f = module
                    .load_function(name)
                    .map_err(|e| driver_err(&format!("cuModuleGetFunction({name})"), e))?;
                // A kernel whose tiles need more than this device has (the
                // sm_90a warpgroup-MMA tiles on anything but Hopper) keeps
                // the default: its routes are not taken here, and asking
                // would fail the whole backend's load.
                if let Some(bytes) = dynamic_shared_memory(name) {
                    let fixed = f
                        .shared_size_bytes()
                        .map_err(|e| driver_err(&format!("cuFuncGetAttribute({name})"), e))?;
                    if i64::from(bytes) + i64::from(fixed) <= i64::from(optin) {
                        f.set_attribute(
                            cudarc::driver::sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                            bytes as i32,
                        )
                        .map_err(|e| driver_err(&format!("cuFuncSetAttribute({name})"), e))?;
                    }
                }
                functions.insert(name, f);
            }
        }
        Ok(CudaKernels { arch, functions })
    }

    /// The loaded function for an entry point of [`kernel_sources::entry`].
    pub fn function(&self, name: &str) -> Result<&CudaFunction> {
        self.functions.get(name).ok_or_else(|| Error::Cuda {
            context: "kernel lookup".into(),
            message: format!(
                "no entry point {name} is loaded; list it in kernel_sources::CUDA_UNITS"
            ),
        })
    }
}

/// Blocks of the elementwise kernels' grid-stride loops over `n` items.
pub(crate) fn elementwise_blocks(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64).clamp(1, 65_535 * 8)
}

/// A 1-D grid for a grid-stride loop over `n` elements.
fn elementwise_config(n: u64) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (elementwise_blocks(n) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches `slimmable_slice_copy_f32`, or its 4-wide twin where both views
/// are packed, aligned image runs.
///
/// # Safety
/// `src` and `dst` must be live device allocations of `stream`'s context that
/// contain every element `p.src` and `p.dst` address; the two views must not
/// overlap.
pub unsafe fn launch_slice_copy(
    k: &CudaKernels,
    stream: &CudaStream,
    src: sys::CUdeviceptr,
    dst: sys::CUdeviceptr,
    p: &SliceCopyParams,
) -> Result<()> {
    // Device allocations start 256-byte aligned, so packed runs at offsets
    // that are multiples of 4 floats are 16-byte aligned.
    // `SLIMMABLE_COPY_VEC4=0` keeps the scalar kernel (A/B).
    let (name, threads) = if p.src.packed_vec4_runs()
        && p.dst.packed_vec4_runs()
        && crate::switches::switched_on!("SLIMMABLE_COPY_VEC4")
    {
        (entry::SLICE_COPY_RUNS_VEC4_F32, p.dst.numel() / 4)
    } else {
        (entry::SLICE_COPY_F32, p.dst.numel())
    };
    let mut b = stream.launch_builder(k.function(name)?);
    b.arg(&src).arg(&dst).arg(p);
    // SAFETY: argument types match the kernel signature; pointers per contract.
    unsafe { b.launch(elementwise_config(threads)) }
        .map(|_| ())
        .map_err(|e| driver_err(name, e))
}

/// Launches `slimmable_fill_f32`.
///
/// # Safety
/// `dst` must be a live device allocation of `stream`'s context containing
/// every element `p.dst` addresses.
pub unsafe fn launch_fill(
    k: &CudaKernels,
    stream: &CudaStream,
    dst: sys::CUdeviceptr,
    p: &FillParams,
) -> Result<()> {
    let mut b = stream.launch_builder(k.function(entry::FILL_F32)?);
    b.arg(&dst).arg(p);
    // SAFETY: argument types match the kernel signature; pointer per contract.
    unsafe { b.launch(elementwise_config(p.dst.numel())) }
        .map(|_| ())
        .map_err(|e| driver_err(entry::FILL_F32, e))
}

#[cfg(test)]
mod tests {
    use super::dynamic_shared_memory;
    use crate::backend::cuda::launch_conv::WgmmaPipeline;

    /// Every warpgroup-MMA kernel is launched with its pipeline's shared
    /// memory, so `load` must raise each one's limit to exactly that (only
    /// a GPU would otherwise tell, by refusing the launch).
    #[test]
    fn every_wgmma_kernel_gets_its_pipelines_shared_memory() {
        use WgmmaPipeline::*;
        for pipeline in [Stages3, Stages4, Stages4Overlapped, Stages3K32] {
            for entry in pipeline.entries() {
                assert_eq!(
                    dynamic_shared_memory(entry),
                    Some(pipeline.shared_bytes()),
                    "{entry}"
                );
            }
            // Two blocks an SM on an H100/H200 (227 KiB of shared memory),
            // each also holding its static decode table (at most 2 KiB)
            // and the 1 KiB the driver keeps a block.
            assert!(
                2 * (pipeline.shared_bytes() + 3 * 1024) <= 227 * 1024,
                "{pipeline:?}"
            );
        }
    }
}
