//! `resize_pack` against PyTorch (`tools/reference_resize.py`: F.interpolate
//! in float64) on every backend present: every filter, upscale, non-integer
//! downscale, non-square and 1×1 outputs, crops, flips, sub-batches, u8 HWC /
//! CHW and f32 inputs, and MutualNet's order. Then the clear errors: crop
//! boxes outside the image, zero-sized outputs, mean/std of the wrong length.

mod common;

use slimmable::backend::{Backend, cpu::CpuBackend};
use slimmable::ops::resize::{
    CropBox, Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use slimmable::tensor_io::{self, HostTensor};
use slimmable::{Error, op_runner};
use std::collections::HashMap;
use std::path::PathBuf;

/// |out − ref| ≤ ATOL + RTOL·|ref| (f32 accumulation; values of order 1).
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-6;

fn fixtures() -> Vec<PathBuf> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let mut files: Vec<PathBuf> = std::fs::read_dir(format!("{root}/tests/fixtures"))
        .expect("tests/fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("resize_") && n.ends_with(".safetensors"))
        })
        .collect();
    files.sort();
    files
}

fn params_of(path: &PathBuf) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata()
        .as_ref()
        .and_then(|m| m.get("params").cloned())
        .unwrap_or_else(|| panic!("{} has no params metadata", path.display()))
}

#[test]
fn matches_pytorch_fixtures_on_every_backend() {
    let files = fixtures();
    // 5 filters × 2 layouts + 2 MutualNet-order files.
    assert!(
        files.len() >= 12,
        "expected the resize fixtures, found {files:?}"
    );
    let mut failures = Vec::new();
    for be in common::backends() {
        for path in &files {
            let params = params_of(path);
            let all = tensor_io::read(path).unwrap();
            let inputs: HashMap<String, HostTensor> = all
                .iter()
                .filter(|(k, _)| !k.starts_with("expect"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let outputs = op_runner::run(be.as_ref(), "resize_pack", &params, &inputs)
                .unwrap_or_else(|e| panic!("{} on {}: {e}", path.display(), be.kind()));
            let mut checked = 0;
            let mut max_err = 0.0f64;
            for (name, got) in &outputs {
                let want = &all[&name.replace("out", "expect")];
                assert_eq!(got.shape, want.shape, "{} {name}", path.display());
                for (g, w) in got.data.iter().zip(&want.data) {
                    let (g, w) = (*g as f64, *w as f64);
                    let err = (g - w).abs();
                    max_err = max_err.max(err);
                    if err.is_nan() || err > ATOL + RTOL * w.abs() {
                        failures.push(format!(
                            "{} {} {name}: got {g}, PyTorch {w}",
                            be.kind(),
                            path.display()
                        ));
                    }
                    checked += 1;
                }
            }
            let expected = all.keys().filter(|k| k.starts_with("expect")).count();
            assert_eq!(outputs.len(), expected, "{}", path.display());
            assert!(checked > 0);
            println!(
                "{} {}: {checked} values, max abs err {max_err:.2e}",
                be.kind(),
                path.file_name().unwrap().to_string_lossy()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} values off:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

fn image(h: usize, w: usize) -> SourceImage {
    SourceImage {
        offset: 0,
        height: h,
        width: w,
        crop: None,
        flip: false,
    }
}

fn config(channels: usize) -> ResizePackConfig {
    ResizePackConfig {
        format: ImageFormat::U8Hwc,
        channels,
        mean: vec![0.5; channels],
        std: vec![0.25; channels],
        filter: Filter::Bilinear,
        align_corners: false,
        order: Order::Direct,
        arena_offset: 0,
    }
}

fn out(h: usize, w: usize) -> OutputSpec {
    OutputSpec {
        height: h,
        width: w,
        images: None,
    }
}

/// The error of an invalid request, with its message.
fn refused(images: &[SourceImage], outputs: &[OutputSpec], cfg: &ResizePackConfig) -> String {
    match ResizePack::new(&CpuBackend::new(), images, outputs, cfg) {
        Ok(_) => panic!("accepted an invalid request: {images:?} {outputs:?} {cfg:?}"),
        Err(e @ Error::Invalid { .. }) => e.to_string(),
        Err(e) => panic!("wrong kind of error: {e}"),
    }
}

#[test]
fn crop_boxes_outside_the_image_are_refused() {
    let cfg = config(3);
    for crop in [
        CropBox {
            top: 0,
            left: 0,
            height: 11,
            width: 4,
        },
        CropBox {
            top: 5,
            left: 2,
            height: 6,
            width: 8,
        },
        CropBox {
            top: 10,
            left: 0,
            height: 1,
            width: 1,
        },
    ] {
        let im = SourceImage {
            crop: Some(crop),
            ..image(10, 10)
        };
        let msg = refused(&[im], &[out(4, 4)], &cfg);
        assert!(msg.contains("outside the 10×10 image"), "{msg}");
    }
    let im = SourceImage {
        crop: Some(CropBox {
            top: 1,
            left: 1,
            height: 0,
            width: 3,
        }),
        ..image(10, 10)
    };
    let msg = refused(&[im], &[out(4, 4)], &cfg);
    assert!(msg.contains("crop height is 0"), "{msg}");
}

#[test]
fn zero_sized_outputs_and_images_are_refused() {
    let cfg = config(3);
    for (o, what) in [
        (out(0, 5), "output 0's height is 0"),
        (out(5, 0), "output 0's width is 0"),
    ] {
        let msg = refused(&[image(8, 8)], &[o], &cfg);
        assert!(msg.contains(what), "{msg}");
    }
    let empty = OutputSpec {
        images: Some(vec![]),
        ..out(3, 3)
    };
    let msg = refused(&[image(8, 8)], &[out(3, 3), empty], &cfg);
    assert!(msg.contains("output 1 takes no images"), "{msg}");
    let msg = refused(&[image(8, 8)], &[], &cfg);
    assert!(msg.contains("no outputs"), "{msg}");
    let msg = refused(&[image(0, 8)], &[out(3, 3)], &cfg);
    assert!(msg.contains("image 0's height is 0"), "{msg}");
    let unknown = OutputSpec {
        images: Some(vec![0, 3]),
        ..out(3, 3)
    };
    let msg = refused(&[image(8, 8)], &[unknown], &cfg);
    assert!(msg.contains("names image 3"), "{msg}");
}

#[test]
fn mean_std_and_channel_mistakes_are_refused() {
    let mut cfg = config(3);
    cfg.mean = vec![0.5, 0.5];
    let msg = refused(&[image(8, 8)], &[out(3, 3)], &cfg);
    assert!(
        msg.contains("mean has 2 values and std has 3 but the images have 3 channels"),
        "{msg}"
    );
    let mut cfg = config(1);
    cfg.std = vec![0.2, 0.2, 0.2];
    let msg = refused(&[image(8, 8)], &[out(3, 3)], &cfg);
    assert!(msg.contains("one mean and one std per channel"), "{msg}");
    let mut cfg = config(3);
    cfg.std[1] = 0.0;
    let msg = refused(&[image(8, 8)], &[out(3, 3)], &cfg);
    assert!(msg.contains("non-zero"), "{msg}");
    let cfg = config(5);
    let msg = refused(&[image(8, 8)], &[out(3, 3)], &cfg);
    assert!(msg.contains("1 to 4 channels"), "{msg}");
    let mut cfg = config(3);
    cfg.filter = Filter::Nearest;
    cfg.align_corners = true;
    let msg = refused(&[image(8, 8)], &[out(3, 3)], &cfg);
    assert!(msg.contains("bilinear only"), "{msg}");
}

#[test]
fn short_source_and_arena_buffers_are_refused_on_every_backend() {
    let cfg = config(3);
    for be in common::backends() {
        let be: &dyn Backend = be.as_ref();
        let pack = ResizePack::new(be, &[image(6, 7)], &[out(3, 3), out(2, 5)], &cfg).unwrap();
        assert_eq!(pack.arena_len(), 3 * (9 + 10));
        let src = be.upload_u8(&[7u8; 6 * 7 * 3 - 4]).unwrap();
        let arena = be.alloc(pack.arena_len()).unwrap();
        let msg = pack.run(be, &src, &arena).unwrap_err().to_string();
        assert!(msg.contains("source buffer holds 31 words"), "{msg}");
        let src = be.upload_u8(&[7u8; 6 * 7 * 3]).unwrap();
        let small = be.alloc(pack.arena_len() - 1).unwrap();
        let msg = pack.run(be, &src, &small).unwrap_err().to_string();
        assert!(msg.contains("allocate ResizePack::arena_len()"), "{msg}");
        // And the valid run writes the constant image's normalized value.
        pack.run(be, &src, &arena).unwrap();
        let want = (7.0 / 255.0 - 0.5) / 0.25;
        for v in be.download(&arena).unwrap() {
            assert!(
                (v as f64 - want).abs() < 1e-6,
                "{} got {v}, want {want}",
                be.kind()
            );
        }
    }
}

/// Runs one request on a backend over random u8 HWC images; returns the arena.
fn run_u8(
    be: &dyn Backend,
    bytes: &[u8],
    images: &[SourceImage],
    outputs: &[OutputSpec],
    cfg: &ResizePackConfig,
) -> Vec<f32> {
    let pack = ResizePack::new(be, images, outputs, cfg).unwrap();
    let src = be.upload_u8(bytes).unwrap();
    let arena = be.alloc(pack.arena_len()).unwrap();
    pack.run(be, &src, &arena).unwrap();
    be.download(&arena).unwrap()
}

/// The documented difference between the two orders: equal (to f32
/// rounding) when the source already is the full resolution, different when
/// the full resolution is itself a resize of a crop.
#[test]
fn mutualnet_order_equals_direct_only_from_the_full_resolution() {
    let seed = common::seed();
    let mut rng = slimmable::rng::Rng::new(seed);
    let bytes: Vec<u8> = (0..2 * 21 * 19 * 3).map(|_| rng.below(256) as u8).collect();
    let outputs = [out(12, 12), out(9, 7), out(1, 1)];
    let mut direct = config(3);
    direct.align_corners = true;
    let mut mutualnet = config(3);
    mutualnet.order = Order::MutualNet {
        full_height: 16,
        full_width: 16,
    };
    for be in common::backends() {
        let be: &dyn Backend = be.as_ref();
        // Source 16×16 (uncropped, one flipped): stage one is the identity.
        let full: Vec<SourceImage> = (0..2)
            .map(|i| SourceImage {
                offset: i * 16 * 16 * 3,
                flip: i == 1,
                ..image(16, 16)
            })
            .collect();
        // (Not 1×1: align_corners=True then takes column 0, which a flip
        // before the resize moves and a flip after does not.)
        let a = run_u8(be, &bytes, &full, &outputs[..2], &direct);
        let b = run_u8(be, &bytes, &full, &outputs[..2], &mutualnet);
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            max <= 1e-5,
            "{}: orders differ by {max} from the full resolution",
            be.kind()
        );
        // Source 21×19 with a crop: two resizes differ from one.
        let cropped = [SourceImage {
            crop: Some(CropBox {
                top: 1,
                left: 2,
                height: 20,
                width: 15,
            }),
            ..image(21, 19)
        }];
        let a = run_u8(be, &bytes, &cropped, &outputs, &direct);
        let b = run_u8(be, &bytes, &cropped, &outputs, &mutualnet);
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            max > 1e-2,
            "{}: orders should differ from a crop, max diff {max}",
            be.kind()
        );
        println!(
            "{}: direct vs MutualNet order from a 20×15 crop: max diff {max:.3}",
            be.kind()
        );
    }
}
