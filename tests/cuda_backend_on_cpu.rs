//! The CUDA backend, host code and kernels together, on a machine without a
//! GPU: tools/cuda_on_cpu/build-fake-libcuda.sh builds a CPU stand-in for
//! libcuda (the driver calls cudarc makes, kernels from the same
//! kernels/*.cu run through cuda_shim.h), and `slimmable verify --backend
//! cuda` runs against it in a child process with the stand-in first on
//! LD_LIBRARY_PATH. So the routes, launch shapes, argument order and buffer
//! handling of src/backend/cuda are checked against the CPU reference, as
//! on a GPU, where tests/cuda_kernels_on_cpu.rs checks kernels under launch
//! shapes its drivers mirror by hand. Not a GPU run: NVRTC's PTX is
//! compiled but not executed, and tensor cores, rounding and the memory
//! model are emulated.
//!
//! Needs g++ (C++20) and NVRTC; prints `skipped: ...` without them (fails
//! without NVRTC where SLIMMABLE_REQUIRE_NVRTC=1, as CI sets).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

/// How long one child run may take: the whole case list takes about 20 s on
/// a 2-core VM, three training steps about 75 s.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The folder holding the built stand-in (once per process), or why there
/// is none.
fn fake_driver() -> &'static Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        if Command::new("g++").arg("--version").output().is_err() {
            return Err("g++ not found".into());
        }
        // Rebuilt by every test process, so never stale against kernels/.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fake-libcuda");
        let _ = std::fs::remove_dir_all(&dir);
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cuda_on_cpu/build-fake-libcuda.sh");
        // With the planted kernel of the stand-in's own test beside ours
        // (found only by a module image that enters it).
        let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cuda_on_cpu");
        let out = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .arg(shim.join("planted_faults.cu"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "build-fake-libcuda.sh failed:\n{}",
            common::output_text(&out)
        );
        // The backend makes module images even though the fake driver
        // ignores them: once here, as cubins, not by NVRTC in every child.
        let cubins = dir.join("cubins").display().to_string();
        let out = common::slimmable(&["cubins", "--arch", "sm_90a", &cubins]);
        assert!(
            out.status.success(),
            "slimmable cubins failed:\n{}",
            common::output_text(&out)
        );
        Ok(dir)
    })
}

/// The stand-in's folder, or `None` after printing why the test is skipped.
fn fake_driver_or_skip() -> Option<&'static Path> {
    if !common::nvrtc_or_skip() {
        return None;
    }
    match fake_driver() {
        Ok(dir) => Some(dir),
        Err(why) => {
            println!("skipped: the CUDA backend on the CPU: {why}");
            None
        }
    }
}

/// `slimmable args` with the stand-in first on the loader path and `envs`
/// set, killed after [`RUN_TIMEOUT`].
fn slimmable_on_fake(lib: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let bin = std::env::var("SLIMMABLE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_slimmable").to_string());
    program_on_fake(lib, Path::new(&bin), args, envs)
}

/// [`slimmable_on_fake`] for any program of ours.
fn program_on_fake(lib: &Path, program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let path = match std::env::var("LD_LIBRARY_PATH") {
        Ok(p) if !p.is_empty() => format!("{}:{p}", lib.display()),
        _ => lib.display().to_string(),
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(envs.iter().copied())
        .env("LD_LIBRARY_PATH", path)
        .env("SLIMMABLE_CUBIN_DIR", lib.join("cubins"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir());
    common::output_within(command, RUN_TIMEOUT).unwrap_or_else(|partial| {
        panic!(
            "{} {args:?} on the fake driver gave no answer in {} s; its output so far:\n{}",
            program.display(),
            RUN_TIMEOUT.as_secs(),
            common::output_text(&partial)
        )
    })
}

/// `(passed, failed)` from verify's last line.
fn verify_counts(text: &str) -> Option<(usize, usize)> {
    let line = text.lines().rev().find(|l| l.contains(" passed, "))?;
    let mut words = line.split_whitespace();
    let passed = words.next()?.parse().ok()?;
    let failed = words.nth(1)?.parse().ok()?;
    Some((passed, failed))
}

/// `verify --op OP --seed 7` on the stand-in with the planted fault that
/// `fault` sets (a `SLIMMABLE_FAKE_CUDA_*` variable): its output, after
/// checking that the run failed.
fn verify_with_planted_fault(lib: &Path, op: &str, fault: (&str, &str)) -> String {
    let args = ["verify", "--backend", "cuda", "--seed", "7", "--op", op];
    let out = slimmable_on_fake(lib, &args, &[fault]);
    let text = common::output_text(&out);
    assert!(
        !out.status.success(),
        "verify --op {op} passed with {}={}:\n{text}",
        fault.0,
        fault.1
    );
    text
}

/// The whole verify list on the stand-in with `envs` set: every case must
/// pass, and the count must be the list's.
fn assert_every_verify_case_passes(lib: &Path, envs: &[(&str, &str)]) {
    let seed = common::seed().to_string();
    let out = slimmable_on_fake(lib, &["verify", "--backend", "cuda", "--seed", &seed], envs);
    let text = common::output_text(&out);
    assert!(
        text.contains("fake libcuda"),
        "verify did not run on the fake driver:\n{text}"
    );
    let cases = slimmable::verify::cases().len();
    assert!(
        out.status.success() && verify_counts(&text) == Some((cases, 0)),
        "expected all {cases} cases to pass with {envs:?}:\n{text}"
    );
}

#[test]
fn every_verify_case_passes_on_the_cuda_backend_run_on_the_cpu() {
    if let Some(lib) = fake_driver_or_skip() {
        assert_every_verify_case_passes(lib, &[]);
    }
}

/// The backend loads on the devices below Hopper too. Each capability has
/// its own most shared memory a block may ask for (the stand-in reports
/// the real limits: 64 KiB on 7.5, 99 KiB on 8.6); before stop 30 the
/// backend asked for the sm_90a tiles' 98 KiB on every device, which
/// failed its whole load on a T4 or an RTX 30 or 40. The kernels come
/// from NVRTC for each architecture here (no cubins for them).
#[test]
fn the_backend_loads_and_verifies_below_hopper() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    for cc in ["7.5", "8.6"] {
        let args = ["verify", "--backend", "cuda", "--op", "slice_copy"];
        let out = slimmable_on_fake(lib, &args, &[("SLIMMABLE_FAKE_CUDA_CC", cc)]);
        let text = common::output_text(&out);
        let (passed, failed) = verify_counts(&text).unwrap_or((0, 1));
        assert!(
            out.status.success() && passed > 0 && failed == 0,
            "compute capability {cc}:\n{text}"
        );
    }
}

/// The check above can fail: with the slice-copy kernels' launches skipped
/// (a planted fault in the fake driver), verify reports those cases failed.
#[test]
fn a_skipped_kernel_fails_verify() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let text = verify_with_planted_fault(
        lib,
        "slice_copy",
        ("SLIMMABLE_FAKE_CUDA_SKIP", "slice_copy"),
    );
    let (passed, failed) = verify_counts(&text).expect("verify's summary line");
    assert!(
        failed > 0 && passed == 0,
        "every slice_copy case should fail when its kernel never runs:\n{text}"
    );
}

/// The stand-in reads each kernel's registers from its cubin and refuses a
/// block that needs more than the register file, as a GPU does; the full
/// verify above passing means every launch fits an H200's 64 Ki registers.
/// This shows the check is live: with a planted register file of 24 Ki,
/// the launches of the 128-register, 256-thread GEMM tiles (32 Ki a block)
/// fail with the driver's error, naming the kernel.
#[test]
fn a_block_needing_more_registers_than_the_file_fails() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let text = verify_with_planted_fault(
        lib,
        "conv2d_wgrad",
        ("SLIMMABLE_FAKE_CUDA_REGISTER_FILE", "24576"),
    );
    assert!(
        text.contains("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"),
        "the failures should be the driver's refusal to launch:\n{text}"
    );
    let (passed, failed) = verify_counts(&text).expect("verify's summary line");
    assert!(
        failed > 0 && passed > 0,
        "only the kernels needing more than 24 Ki registers a block should fail:\n{text}"
    );
}

/// The stand-in's own checks (tools/cuda_on_cpu/fake_driver_check.cpp):
/// module images for another architecture refused, a kernel looked up only
/// in the image that enters it, a kernel writing one float past its buffer
/// stopped by the guard after it, with a report naming the kernel and the
/// allocation, a shared slot no thread wrote read as NaN, a planted
/// race seen once the fiber order is reversed, a copy on one stream
/// that skips its event wait for another stream's memset overtaking it
/// when the streams run newest first, and a wait held by its own record
/// of an event re-recorded later on a third stream.
#[test]
fn the_stand_in_checks_itself_on_planted_faults() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cuda_on_cpu/fake_driver_check.cpp");
    let exe = lib.join("fake_driver_check");
    let out = Command::new("g++")
        .args(["-std=c++17", "-O1", "-Wall", "-Werror"])
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let run_with = |mode: &str, var: &str, value: &str| {
        let mut command = Command::new(&exe);
        command
            .arg(lib.join("libcuda.so"))
            .arg(mode)
            .env(var, value);
        common::output_within(command, RUN_TIMEOUT).expect("the check ends")
    };
    let run_in_order = |mode: &str, order: &str| run_with(mode, "SLIMMABLE_FAKE_CUDA_ORDER", order);
    let run = |mode: &str| run_in_order(mode, "");
    let api = run("api");
    let text = common::output_text(&api);
    assert!(api.status.success() && !text.contains("FAIL"), "{text}");
    assert_eq!(text.matches("ok: ").count(), 10, "{text}");

    let overrun = run("overrun");
    let text = common::output_text(&overrun);
    assert!(
        !overrun.status.success() && !text.contains("went unseen"),
        "the write past the buffer should have stopped the process:\n{text}"
    );
    assert!(
        text.contains("fake libcuda: kernel slimmable_planted_overrun touched")
            && text.contains("0 bytes past the end of an allocation of 256 bytes"),
        "the stand-in should name the kernel and the allocation:\n{text}"
    );

    // A shared slot no thread wrote reads as NaN (as garbage on a GPU),
    // not as the zero a fresh static would hold.
    let unwritten = run("unwritten");
    let text = common::output_text(&unwritten);
    assert!(
        unwritten.status.success() && text.contains("unwritten: read -nan"),
        "an unwritten shared slot should read as NaN:\n{text}"
    );

    // A missing barrier: unseen with the fibers in thread order, seen
    // with them reversed (which is why verify also runs that way, below).
    for (order, expected) in [("", "race: unseen"), ("reverse", "race: seen")] {
        let race = run_in_order("race", order);
        let text = common::output_text(&race);
        assert!(
            race.status.success() && text.contains(expected),
            "order {order:?}: expected {expected:?}:\n{text}"
        );
    }

    // Streams run late: a copy that waits for another stream's event sees
    // its memset in every order; one that does not is overtaken when the
    // newer stream goes first (why the backward overlap is verified that way).
    for (order, expected) in [
        ("oldest", "streams: unordered copy saw the memset"),
        ("eager", "streams: unordered copy saw the memset"),
        ("newest", "streams: unordered copy ran first"),
    ] {
        let streams = run_with("streams", "SLIMMABLE_FAKE_CUDA_STREAMS", order);
        let text = common::output_text(&streams);
        assert!(
            streams.status.success() && !text.contains("FAIL") && text.contains(expected),
            "streams {order}: expected {expected:?}:\n{text}"
        );
        // An event re-recorded on a third stream does not release a wait
        // queued before that record (the newest order runs the third first).
        assert!(
            text.contains("ok: a wait holds for the record it followed, not a later one"),
            "streams {order}: the re-recorded event's check did not run:\n{text}"
        );
    }
}

/// The whole verify list again with each block's fibers run in reverse
/// thread order. A read racing another thread's write for want of a
/// barrier gets the written value in one of the two orders and the stale
/// one in the other, so between this run and the one in thread order such
/// a race changes some output (the planted race above shows it).
#[test]
fn every_verify_case_passes_with_the_fibers_in_reverse_order() {
    if let Some(lib) = fake_driver_or_skip() {
        assert_every_verify_case_passes(lib, &[("SLIMMABLE_FAKE_CUDA_ORDER", "reverse")]);
    }
}

/// Each launch's dynamic shared memory ends at an inaccessible range: with
/// the window planted 1 KiB short of what the launch asked for, the first
/// kernel that uses its last kilobyte (the ldmatrix GEMM tiles) stops the
/// process, and the stand-in names it.
#[test]
fn a_kernel_past_its_dynamic_shared_memory_stops() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let text = verify_with_planted_fault(
        lib,
        "conv2d_fwd",
        ("SLIMMABLE_FAKE_CUDA_SHARED_SHORTFALL", "1024"),
    );
    assert!(
        text.contains("fake libcuda: kernel slimmable_conv2d_")
            && text.contains("past the launch's dynamic shared memory"),
        "the stand-in should name the kernel that ran past its window:\n{text}"
    );
}

/// The full network's cross-entropy of each iteration from train's
/// progress lines (`... | CE 2.2997 | ...`).
fn cross_entropies(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.split(" | CE ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Every f32 tensor of a checkpoint (the BN batch counters are i64, and
/// are the same count on every backend).
fn f32_tensors(path: &Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .filter(|(_, t)| t.dtype() == safetensors::Dtype::F32)
        .map(|(name, t)| {
            let values = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

/// Three MutualNet iterations of the small preset (four sub-network passes
/// each, the SGD step, the resize-pack of every batch) on the CUDA backend
/// run on the CPU, in exact f32, against the same three on the CPU
/// reference backend from the same seed: the same losses and, after the
/// three steps, the same parameters within f32 rounding; again with each
/// conv's two backward passes on two streams.
#[test]
fn three_training_steps_match_the_cpu_reference() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    if !common::fashion_mnist_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "slimmable-fake-libcuda-train-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |backend: &str, envs: &[(&str, &str)]| {
        let out_dir = dir.join(format!("{backend}-{}", envs.len()));
        let out_arg = out_dir.display().to_string();
        let args = [
            "train",
            "--preset",
            "fmnist-small",
            "--backend",
            backend,
            "--epochs",
            "1",
            "--images-per-epoch",
            "96",
            "--skip-eval",
            "--log-every",
            "1",
            "--seed",
            "3",
            "--f32",
            "--out",
            &out_arg,
        ];
        let out = slimmable_on_fake(lib, &args, envs);
        let text = common::output_text(&out);
        assert!(out.status.success(), "train on {backend} failed:\n{text}");
        (text, f32_tensors(&out_dir.join("checkpoint.safetensors")))
    };
    let (cpu_text, cpu) = run("cpu", &[]);
    let ce_cpu = cross_entropies(&cpu_text);
    assert_eq!(
        ce_cpu.len(),
        3,
        "three progress lines expected:\n{cpu_text}"
    );
    assert!(
        cpu.len() >= 50,
        "the checkpoint should hold every parameter and BN statistic (97 f32 tensors)"
    );
    // The default, and each conv's wgrad on a second stream beside its
    // dgrad with the stand-in running the newer stream first (a missing
    // fence then shows as a wrong gradient).
    let two_streams = [
        ("SLIMMABLE_CONV_BACKWARD_STREAMS", "1"),
        ("SLIMMABLE_FAKE_CUDA_STREAMS", "newest"),
    ];
    for envs in [&[][..], &two_streams[..]] {
        let (cuda_text, cuda) = run("cuda", envs);
        assert!(
            cuda_text.contains("fake libcuda"),
            "not on the fake driver:\n{cuda_text}"
        );
        let ce_cuda = cross_entropies(&cuda_text);
        assert_eq!(
            ce_cuda.len(),
            3,
            "three progress lines expected with {envs:?}:\n{cuda_text}"
        );
        for (i, (a, b)) in ce_cuda.iter().zip(&ce_cpu).enumerate() {
            assert!(
                (a - b).abs() <= 2e-3,
                "iteration {}: CE {a} on cuda with {envs:?}, {b} on cpu",
                i + 1
            );
        }
        assert_eq!(
            cuda.len(),
            cpu.len(),
            "the checkpoints hold different tensors"
        );
        let mut worst = (0.0f64, String::new());
        for (name, want) in &cpu {
            let got = &cuda[name];
            assert_eq!(got.len(), want.len(), "{name}");
            for (g, w) in got.iter().zip(want) {
                let (g, w) = (*g as f64, *w as f64);
                let err = (g - w).abs();
                assert!(
                    err <= 1e-4 + 1e-3 * w.abs(),
                    "{name}: {g} on cuda with {envs:?}, {w} on cpu after three steps"
                );
                if err > worst.0 {
                    worst = (err, name.clone());
                }
            }
        }
        println!(
            "largest parameter difference after three steps with {envs:?}: {:.2e} ({})",
            worst.0, worst.1
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `verify` once per kernel switch of src/backend/cuda, each flipped from its
/// default (tools/cuda_on_cpu/switch-sweep.sh): the routes the host takes
/// only when asked, which no other test runs through the host code.
#[test]
fn every_kernel_switch_passes_verify() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cuda_on_cpu/switch-sweep.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(common::seed().to_string())
        .env("FAKE_LIBCUDA_DIR", lib)
        .env("SLIMMABLE_CUBIN_DIR", lib.join("cubins"))
        .env("SLIMMABLE_BIN", env!("CARGO_BIN_EXE_slimmable"))
        .output()
        .unwrap();
    let text = common::output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "a switched route failed:\n{text}");
    // Every run the script lists, each reporting ok (the script's own
    // count, so that a run added or removed there needs no edit here).
    let oks = text.lines().filter(|l| l.starts_with("ok ")).count();
    let listed = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("sweep: ")?
                .split(", ")
                .nth(1)?
                .strip_suffix(" listed")
        })
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        listed.is_some_and(|n| n > 1 && n == oks),
        "expected each of the listed runs to report ok:\n{text}"
    );
}

/// The README's raw-launch example (an engine's own context, buffers and
/// stream; a slice copy and a sliced conv's forward and weight gradient
/// through `launch_conv2d`), which checks its own results against plain
/// loops, run on the stand-in. `cargo build --examples` builds it as a
/// program (scripts/test.sh does; `cargo test` builds examples only as test
/// harnesses); without it the test says so (a failure where
/// SLIMMABLE_REQUIRE_NVRTC=1, as in CI).
#[test]
fn the_raw_launch_example_computes_what_its_loops_do() {
    let Some(lib) = fake_driver_or_skip() else {
        return;
    };
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .expect("the test binary lies in target/<profile>/deps");
    let example = profile_dir.join("examples").join("cuda_raw_launch");
    if !example.exists() {
        let why = format!(
            "{} is not built: `cargo build --examples` builds it (scripts/test.sh does)",
            example.display()
        );
        assert!(
            std::env::var("SLIMMABLE_REQUIRE_NVRTC").as_deref() != Ok("1"),
            "{why}"
        );
        println!("skipped: {why}");
        return;
    }
    let out = program_on_fake(lib, &example, &[], &[("SLIMMABLE_REQUIRE_CUDA", "1")]);
    let text = common::output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "cuda_raw_launch failed:\n{text}");
    assert!(
        text.contains("slice copy: ok") && text.contains("sliced conv forward and wgrad: ok"),
        "{text}"
    );
    // Its checks can fail: with the conv kernels' launches skipped, y keeps
    // its poison and the example must exit non-zero.
    let skipped = program_on_fake(
        lib,
        &example,
        &[],
        &[("SLIMMABLE_FAKE_CUDA_SKIP", "conv2d")],
    );
    let skipped_text = common::output_text(&skipped);
    assert!(
        !skipped.status.success() && skipped_text.contains("sliced conv: y["),
        "the example passed with its conv kernels skipped:\n{skipped_text}"
    );
}
