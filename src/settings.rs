//! Every `SLIMMABLE_*` environment variable this project reads, and the
//! ones it used to: a kernel switch whose name is mistyped, or one that
//! was removed, or an on/off switch given another value than 0 or 1,
//! would otherwise change nothing without a word, and an A/B run would
//! time the default twice. The command line warns about each
//! ([`warnings`]). `tests/settings_registry.rs` keeps the lists in step
//! with the code.

/// The variables read by the crate, its tests, scripts and tools, besides
/// the on/off switches ([`ON_OFF`]).
pub const KNOWN: &[&str] = &[
    // The command line and the library (README "The command line").
    "SLIMMABLE_BACKEND",
    "SLIMMABLE_CACHE",
    "SLIMMABLE_CUBIN_DIR",
    "SLIMMABLE_DATA_DIR",
    "SLIMMABLE_SEED",
    // CUDA kernel switches that take a number (README "Kernel switches").
    "SLIMMABLE_GEMM_LDSM_SPLIT",
    "SLIMMABLE_GEMM_WGMMA_BK",
    "SLIMMABLE_GEMM_WGMMA_STAGES",
    "SLIMMABLE_WGRAD_SPLIT_BLOCKS",
    // wgpu settings.
    "SLIMMABLE_WGSL_SUBMIT_EVERY",
    "SLIMMABLE_WGSL_WGRAD_WORKGROUPS",
    // Tests and scripts.
    "SLIMMABLE_BIN",
    "SLIMMABLE_CUDA_ON_CPU",
    "SLIMMABLE_REQUIRE_CUDA",
    "SLIMMABLE_REQUIRE_DATA",
    "SLIMMABLE_REQUIRE_NVRTC",
    "SLIMMABLE_REQUIRE_VULKAN",
    // The libcuda stand-in (tools/cuda_on_cpu).
    "SLIMMABLE_FAKE_CUDA_CC",
    "SLIMMABLE_FAKE_CUDA_DEBUG",
    "SLIMMABLE_FAKE_CUDA_ORDER",
    "SLIMMABLE_FAKE_CUDA_REGISTER_FILE",
    "SLIMMABLE_FAKE_CUDA_SHARED_SHORTFALL",
    "SLIMMABLE_FAKE_CUDA_SKIP",
    "SLIMMABLE_FAKE_CUDA_STREAMS",
];

/// The settings in [`KNOWN`] that take a positive count. The backend that
/// reads one refuses another value, but only when it runs: on
/// `--backend cpu`, or before the CUDA backend starts, the command line's
/// warning is the only word about it.
pub const COUNTS: &[&str] = &[
    "SLIMMABLE_GEMM_LDSM_SPLIT",
    "SLIMMABLE_GEMM_WGMMA_BK",
    "SLIMMABLE_GEMM_WGMMA_STAGES",
    "SLIMMABLE_WGRAD_SPLIT_BLOCKS",
    "SLIMMABLE_WGSL_SUBMIT_EVERY",
    "SLIMMABLE_WGSL_WGRAD_WORKGROUPS",
];

/// The value of a [`COUNTS`] setting, `None` unless it is a positive whole
/// number: the backends' reading and the command line's warning share it.
pub fn positive_count(value: &str) -> Option<u64> {
    value.parse::<u64>().ok().filter(|&n| n > 0)
}

/// The kernel switches that are on or off (`switched_on!`, `opted_in!`,
/// `forced!` in src/switches.rs, read by the CUDA and WGSL backends): `1`
/// or `0`; any other value leaves the route's own rule in charge.
pub const ON_OFF: &[&str] = &[
    "SLIMMABLE_BN_RESIDENT",
    "SLIMMABLE_BN_SMALL",
    "SLIMMABLE_CONV_BACKWARD_STREAMS",
    "SLIMMABLE_COPY_VEC4",
    "SLIMMABLE_DW_FLAT",
    "SLIMMABLE_DW_FLAT2",
    "SLIMMABLE_DW_FLAT4",
    "SLIMMABLE_DW_K3",
    "SLIMMABLE_DW_WGRAD_NARROW",
    "SLIMMABLE_GEMM_LDSM",
    "SLIMMABLE_GEMM_LDSM_BF16",
    "SLIMMABLE_GEMM_SQUARE",
    "SLIMMABLE_GEMM_WGMMA",
    "SLIMMABLE_GEMM_WGMMA_OVERLAP",
    "SLIMMABLE_PW_VEC",
    "SLIMMABLE_RESIZE_AA_TILE",
    "SLIMMABLE_RESIZE_BILINEAR",
    "SLIMMABLE_RESIZE_IMAGE_MAJOR",
    "SLIMMABLE_RESIZE_SAME",
    "SLIMMABLE_RESIZE_STAGE",
    "SLIMMABLE_SGD_MANY",
    "SLIMMABLE_STEM_DIRECT",
    "SLIMMABLE_STEM_WGRAD_DIRECT",
    "SLIMMABLE_WGSL_LOOP_BOUNDING",
];

/// Switches that were removed, with what happened to their route.
pub const REMOVED: &[(&str, &str)] = &[
    (
        "SLIMMABLE_CONV_HALO",
        "the halo conv tiles lost to the implicit GEMMs on the H200 (run 9) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_GEMM_LDSM_STAGES",
        "the two-stage ldmatrix tiles lost to the three-stage ones (run 10) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_GEMM_LDSM_ROWS",
        "the 64-row ldmatrix tiles lost to the 128-row ones (run 10) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_RESIZE_BILINEAR_WARP",
        "the two-warp bilinear resize tiles lost to the one-warp ones (runs 9, 10) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_RESIZE_AA_STAGE",
        "the staged antialias resize tiles lost (runs 9, 10) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_RESIZE_TILED",
        "the 256-thread resize tiles lost to the per-column kernel (run 4) and were removed in stop 31",
    ),
    (
        "SLIMMABLE_RESIZE_PIPE",
        "the persistent resize tiles lost (run 10) and were removed in stop 22",
    ),
    (
        "SLIMMABLE_DW_FLAT_PIPE",
        "the persistent flat depthwise passes lost (run 10) and were removed in stop 22",
    ),
    (
        "SLIMMABLE_DW_WGRAD_NARROW_ROWS",
        "the eight-row narrow depthwise wgrad lost (run 10) and was reverted in stop 22",
    ),
];

/// Whether anything in the project reads the variable `name`.
pub fn is_read(name: &str) -> bool {
    KNOWN.contains(&name) || ON_OFF.contains(&name)
}

/// One line for each `SLIMMABLE_*` variable in `vars` (name, value) that
/// would select nothing: a name nothing reads (a removed switch says what
/// became of it, any other name is taken for a typo), or an on/off switch
/// ([`ON_OFF`]) set to another value than 0 or 1 (empty
/// counts as unset), or a count
/// ([`COUNTS`]) that is not a positive whole number.
pub fn warnings_in<I>(vars: I) -> Vec<String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut lines: Vec<String> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with("SLIMMABLE_"))
        .filter_map(|(name, value)| {
            if let Some((_, what)) = REMOVED.iter().find(|(removed, _)| *removed == name) {
                Some(format!(
                    "{name} is set but no longer read: {what} (BENCHMARKS.md has the numbers); \
                     unset it, the default route runs"
                ))
            } else if !is_read(&name) {
                Some(format!(
                    "{name} is set but nothing reads it: a typo? README \"Kernel switches\" \
                     lists the switches; unset it or correct the name"
                ))
            } else if ON_OFF.contains(&name.as_str()) && !matches!(value.as_str(), "0" | "1" | "") {
                Some(format!(
                    "{name}={value:?} selects nothing: the switch takes 1 (on) or 0 (off), \
                     and the route's own rule decides meanwhile"
                ))
            } else if COUNTS.contains(&name.as_str()) && positive_count(&value).is_none() {
                Some(format!(
                    "{name}={value:?} is not a positive whole number: the backend that reads \
                     it refuses to run; unset it for the default"
                ))
            } else {
                None
            }
        })
        .collect();
    lines.sort();
    lines
}

/// [`warnings_in`] for this process's environment.
pub fn warnings() -> Vec<String> {
    warnings_in(
        std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }),
    )
}
