//! A conv2d pass as the list of kernel launches that run it: what
//! [`super::launch_conv::plan_conv2d`] decides (entry, grid, block, shared
//! memory, arguments) and [`super::launch_conv::launch_conv2d`] executes.
//! An engine that loads our cubins itself can run the same plan on its own
//! pointers instead of porting the route choice; the plan needs no GPU.

use crate::backend::{ConvPass, Precision};
use crate::error::{Error, Result};
use crate::params::{Conv2dParams, FillParams};
use std::fmt;

/// A device pointer a conv launch takes (the roles of
/// [`crate::ops::ConvArgs`]: in dgrad `x` is dx and `y` is dy; in wgrad `w`
/// is dw and `y` is dy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvOperand {
    X,
    W,
    Y,
    /// The bias (forward) or bias gradient (wgrad); 0 when there is none.
    Bias,
}

impl ConvOperand {
    /// Its name in a plan's text and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::X => "x",
            Self::W => "w",
            Self::Y => "y",
            Self::Bias => "bias",
        }
    }
}

/// One kernel argument, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlannedArg {
    /// That operand's device pointer (`CUdeviceptr`, 8 bytes).
    Pointer(ConvOperand),
    /// The pass's [`Conv2dParams`], by value (the struct the plan was made
    /// from).
    Conv(Conv2dParams),
    /// A `FillParams` by value (the zeroing of an output before a split
    /// reduction adds into it).
    Fill(FillParams),
    /// A 32-bit count (the GEMMs' K splits, the flat depthwise wgrad's
    /// images a block).
    Count(u32),
}

impl fmt::Display for PlannedArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pointer(op) => f.write_str(op.name()),
            Self::Conv(_) => f.write_str("conv2d_params"),
            Self::Fill(p) => write!(f, "fill_params(value {})", p.value),
            Self::Count(n) => write!(f, "{n}u"),
        }
    }
}

/// One kernel launch of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedLaunch {
    /// The entry point (`kernel_sources::entry`).
    pub entry: &'static str,
    /// Blocks along x, y, z.
    pub grid: [u32; 3],
    /// Threads a block along x, y, z.
    pub block: [u32; 3],
    /// Dynamic shared memory in bytes; past 48 KiB the entry's limit must
    /// have been raised (`launch::dynamic_shared_memory`).
    pub shared_bytes: u32,
    /// The kernel's arguments, in its signature's order.
    pub args: Vec<PlannedArg>,
}

/// CUDA's grid limits: x below 2^31, y and z at most 65535.
const GRID_LIMITS: [u64; 3] = [(1 << 31) - 1, 65_535, 65_535];

impl PlannedLaunch {
    /// A launch whose grid is checked against CUDA's limits here, so that a
    /// shape too large for a route is an error that says so, not a grid
    /// silently truncated to 32 bits or refused by the driver.
    pub(crate) fn new(
        entry: &'static str,
        grid: [u64; 3],
        block: [u32; 3],
        shared_bytes: u32,
        args: Vec<PlannedArg>,
    ) -> Result<Self> {
        let [x, y, z] = grid;
        if grid.contains(&0) {
            return Err(Error::invalid(
                "conv2d",
                format!("{entry} would launch an empty grid ({x} x {y} x {z}): a zero extent"),
            ));
        }
        if grid.iter().zip(GRID_LIMITS).any(|(&g, max)| g > max) {
            return Err(Error::invalid(
                "conv2d",
                format!(
                    "{entry} would need a grid of {x} x {y} x {z} blocks, past CUDA's limits \
                     (x below 2^31, y and z at most 65535): split the batch or the groups \
                     into several calls (or lower a SLIMMABLE_* split switch, if one is set)"
                ),
            ));
        }
        Ok(Self {
            entry,
            grid: grid.map(|g| g as u32),
            block,
            shared_bytes,
            args,
        })
    }
}

impl fmt::Display for PlannedLaunch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [gx, gy, gz] = self.grid;
        let [bx, by, bz] = self.block;
        let args: Vec<String> = self.args.iter().map(|a| a.to_string()).collect();
        write!(
            f,
            "{}<<<({gx}, {gy}, {gz}), ({bx}, {by}, {bz}), {}>>>({})",
            self.entry,
            self.shared_bytes,
            args.join(", ")
        )
    }
}

/// The launches of one conv pass, to run in order on one stream, and what
/// they were planned for.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvPlan {
    /// The device architecture (`sm_90a` for an H100 or H200).
    pub arch: &'static str,
    pub pass: ConvPass,
    /// As asked; below sm_80 the GEMMs run exact f32 whatever it says.
    pub precision: Precision,
    /// Whether the plan may use the 16-byte pointwise kernels (x and y
    /// pointers 16-byte aligned).
    pub aligned_16: bool,
    /// In launch order; each reads what the ones before it wrote.
    pub launches: Vec<PlannedLaunch>,
}

/// The version of [`ConvPlan::to_json`]'s layout.
pub const PLAN_JSON_FORMAT: u32 = 1;

/// The kernel switches that can change a conv plan: every on/off switch,
/// and the CUDA counts (README "Kernel switches").
fn switches_in_effect() -> serde_json::Map<String, serde_json::Value> {
    let counts = [
        "SLIMMABLE_GEMM_LDSM_SPLIT",
        "SLIMMABLE_GEMM_WGMMA_BK",
        "SLIMMABLE_GEMM_WGMMA_STAGES",
        "SLIMMABLE_WGRAD_SPLIT_BLOCKS",
    ];
    crate::settings::ON_OFF
        .iter()
        .chain(&counts)
        .filter_map(|&name| Some((name.to_string(), std::env::var(name).ok()?.into())))
        .collect()
}

impl ConvPlan {
    /// As JSON, for engines outside Rust. A header says what the plan is
    /// for: `format` ([`PLAN_JSON_FORMAT`]), `arch`, `pass`, `precision`,
    /// `aligned_16`, and `switches`, the `SLIMMABLE_*` kernel switches set in
    /// this process (none: the defaults). Then each launch's `entry`, the
    /// `unit` whose module holds it (`slimmable cubins` names its cubin
    /// after it), `grid`, `block`, `shared_bytes` (raise the function's
    /// `CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES` to it when past
    /// 48 KiB) and `args`: a pointer argument is its operand's name (x, w,
    /// y, bias), a parameter struct its bytes in hex (little-endian,
    /// `#[repr(C)]`, as the kernel takes it by value), a count a number.
    pub fn to_json(&self) -> serde_json::Value {
        let arg = |a: &PlannedArg| match a {
            PlannedArg::Pointer(op) => serde_json::json!({ "pointer": op.name() }),
            PlannedArg::Conv(p) => {
                serde_json::json!({ "conv2d_params": hex(bytemuck::bytes_of(p)) })
            }
            PlannedArg::Fill(p) => serde_json::json!({ "fill_params": hex(bytemuck::bytes_of(p)) }),
            PlannedArg::Count(n) => serde_json::json!({ "u32": n }),
        };
        let launches: Vec<serde_json::Value> = self
            .launches
            .iter()
            .map(|l| {
                serde_json::json!({
                    "entry": l.entry,
                    "unit": crate::kernel_sources::unit_of(l.entry).map(|u| u.file),
                    "grid": l.grid,
                    "block": l.block,
                    "shared_bytes": l.shared_bytes,
                    "args": l.args.iter().map(arg).collect::<Vec<_>>(),
                })
            })
            .collect();
        let (pass, precision) = (pass_name(self.pass), precision_name(self.precision));
        serde_json::json!({
            "format": PLAN_JSON_FORMAT,
            "arch": self.arch,
            "pass": pass,
            "precision": precision,
            "aligned_16": self.aligned_16,
            "switches": switches_in_effect(),
            "launches": launches,
        })
    }
}

impl fmt::Display for ConvPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.launches.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

fn pass_name(pass: ConvPass) -> &'static str {
    match pass {
        ConvPass::Forward => "forward",
        ConvPass::Dgrad => "dgrad",
        ConvPass::Wgrad => "wgrad",
    }
}

fn precision_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::Tf32 => "tf32",
        Precision::Bf16 => "bf16",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
