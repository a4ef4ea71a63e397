//! `slimmable bench bn` and `tools/bench_torch.py` meet by case name: the
//! PyTorch script must produce every GPU-side name of src/bench/norm.rs
//! (same shapes, same prefixes), or the side-by-side table stays empty.

#[test]
fn torch_script_names_the_bn_cases() {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let py = std::fs::read_to_string(format!("{root}/tools/bench_torch.py")).unwrap();
    let rs = std::fs::read_to_string(format!("{root}/src/bench/norm.rs")).unwrap();
    for prefix in [
        "bn/fwd_bwd_",
        "bn/relu6_fused_fwd_bwd_",
        "bn/relu6_separate_fwd_bwd_",
    ] {
        assert!(
            rs.contains(&format!("\"{prefix}{{tag}}\"")),
            "src/bench/norm.rs lacks {prefix}"
        );
        assert!(
            py.contains(&format!("\"{prefix}{{tag}}\"")),
            "bench_torch.py lacks {prefix}"
        );
    }
    assert!(
        rs.contains("[(32, 112), (384, 14)]") && rs.contains("GPU_BATCH: usize = 64;"),
        "Rust shapes changed"
    );
    assert!(
        py.contains("((64, 32, 112), (64, 384, 14))"),
        "PyTorch shapes differ from Rust"
    );
    assert!(
        py.lines()
            .any(|l| l.starts_with("BENCHES = [") && l.contains("bench_bn")),
        "bench_bn is not run"
    );
}
