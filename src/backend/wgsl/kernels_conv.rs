//! Recording the conv2d shaders (`shaders/conv2d.wgsl`) with the caller's
//! device and buffers. WGSL has no TF32: every pass computes in f32.

use super::kernels::WgslKernels;
use crate::backend::ConvPass;
use crate::error::{Error, Result};
use crate::kernel_sources::{WGSL_CONV2D, entry};
use crate::params::Conv2dParams;
use bytemuck::{Pod, Zeroable};

/// The shader's `ConvLaunch` uniform: the params and what CUDA passes as
/// extra kernel arguments (192 bytes, WGSL's size for the struct).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvLaunch {
    params: Conv2dParams,
    /// wgrad: how many partial sums per weight the GEMM writes for
    /// `slimmable_conv2d_wgrad_reduce` (1: it adds into the slice itself).
    split_k: u32,
    _pad: [u32; 3],
}

// WGSL rounds the struct up to its 16-byte alignment: 176 + 4 -> 192.
const _: () = assert!(std::mem::size_of::<ConvLaunch>() == 192);

/// A split reduces at least this many pixels (8 steps of the K tile).
const WGRAD_MIN_PIXELS_PER_SPLIT: u64 = 128;

/// Splits of the N·Ho·Wo reduction for a wgrad of `tiles` output tiles (or
/// depthwise channels): more only while the tiles alone fall short of
/// `target` workgroups.
fn wgrad_splits(target: u64, tiles: u64, pixels: u64) -> u64 {
    target
        .div_ceil(tiles.max(1))
        .min(pixels / WGRAD_MIN_PIXELS_PER_SPLIT)
        .clamp(1, MAX_GROUPS)
}

/// The buffers of one conv launch (roles as in [`crate::ops::ConvArgs`]);
/// pass any buffer as `bias` when `p.has_bias` is 0, except `x`, `w` or `y`.
pub struct WgslConvBuffers<'a> {
    pub x: &'a wgpu::Buffer,
    pub w: &'a wgpu::Buffer,
    pub y: &'a wgpu::Buffer,
    pub bias: &'a wgpu::Buffer,
}

/// GEMM tiles (M × N) of the WGSL kernels: `WIDE` and `NARROW` in the shader.
const WIDE_TILE: [u64; 2] = [64, 64];
const NARROW_TILE: [u64; 2] = [128, 16];
const MAX_GROUPS: u64 = 65_535;

fn groups(n: u64, what: &str) -> Result<u32> {
    if n > MAX_GROUPS {
        return Err(Error::invalid(
            "conv2d on wgpu",
            format!(
                "{what} needs {n} workgroups along one axis (limit {MAX_GROUPS}); split the batch"
            ),
        ));
    }
    Ok(n.max(1) as u32)
}

impl WgslKernels {
    /// Records one conv2d pass (plus the bias gradient for wgrad with a
    /// bias). `naive` selects the one-output-per-invocation forward kernel
    /// kept as the bench baseline. A weight gradient split over the pixels
    /// records a second dispatch that adds the partial sums, kept in a
    /// scratch buffer these kernels own (grown on demand, one per device).
    pub fn encode_conv2d(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        pass: ConvPass,
        b: &WgslConvBuffers,
        p: &Conv2dParams,
        naive: bool,
    ) -> Result<()> {
        let [n, ic, h, w] = p.x.dims.map(u64::from);
        let [_, oc, ho, wo] = p.y.dims.map(u64::from);
        let khw = u64::from(p.w.dims[2] * p.w.dims[3]);
        let depthwise = p.x.dims[1] == p.groups && p.y.dims[1] == p.groups;
        let g = u64::from(p.groups);
        let (icg, ocg) = (ic / g, oc / g);
        // The wgrad GEMM packs a tap (channel, ky, kx) into one 32-bit word.
        if pass == ConvPass::Wgrad
            && !depthwise
            && (icg >= 1 << 15 || p.w.dims[2] >= 256 || p.w.dims[3] >= 256)
        {
            return Err(Error::invalid(
                "conv2d wgrad on wgpu",
                format!(
                    "{icg} input channels per group and a {}x{} kernel exceed what the WGSL weight gradient addresses (fewer than 32768 channels per group, kernels under 256); use the CUDA or CPU backend",
                    p.w.dims[2], p.w.dims[3]
                ),
            ));
        }
        let dw3 = depthwise && p.w.dims[2..] == [3, 3];
        let dw3_s1 = dw3 && [p.stride_h, p.stride_w] == [1, 1];
        let dw3_wgrad = pass == ConvPass::Wgrad && dw3;
        // The GEMM's (M, N) and tile: 128 × 16 where N fits in 16. A wgrad
        // with few output channels but many taps turns (taps along M).
        let turned = pass == ConvPass::Wgrad && ocg <= NARROW_TILE[1] && icg * khw > NARROW_TILE[1];
        let (gemm_m, gemm_n) = match pass {
            ConvPass::Forward => (n * ho * wo, ocg),
            ConvPass::Dgrad => (n * h * w, icg),
            ConvPass::Wgrad if turned => (icg * khw, ocg),
            ConvPass::Wgrad => (ocg, icg * khw),
        };
        let narrow = gemm_n <= NARROW_TILE[1];
        let tile = if narrow { NARROW_TILE } else { WIDE_TILE };
        // `naive` picks the baseline forward; every other pass ignores it.
        let direct = depthwise || (naive && pass == ConvPass::Forward);
        let split_k = match (pass, direct) {
            (ConvPass::Wgrad, false) => {
                let tiles = gemm_m.div_ceil(tile[0]) * gemm_n.div_ceil(tile[1]) * g;
                wgrad_splits(self.wgrad_target_workgroups, tiles, n * ho * wo)
            }
            // (At stride 1 an invocation takes four outputs of a row.)
            _ if dw3_wgrad && dw3_s1 => {
                wgrad_splits(self.wgrad_target_workgroups, ic, n * ho * wo.div_ceil(4))
            }
            _ if dw3_wgrad => wgrad_splits(self.wgrad_target_workgroups, ic, n * ho * wo),
            _ => 1,
        };
        // The partials binding always holds a buffer (at least 16 bytes).
        let partials = self.conv_partials(
            device,
            if split_k > 1 {
                split_k * oc * icg * khw
            } else {
                0
            },
        );
        let tensors = [b.x, b.w, b.y, b.bias, &partials];
        let launch = ConvLaunch {
            params: *p,
            split_k: split_k as u32,
            _pad: [0; 3],
        };
        let params = bytemuck::bytes_of(&launch);
        let mut run = |name: &'static str, grid: [u32; 3]| -> Result<()> {
            let pipeline = self.pipeline_fixed_layout(device, WGSL_CONV2D, name, 5)?;
            self.dispatch_grid(device, encoder, &pipeline, params, &tensors, grid);
            Ok(())
        };
        let flat = |elements: u64| [elements.div_ceil(256).clamp(1, MAX_GROUPS) as u32, 1, 1];
        match (pass, direct) {
            (ConvPass::Forward, true) if naive && !depthwise => {
                run(entry::CONV2D_FWD_NAIVE, flat(n * oc * ho * wo))?
            }
            (ConvPass::Forward, true) if dw3_s1 => run(
                entry::DWCONV2D_FWD_K3S1_ROW4,
                flat(n * oc * ho * wo.div_ceil(4)),
            )?,
            (ConvPass::Forward, true) => run(entry::DWCONV2D_FWD, flat(n * oc * ho * wo))?,
            (ConvPass::Dgrad, true) if dw3_s1 => run(
                entry::DWCONV2D_DGRAD_K3S1_ROW4,
                flat(n * ic * h * w.div_ceil(4)),
            )?,
            (ConvPass::Dgrad, true) => run(entry::DWCONV2D_DGRAD, flat(n * ic * h * w))?,
            (ConvPass::Wgrad, true) if dw3_wgrad && dw3_s1 => run(
                entry::DWCONV2D_WGRAD_K3S1_ROW4,
                [groups(ic, "depthwise wgrad")?, split_k as u32, 1],
            )?,
            (ConvPass::Wgrad, true) if dw3_wgrad => run(
                entry::DWCONV2D_WGRAD_K3,
                [groups(ic, "depthwise wgrad")?, split_k as u32, 1],
            )?,
            (ConvPass::Wgrad, true) => run(
                entry::DWCONV2D_WGRAD,
                [groups(ic, "depthwise wgrad")?, khw as u32, 1],
            )?,
            (pass, false) => {
                let name = match (pass, narrow) {
                    (ConvPass::Forward, false) => entry::CONV2D_FWD_F32,
                    (ConvPass::Forward, true) => entry::CONV2D_FWD_F32_NARROW,
                    (ConvPass::Dgrad, false) => entry::CONV2D_DGRAD_F32,
                    (ConvPass::Dgrad, true) => entry::CONV2D_DGRAD_F32_NARROW,
                    (ConvPass::Wgrad, false) => entry::CONV2D_WGRAD_F32,
                    (ConvPass::Wgrad, true) if turned => entry::CONV2D_WGRAD_F32_NARROW_TURNED,
                    (ConvPass::Wgrad, true) => entry::CONV2D_WGRAD_F32_NARROW,
                };
                let grid = [
                    groups(gemm_m.div_ceil(tile[0]), "conv2d")?,
                    groups(gemm_n.div_ceil(tile[1]), "conv2d")?,
                    groups(g * split_k, "conv2d")?,
                ];
                run(name, grid)?
            }
        }
        // Either wgrad that split its pixels left partial sums: add them
        // (one per element of the [oc, icg, kh, kw] block).
        if split_k > 1 {
            run(entry::CONV2D_WGRAD_REDUCE, flat(oc * icg * khw))?;
        }
        if pass == ConvPass::Wgrad && p.has_bias == 1 {
            run(
                entry::CONV2D_BIAS_GRAD,
                [groups(oc, "bias gradient")?, 1, 1],
            )?;
        }
        Ok(())
    }
}
