//! The CUDA resize-pack kernels (kernels/resize_pack.cu), compiled as C++
//! and run on the CPU block by block (tools/cuda_on_cpu), against the CPU
//! reference: their indexing, tiling and tap arithmetic checked on machines
//! without a GPU. Needs `g++` with C++20; prints `skipped: ...` without it.
//! (This does not replace the CUDA tests: NVRTC, the hardware's rounding and
//! memory model are only exercised on a GPU.)

mod common;

use slimmable::backend::cuda::launch_resize::{AA_TILE_MAX_TAPS, resize_route};
use slimmable::backend::{self, BackendKind};
use slimmable::kernel_sources::entry;
use slimmable::ops::resize::{
    CropBox, Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
    pack_u8,
};
use slimmable::rng::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slimmable-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds `tools/cuda_on_cpu/<name>.cpp`, or says why not (no g++, or one
/// without C++20's <barrier>).
fn build_driver(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let exe = dir.join(name);
    let out = Command::new("g++")
        // -fsanitize=alignment: a misaligned vector access (float4, float2)
        // stops the driver, as it would fault on a GPU.
        .args([
            "-std=c++20",
            "-O1",
            "-pthread",
            "-w",
            "-fsanitize=alignment",
            "-fno-sanitize-recover=alignment",
        ])
        .arg(format!("-I{root}/kernels"))
        .arg(format!("-I{root}/tools/cuda_on_cpu"))
        .arg(format!("{root}/tools/cuda_on_cpu/{name}.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| format!("g++ not found ({e})"))?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        if log.contains("barrier") && log.contains("No such file") {
            return Err("g++ lacks C++20 <barrier>".into());
        }
        panic!("{name}.cpp does not compile:\n{log}");
    }
    Ok(exe)
}

/// [`build_driver`], or `None` after printing why the test is skipped.
fn driver_or_skip(dir: &Path, name: &str) -> Option<PathBuf> {
    build_driver(dir, name)
        .map_err(|why| println!("skipped: CUDA kernels on the CPU: {why}"))
        .ok()
}

/// How long one driver run may take before it counts as hung: a kernel
/// writing out of bounds can corrupt the shim's thread state and spin
/// forever instead of failing (seen with a planted bug in copy_check).
const DRIVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs a driver with `args`: what it printed, as Ok when it agreed with the
/// reference, Err when it did not, crashed or hung past [`DRIVER_TIMEOUT`].
/// conv_check on `cdir`'s case of `pass` at `precision` with a mode
/// argument (`square`, `gemmwgrad`: the routes off the default
/// for some shapes).
fn run_mode(
    exe: &Path,
    cdir: &Path,
    pass: &str,
    precision: &str,
    mode: &str,
) -> Result<String, String> {
    let args = [
        cdir.as_os_str(),
        pass.as_ref(),
        precision.as_ref(),
        mode.as_ref(),
    ];
    run_driver(exe, &args)
}

fn run_driver(exe: &Path, args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let mut command = Command::new(exe);
    command.args(args);
    let finished = common::output_within(command, DRIVER_TIMEOUT);
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout).trim(),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    match finished {
        Ok(o) if o.status.success() => Ok(text(&o)),
        // A driver killed by a signal (a kernel reading far out of bounds)
        // prints nothing: say how it ended.
        Ok(o) => Err(format!("{}\n(the driver ended: {})", text(&o), o.status)),
        Err(o) => Err(format!(
            "{}\nno answer after {} s: killed (a kernel writing out of bounds?)",
            text(&o),
            DRIVER_TIMEOUT.as_secs()
        )),
    }
}

fn write_f32(dir: &Path, name: &str, v: &[f32]) {
    std::fs::write(dir.join(name), bytemuck::cast_slice(v)).unwrap();
}

struct Case {
    name: String,
    format: ImageFormat,
    channels: usize,
    filter: Filter,
    align_corners: bool,
    sizes: Vec<(usize, usize)>,
    outputs: Vec<OutputSpec>,
}

fn out(h: usize, w: usize, images: Option<Vec<usize>>) -> OutputSpec {
    OutputSpec {
        height: h,
        width: w,
        images,
    }
}

fn cases() -> Vec<Case> {
    let filters = [
        ("nearest", Filter::Nearest, false),
        ("bilinear", Filter::Bilinear, false),
        ("bilinear-ac", Filter::Bilinear, true),
        ("antialias", Filter::BilinearAntialias, false),
        ("antialias-ac", Filter::BilinearAntialias, true),
    ];
    let formats = [
        ("u8hwc3", ImageFormat::U8Hwc, 3),
        ("u8chw1", ImageFormat::U8Chw, 1),
        ("f32x3", ImageFormat::F32Chw, 3),
        ("u8hwc4", ImageFormat::U8Hwc, 4),
        // The rest of the bilinear tile kernel's compile-time specializations
        // (format × channels) and its run-time fallback (two channels).
        ("u8hwc1", ImageFormat::U8Hwc, 1),
        ("u8chw3", ImageFormat::U8Chw, 3),
        ("f32x1", ImageFormat::F32Chw, 1),
        ("u8hwc2", ImageFormat::U8Hwc, 2),
    ];
    let mut v = Vec::new();
    for (fname, filter, ac) in filters {
        for (mname, format, channels) in formats {
            v.push(Case {
                name: format!("{fname}-{mname}"),
                format,
                channels,
                filter,
                align_corners: ac,
                // Sizes that do not fit the 32×8 tiles; a 9× shrink whose
                // antialias window spans several 16-row chunks; an enlargement;
                // 1×1 and non-square outputs; a sub-batch.
                sizes: vec![(37, 45), (60, 23), (90, 81)],
                outputs: vec![
                    out(37, 45, None),
                    out(19, 33, None),
                    out(10, 9, Some(vec![2, 0])),
                    out(71, 50, Some(vec![1])),
                    out(1, 1, None),
                    out(8, 32, None),
                    // The crops' own sizes (image 1 whole; image 0 cropped
                    // and flipped): the tile kernels' same-size path.
                    out(60, 23, Some(vec![1])),
                    out(34, 41, Some(vec![0, 1])),
                ],
            });
            if filter == Filter::BilinearAntialias {
                // Shrinks the antialias tile kernel holds (at most 8 taps an
                // axis: up to about 3.5x), with a tile that is not full,
                // several 24-row chunks of a tile's source rows (3.85x) and
                // outputs the size of their crops.
                v.push(Case {
                    name: format!("{fname}-fits-{mname}"),
                    format,
                    channels,
                    filter,
                    align_corners: ac,
                    sizes: vec![(37, 45), (60, 23), (90, 81)],
                    outputs: vec![
                        out(37, 45, None),
                        out(30, 20, None),
                        out(40, 31, Some(vec![2, 0])),
                        out(71, 50, Some(vec![1])),
                        out(12, 32, Some(vec![0])),
                        // The crops' own sizes: the tile kernels'
                        // same-size path, which the 9x case never routes
                        // to them.
                        out(60, 23, Some(vec![1])),
                        out(34, 41, Some(vec![0, 1])),
                    ],
                });
            }
        }
    }
    v
}

#[test]
fn resize_pack_kernels_match_the_reference_on_the_cpu() {
    let dir = scratch("cuda-on-cpu");
    let Some(exe) = driver_or_skip(&dir, "resize_check") else {
        return;
    };
    // The same-size path's closed-form weight against the filters' own.
    let same_weight = run_driver(&exe, &["sameweight".as_ref()]).unwrap();
    assert!(same_weight.contains("same_weight: ok"), "{same_weight}");
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let mut rng = Rng::new(0xC0DA);
    let mut failures = Vec::new();
    for case in cases() {
        // Images back to back with a small gap; image 0 cropped and flipped,
        // image 1 whole, image 2 cropped.
        let mut bytes = Vec::new();
        let mut floats: Vec<f32> = Vec::new();
        let mut images = Vec::new();
        for (k, &(h, w)) in case.sizes.iter().enumerate() {
            let n = h * w * case.channels;
            let offset = if case.format == ImageFormat::F32Chw {
                floats.extend(rng.vec_f32(3));
                let o = floats.len();
                floats.extend((0..n).map(|_| rng.uniform_f32(-3.0, 3.0)));
                o
            } else {
                bytes.extend((0..3).map(|_| rng.below(256) as u8));
                let o = bytes.len();
                bytes.extend((0..n).map(|_| rng.below(256) as u8));
                o
            };
            let crop = (k != 1).then(|| CropBox {
                top: 1 + k,
                left: 2,
                height: h - 3 - k,
                width: w - 4,
            });
            images.push(SourceImage {
                offset,
                height: h,
                width: w,
                crop,
                flip: k == 0,
            });
        }
        let cfg = ResizePackConfig {
            format: case.format,
            channels: case.channels,
            mean: (0..case.channels).map(|c| 0.4 + 0.05 * c as f32).collect(),
            std: (0..case.channels).map(|c| 0.25 + 0.02 * c as f32).collect(),
            filter: case.filter,
            align_corners: case.align_corners,
            order: Order::Direct,
            arena_offset: 0,
        };
        let pack = ResizePack::new(cpu.as_ref(), &images, &case.outputs, &cfg).unwrap();
        let words = if case.format == ImageFormat::F32Chw {
            floats.clone()
        } else {
            pack_u8(&bytes)
        };
        let src = cpu.upload(&words).unwrap();
        let arena = cpu.alloc(pack.arena_len()).unwrap();
        pack.run(cpu.as_ref(), &src, &arena).unwrap();
        let expected = cpu.download(&arena).unwrap();
        let plan = pack.plan();
        let cdir = dir.join(&case.name);
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&plan.params)).unwrap();
        std::fs::write(cdir.join("desc.bin"), bytemuck::cast_slice(&plan.words)).unwrap();
        std::fs::write(cdir.join("src.bin"), bytemuck::cast_slice(&words)).unwrap();
        std::fs::write(cdir.join("expected.bin"), bytemuck::cast_slice(&expected)).unwrap();
        // The tile kernels only for the filters the host routes to them (and
        // it must route there: `resize_route`).
        let switched_off = |name: &str| std::env::var(name).as_deref() == Ok("0");
        let tile_kernel = match case.filter {
            Filter::Bilinear if !switched_off("SLIMMABLE_RESIZE_BILINEAR") => {
                Some(entry::RESIZE_PACK_BILINEAR)
            }
            Filter::BilinearAntialias if !switched_off("SLIMMABLE_RESIZE_AA_TILE") => {
                Some(entry::RESIZE_PACK_AA)
            }
            _ => None,
        };
        let fits = plan.params.max_taps <= AA_TILE_MAX_TAPS;
        let routed = resize_route(&plan.params).0;
        match tile_kernel {
            Some(name) if fits => assert_eq!(routed, name, "{}: the host's route", case.name),
            _ => assert!(
                ![entry::RESIZE_PACK_BILINEAR, entry::RESIZE_PACK_AA].contains(&routed),
                "{}: routed to {routed}",
                case.name
            ),
        }
        // The tile kernels take their blocks image by image through the
        // tile-run table (the CUDA launcher passes it with
        // SLIMMABLE_RESIZE_IMAGE_MAJOR=1), and (-outmajor) output by output.
        assert_eq!(
            plan.params.tile_runs as usize,
            case.outputs
                .iter()
                .map(|o| o.images.as_ref().map_or(case.sizes.len(), Vec::len))
                .sum::<usize>(),
            "{}: one tile run per output image",
            case.name
        );
        let mut kernels = vec!["per_column"];
        if tile_kernel.is_some() && fits {
            // The filter's tile kernel image by image and output by output,
            // with and without the same-size path, and (bilinear) with and
            // without staged spans (the 9× shrink's bilinear tiles do not
            // fit the stage: they take the unstaged path either way; the
            // antialias kernel never stages).
            kernels.extend(match case.filter {
                Filter::Bilinear => &[
                    "bilinear",
                    "bilinear-outmajor",
                    "bilinear-nosame",
                    "bilinear-nosame-nostage",
                ][..],
                _ => &["aa", "aa-outmajor", "aa-nosame"][..],
            });
        }
        for kernel in kernels {
            match run_driver(&exe, &[cdir.as_os_str(), kernel.as_ref()]) {
                Ok(text) => println!("{} {kernel}: {text}", case.name),
                Err(text) => failures.push(format!("{} {kernel}: {text}", case.name)),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn batch_norm_kernels_match_the_reference_on_the_cpu() {
    use slimmable::ops::{self, Activation, RunningStats, StatsUpdate};
    use slimmable::view::View;
    let dir = scratch("cuda-on-cpu-bn");
    let Some(exe) = driver_or_skip(&dir, "bn_check") else {
        return;
    };
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let be = cpu.as_ref();
    let mut rng = Rng::new(0xB0A7);
    // (full NCHW, active channels, first channel, lead, activation, update):
    // float4 views and scalar ones (lead 1), one round and several (the
    // resident kernels' capacity is 4096 elements a round on the scalar
    // path), a 1×1 plane, momentum and cumulative updates.
    let shapes: [([usize; 4], usize, usize, usize, Activation, StatsUpdate); 6] = [
        (
            [4, 16, 8, 8],
            12,
            0,
            0,
            Activation::Relu,
            StatsUpdate::Momentum(0.1),
        ),
        (
            [40, 6, 14, 14],
            5,
            1,
            1,
            Activation::Relu6,
            StatsUpdate::Momentum(0.1),
        ),
        (
            [2, 3, 56, 56],
            3,
            0,
            0,
            Activation::None,
            StatsUpdate::Cumulative { batches_seen: 2 },
        ),
        (
            [64, 3, 16, 17],
            2,
            1,
            0,
            Activation::Relu,
            StatsUpdate::Momentum(0.3),
        ),
        (
            [6, 9, 1, 1],
            7,
            2,
            1,
            Activation::None,
            StatsUpdate::Momentum(0.1),
        ),
        ([3, 4, 9, 11], 4, 0, 1, Activation::Relu6, StatsUpdate::None),
    ];
    let mut failures = Vec::new();
    for (k, (full, c, c0, lead, act, update)) in shapes.into_iter().enumerate() {
        let mut v = View::channel_slice(full, c0, c).unwrap();
        v.offset += lead;
        let len = lead + full.iter().product::<usize>();
        let c_full = full[1];
        let x_host: Vec<f32> = (0..len).map(|_| rng.uniform_f32(-2.0, 3.0)).collect();
        let dy_host = rng.vec_f32(len);
        let poison = vec![7777.0f32; len];
        let gamma_host: Vec<f32> = (0..c_full).map(|_| rng.uniform_f32(0.5, 1.5)).collect();
        let beta_host = rng.vec_f32(c_full);
        let running_host: Vec<f32> = (0..3 * 2 * c_full)
            .map(|_| rng.uniform_f32(0.1, 1.0))
            .collect();
        let dgamma_host = rng.vec_f32(c_full);
        let dbeta_host = rng.vec_f32(c_full);
        let count = full[0] * full[2] * full[3];
        let saved_len = ops::bn_saved_len(c, count);

        let up = |h: &[f32]| be.upload(h).unwrap();
        let (x, dy, y, dx) = (up(&x_host), up(&dy_host), up(&poison), up(&poison));
        let (gamma, beta, running) = (up(&gamma_host), up(&beta_host), up(&running_host));
        let (dgamma, dbeta) = (up(&dgamma_host), up(&dbeta_host));
        let saved = be.alloc(saved_len).unwrap();
        let stats = RunningStats::config(&running, c_full, 1);
        let pf = ops::bn_train_params(&v, &v, &stats, update, 1e-5, act).unwrap();
        let pb = ops::bn_backward_params(&v, &v, &v, act);
        ops::batch_norm_train(
            be, &x, &v, &gamma, &beta, stats, update, &saved, &y, &v, 1e-5, act,
        )
        .unwrap();
        ops::batch_norm_backward(
            be, &x, &v, &dy, &v, &gamma, &beta, &saved, &dgamma, &dbeta, &dx, &v, act,
        )
        .unwrap();

        let cdir = dir.join(format!("case{k}"));
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join("fwd_params.bin"), bytemuck::bytes_of(&pf)).unwrap();
        std::fs::write(cdir.join("bwd_params.bin"), bytemuck::bytes_of(&pb)).unwrap();
        for (name, h) in [
            ("x.bin", &x_host),
            ("dy.bin", &dy_host),
            ("y_init.bin", &poison),
            ("dx_init.bin", &poison),
            ("gamma.bin", &gamma_host),
            ("beta.bin", &beta_host),
            ("running.bin", &running_host),
            ("dgamma.bin", &dgamma_host),
            ("dbeta.bin", &dbeta_host),
        ] {
            write_f32(&cdir, name, h);
        }
        write_f32(&cdir, "saved_len.bin", &vec![0.0; saved_len]);
        let down = |b| be.download(b).unwrap();
        write_f32(&cdir, "y.bin", &down(&y));
        write_f32(&cdir, "running_out.bin", &down(&running));
        write_f32(&cdir, "dx.bin", &down(&dx));
        write_f32(&cdir, "dgamma_out.bin", &down(&dgamma));
        write_f32(&cdir, "dbeta_out.bin", &down(&dbeta));
        for path in ["resident", "small", "split"] {
            match run_driver(&exe, &[cdir.as_os_str(), path.as_ref()]) {
                Ok(text) => println!("case {k} {full:?} c={c}: {text}"),
                Err(text) => failures.push(format!("case {k} {path}: {text}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One conv pass as a CUDA-on-CPU case: inputs with the output poisoned
/// (wgrad: holding earlier values), the CPU reference's output buffer, the
/// pass's Conv2dParams; runs `driver CASE_DIR pass [precision]` and returns
/// what it printed, or Err with it when the driver disagreed.
#[allow(clippy::too_many_arguments)]
fn conv_pass_case(
    be: &dyn slimmable::backend::Backend,
    driver: &Path,
    cdir: &Path,
    views: [slimmable::view::View; 3],
    geometry: slimmable::ops::conv::ConvGeometry,
    hosts: (&[f32], &[f32], &[f32], &[f32]),
    pass: &str,
    precision: Option<(&str, f32, f32)>,
) -> Result<String, String> {
    conv_pass_case_acc(
        be, driver, cdir, views, geometry, hosts, pass, precision, false,
    )
}

/// [`conv_pass_case`] with `accumulate` (forward and dgrad then add into
/// an output that starts from the host values instead of poison).
#[allow(clippy::too_many_arguments)]
fn conv_pass_case_acc(
    be: &dyn slimmable::backend::Backend,
    driver: &Path,
    cdir: &Path,
    views: [slimmable::view::View; 3],
    geometry: slimmable::ops::conv::ConvGeometry,
    (x_host, w_host, y_host, bias_host): (&[f32], &[f32], &[f32], &[f32]),
    pass: &str,
    precision: Option<(&str, f32, f32)>,
    accumulate: bool,
) -> Result<String, String> {
    use slimmable::backend::Precision;
    use slimmable::ops::conv::{ConvArgs, conv_params, conv2d};
    let poison_x = vec![5555.0f32; x_host.len()];
    let poison_y = vec![5555.0f32; y_host.len()];
    let (xh, yh): (&[f32], &[f32]) = match pass {
        "fwd" if !accumulate => (x_host, &poison_y),
        "dgrad" if !accumulate => (&poison_x, y_host),
        _ => (x_host, y_host),
    };
    let up = |h: &[f32]| be.upload(h).unwrap();
    let (xb, wb, yb, bb) = (up(xh), up(w_host), up(yh), up(bias_host));
    let args = ConvArgs {
        x: (&xb, views[0]),
        w: (&wb, views[1]),
        y: (&yb, views[2]),
        bias: (pass == "fwd").then_some((&bb, 0)),
        geometry,
        accumulate,
    };
    let cp = conv_pass(pass);
    let params = conv_params(cp, &args).unwrap();
    // The reference in exact f32 whatever precision the driver runs.
    conv2d(be, cp, Precision::F32, &args).unwrap();
    let out = be
        .download(match pass {
            "fwd" => &yb,
            "dgrad" => &xb,
            _ => &wb,
        })
        .unwrap();
    std::fs::create_dir_all(cdir).unwrap();
    std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&params)).unwrap();
    write_f32(cdir, "x.bin", xh);
    write_f32(cdir, "w.bin", w_host);
    write_f32(cdir, "y.bin", yh);
    write_f32(cdir, "bias.bin", bias_host);
    write_f32(cdir, "expected.bin", &out);
    let mut args = vec![cdir.as_os_str(), pass.as_ref()];
    if let Some((name, atol, rtol)) = precision {
        write_f32(cdir, "tol.bin", &[atol, rtol]);
        args.push(name.as_ref());
    }
    run_driver(driver, &args)
}

#[test]
fn depthwise_conv_kernels_match_the_reference_on_the_cpu() {
    use slimmable::ops::conv::{ConvGeometry, weight_block};
    use slimmable::view::View;
    let dir = scratch("cuda-on-cpu-dw");
    let Some(exe) = driver_or_skip(&dir, "dw_check") else {
        return;
    };
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let be = cpu.as_ref();
    let mut rng = Rng::new(0xD3);
    // (N, C_full, active C, H, W, k, stride, padding): every tile shape
    // (planes ≥ 28, ≥ 12 and < 12 wide; the 3×3 kernels' 32×32 tiles, several
    // of them down the plane; a batch past the 3×3 wgrad's 8 images a
    // block), strides 1 and 2, k 3, 5, 7 and 4 (the untiled wgrad), sizes
    // that do not fit the tiles.
    let shapes = [
        (2, 12, 9, 30, 33, 3, 1, 1),
        (1, 4, 3, 70, 45, 3, 1, 1),
        (1, 3, 2, 40, 36, 3, 1, 0),
        (10, 3, 3, 33, 30, 3, 1, 1),
        (3, 7, 6, 14, 14, 3, 1, 1),
        (40, 2, 2, 14, 14, 3, 1, 1),
        (5, 4, 3, 7, 7, 3, 1, 1),
        (2, 9, 9, 27, 25, 3, 2, 1),
        (2, 3, 3, 9, 10, 3, 2, 1),
        (1, 2, 2, 15, 14, 3, 2, 0),
        (2, 6, 6, 61, 64, 3, 2, 1),
        (3, 8, 8, 17, 13, 3, 2, 1),
        (2, 20, 13, 9, 7, 5, 1, 2),
        (2, 6, 5, 16, 29, 7, 2, 3),
        (1, 5, 4, 11, 10, 4, 1, 1),
        (2, 8, 7, 6, 11, 3, 1, 2), // padding 2 (as in verify)
        // The flat 3×3 kernels: runs of four that cross planes (H·W odd),
        // 2×2 and 1×2 planes, a segment of 1024 outputs spanning many
        // channels, a plane wider than a segment, images past one wgrad
        // block's share.
        (3, 40, 37, 7, 7, 3, 1, 1),
        (2, 70, 67, 2, 2, 3, 1, 1),
        (2, 9, 9, 1, 2, 3, 1, 1),
        (2, 5, 4, 5, 260, 3, 1, 1),
        (3, 3, 3, 9, 200, 3, 1, 1), // the widest wgrad staging in registers
        (2, 2, 1, 29, 29, 3, 1, 1), // C·H·W odd, one segment: the last run passes the end
        (33, 6, 5, 9, 11, 3, 1, 1),
        // The flat forward and dgrad's twins for planes a multiple of 4
        // wide: a plane of one row (top and bottom both padding), 4x4
        // planes (a run is a whole row), many channels a segment, 28 and
        // 56 wide (the trainer's and dw3x3_b's), a slice.
        (2, 3, 2, 1, 4, 3, 1, 1),
        (1, 70, 67, 4, 4, 3, 1, 1),
        (2, 10, 7, 12, 8, 3, 1, 1),
        (3, 4, 3, 28, 28, 3, 1, 1),
        (1, 3, 2, 9, 56, 3, 1, 1),
        // The ROW2 twins (even widths not a multiple of 4): 14x14 (dw3x3_a,
        // the trainer), a 2-wide plane (a run is a whole row), a plane of
        // one row, runs that start a new plane mid-thread (H·W = 30 is not a
        // multiple of 4), a slice.
        (2, 9, 7, 14, 14, 3, 1, 1),
        (2, 40, 37, 3, 2, 3, 1, 1),
        (2, 3, 2, 1, 6, 3, 1, 1),
        (3, 11, 11, 3, 10, 3, 1, 1),
    ];
    let mut failures = Vec::new();
    for (k, (n, c_full, c, h, w, kk, s, pad)) in shapes.into_iter().enumerate() {
        let geometry = ConvGeometry {
            groups: c,
            stride: [s, s],
            padding: [pad, pad],
        };
        let ho = ConvGeometry::out_size(h, kk, s, pad).unwrap();
        let wo = ConvGeometry::out_size(w, kk, s, pad).unwrap();
        let xv = View::channel_slice([n, c_full, h, w], 0, c).unwrap();
        let yv = View::channel_slice([n, c_full, ho, wo], 0, c).unwrap();
        let wv = weight_block([c_full, 1, kk, kk], c, 1).unwrap();
        let x_host = rng.vec_f32(n * c_full * h * w);
        let y_host = rng.vec_f32(n * c_full * ho * wo);
        let w_host = rng.vec_f32(c_full * kk * kk);
        let bias_host = rng.vec_f32(c_full);
        for pass in ["fwd", "dgrad", "wgrad"] {
            let cdir = dir.join(format!("case{k}-{pass}"));
            let result = conv_pass_case(
                be,
                &exe,
                &cdir,
                [xv, wv, yv],
                geometry,
                (&x_host, &w_host, &y_host, &bias_host),
                pass,
                None,
            );
            // The driver took the flat kernels, and their ROW4 twins, exactly
            // where the host would.
            let mut twin = false;
            let mut narrow = false;
            let result = result.and_then(|text| {
                use slimmable::backend::cuda::launch_conv::{
                    dw_flat_route, dw_flat_row2, dw_flat_row4, dw_wgrad_narrow,
                };
                let (cp, params) = case_pass_params(&cdir, pass);
                narrow = cp == slimmable::backend::ConvPass::Wgrad && dw_wgrad_narrow(&params);
                if text.contains("(narrow)") != narrow {
                    return Err(format!("narrow wgrad expected: {narrow}, driver: {text}"));
                }
                let want = dw_flat_route(cp, &params);
                let row4 = want && dw_flat_row4(&params);
                let row2 =
                    want && cp != slimmable::backend::ConvPass::Wgrad && dw_flat_row2(&params);
                twin = row4 || row2;
                if text.contains("(flat") == want
                    && text.contains("(flat4)") == row4
                    && text.contains("(flat2)") == row2
                {
                    Ok(text)
                } else {
                    Err(format!(
                        "flat route expected: {want} (row4 {row4}, row2 {row2}), driver: {text}"
                    ))
                }
            });
            // Where the twins ran, the general flat kernel too
            // (SLIMMABLE_DW_FLAT4=0 / SLIMMABLE_DW_FLAT2=0 on the host).
            let result = result.and_then(|text| {
                if !twin {
                    return Ok(text);
                }
                run_driver(&exe, &[cdir.as_os_str(), pass.as_ref(), "noflat4".as_ref()])
                    .map(|general| format!("{text} | general flat: {general}"))
            });
            // Where the narrow wgrad ran, the kernel it replaces too
            // (SLIMMABLE_DW_WGRAD_NARROW=0 on the host).
            let result = result.and_then(|text| {
                if !narrow {
                    return Ok(text);
                }
                run_driver(
                    &exe,
                    &[cdir.as_os_str(), pass.as_ref(), "nonarrow".as_ref()],
                )
                .map(|other| format!("{text} | without narrow: {other}"))
            });
            // The same case again with the flat 3×3 kernels switched off
            // (SLIMMABLE_DW_FLAT=0 on the host), so the tiled ones stay covered.
            let result = result.and_then(|flat| {
                run_driver(&exe, &[cdir.as_os_str(), pass.as_ref(), "noflat".as_ref()])
                    .map(|tiled| format!("{flat} | without flat: {tiled}"))
            });
            let label = format!("case {k} ({n}x{c}of{c_full}x{h}x{w} k{kk} s{s}) {pass}");
            match result {
                Ok(text) => println!("{label}: {text}"),
                Err(text) => failures.push(format!("{label}: {text}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn conv_gemm_kernels_match_the_reference_on_the_cpu() {
    use slimmable::ops::conv::{ConvGeometry, weight_block};
    use slimmable::view::View;
    let dir = scratch("cuda-on-cpu-conv");
    let Some(exe) = driver_or_skip(&dir, "conv_check") else {
        return;
    };
    // The decode's multiply-shift division against integer division.
    let fast_div = run_driver(&exe, &["fastdiv".as_ref()]).unwrap();
    assert!(fast_div.contains("fast_div: ok"), "{fast_div}");
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let be = cpu.as_ref();
    let mut rng = Rng::new(0xC0);
    // (N, in full, in active, out full, out active, groups, H, W, k, stride,
    // padding, first input channel): dense 3×3 on slices; pointwise on
    // slices (the 128×16 tiles: N ≤ 16); grouped stride 2; a stem (3
    // unsliced inputs: narrow dgrad); a wgrad with enough pixels to split K.
    // Then pointwise convs that take the `_pw` kernels (H·W a multiple of 4):
    // odd channel counts, a slice that starts mid-buffer, pixel counts that
    // do not fit the tiles, K tiles across images, split-K wgrad, narrow
    // tiles, several tiles along M, N and K; 7×7 ones that take the `_pws`
    // kernels (like H·W = 42 above) and a stride-2 1×1 that takes neither.
    // Then more `_pws` ones: 5×3 planes with odd channels on a slice (narrow
    // tiles), several tiles along M, N and K on 7×7, split-K wgrad on wide
    // and narrow tiles (pixel runs across images), 1×1 planes (every pixel
    // its own image).
    let shapes = [
        (2, 12, 10, 20, 18, 1, 9, 11, 3, 1, 1, 0),
        (3, 32, 24, 16, 12, 1, 7, 6, 1, 1, 0, 0),
        (2, 8, 8, 6, 6, 2, 13, 10, 3, 2, 1, 0),
        (2, 3, 3, 32, 16, 1, 20, 18, 3, 2, 1, 0),
        (4, 8, 8, 24, 20, 1, 20, 20, 3, 1, 1, 0),
        // 70 outputs (two 64-channel tiles), 13 inputs from channel 1,
        // padding 2 (12 x 20 outputs).
        (2, 16, 13, 80, 70, 1, 10, 18, 3, 1, 2, 1),
        (3, 40, 20, 48, 36, 1, 4, 4, 1, 1, 0, 0),
        (5, 24, 20, 40, 36, 1, 12, 12, 1, 1, 0, 3),
        (2, 16, 12, 20, 16, 1, 6, 10, 1, 1, 0, 0),
        (6, 8, 7, 12, 10, 1, 10, 12, 1, 1, 0, 1),
        (2, 72, 66, 80, 70, 1, 4, 8, 1, 1, 0, 2),
        (2, 24, 20, 24, 18, 1, 7, 7, 1, 1, 0, 0),
        (2, 24, 20, 24, 18, 1, 8, 8, 1, 2, 0, 0),
        (3, 13, 11, 9, 7, 1, 5, 3, 1, 1, 0, 2),
        (4, 80, 70, 72, 66, 1, 7, 7, 1, 1, 0, 5),
        (11, 40, 36, 40, 33, 1, 7, 7, 1, 1, 0, 3),
        (12, 10, 9, 20, 17, 1, 9, 7, 1, 1, 0, 1),
        (6, 24, 20, 16, 16, 1, 1, 1, 1, 1, 0, 2),
        // Stems on the direct kernels: the Fashion-MNIST one (1 channel,
        // stride 1), 2 channels at stride 2 without padding on a slice of
        // the output, more tiles than the wgrad's blocks, 40 outputs
        // (forward direct, wgrad on the GEMM: past its 32 lanes).
        (3, 1, 1, 32, 20, 1, 28, 28, 3, 1, 1, 0),
        (2, 2, 2, 24, 13, 1, 19, 37, 3, 2, 0, 0),
        (5, 3, 3, 40, 40, 1, 17, 70, 3, 2, 1, 0),
        // The wgrad's register tiles: all 32 outputs of 3 input channels
        // sliced from 4 (12 owners a pixel, 21 pixel groups) on 23 x 45
        // planes (ragged 16 x 8 tiles); 7 outputs (one partial run of 8)
        // at stride 1.
        (2, 4, 3, 32, 32, 1, 23, 45, 3, 2, 1, 1),
        (3, 3, 3, 8, 7, 1, 9, 40, 3, 1, 1, 0),
        // GEMM columns for the opt-in 128 x 128 TF32 tiles: dense 3x3
        // forward (200 of 208 outputs: a second column tile of 72) and
        // dgrad (100 inputs), pointwise with 16-byte runs (4x4 planes) and
        // with 4-byte gathers (5x7 planes), M tiles that do not fill; and
        // 144 columns, which stay on the 64-wide tiles.
        (2, 16, 16, 208, 200, 1, 9, 11, 3, 1, 1, 0),
        (2, 104, 100, 16, 16, 1, 8, 9, 3, 1, 1, 0),
        (3, 120, 97, 140, 100, 1, 4, 4, 1, 1, 0, 4),
        (2, 72, 70, 100, 97, 1, 5, 7, 1, 1, 0, 1),
        (2, 8, 8, 150, 144, 1, 6, 5, 3, 1, 1, 0),
        // Wgrads the square tiles take (the default since run 9; 100
        // outputs x 12 inputs x 9 taps; 200 x 22 x 9 on a slice starting
        // at input channel 1, split-K over 576 pixels): the forward and
        // dgrad of the second too.
        (2, 12, 12, 100, 100, 1, 6, 7, 3, 1, 1, 0),
        (4, 24, 22, 210, 200, 1, 12, 12, 3, 1, 1, 1),
        // For the ldmatrix twins: a forward whose weight rows (13 x 9
        // taps) and reduction are not whole runs of four (4-byte weight
        // copies), with its wgrad (117 columns); a stride-2 dgrad into 128
        // inputs (which keeps the square tiles); a 5x5 forward, dgrad and
        // wgrad in two groups of 128.
        (2, 14, 13, 136, 128, 1, 7, 9, 3, 1, 1, 1),
        (2, 128, 128, 16, 12, 1, 9, 8, 3, 2, 1, 0),
        (2, 256, 256, 256, 256, 2, 5, 6, 5, 1, 2, 0),
        // Shapes verify gained with the WGSL wgrad rework: dense 3x3
        // without padding at strides 1 and 2, few outputs with many taps
        // and pixels (a split wgrad), alone and in two groups.
        (2, 16, 12, 16, 12, 1, 9, 11, 3, 1, 0, 0),
        (2, 16, 12, 24, 20, 1, 11, 12, 3, 2, 0, 0),
        (8, 16, 12, 16, 8, 1, 16, 16, 3, 1, 1, 0),
        (8, 16, 12, 16, 8, 2, 16, 16, 3, 1, 1, 0),
    ];
    let mut failures = Vec::new();
    for (k, (n, icf, ic, ocf, oc, groups, h, w, kk, s, pad, at)) in shapes.into_iter().enumerate() {
        let geometry = ConvGeometry {
            groups,
            stride: [s, s],
            padding: [pad, pad],
        };
        let ho = ConvGeometry::out_size(h, kk, s, pad).unwrap();
        let wo = ConvGeometry::out_size(w, kk, s, pad).unwrap();
        let xv = View::channel_slice([n, icf, h, w], at, ic).unwrap();
        let yv = View::channel_slice([n, ocf, ho, wo], 0, oc).unwrap();
        let wv = weight_block([ocf, icf / groups, kk, kk], oc, ic / groups).unwrap();
        let x_host = rng.vec_f32(n * icf * h * w);
        let y_host = rng.vec_f32(n * ocf * ho * wo);
        let w_host = rng.vec_f32(ocf * (icf / groups) * kk * kk);
        let bias_host = rng.vec_f32(ocf);
        for pass in ["fwd", "dgrad", "wgrad"] {
            let reduction = match pass {
                "fwd" => ic / groups * kk * kk,
                "dgrad" => oc / groups * kk * kk,
                _ => n * ho * wo,
            };
            // Each precision; TF32 forward and dgrad once more adding into
            // their output.
            for (pname, accumulate) in [
                ("f32", false),
                ("tf32", false),
                ("tf32", true),
                ("bf16", false),
            ] {
                let (atol, rtol) = conv_tolerance(pname, reduction);
                if accumulate && pass == "wgrad" {
                    continue; // wgrad always adds into the gradient
                }
                let acc = if accumulate { "-acc" } else { "" };
                let cdir = dir.join(format!("case{k}-{pass}-{pname}{acc}"));
                let result = conv_pass_case_acc(
                    be,
                    &exe,
                    &cdir,
                    [xv, wv, yv],
                    geometry,
                    (&x_host, &w_host, &y_host, &bias_host),
                    pass,
                    Some((pname, atol, rtol)),
                    accumulate,
                )
                .and_then(|text| expect_route(&cdir, pass, pname, text))
                .and_then(|text| {
                    // Where the stem's direct wgrad takes the case, the
                    // split-K GEMM too (SLIMMABLE_STEM_WGRAD_DIRECT=0).
                    use slimmable::backend::cuda::launch_conv::stem_direct_fits;
                    let (cp, params) = case_pass_params(&cdir, pass);
                    if pass != "wgrad" || !stem_direct_fits(cp, &params) {
                        return Ok(text);
                    }
                    let gemm = run_mode(&exe, &cdir, pass, pname, "gemmwgrad")?;
                    if gemm.contains("(stem)") {
                        Err(format!("the split-K GEMM wgrad expected, driver: {gemm}"))
                    } else {
                        Ok(format!("{text} | GEMM wgrad: {gemm}"))
                    }
                })
                .and_then(|text| {
                    // The square tiles (SLIMMABLE_GEMM_SQUARE=1; unset, on
                    // the k×k convs they fit) on the same case, where the
                    // host would take them.
                    use slimmable::backend::Precision;
                    use slimmable::backend::cuda::launch_conv::gemm_square_fits;
                    if pname != "tf32" {
                        return Ok(text);
                    }
                    let (cp, params) = case_pass_params(&cdir, pass);
                    let want = gemm_square_fits(cp, Precision::Tf32, &params);
                    let sq = run_mode(&exe, &cdir, pass, "tf32", "square")?;
                    if sq.contains("(sq") == want {
                        Ok(format!("{text} | square: {sq}"))
                    } else {
                        Err(format!("square tiles expected: {want}, driver: {sq}"))
                    }
                })
                .and_then(|text| {
                    // The square tiles' ldmatrix twins where the host would
                    // take them (TF32: SLIMMABLE_GEMM_SQUARE=1
                    // SLIMMABLE_GEMM_LDSM=1; BF16: SLIMMABLE_GEMM_LDSM_BF16=1),
                    // and not on shapes filling the square tiles where it
                    // would not (elsewhere they cannot run: no driver run).
                    use slimmable::backend::Precision;
                    use slimmable::backend::cuda::launch_conv::{
                        ldsm_bf16_fits, ldsm_fits, square_tiles_fill,
                    };
                    let (cp, params) = case_pass_params(&cdir, pass);
                    if !matches!(pname, "tf32" | "bf16") || !square_tiles_fill(cp, &params) {
                        return Ok(text);
                    }
                    let want = match pname {
                        "tf32" => ldsm_fits(cp, &params),
                        _ => ldsm_bf16_fits(cp, Precision::Bf16, &params),
                    };
                    // Three stages (the default)...
                    let ldsm = run_mode(&exe, &cdir, pass, pname, "ldsm")?;
                    if ldsm.contains("(ldsm,") != want {
                        return Err(format!("ldmatrix tiles expected: {want}, driver: {ldsm}"));
                    }
                    let mut text = format!("{text} | ldsm: {ldsm}");
                    if !want {
                        return Ok(text);
                    }
                    // ...then, at TF32, the warpgroup-MMA twins (K split
                    // too, with four stages, overlapped, and on K tiles of
                    // 32); at both, the forward and dgrad with K split.
                    let twins: &[&str] = match (pname, pass) {
                        ("tf32", "wgrad") => &["wgmma", "wgmma4", "wgmma4o", "wgmma_k32"],
                        ("tf32", _) => &[
                            "ldsm_split",
                            "wgmma",
                            "wgmma_split",
                            "wgmma4",
                            "wgmma4o",
                            "wgmma_k32",
                            "wgmma_k32_split",
                        ],
                        (_, "wgrad") => &[],
                        _ => &["ldsm_split"],
                    };
                    for mode in twins {
                        let out = run_mode(&exe, &cdir, pass, pname, mode)?;
                        if !out.contains(&format!("({mode},")) {
                            return Err(format!("the {mode} route expected, driver: {out}"));
                        }
                        text = format!("{text} | {mode}: {out}");
                    }
                    // The wgmma checks depend on the descriptors' offsets
                    // meaning what the kernel means: read the other way
                    // round by the emulation, the same run must fail.
                    if pname == "tf32" {
                        match run_mode(&exe, &cdir, pass, pname, "wgmma_swapped") {
                            Err(e) if e.contains("(wgmma_swapped,") && e.contains("outside tolerance") => {
                                text = format!("{text} | wgmma with swapped offsets fails, as it must");
                            }
                            other => {
                                return Err(format!(
                                    "wgmma read with swapped offsets should fail its check: {other:?}"
                                ));
                            }
                        }
                    }
                    Ok(text)
                });
                match result {
                    Ok(text) => println!("case {k}{acc}: {text}"),
                    Err(text) => failures.push(format!("case {k} {pass} {pname}{acc}: {text}")),
                }
            }
        }
    }
    // A weight whose (channel, ky, kx) is not packed (rows of kw = 3 taps
    // padded to 4): the forward reads it through the decode table instead
    // of taking k as the offset. Every pass, every precision.
    {
        let (n, icf, ic, ocf, oc, h, w) = (2, 12, 10, 20, 18, 9, 11);
        let geometry = ConvGeometry {
            groups: 1,
            stride: [1, 1],
            padding: [1, 1],
        };
        let xv = View::channel_slice([n, icf, h, w], 1, ic).unwrap();
        let yv = View::channel_slice([n, ocf, h, w], 0, oc).unwrap();
        let wv = View {
            offset: 0,
            dims: [oc, ic, 3, 3],
            strides: [icf * 12, 12, 4, 1],
        };
        let x_host = rng.vec_f32(n * icf * h * w);
        let y_host = rng.vec_f32(n * ocf * h * w);
        let w_host = rng.vec_f32(ocf * icf * 12);
        let bias_host = rng.vec_f32(ocf);
        for pass in ["fwd", "dgrad", "wgrad"] {
            let reduction = match pass {
                "fwd" => ic * 9,
                "dgrad" => oc * 9,
                _ => n * h * w,
            };
            for pname in ["f32", "tf32", "bf16"] {
                let (atol, rtol) = conv_tolerance(pname, reduction);
                let cdir = dir.join(format!("padded-weight-{pass}-{pname}"));
                if let Err(text) = conv_pass_case_acc(
                    be,
                    &exe,
                    &cdir,
                    [xv, wv, yv],
                    geometry,
                    (&x_host, &w_host, &y_host, &bias_host),
                    pass,
                    Some((pname, atol, rtol)),
                    false,
                ) {
                    failures.push(format!("padded weight {pass} {pname}: {text}"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// verify's conv tolerances (src/verify/conv_cases.rs), (atol, rtol), for a
/// precision and the length of the reduction behind each output.
fn conv_tolerance(precision: &str, reduction: usize) -> (f32, f32) {
    let r = (reduction as f32).sqrt();
    match precision {
        "f32" => (2e-6 * r + 1e-6, 1e-5),
        "tf32" => (2e-3 * r, 5e-3),
        _ => (1.6e-2 * r, 4e-2),
    }
}

/// The pass a driver names "fwd", "dgrad" or "wgrad".
fn conv_pass(name: &str) -> slimmable::backend::ConvPass {
    use slimmable::backend::ConvPass;
    match name {
        "fwd" => ConvPass::Forward,
        "dgrad" => ConvPass::Dgrad,
        _ => ConvPass::Wgrad,
    }
}

/// A conv case's pass and the Conv2dParams `conv_pass_case` wrote for it.
fn case_pass_params(
    cdir: &Path,
    pass: &str,
) -> (
    slimmable::backend::ConvPass,
    slimmable::params::Conv2dParams,
) {
    let bytes = std::fs::read(cdir.join("params.bin")).unwrap();
    (conv_pass(pass), bytemuck::pod_read_unaligned(&bytes))
}

/// Whether conv_check took the route the host would (`stem_direct`: the
/// stem's direct kernels; `pointwise_eligible`:
/// `_pws`, and `pointwise_vec_eligible`: `_pw`; exact f32 wgrad has neither;
/// the harness's buffers are 16-byte aligned): the driver's text, or Err
/// saying which way it went wrong.
fn expect_route(cdir: &Path, pass: &str, precision: &str, text: String) -> Result<String, String> {
    use slimmable::backend::cuda::launch_conv::{
        pointwise_eligible, pointwise_vec_eligible, stem_direct,
    };
    let (cp, params) = case_pass_params(cdir, pass);
    let want = if stem_direct(cp, &params) {
        "stem"
    } else if !pointwise_eligible(&params) || (pass == "wgrad" && precision == "f32") {
        "general"
    } else if pointwise_vec_eligible(&params) {
        "pw"
    } else {
        "pws"
    };
    let took = if text.contains("(stem)") {
        "stem"
    } else if text.contains(" pw,") {
        "pw"
    } else if text.contains(" pws,") {
        "pws"
    } else {
        "general"
    };
    if took == want {
        Ok(text)
    } else {
        Err(format!("route {want} expected, {took} taken: {text}"))
    }
}

#[test]
fn linear_forward_and_loss_kernels_match_the_reference_on_the_cpu() {
    use slimmable::ops::{self, LinearWeight};
    use slimmable::params::{LinearParams, LossParams};
    use slimmable::view::View;
    let dir = scratch("cuda-on-cpu-train");
    let Some(exe) = driver_or_skip(&dir, "train_check") else {
        return;
    };
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let be = cpu.as_ref();
    let mut rng = Rng::new(0x11AE);
    let mut failures = Vec::new();
    let mut check = |label: String, cdir: &Path, op: &str| match run_driver(
        &exe,
        &[cdir.as_os_str(), op.as_ref()],
    ) {
        Ok(text) => println!("{label}: {text}"),
        Err(text) => failures.push(format!("{label}: {text}")),
    };
    // Linear forward (rows, in full, in active, out full, out active, bias):
    // one tile and a K step that is not full; several tiles and K steps on
    // a sliced input; the ImageNet classifier's shape at a small batch.
    for (k, (rows, inf, i, outf, o, bias)) in [
        (3, 16, 16, 10, 10, true),
        (37, 100, 97, 70, 65, false),
        (33, 1280, 1280, 1000, 1000, true),
    ]
    .into_iter()
    .enumerate()
    {
        let cdir = dir.join(format!("linear{k}"));
        std::fs::create_dir_all(&cdir).unwrap();
        let xv = View::channel_slice([rows, inf, 1, 1], 0, i).unwrap();
        let yv = View::channel_slice([rows, outf, 1, 1], 0, o).unwrap();
        let (x, w, b) = (
            rng.vec_f32(rows * inf),
            rng.vec_f32(outf * inf),
            rng.vec_f32(outf),
        );
        let y0 = vec![5555.0f32; rows * outf];
        let (xb, wb, bb, yb) = (
            be.upload(&x).unwrap(),
            be.upload(&w).unwrap(),
            be.upload(&b).unwrap(),
            be.upload(&y0).unwrap(),
        );
        let wt = LinearWeight {
            w: &wb,
            out_full: outf,
            in_full: inf,
            bias: bias.then_some(&bb),
        };
        ops::linear_forward(be, &xb, &xv, &wt, &yb, &yv).unwrap();
        // The parameters ops::linear_forward gives the backend (the weight
        // block at the start of the full weight, rows `in_full` apart).
        let p = LinearParams {
            x: xv.to_params(),
            y: yv.to_params(),
            w_offset: 0,
            w_ld: inf as u32,
            b_offset: 0,
            has_bias: u32::from(bias),
        };
        std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&p)).unwrap();
        for (name, v) in [("x.bin", &x), ("w.bin", &w), ("b.bin", &b), ("y.bin", &y0)] {
            write_f32(&cdir, name, v);
        }
        write_f32(&cdir, "expected.bin", &be.download(&yb).unwrap());
        check(
            format!("linear {k} ({rows}x{i}of{inf} -> {o}of{outf})"),
            &cdir,
            "linear",
        );
    }
    // Losses (rows, classes, logit scale): fewer rows than the block's
    // warps, more, and classes that do not fill a warp's last stride.
    for (k, (n, classes, scale)) in [(5, 10, 3.0f32), (70, 1000, 4.0), (40, 45, 20.0)]
        .into_iter()
        .enumerate()
    {
        let lv = View::contiguous([n, classes, 1, 1]);
        let a: Vec<f32> = rng.vec_f32(n * classes).iter().map(|v| v * scale).collect();
        for op in ["ce", "kl"] {
            let cdir = dir.join(format!("{op}{k}"));
            std::fs::create_dir_all(&cdir).unwrap();
            let b: Vec<f32> = if op == "ce" {
                (0..n).map(|_| rng.below(classes as u64) as f32).collect()
            } else {
                rng.vec_f32(n * classes).iter().map(|v| v * scale).collect()
            };
            let (loss0, d0) = (vec![5555.0f32; 2], vec![5555.0f32; n * classes]);
            let (ab, bb, lb, db) = (
                be.upload(&a).unwrap(),
                be.upload(&b).unwrap(),
                be.upload(&loss0).unwrap(),
                be.upload(&d0).unwrap(),
            );
            let (smoothing, temperature) = if op == "ce" { (0.1, 1.0) } else { (0.0, 4.0) };
            if op == "ce" {
                ops::cross_entropy(be, &ab, &lv, &bb, smoothing, &lb, 1, &db, &lv).unwrap();
            } else {
                ops::kl_div(be, &ab, &lv, &bb, &lv, temperature, &lb, 1, &db, &lv).unwrap();
            }
            // The parameters ops::cross_entropy / ops::kl_div give the backend.
            let p = LossParams {
                logits: lv.to_params(),
                teacher: lv.to_params(),
                dlogits: lv.to_params(),
                loss_offset: 1,
                labels_offset: 0,
                smoothing,
                temperature,
            };
            std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&p)).unwrap();
            for (name, v) in [
                ("a.bin", &a),
                ("b.bin", &b),
                ("loss.bin", &loss0),
                ("d.bin", &d0),
            ] {
                write_f32(&cdir, name, v);
            }
            write_f32(&cdir, "expected_loss.bin", &be.download(&lb).unwrap());
            write_f32(&cdir, "expected_d.bin", &be.download(&db).unwrap());
            check(format!("{op} {k} ({n}x{classes})"), &cdir, op);
        }
    }
    sgd_many_case(be, &mut rng, &dir, &mut check);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The multi-tensor SGD kernel: the table `sgd_many_table` builds (its
/// pointers here element offsets, which the driver rebases), parameters of
/// lengths that do and do not fill a block's chunk, each its own weight
/// decay, gradients cleared; against `ops::sgd_step_many` on the CPU.
fn sgd_many_case(
    be: &dyn slimmable::backend::Backend,
    rng: &mut Rng,
    dir: &Path,
    check: &mut impl FnMut(String, &Path, &str),
) {
    use slimmable::backend::SgdSlot;
    use slimmable::backend::cuda::launch_train::sgd_many_table;
    use slimmable::ops::{self, SgdManyStep};
    use slimmable::params::{SgdManyParams, sgd_flags};
    let cdir = dir.join("sgd_many");
    std::fs::create_dir_all(&cdir).unwrap();
    let lens = [1usize, 4096, 4097, 9000, 37];
    let decays = [0.0f32, 5e-4, 1e-2, 0.0, 3e-2];
    let total: usize = lens.iter().sum();
    let (param, grad, mom) = (rng.vec_f32(total), rng.vec_f32(total), rng.vec_f32(total));
    let mut list = Vec::new();
    let mut bufs = Vec::new();
    let mut at = 0;
    for (&len, &wd) in lens.iter().zip(&decays) {
        let off = at as u64;
        list.push((off, off, off, len, wd));
        bufs.push((
            be.upload(&param[at..at + len]).unwrap(),
            be.upload(&grad[at..at + len]).unwrap(),
            be.upload(&mom[at..at + len]).unwrap(),
            wd,
        ));
        at += len;
    }
    let (table, blocks) = sgd_many_table(&list).unwrap();
    let slots: Vec<SgdSlot> = bufs
        .iter()
        .map(|(p, g, m, wd)| SgdSlot {
            param: p,
            grad: g,
            momentum: m,
            weight_decay: *wd,
        })
        .collect();
    let step = SgdManyStep {
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        first_step: false,
        zero_grad: true,
    };
    ops::sgd_step_many(be, &slots, &step).unwrap();
    let p = SgdManyParams {
        count: table.len() as u32,
        flags: sgd_flags::NESTEROV | sgd_flags::ZERO_GRAD,
        lr: step.lr,
        momentum: step.momentum,
    };
    std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&p)).unwrap();
    std::fs::write(cdir.join("table.bin"), bytemuck::cast_slice(&table)).unwrap();
    std::fs::write(cdir.join("blocks.bin"), blocks.to_le_bytes()).unwrap();
    for (name, v) in [
        ("param.bin", &param),
        ("grad.bin", &grad),
        ("mom.bin", &mom),
    ] {
        write_f32(&cdir, name, v);
    }
    let mut expected = [Vec::new(), Vec::new(), Vec::new()];
    for (pb, gb, mb, _) in &bufs {
        expected[0].extend(be.download(pb).unwrap());
        expected[1].extend(be.download(gb).unwrap());
        expected[2].extend(be.download(mb).unwrap());
    }
    for (name, v) in [
        "expected_param.bin",
        "expected_grad.bin",
        "expected_mom.bin",
    ]
    .iter()
    .zip(&expected)
    {
        write_f32(&cdir, name, v);
    }
    check(
        format!("sgd_many ({} parameters, {blocks} blocks)", lens.len()),
        &cdir,
        "sgd_many",
    );
}

#[test]
fn vec4_slice_copy_matches_the_reference_on_the_cpu() {
    use slimmable::ops;
    use slimmable::params::SliceCopyParams;
    use slimmable::view::View;
    let dir = scratch("cuda-on-cpu-copy");
    let Some(exe) = driver_or_skip(&dir, "copy_check") else {
        return;
    };
    let cpu = backend::open(BackendKind::Cpu).unwrap();
    let be = cpu.as_ref();
    let mut rng = Rng::new(0xC0B4);
    let mut failures = Vec::new();
    // (source buffer, its channels, destination buffer, its channels):
    // a slice out to a dense tensor, a dense tensor into a slice that does
    // not start at channel 0, slice to slice, and one large enough for many
    // blocks (the driver also runs it on two).
    let cases = [
        ([3, 32, 5, 8], 0..12, [3, 12, 5, 8], 0..12),
        ([2, 16, 6, 6], 0..16, [2, 24, 6, 6], 4..20),
        ([4, 40, 3, 4], 8..28, [4, 36, 3, 4], 0..20),
        ([8, 64, 14, 14], 0..48, [8, 48, 14, 14], 0..48),
    ];
    for (k, (src_full, sc, dst_full, dc)) in cases.into_iter().enumerate() {
        let cdir = dir.join(format!("copy{k}"));
        std::fs::create_dir_all(&cdir).unwrap();
        let sv = View::channel_slice(src_full, sc.start, sc.len()).unwrap();
        let dv = View::channel_slice(dst_full, dc.start, dc.len()).unwrap();
        let p = SliceCopyParams {
            src: sv.to_params(),
            dst: dv.to_params(),
        };
        assert!(
            p.src.packed_vec4_runs() && p.dst.packed_vec4_runs(),
            "case {k} must take the 4-wide kernel"
        );
        let src = rng.vec_f32(src_full.iter().product());
        let dst0 = vec![5555.0f32; dst_full.iter().product()];
        let (sb, db) = (be.upload(&src).unwrap(), be.upload(&dst0).unwrap());
        ops::slice_copy(be, &sb, &sv, &db, &dv).unwrap();
        std::fs::write(cdir.join("params.bin"), bytemuck::bytes_of(&p)).unwrap();
        write_f32(&cdir, "src.bin", &src);
        write_f32(&cdir, "dst.bin", &dst0);
        write_f32(&cdir, "expected.bin", &be.download(&db).unwrap());
        let label = format!("copy {k} ({src_full:?} ch {sc:?} -> {dst_full:?} ch {dc:?})");
        match run_driver(&exe, &[cdir.as_os_str()]) {
            Ok(text) => println!("{label}: {text}"),
            Err(text) => failures.push(format!("{label}: {text}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
