//! Cases for conv2d: dense at widths 1.0/0.75/0.5/0.25 and odd widths
//! (20 and 36 channels), pointwise, 5×5 and 7×7, strides 1 and 2, grouped,
//! depthwise; every pass; TF32 beside exact f32 for the GEMM kernels.
//! Activations are channel slices of full-width buffers, weights the active
//! block of a full-size weight, and the gradient slices must leave the rest
//! of the full-size gradient untouched.

use super::{Case, CaseOutput, Tolerance, poisoned};
use crate::backend::{Backend, Buffer, ConvPass, Precision};
use crate::ops::{self, ConvArgs, ConvGeometry};
use crate::rng::Rng;
use crate::view::View;

/// One conv layer at one width.
#[derive(Clone, Copy, Debug)]
struct Shape {
    n: usize,
    /// Full and active input channels.
    ic: (usize, usize),
    /// Full and active output channels.
    oc: (usize, usize),
    /// Groups at full width (depthwise: = channels, sliced with them).
    groups: usize,
    depthwise: bool,
    k: usize,
    stride: usize,
    pad: usize,
    hw: (usize, usize),
    bias: bool,
}

impl Shape {
    fn active_groups(&self) -> usize {
        if self.depthwise {
            self.ic.1
        } else {
            self.groups
        }
    }
    fn out_hw(&self) -> (usize, usize) {
        let o = |x| (x + 2 * self.pad - self.k) / self.stride + 1;
        (o(self.hw.0), o(self.hw.1))
    }
    fn weight_full(&self) -> [usize; 4] {
        let per_group = if self.depthwise {
            1
        } else {
            self.ic.0 / self.groups
        };
        [self.oc.0, per_group, self.k, self.k]
    }
    /// Reduction length of a pass (for the tolerance).
    fn reduction(&self, pass: ConvPass) -> usize {
        let g = self.active_groups();
        let (ho, wo) = self.out_hw();
        match pass {
            ConvPass::Forward => self.ic.1 / g * self.k * self.k,
            ConvPass::Dgrad => self.oc.1 / g * self.k * self.k,
            ConvPass::Wgrad => self.n * ho * wo,
        }
    }
    fn label(&self) -> String {
        let kind = if self.depthwise {
            "dw".to_string()
        } else if self.groups > 1 {
            format!("g{}", self.groups)
        } else if self.k == 1 {
            "pw".to_string()
        } else {
            "dense".to_string()
        };
        // Padding other than k / 2 is named; the usual one is not.
        let pad = if self.pad == self.k / 2 {
            String::new()
        } else {
            format!(" p{}", self.pad)
        };
        format!(
            "{kind} k{} s{}{pad} {}->{} of {}->{} n{} {}x{}{}",
            self.k,
            self.stride,
            self.ic.1,
            self.oc.1,
            self.ic.0,
            self.oc.0,
            self.n,
            self.hw.0,
            self.hw.1,
            if self.bias { " +b" } else { "" }
        )
    }
}

fn dense(
    n: usize,
    ic: (usize, usize),
    oc: (usize, usize),
    k: usize,
    stride: usize,
    hw: (usize, usize),
) -> Shape {
    Shape {
        n,
        ic,
        oc,
        groups: 1,
        depthwise: false,
        k,
        stride,
        pad: k / 2,
        hw,
        bias: true,
    }
}

fn depthwise(n: usize, c: (usize, usize), k: usize, stride: usize, hw: (usize, usize)) -> Shape {
    Shape {
        n,
        ic: c,
        oc: c,
        groups: c.0,
        depthwise: true,
        k,
        stride,
        pad: k / 2,
        hw,
        bias: false,
    }
}

fn shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    // One 3x3 layer, 16 -> 24 at full width, at each width of the sandwich.
    for (ic, oc) in [(16, 24), (12, 18), (8, 12), (4, 6), (7, 11)] {
        v.push(dense(2, (16, ic), (24, oc), 3, 1, (9, 11)));
    }
    v.push(dense(2, (40, 20), (48, 36), 3, 2, (13, 15)));
    v.push(Shape {
        bias: false,
        pad: 0,
        ..dense(3, (64, 36), (96, 20), 1, 1, (7, 7))
    });
    v.push(dense(2, (8, 6), (16, 10), 5, 2, (12, 10)));
    // Few input channels: CUDA's 128 x 16 tiles in dgrad and wgrad.
    v.push(Shape {
        pad: 0,
        ..dense(2, (16, 8), (32, 24), 1, 1, (9, 7))
    });
    // Pointwise with H·W a multiple of 4: CUDA's `_pw` kernels (16-byte
    // gathers), several tiles along M and N, split-K wgrad with K tiles
    // across images; and their 128 x 16 twins.
    v.push(Shape {
        pad: 0,
        ..dense(5, (40, 20), (96, 70), 1, 1, (12, 12))
    });
    v.push(Shape {
        pad: 0,
        ..dense(3, (24, 12), (16, 10), 1, 1, (6, 10))
    });
    // Pointwise on other planes (the 7×7 and 9×7 ones above too): CUDA's
    // `_pws` kernels (4-byte gathers), odd channels, bias, split-K wgrad
    // with pixel runs across images.
    v.push(Shape {
        pad: 0,
        ..dense(40, (24, 13), (16, 9), 1, 1, (5, 3))
    });
    // Stem: image channels are never sliced. 7x7 on the GEMM; 3x3 on
    // CUDA's direct stem kernels: 3 channels at stride 2 on tiles that do
    // not fit (forward 16 x 16, wgrad 16 x 8), and the Fashion-MNIST stem
    // (1 channel, stride 1, 28 x 28).
    v.push(dense(2, (3, 3), (32, 24), 7, 2, (17, 19)));
    v.push(dense(2, (3, 3), (32, 24), 3, 2, (37, 45)));
    v.push(dense(3, (1, 1), (16, 12), 3, 1, (28, 28)));
    v.push(Shape {
        groups: 4,
        ..dense(2, (32, 16), (32, 24), 3, 1, (8, 9))
    });
    // Several tiles along M and N, and split-K in CUDA's wgrad.
    v.push(dense(4, (32, 32), (72, 72), 3, 1, (16, 16)));
    // GEMM columns that fill 128-wide tiles in every pass (CUDA's square
    // tiles and their ldmatrix twins): 72 of 80 outputs, 128 of 136
    // inputs, 1152 wgrad columns.
    v.push(dense(2, (136, 128), (80, 72), 3, 1, (9, 10)));
    // Grouped with enough pixels that wgrad splits them (WGSL's partial
    // sums are indexed by split and group together).
    v.push(Shape {
        groups: 2,
        ..dense(3, (24, 20), (40, 36), 3, 1, (12, 14))
    });
    // Few output channels, many taps and pixels: WGSL's turned wgrad with
    // its pixels split, alone and grouped.
    v.push(dense(8, (16, 12), (16, 8), 3, 1, (16, 16)));
    v.push(Shape {
        groups: 2,
        ..dense(8, (16, 12), (16, 8), 3, 1, (16, 16))
    });
    // Padding other than k / 2, stride 1 and 2.
    v.push(Shape {
        pad: 0,
        ..dense(2, (16, 12), (16, 12), 3, 1, (9, 11))
    });
    v.push(Shape {
        pad: 0,
        ..dense(2, (16, 12), (24, 20), 3, 2, (11, 12))
    });
    v.push(depthwise(3, (24, 20), 3, 1, (10, 9)));
    v.push(depthwise(2, (36, 36), 3, 2, (11, 13)));
    v.push(Shape {
        pad: 0,
        ..depthwise(2, (16, 12), 3, 1, (9, 10))
    });
    v.push(Shape {
        pad: 2,
        ..depthwise(2, (8, 7), 3, 1, (6, 11))
    });
    v.push(Shape {
        bias: true,
        ..depthwise(2, (16, 9), 5, 1, (7, 8))
    });
    v.push(depthwise(1, (12, 8), 7, 2, (15, 15)));
    // Planes wider than one 32 x 8 tile of CUDA's tiled forward.
    v.push(depthwise(2, (8, 5), 3, 1, (19, 45)));
    v.push(depthwise(1, (6, 6), 5, 2, (37, 70)));
    v
}

fn tolerance(precision: Precision, reduction: usize) -> Tolerance {
    let r = (reduction as f64).sqrt();
    match precision {
        Precision::F32 => Tolerance {
            atol: 2e-6 * r + 1e-6,
            rtol: 1e-5,
        },
        // TF32 rounds both operands to 10-bit mantissas (2^-11 relative);
        // the products' errors add up like a random walk over the reduction.
        Precision::Tf32 => Tolerance {
            atol: 2e-3 * r,
            rtol: 5e-3,
        },
        // BF16 keeps 7-bit mantissas (2^-8 relative): eight times TF32's.
        Precision::Bf16 => Tolerance {
            atol: 1.6e-2 * r,
            rtol: 4e-2,
        },
    }
}

/// Buffers and views of one case, built from a seed.
struct Setup {
    x_full: [usize; 4],
    y_full: [usize; 4],
    x_view: View,
    w_view: View,
    y_view: View,
    w_len: usize,
    geometry: ConvGeometry,
}

fn setup(s: &Shape) -> crate::Result<Setup> {
    let (ho, wo) = s.out_hw();
    let x_full = [s.n, s.ic.0, s.hw.0, s.hw.1];
    let y_full = [s.n, s.oc.0, ho, wo];
    let wf = s.weight_full();
    let g = s.active_groups();
    Ok(Setup {
        x_full,
        y_full,
        x_view: View::channel_slice(x_full, 0, s.ic.1)?,
        w_view: ops::weight_block(wf, s.oc.1, s.ic.1 / g)?,
        y_view: View::channel_slice(y_full, 0, s.oc.1)?,
        w_len: wf.iter().product(),
        geometry: ConvGeometry {
            groups: g,
            stride: [s.stride; 2],
            padding: [s.pad; 2],
        },
    })
}

fn run_pass(
    be: &dyn Backend,
    s: &Shape,
    pass: ConvPass,
    precision: Precision,
    seed: u64,
) -> crate::Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let st = setup(s)?;
    let x_len: usize = st.x_full.iter().product();
    let y_len: usize = st.y_full.iter().product();
    let x_idx: Vec<usize> = st.x_view.indices().collect();
    let y_idx: Vec<usize> = st.y_view.indices().collect();
    let w_idx: Vec<usize> = st.w_view.indices().collect();
    let b_idx: Vec<usize> = (0..s.oc.1).collect();
    let random = |rng: &mut Rng, len: usize| rng.vec_f32(len);
    let args = |x, w, y, b| ConvArgs {
        x: (x, st.x_view),
        w: (w, st.w_view),
        y: (y, st.y_view),
        bias: if s.bias { Some((b, 0)) } else { None },
        geometry: st.geometry,
        accumulate: false,
    };
    match pass {
        ConvPass::Forward => {
            let (x, w, b) = (
                be.upload(&random(&mut rng, x_len))?,
                be.upload(&random(&mut rng, st.w_len))?,
                be.upload(&random(&mut rng, s.oc.0))?,
            );
            let before = poisoned(y_len, &y_idx, &mut rng);
            let y = be.upload(&before)?;
            ops::conv2d(be, pass, precision, &args(&x, &w, &y, &b))?;
            Ok(vec![CaseOutput {
                name: "y",
                values: be.download(&y)?,
                written: y_idx,
                before,
            }])
        }
        ConvPass::Dgrad => {
            let (dy, w, b) = (
                be.upload(&random(&mut rng, y_len))?,
                be.upload(&random(&mut rng, st.w_len))?,
                be.upload(&random(&mut rng, s.oc.0))?,
            );
            let before = poisoned(x_len, &x_idx, &mut rng);
            let dx = be.upload(&before)?;
            ops::conv2d(be, pass, precision, &args(&dx, &w, &dy, &b))?;
            Ok(vec![CaseOutput {
                name: "dx",
                values: be.download(&dx)?,
                written: x_idx,
                before,
            }])
        }
        ConvPass::Wgrad => {
            let (x, dy) = (
                be.upload(&random(&mut rng, x_len))?,
                be.upload(&random(&mut rng, y_len))?,
            );
            let dw_before = accumulating(st.w_len, &w_idx, &mut rng);
            let db_before = accumulating(s.oc.0, &b_idx, &mut rng);
            let (dw, db) = (be.upload(&dw_before)?, be.upload(&db_before)?);
            ops::conv2d(be, pass, precision, &args(&x, &dw, &dy, &db))?;
            let mut out = Vec::new();
            push_weight_gradients(
                be,
                s,
                &mut out,
                (&dw, dw_before, w_idx),
                (&db, db_before, b_idx),
            )?;
            Ok(out)
        }
    }
}

/// Both backward passes through one `conv2d_backward` call, which a
/// backend may overlap: the same outputs and checks as the two cases above,
/// with the inputs made and the outputs poisoned on the device's stream
/// just before (a pass that ran too early reads the poison or is
/// overwritten by it) and read back just after (one that ran too late is
/// not in them).
fn run_backward(
    be: &dyn Backend,
    s: &Shape,
    precision: Precision,
    seed: u64,
) -> crate::Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let st = setup(s)?;
    let x_len: usize = st.x_full.iter().product();
    let y_len: usize = st.y_full.iter().product();
    let x_idx: Vec<usize> = st.x_view.indices().collect();
    let w_idx: Vec<usize> = st.w_view.indices().collect();
    let b_idx: Vec<usize> = (0..s.oc.1).collect();
    let (x, w, dy) = (
        be.upload(&rng.vec_f32(x_len))?,
        be.upload(&rng.vec_f32(st.w_len))?,
        be.upload(&rng.vec_f32(y_len))?,
    );
    let dx_before = poisoned(x_len, &x_idx, &mut rng);
    let dw_before = accumulating(st.w_len, &w_idx, &mut rng);
    let db_before = accumulating(s.oc.0, &b_idx, &mut rng);
    let (dx, dw, db) = (
        be.upload(&dx_before)?,
        be.upload(&dw_before)?,
        be.upload(&db_before)?,
    );
    let dgrad = ConvArgs {
        x: (&dx, st.x_view),
        w: (&w, st.w_view),
        y: (&dy, st.y_view),
        bias: None,
        geometry: st.geometry,
        accumulate: false,
    };
    let wgrad = ConvArgs {
        x: (&x, st.x_view),
        w: (&dw, st.w_view),
        bias: if s.bias { Some((&db, 0)) } else { None },
        ..dgrad
    };
    ops::conv2d_backward(be, precision, &dgrad, &wgrad)?;
    let mut out = vec![CaseOutput {
        name: "dx",
        values: be.download(&dx)?,
        written: x_idx,
        before: dx_before,
    }];
    push_weight_gradients(
        be,
        s,
        &mut out,
        (&dw, dw_before, w_idx),
        (&db, db_before, b_idx),
    )?;
    Ok(out)
}

/// A gradient buffer before a wgrad: gradients accumulate, so random values
/// inside the slice (earlier passes) and sentinels outside it that must
/// survive untouched.
fn accumulating(len: usize, written: &[usize], rng: &mut Rng) -> Vec<f32> {
    let mut v = poisoned(len, written, rng);
    for &i in written {
        v[i] = rng.uniform_f32(-1.0, 1.0);
    }
    v
}

/// A wgrad's outputs: dw, and db when the layer has a bias; each as
/// (buffer, contents before, indices written).
fn push_weight_gradients(
    be: &dyn Backend,
    s: &Shape,
    out: &mut Vec<CaseOutput>,
    dw: (&Buffer, Vec<f32>, Vec<usize>),
    db: (&Buffer, Vec<f32>, Vec<usize>),
) -> crate::Result<()> {
    out.push(CaseOutput {
        name: "dw",
        values: be.download(dw.0)?,
        written: dw.2,
        before: dw.1,
    });
    if s.bias {
        out.push(CaseOutput {
            name: "db",
            values: be.download(db.0)?,
            written: db.2,
            before: db.1,
        });
    }
    Ok(())
}

pub fn cases() -> Vec<Case> {
    let mut out = backward_cases();
    for s in shapes() {
        for pass in [ConvPass::Forward, ConvPass::Dgrad, ConvPass::Wgrad] {
            let precisions: &[Precision] = if s.depthwise {
                &[Precision::F32]
            } else {
                &[Precision::F32, Precision::Tf32, Precision::Bf16]
            };
            for &precision in precisions {
                let op = match pass {
                    ConvPass::Forward => "conv2d_fwd",
                    ConvPass::Dgrad => "conv2d_dgrad",
                    ConvPass::Wgrad => "conv2d_wgrad",
                };
                let prec = match precision {
                    Precision::F32 => "",
                    Precision::Tf32 => " tf32",
                    Precision::Bf16 => " bf16",
                };
                out.push(Case {
                    op,
                    name: format!("{}{prec}", s.label()),
                    tolerance: tolerance(precision, s.reduction(pass)),
                    run: Box::new(move |be: &dyn Backend, seed| {
                        run_pass(be, &s, pass, precision, seed)
                    }),
                });
            }
        }
    }
    out
}

/// `conv2d_backward` on the first shape of each layer kind, kernel size
/// and stride (the passes themselves are checked on every shape above),
/// exact f32 and, for the GEMM kernels, TF32; the tolerance of the longer
/// of the two reductions.
fn backward_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in shapes() {
        if !seen.insert((s.depthwise, s.groups > 1, s.k, s.stride)) {
            continue;
        }
        let precisions: &[Precision] = if s.depthwise {
            &[Precision::F32]
        } else {
            &[Precision::F32, Precision::Tf32]
        };
        for &precision in precisions {
            let reduction = s
                .reduction(ConvPass::Dgrad)
                .max(s.reduction(ConvPass::Wgrad));
            let prec = if precision == Precision::Tf32 {
                " tf32"
            } else {
                ""
            };
            out.push(Case {
                op: "conv2d_backward",
                name: format!("{}{prec}", s.label()),
                tolerance: tolerance(precision, reduction),
                run: Box::new(move |be: &dyn Backend, seed| run_backward(be, &s, precision, seed)),
            });
        }
    }
    out
}
