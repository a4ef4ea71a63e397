//! The operator case list on every available backend against the CPU
//! reference (the same list `slimmable verify` runs).

mod common;

use slimmable::verify;

#[test]
fn every_case_passes_on_every_backend() {
    let seed = common::seed();
    let mut failures = Vec::new();
    for be in common::backends() {
        for case in verify::cases() {
            let r = verify::run_case(&case, be.as_ref(), seed);
            println!(
                "{} {} {}: max abs {:.2e}, {}",
                be.kind(),
                r.op,
                r.case,
                r.max_abs_err,
                if r.passed() { "PASS" } else { "FAIL" }
            );
            if !r.passed() {
                failures.push(format!("{} {} {}: {r:?}", be.kind(), r.op, r.case));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn wgpu_adapter_is_vulkan_when_required() {
    if std::env::var("SLIMMABLE_REQUIRE_VULKAN").is_ok_and(|v| v == "1") {
        let a = slimmable::backend::wgsl::adapter::select().expect("a Vulkan adapter");
        assert_eq!(a.get_info().backend, wgpu::Backend::Vulkan);
    } else {
        println!("skipped: SLIMMABLE_REQUIRE_VULKAN is not set");
    }
}
