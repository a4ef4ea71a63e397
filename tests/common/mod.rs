//! Helpers shared by the integration tests: open each backend or say why it
//! is skipped. A backend that a CI run requires (SLIMMABLE_REQUIRE_VULKAN=1,
//! SLIMMABLE_REQUIRE_CUDA=1) fails the test instead of skipping.
#![allow(dead_code)]

use slimmable::backend::{self, Backend, BackendKind};

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Every backend available here, printing `skipped: ...` for the others.
pub fn backends() -> Vec<Box<dyn Backend>> {
    let mut out: Vec<Box<dyn Backend>> = vec![Box::new(backend::cpu::CpuBackend::new())];
    match backend::open(BackendKind::Wgpu) {
        Ok(b) => out.push(b),
        Err(e) => {
            assert!(
                !required("SLIMMABLE_REQUIRE_VULKAN"),
                "a Vulkan adapter is required here but: {e}"
            );
            println!("skipped: no Vulkan adapter ({e})");
        }
    }
    match backend::open(BackendKind::Cuda) {
        Ok(b) => out.push(b),
        Err(e) => {
            assert!(
                !required("SLIMMABLE_REQUIRE_CUDA"),
                "a CUDA device is required here but: {e}"
            );
            println!("skipped: no CUDA device ({e})");
        }
    }
    out
}

/// Whether NVRTC must be present (CI sets SLIMMABLE_REQUIRE_NVRTC=1).
pub fn nvrtc_required() -> bool {
    required("SLIMMABLE_REQUIRE_NVRTC")
}

/// Whether NVRTC loads; when it does not, fails where it is required and
/// else prints `skipped: ...` (the caller returns).
pub fn nvrtc_or_skip() -> bool {
    match slimmable::backend::cuda::nvrtc::ensure_nvrtc() {
        Ok(()) => true,
        Err(e) => {
            assert!(!nvrtc_required(), "NVRTC required: {e}");
            println!("skipped: no NVRTC ({e})");
            false
        }
    }
}

/// Whether Fashion-MNIST is installed (the presets train it, and its files
/// are checked by hash): without it a test prints `skipped: ...`, and fails
/// where SLIMMABLE_REQUIRE_DATA=1, as in CI.
pub fn fashion_mnist_or_skip() -> bool {
    use slimmable::data::{Dataset, DatasetKind, Split};
    match Dataset::load(DatasetKind::FashionMnist, Split::Train, None) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                !required("SLIMMABLE_REQUIRE_DATA"),
                "Fashion-MNIST required: {e}"
            );
            println!("skipped: {e}");
            false
        }
    }
}

/// A fresh seed per run, printed so a failure can be replayed.
pub fn seed() -> u64 {
    let s = slimmable::rng::seed_from_env_or_clock();
    println!("seed {s} (replay with SLIMMABLE_SEED={s})");
    s
}

/// The `slimmable` binary run with `args` (`SLIMMABLE_BIN` overrides its
/// path, for runs away from the build tree such as scripts/gpu-check.sh).
pub fn slimmable(args: &[&str]) -> std::process::Output {
    let bin = std::env::var("SLIMMABLE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_slimmable").to_string());
    std::process::Command::new(bin)
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the slimmable binary runs")
}

/// Runs `command` with its output captured, killed after `timeout`:
/// `Ok(output)` when it ended by itself, `Err(output so far)` when it was
/// killed (a hung kernel, a child stuck past its budget).
pub fn output_within(
    mut command: std::process::Command,
    timeout: std::time::Duration,
) -> Result<std::process::Output, std::process::Output> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child process starts");
    // Drained on their own threads, so that a chatty child cannot block on a
    // full pipe while this one waits for it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + timeout;
    let (status, ended) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, true);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break (child.wait().unwrap(), false);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if ended { Ok(output) } else { Err(output) }
}

/// Its stdout and stderr, for assertions and failure messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `<temp>/slimmable-<tag>-<pid>/<name>`, its folder created: one scratch
/// folder per test file and process.
pub fn scratch(tag: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("slimmable-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `slimmable op --op OP --params PARAMS --inputs INPUT --out OUT --backend
/// BACKEND`.
pub fn run_op(
    op: &str,
    params: &str,
    input: &std::path::Path,
    out: &std::path::Path,
    backend: &str,
) -> std::process::Output {
    slimmable(&[
        "op",
        "--op",
        op,
        "--params",
        params,
        "--inputs",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        backend,
    ])
}
