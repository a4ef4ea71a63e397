//! The CUDA conv plans (`launch_conv::plan_conv2d`), checked without a GPU:
//! every launch names a kernel we build, with the shared memory the loader
//! gives it, the arguments of its kind and a grid CUDA accepts; the route
//! follows the rules the README states (no tensor cores below sm_80, the
//! 16-byte pointwise kernels only on aligned pointers, the stem's direct
//! kernels where `stem_direct` says); a grid past CUDA's limits is an error.
//! Whether each planned launch computes the right thing is checked by
//! `verify --backend cuda` (on a GPU, and on the CPU stand-in:
//! tests/cuda_backend_on_cpu.rs), which runs these plans.

use slimmable::View;
use slimmable::backend::cuda::conv_plan::{ConvOperand, ConvPlan, PlannedArg};
use slimmable::backend::cuda::launch::dynamic_shared_memory;
use slimmable::backend::cuda::launch_conv::{
    dw_flat_route, is_depthwise, plan_conv2d, pointwise_vec_eligible, stem_direct,
};
use slimmable::backend::{ConvPass, Precision};
use slimmable::kernel_sources::{CUDA_UNITS, entry};
use slimmable::ops::conv::weight_block;
use slimmable::params::Conv2dParams;

const PASSES: [ConvPass; 3] = [ConvPass::Forward, ConvPass::Dgrad, ConvPass::Wgrad];
const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::Tf32, Precision::Bf16];
const ARCHES: [&str; 3] = ["sm_75", "sm_80", "sm_90a"];

/// One conv layer at a width: activations are channel slices of buffers
/// `c_full` wide, the weight the active block of a full-size one.
struct Layer {
    n: usize,
    c_in: (usize, usize),
    c_out: (usize, usize),
    groups: usize,
    kernel: usize,
    stride: usize,
    size: usize,
    bias: bool,
}

impl Layer {
    /// A dense 3×3 layer, stride 1, no bias, batch 2, 8×8 (the tests
    /// change what they need).
    fn dense(c_in: (usize, usize), c_out: (usize, usize)) -> Self {
        Layer {
            n: 2,
            c_in,
            c_out,
            groups: 1,
            kernel: 3,
            stride: 1,
            size: 8,
            bias: false,
        }
    }

    fn params(&self) -> Conv2dParams {
        let pad = self.kernel / 2;
        let out = (self.size + 2 * pad - self.kernel) / self.stride + 1;
        let (ic, ic_full) = self.c_in;
        let (oc, oc_full) = self.c_out;
        let x = View::channel_slice([self.n, ic_full, self.size, self.size], 0, ic).unwrap();
        let y = View::channel_slice([self.n, oc_full, out, out], 0, oc).unwrap();
        let w_full = [oc_full, ic_full / self.groups, self.kernel, self.kernel];
        let w = weight_block(w_full, oc, ic / self.groups).unwrap();
        Conv2dParams {
            x: x.to_params(),
            w: w.to_params(),
            y: y.to_params(),
            bias_offset: 0,
            has_bias: self.bias.into(),
            groups: self.groups as u32,
            stride_h: self.stride as u32,
            stride_w: self.stride as u32,
            pad_h: pad as u32,
            pad_w: pad as u32,
            accumulate: 0,
        }
    }
}

/// The issue's suite at every width and resolution (channels rounded to
/// multiples of 8, N = 64), and layers that fit no tile: odd channel
/// counts, kernels 5 and 7, stride 2, groups, tiny batches and planes.
fn layers() -> Vec<(String, Layer)> {
    let mut out = Vec::new();
    let round8 = |c: f64| ((c / 8.0).round() as usize).max(1) * 8;
    for width in [1.0, 0.75, 0.5, 0.25] {
        for res in [224usize, 160, 128] {
            let at = |s: usize| s * res / 224;
            let c = |full: usize| (round8(full as f64 * width), full);
            // Depthwise: (in, out, groups), all the active channels.
            let dw = |full: usize| {
                let c = round8(full as f64 * width);
                ((c, full), (c, full), c)
            };
            let layer = |c_in, c_out, groups, kernel, stride, size| Layer {
                n: 64,
                c_in,
                c_out,
                groups,
                kernel,
                stride,
                size,
                bias: true,
            };
            let tag = format!("w{width} r{res}");
            out.push((
                format!("res3x3 {tag}"),
                layer(c(128), c(128), 1, 3, 1, at(28)),
            ));
            out.push((
                format!("pw1x1 {tag}"),
                layer(c(64), c(384), 1, 1, 1, at(14)),
            ));
            let (c_in, c_out, groups) = dw(384);
            out.push((
                format!("dw3x3_a {tag}"),
                layer(c_in, c_out, groups, 3, 1, at(14)),
            ));
            let (c_in, c_out, groups) = dw(144);
            out.push((
                format!("dw3x3_b {tag}"),
                layer(c_in, c_out, groups, 3, 1, at(56)),
            ));
            out.push((format!("stem {tag}"), layer((3, 3), c(32), 1, 3, 2, res)));
        }
    }
    for (kernel, stride) in [(1, 1), (3, 2), (5, 1), (5, 2), (7, 1), (7, 2)] {
        for (n, size) in [(1, 1), (3, 7), (5, 13), (2, 33)] {
            let tag = format!("k{kernel} s{stride} n{n} {size}px");
            let odd = |c_in, c_out, groups| Layer {
                n,
                c_in,
                c_out,
                groups,
                kernel,
                stride,
                size,
                bias: n % 2 == 1,
            };
            out.push((format!("dense 20->36 {tag}"), odd((20, 24), (36, 40), 1)));
            out.push((format!("grouped 4 {tag}"), odd((36, 40), (20, 40), 4)));
            out.push((format!("depthwise 20 {tag}"), odd((20, 36), (20, 36), 20)));
            out.push((format!("stem-like 3->20 {tag}"), odd((3, 3), (20, 24), 1)));
        }
    }
    out
}

fn known_entry(name: &str) -> bool {
    CUDA_UNITS.iter().any(|u| u.entries.contains(&name))
}

/// Every rule a plan must keep, whatever route it took; the problems found.
fn check_plan(
    plan: &ConvPlan,
    arch: &str,
    pass: ConvPass,
    prec: Precision,
    p: &Conv2dParams,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |s: String| problems.push(s);
    if plan.launches.is_empty() {
        say("no launches".into());
    }
    let conv_launches: Vec<_> = plan
        .launches
        .iter()
        .filter(|l| l.entry != entry::FILL_F32 && l.entry != entry::CONV2D_BIAS_GRAD)
        .collect();
    if conv_launches.len() != 1 {
        say(format!("{} conv launches, want 1", conv_launches.len()));
    }
    for l in &plan.launches {
        if !known_entry(l.entry) {
            say(format!("{}: no kernel of that name", l.entry));
        }
        if l.shared_bytes != dynamic_shared_memory(l.entry).unwrap_or(0) {
            say(format!(
                "{}: {} bytes of dynamic shared memory, the loader raises it to {:?}",
                l.entry,
                l.shared_bytes,
                dynamic_shared_memory(l.entry)
            ));
        }
        let threads: u32 = l.block.iter().product();
        if threads == 0 || threads > 1024 {
            say(format!(
                "{}: grid {:?} block {:?}",
                l.entry, l.grid, l.block
            ));
        }
        let tensor_cores = ["tf32", "bf16", "ldsm", "wgmma"]
            .iter()
            .any(|t| l.entry.contains(t));
        if tensor_cores && (arch == "sm_75" || prec == Precision::F32) {
            say(format!("{}: tensor cores at {arch} / {prec:?}", l.entry));
        }
        let wgmma_opted_in = std::env::var("SLIMMABLE_GEMM_WGMMA").as_deref() == Ok("1");
        if l.entry.contains("wgmma") && !wgmma_opted_in {
            say(format!("{}: the wgmma tiles are opt-in", l.entry));
        }
        match l.entry {
            entry::FILL_F32 => {
                // The split output zeroed first: dx in dgrad, y forward.
                let (op, view) = match pass {
                    ConvPass::Dgrad => (ConvOperand::X, p.x),
                    _ => (ConvOperand::Y, p.y),
                };
                let want = [PlannedArg::Pointer(op)];
                if pass == ConvPass::Wgrad
                    || l.args.len() != 2
                    || l.args[..1] != want
                    || !matches!(l.args[1], PlannedArg::Fill(f) if f.dst == view && f.value == 0.0)
                {
                    say(format!("fill: {:?}", l.args));
                }
            }
            entry::CONV2D_BIAS_GRAD => {
                let want = [
                    PlannedArg::Pointer(ConvOperand::Bias),
                    PlannedArg::Pointer(ConvOperand::Y),
                    PlannedArg::Conv(*p),
                ];
                if pass != ConvPass::Wgrad || p.has_bias == 0 || l.args != want {
                    say(format!("bias gradient: {:?}", l.args));
                }
            }
            _ => {
                use ConvOperand::{Bias, W, X, Y};
                use PlannedArg::{Conv, Count, Pointer};
                let gemm = !l.entry.starts_with("slimmable_dwconv2d") && !l.entry.contains("stem");
                let flat_wgrad = l.entry.contains("wgrad") && l.entry.contains("flat");
                let want = if gemm {
                    // (x, w, y, bias, params, K splits); the splits times
                    // the groups along z. A split above 1 only where the
                    // kernel adds its partial sums atomically.
                    let split = l.grid[2] / p.groups;
                    let atomic = pass == ConvPass::Wgrad || l.entry.contains("ldsm");
                    if l.grid[2] % p.groups != 0 || (split > 1 && !atomic) {
                        say(format!(
                            "{}: grid z {} for {} groups",
                            l.entry, l.grid[2], p.groups
                        ));
                    }
                    vec![
                        Pointer(X),
                        Pointer(W),
                        Pointer(Y),
                        Pointer(Bias),
                        Conv(*p),
                        Count(split),
                    ]
                } else if pass == ConvPass::Forward {
                    vec![Pointer(X), Pointer(W), Pointer(Y), Pointer(Bias), Conv(*p)]
                } else if flat_wgrad {
                    // The images a block sums, the grid's y covering the batch.
                    let images = match l.args.last() {
                        Some(Count(i)) => *i,
                        _ => 0,
                    };
                    if images == 0 || p.x.dims[0].div_ceil(images) != l.grid[1] {
                        say(format!(
                            "{}: {images} images a block, grid {:?}",
                            l.entry, l.grid
                        ));
                    }
                    vec![Pointer(X), Pointer(W), Pointer(Y), Conv(*p), Count(images)]
                } else {
                    vec![Pointer(X), Pointer(W), Pointer(Y), Conv(*p)]
                };
                if l.args != want {
                    say(format!("{}: arguments {:?}", l.entry, l.args));
                }
            }
        }
    }
    let wants_bias_grad = pass == ConvPass::Wgrad && p.has_bias == 1;
    let last_is_bias_grad = plan.launches.last().map(|l| l.entry) == Some(entry::CONV2D_BIAS_GRAD);
    if wants_bias_grad != last_is_bias_grad {
        say(format!("bias gradient expected: {wants_bias_grad}"));
    }
    let stem = conv_launches.iter().any(|l| l.entry.contains("stem"));
    if stem != stem_direct(pass, p) {
        say(format!(
            "stem kernels taken: {stem}, stem_direct: {}",
            !stem
        ));
    }
    let flat = conv_launches.iter().any(|l| l.entry.contains("flat"));
    if is_depthwise(p) && flat != dw_flat_route(pass, p) {
        say(format!("flat depthwise taken: {flat}"));
    }
    problems
}

#[test]
fn every_plan_launches_known_kernels_with_their_arguments_and_limits() {
    let mut failures = Vec::new();
    let mut plans = 0;
    for (name, layer) in layers() {
        let p = layer.params();
        for arch in ARCHES {
            for pass in PASSES {
                for prec in PRECISIONS {
                    for aligned in [true, false] {
                        let label = format!("{name} {arch} {pass:?} {prec:?} aligned {aligned}");
                        match plan_conv2d(arch, pass, prec, &p, aligned) {
                            Ok(plan) => {
                                plans += 1;
                                for problem in check_plan(&plan, arch, pass, prec, &p) {
                                    failures.push(format!("{label}: {problem}\n  {plan}"));
                                }
                            }
                            Err(e) => failures.push(format!("{label}: {e}")),
                        }
                    }
                }
            }
        }
    }
    println!("{plans} plans checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The 16-byte pointwise kernels gather four pixels at once: on pointers
/// that are not 16-byte aligned the plan must take their 4-byte twins.
#[test]
fn unaligned_pointers_keep_the_pointwise_kernels_to_4_byte_gathers() {
    let layer = Layer {
        n: 4,
        kernel: 1,
        ..Layer::dense((48, 64), (96, 96))
    };
    let p = layer.params();
    assert!(pointwise_vec_eligible(&p));
    for pass in PASSES {
        let entry_of = |aligned| {
            plan_conv2d("sm_90a", pass, Precision::Tf32, &p, aligned)
                .unwrap()
                .launches[0]
                .entry
        };
        let (aligned, unaligned) = (entry_of(true), entry_of(false));
        println!("{pass:?}: {aligned} / {unaligned}");
        assert!(
            aligned.contains("_pw") && !aligned.contains("_pws"),
            "{aligned}"
        );
        assert!(unaligned.contains("_pws"), "{unaligned}");
    }
}

/// A grouped conv with more groups than a grid's z holds is refused with a
/// message that says so; before plans were checked, its launch went to the
/// driver, which refused it without naming the shape.
#[test]
fn a_grid_past_cudas_limits_is_an_error_that_says_what_to_do() {
    let layer = Layer {
        n: 1,
        groups: 70_000,
        kernel: 1,
        size: 1,
        ..Layer::dense((70_000, 70_000), (140_000, 140_000))
    };
    let p = layer.params();
    let e = plan_conv2d("sm_90a", ConvPass::Forward, Precision::F32, &p, true).unwrap_err();
    let text = e.to_string();
    println!("{text}");
    assert!(text.contains("65535") && text.contains("70000") && text.contains("split"));
}

/// The plan as JSON carries what an engine outside Rust needs to launch it.
#[test]
fn a_plan_as_json_names_entries_grids_and_argument_bytes() {
    let layer = Layer {
        size: 9,
        bias: true,
        ..Layer::dense((20, 24), (36, 40))
    };
    let p = layer.params();
    let plan = plan_conv2d("sm_80", ConvPass::Wgrad, Precision::F32, &p, true).unwrap();
    let json = plan.to_json();
    assert_eq!(json["format"], 1);
    assert_eq!(json["arch"], "sm_80");
    assert_eq!(json["pass"], "wgrad");
    assert_eq!(json["precision"], "f32");
    let launches = json["launches"].as_array().unwrap();
    assert_eq!(launches.len(), plan.launches.len());
    for (l, j) in plan.launches.iter().zip(launches) {
        assert_eq!(j["entry"], l.entry);
        assert_eq!(j["unit"], "conv2d.cu", "{}", l.entry);
        assert_eq!(j["grid"], serde_json::json!(l.grid));
        assert_eq!(j["args"].as_array().unwrap().len(), l.args.len());
    }
    // The last launch is the bias gradient: (bias, y, params).
    let last = launches.last().unwrap();
    assert_eq!(last["args"][0]["pointer"], "bias");
    let bytes = last["args"][2]["conv2d_params"].as_str().unwrap();
    assert_eq!(bytes.len(), 2 * std::mem::size_of::<Conv2dParams>());
    // Little-endian words: the first is x's batch (ViewParams puts dims
    // first), the second x's active channels.
    let word = |i: usize| {
        u32::from_str_radix(&bytes[8 * i..8 * i + 8], 16)
            .unwrap()
            .swap_bytes()
    };
    assert_eq!([word(0), word(1)], [p.x.dims[0], p.x.dims[1]]);
}

/// Shapes the kernels cannot take, an unknown architecture and flags that
/// are not flags are errors from the plan, not panics or launches.
#[test]
fn bad_params_and_architectures_are_errors() {
    let good = Layer::dense((20, 24), (36, 40)).params();
    let plan = |arch: &str, p: &Conv2dParams| {
        plan_conv2d(arch, ConvPass::Forward, Precision::Tf32, p, true)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(plan("sm_90a", &good), Ok(()));
    let err = plan("sm_91", &good).unwrap_err();
    assert!(err.contains("sm_90a"), "{err}");
    type Damage = fn(&mut Conv2dParams);
    let cases: [(Damage, &str); 5] = [
        (|p| p.groups = 0, "groups"),
        (|p| p.x.dims[0] = 0, "zero extent"),
        (|p| p.y.dims[2] += 1, "gives output"),
        (|p| p.w.dims[0] -= 1, "weight block"),
        (|p| p.has_bias = 2, "flag"),
    ];
    for (damage, needle) in cases {
        let mut p = good;
        damage(&mut p);
        let err = plan("sm_90a", &p).unwrap_err();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

/// `slimmable conv-plan` with a K split on the ldmatrix tiles
/// (SLIMMABLE_GEMM_LDSM_SPLIT=2, read once a process, hence the child
/// process): the split output is zeroed first, y forward and dx in dgrad,
/// and the conv's count says 2; with `accumulate` nothing is zeroed.
#[test]
fn a_k_split_zeroes_its_output_first() {
    let layer = r#"{"x": {"dims": [8, 128, 12, 12]}, "w": {"dims": [128, 128, 3, 3]},
        "y": {"dims": [8, 128, 12, 12]}, "padding": [1, 1]ACC}"#;
    let plan = |pass: &str, accumulate: bool| -> serde_json::Value {
        let layer = layer.replace(
            "ACC",
            if accumulate {
                r#", "accumulate": true"#
            } else {
                ""
            },
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_slimmable"))
            .args(["conv-plan", "--json", "--pass", pass, "--layer", &layer])
            .env("SLIMMABLE_GEMM_LDSM_SPLIT", "2")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&text).unwrap()
    };
    for (pass, zeroed) in [("forward", "y"), ("dgrad", "x")] {
        let json = plan(pass, false);
        println!("{pass}: {json}");
        assert_eq!(json["switches"]["SLIMMABLE_GEMM_LDSM_SPLIT"], "2");
        let launches = json["launches"].as_array().unwrap();
        assert_eq!(launches.len(), 2, "{pass}");
        assert_eq!(launches[0]["entry"], entry::FILL_F32);
        assert_eq!(launches[0]["unit"], "copy.cu");
        assert_eq!(launches[0]["args"][0]["pointer"], zeroed);
        assert!(launches[1]["entry"].as_str().unwrap().contains("ldsm"));
        assert_eq!(launches[1]["args"][5]["u32"], 2);
        let accumulating = plan(pass, true);
        let launches = accumulating["launches"].as_array().unwrap();
        assert_eq!(launches.len(), 1, "{pass}, accumulate: {accumulating}");
    }
}
