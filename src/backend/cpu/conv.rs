//! The conv2d reference: the three passes as the textbook sums, f64
//! accumulation, indices read through the views' strides (so the active
//! block of a full-size weight is read and written in place).

use crate::params::{Conv2dParams, ViewParams};

/// Buffer index of `[a, b, c, d]` in a view.
fn at(v: &ViewParams, a: usize, b: usize, c: usize, d: usize) -> usize {
    let s = v.strides.map(|x| x as usize);
    v.offset as usize + a * s[0] + b * s[1] + c * s[2] + d * s[3]
}

/// Shapes of one conv, read off its parameters.
struct Geometry {
    n: usize,
    ic: usize,
    h: usize,
    w: usize,
    oc: usize,
    ho: usize,
    wo: usize,
    kh: usize,
    kw: usize,
    icg: usize,
    ocg: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
}

impl Geometry {
    fn of(p: &Conv2dParams) -> Self {
        let d = |v: &ViewParams, i: usize| v.dims[i] as usize;
        let groups = p.groups as usize;
        Geometry {
            n: d(&p.x, 0),
            ic: d(&p.x, 1),
            h: d(&p.x, 2),
            w: d(&p.x, 3),
            oc: d(&p.y, 1),
            ho: d(&p.y, 2),
            wo: d(&p.y, 3),
            kh: d(&p.w, 2),
            kw: d(&p.w, 3),
            icg: d(&p.x, 1) / groups,
            ocg: d(&p.y, 1) / groups,
            sh: p.stride_h as usize,
            sw: p.stride_w as usize,
            ph: p.pad_h as usize,
            pw: p.pad_w as usize,
        }
    }

    /// Input row/column read by output `(ho, wo)` at tap `(ky, kx)`, if inside.
    fn input_pos(&self, ho: usize, wo: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let hi = (ho * self.sh + ky).checked_sub(self.ph)?;
        let wi = (wo * self.sw + kx).checked_sub(self.pw)?;
        (hi < self.h && wi < self.w).then_some((hi, wi))
    }
}

/// `y = conv(x, w) + b` (`+= ` when `accumulate`).
pub fn forward(p: &Conv2dParams, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let g = Geometry::of(p);
    for n in 0..g.n {
        for o in 0..g.oc {
            let group = o / g.ocg;
            for ho in 0..g.ho {
                for wo in 0..g.wo {
                    let mut acc = 0.0f64;
                    for i in 0..g.icg {
                        let c = group * g.icg + i;
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                if let Some((hi, wi)) = g.input_pos(ho, wo, ky, kx) {
                                    acc += x[at(&p.x, n, c, hi, wi)] as f64
                                        * w[at(&p.w, o, i, ky, kx)] as f64;
                                }
                            }
                        }
                    }
                    if let (Some(b), 1) = (bias, p.has_bias) {
                        acc += b[p.bias_offset as usize + o] as f64;
                    }
                    let yi = at(&p.y, n, o, ho, wo);
                    if p.accumulate == 1 {
                        acc += y[yi] as f64;
                    }
                    y[yi] = acc as f32;
                }
            }
        }
    }
}

/// `dx = convᵀ(dy, w)` (`+=` when `accumulate`): every output that read
/// `x[n, c, hi, wi]` sends back `dy · w`.
pub fn dgrad(p: &Conv2dParams, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    let g = Geometry::of(p);
    let mut acc = vec![0.0f64; g.n * g.ic * g.h * g.w];
    let flat = |n: usize, c: usize, h: usize, wi: usize| ((n * g.ic + c) * g.h + h) * g.w + wi;
    for n in 0..g.n {
        for o in 0..g.oc {
            let group = o / g.ocg;
            for ho in 0..g.ho {
                for wo in 0..g.wo {
                    let d = dy[at(&p.y, n, o, ho, wo)] as f64;
                    for i in 0..g.icg {
                        let c = group * g.icg + i;
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                if let Some((hi, wi)) = g.input_pos(ho, wo, ky, kx) {
                                    acc[flat(n, c, hi, wi)] += d * w[at(&p.w, o, i, ky, kx)] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for n in 0..g.n {
        for c in 0..g.ic {
            for h in 0..g.h {
                for wi in 0..g.w {
                    let xi = at(&p.x, n, c, h, wi);
                    let prev = if p.accumulate == 1 {
                        dx[xi] as f64
                    } else {
                        0.0
                    };
                    dx[xi] = (prev + acc[flat(n, c, h, wi)]) as f32;
                }
            }
        }
    }
}

/// `dw += Σ dy · x` over the batch and output pixels, into the active block
/// of the full-size gradient; `db[o] += Σ dy` when `has_bias`.
pub fn wgrad(p: &Conv2dParams, x: &[f32], dy: &[f32], dw: &mut [f32], db: Option<&mut [f32]>) {
    let g = Geometry::of(p);
    for o in 0..g.oc {
        let group = o / g.ocg;
        for i in 0..g.icg {
            let c = group * g.icg + i;
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let mut acc = 0.0f64;
                    for n in 0..g.n {
                        for ho in 0..g.ho {
                            for wo in 0..g.wo {
                                if let Some((hi, wi)) = g.input_pos(ho, wo, ky, kx) {
                                    acc += dy[at(&p.y, n, o, ho, wo)] as f64
                                        * x[at(&p.x, n, c, hi, wi)] as f64;
                                }
                            }
                        }
                    }
                    let wi = at(&p.w, o, i, ky, kx);
                    dw[wi] = (dw[wi] as f64 + acc) as f32;
                }
            }
        }
    }
    if let (Some(db), 1) = (db, p.has_bias) {
        for o in 0..g.oc {
            let mut acc = 0.0f64;
            for n in 0..g.n {
                for ho in 0..g.ho {
                    for wo in 0..g.wo {
                        acc += dy[at(&p.y, n, o, ho, wo)] as f64;
                    }
                }
            }
            let bi = p.bias_offset as usize + o;
            db[bi] = (db[bi] as f64 + acc) as f32;
        }
    }
}
