//! A conv2d pass as the list of kernel launches that run it: what
//! [`super::launch_conv::plan_conv2d`] decides (entry, grid, block, shared
//! memory, arguments) and [`super::launch_conv::launch_conv2d`] executes.
//! An engine that loads our cubins itself can run the same plan on its own
//! pointers instead of porting the route choice; the plan needs no GPU.

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
    pub grid: [u32; 3],
    pub block: [u32; 3],
    /// Dynamic shared memory in bytes; past 48 KiB the entry's limit must
    /// have been raised (`launch::dynamic_shared_memory`).
    pub shared_bytes: u32,
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
        let fits = grid
            .iter()
            .zip(GRID_LIMITS)
            .all(|(&g, max)| (1..=max).contains(&g));
        if !fits {
            return Err(Error::invalid(
                "conv2d",
                format!(
                    "{entry} would need a grid of {} x {} x {} blocks, past CUDA's limits \
                     (x below 2^31, y and z at most 65535): split the batch or the groups \
                     into several calls",
                    grid[0], grid[1], grid[2]
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

/// The launches of one conv pass, to run in order on one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvPlan {
    pub launches: Vec<PlannedLaunch>,
}

impl ConvPlan {
    /// As JSON, for engines outside Rust: each launch's entry, grid, block,
    /// shared bytes and arguments. A pointer argument is its operand's name;
    /// parameter structs are their bytes (little-endian, `#[repr(C)]`, as
    /// the kernel takes them) in hex; counts are numbers.
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
                    "grid": l.grid,
                    "block": l.block,
                    "shared_bytes": l.shared_bytes,
                    "args": l.args.iter().map(arg).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({ "launches": launches })
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
