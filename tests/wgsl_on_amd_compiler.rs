//! Every WGSL kernel through a GPU's shader compiler: Mesa's AMD driver
//! (RADV, part of `mesa-vulkan-drivers`) compiles for a chip that is not
//! in the machine when `RADV_FORCE_FAMILY` names one, and reports per
//! pipeline its registers, spills and scratch memory. lavapipe, which runs
//! the kernels in the other tests, cannot say whether a GPU would keep a
//! GEMM's accumulators in registers; this can, for two AMD generations.
//!
//! RADV aborts the process on a family it does not know, so each compile
//! runs in a `slimmable shaders` subprocess.

use serde_json::Value;
use std::process::Command;

/// RDNA2 and RDNA3, by the names Mesa 22.3 knows them by.
const FAMILIES: [&str; 2] = ["navi21", "gfx1100"];

/// The JSON report of `slimmable shaders --adapter radv --json ARGS` on the
/// null device of `family`, or why there is none.
fn radv_report(family: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_slimmable"))
        .args(["shaders", "--adapter", "radv", "--json"])
        .args(args)
        .env("RADV_FORCE_FAMILY", family)
        .output()
        .map_err(|e| format!("could not start slimmable: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON: {e}"))
}

/// The report, or `None` after printing `skipped: ...` where RADV is
/// missing (a failure where SLIMMABLE_REQUIRE_VULKAN=1: setup installs it).
fn report_or_skip(family: &str, args: &[&str]) -> Option<Value> {
    match radv_report(family, args) {
        Ok(v) => Some(v),
        Err(e)
            if e.contains("no Vulkan device's name contains") || e.contains("no Vulkan loader") =>
        {
            assert!(
                !std::env::var("SLIMMABLE_REQUIRE_VULKAN").is_ok_and(|v| v == "1"),
                "Mesa's RADV is required here (mesa-vulkan-drivers; scripts/setup.sh) but: {e}"
            );
            println!("skipped: no RADV null device for {family} ({e})");
            None
        }
        Err(e) => panic!("slimmable shaders failed for {family}: {e}"),
    }
}

fn stat(kernel: &Value, name: &str) -> f64 {
    kernel["stats"]
        .as_array()
        .and_then(|stats| stats.iter().find(|s| s["name"] == name))
        .and_then(|s| s["value"].as_f64())
        .unwrap_or_else(|| panic!("{} reports no {name:?}", kernel["entry"]))
}

/// How many compute entry points the crate's shaders have, by naga.
fn compute_entry_points() -> usize {
    slimmable::kernel_sources::WGSL_SHADERS
        .iter()
        .map(|&(_, body)| {
            let module =
                naga::front::wgsl::parse_str(&slimmable::kernel_sources::wgsl_source(body))
                    .expect("the shader parses");
            module
                .entry_points
                .iter()
                .filter(|ep| ep.stage == naga::ShaderStage::Compute)
                .count()
        })
        .sum()
}

#[test]
fn every_wgsl_kernel_compiles_for_amd_gpus_without_spills_or_scratch() {
    let expected = compute_entry_points();
    for family in FAMILIES {
        let Some(report) = report_or_skip(family, &[]) else {
            return;
        };
        let kernels = report["kernels"].as_array().expect("kernels");
        assert_eq!(
            kernels.len(),
            expected,
            "{family}: every entry point compiled"
        );
        let mut bad = Vec::new();
        for k in kernels {
            let (vgprs, spills, sgpr_spills, scratch) = (
                stat(k, "VGPRs"),
                stat(k, "Spilled VGPRs"),
                stat(k, "Spilled SGPRs"),
                stat(k, "Scratch size"),
            );
            println!(
                "{family} {:<45} VGPRs {vgprs:>4} spilled {spills}/{sgpr_spills} scratch {scratch}",
                k["entry"].as_str().unwrap_or_default()
            );
            if spills + sgpr_spills + scratch > 0.0 {
                bad.push(k["entry"].to_string());
            }
        }
        assert!(
            bad.is_empty(),
            "{family}: these kernels spill or use scratch memory: {bad:?} \
             (see `RADV_FORCE_FAMILY={family} slimmable shaders --adapter radv --isa DIR`)"
        );
    }
}

/// The check can fail: a computed index into a large function-scope array
/// puts it in scratch memory, and the same array read at constant indices
/// stays in registers.
#[test]
fn a_computed_index_into_a_large_array_shows_as_scratch() {
    let dir = std::env::temp_dir().join(format!("slimmable-radv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("planted.wgsl");
    std::fs::write(
        &path,
        "
        @group(0) @binding(0) var<storage, read_write> data: array<f32>;

        @compute @workgroup_size(64)
        fn computed_index(@builtin(global_invocation_id) gid: vec3<u32>) {
            var acc: array<f32, 256>;
            for (var i = 0u; i < 256u; i++) { acc[i] = data[gid.x * 256u + i]; }
            let j = u32(data[gid.x]) & 255u;
            var sum = 0.0;
            for (var i = 0u; i < 256u; i++) { sum += acc[(i * 7u + j) & 255u]; }
            data[gid.x] = sum;
        }

        @compute @workgroup_size(64)
        fn constant_index(@builtin(global_invocation_id) gid: vec3<u32>) {
            var acc: array<f32, 16>;
            for (var i = 0u; i < 16u; i++) { acc[i] = data[gid.x * 16u + i]; }
            data[gid.x] = acc[3] + acc[7];
        }
        ",
    )
    .unwrap();
    let report = report_or_skip("navi21", &["--shader", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    let Some(report) = report else {
        return;
    };
    let kernels = report["kernels"].as_array().expect("kernels");
    let by_name = |name: &str| {
        kernels
            .iter()
            .find(|k| k["entry"] == name)
            .unwrap_or_else(|| panic!("{name} compiled"))
    };
    assert!(stat(by_name("computed_index"), "Scratch size") > 0.0);
    assert_eq!(stat(by_name("constant_index"), "Scratch size"), 0.0);
}
