//! The CUDA resize-pack kernels (kernels/resize_pack.cu), compiled as C++
//! and run on the CPU block by block (tools/cuda_on_cpu), against the CPU
//! reference: their indexing, tiling and tap arithmetic checked on machines
//! without a GPU. Needs `g++` with C++20; prints `skipped: ...` without it.
//! (This does not replace the CUDA tests: NVRTC, the hardware's rounding and
//! memory model are only exercised on a GPU.)

use slimmable::backend::{self, BackendKind};
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

/// Builds the harness, or says why not.
fn build_harness(dir: &Path) -> Result<PathBuf, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let exe = dir.join("resize_check");
    let out = Command::new("g++")
        .args(["-std=c++20", "-O1", "-pthread", "-w"])
        .arg(format!("-I{root}/kernels"))
        .arg(format!("-I{root}/tools/cuda_on_cpu"))
        .arg(format!("{root}/tools/cuda_on_cpu/resize_check.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| format!("g++ not found ({e})"))?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        if log.contains("barrier") && log.contains("No such file") {
            return Err("g++ lacks C++20 <barrier>".into());
        }
        panic!("the harness does not compile:\n{log}");
    }
    Ok(exe)
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
                ],
            });
        }
    }
    v
}

#[test]
fn resize_pack_kernels_match_the_reference_on_the_cpu() {
    let dir = scratch("cuda-on-cpu");
    let exe = match build_harness(&dir) {
        Ok(e) => e,
        Err(why) => {
            println!("skipped: CUDA kernels on the CPU: {why}");
            return;
        }
    };
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
        for kernel in ["per_column", "tiled"] {
            let run = Command::new(&exe).arg(&cdir).arg(kernel).output().unwrap();
            let text = String::from_utf8_lossy(&run.stdout);
            println!("{}: {}", case.name, text.trim());
            if !run.status.success() {
                failures.push(format!(
                    "{} {kernel}: {}{}",
                    case.name,
                    text.trim(),
                    String::from_utf8_lossy(&run.stderr)
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
