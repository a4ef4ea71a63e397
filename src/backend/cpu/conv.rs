//! The conv2d reference: the three passes as the textbook sums, f64
//! accumulation, indices read through the views' strides (so the active
//! block of a full-size weight is read and written in place).
//!
//! The loops run tap by tap over whole output planes (the weight hoisted,
//! the valid rows and columns of each tap computed once), but every output
//! element still receives its terms in the textbook order: (channel, ky,
//! kx) for the forward, (output channel, output pixel) for the dgrad,
//! (image, pixel) for the wgrad. So the sums are the same to the bit as
//! the direct seven-deep loops, at a fraction of their index arithmetic.
//! Whole outputs are split between threads (output planes, input planes for
//! the dgrad, output channels for the wgrad), never one output's terms.

use super::split::{for_each_run, in_blocks, threads_for};
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

    /// Multiply-adds of one pass (the three passes do as many).
    fn macs(&self) -> usize {
        self.n * self.oc * self.ho * self.wo * self.icg * self.kh * self.kw
    }

    /// The runs of tap `(ky, ·)` whose valid columns are `cols`: the output
    /// rows that start one, and its length. One run of all its rows where
    /// whole output rows pair with whole input rows (stride 1, every column
    /// valid, planes as wide as each other) and the rows are packed on both
    /// sides (`packed`); else a run of `cols` a row.
    fn tap_runs(
        &self,
        ky: usize,
        cols: &std::ops::Range<usize>,
        packed: bool,
    ) -> (std::ops::Range<usize>, usize) {
        let rows = self.rows(ky);
        let whole_rows =
            packed && self.sh == 1 && self.sw == 1 && cols.len() == self.wo && self.wo == self.w;
        // (No valid rows: no run. `rows.start` may then lie past the plane.)
        if whole_rows && !rows.is_empty() {
            (rows.start..rows.start + 1, rows.len() * self.wo)
        } else {
            (rows, cols.len())
        }
    }

    /// Output rows whose tap `ky` reads a row inside the input.
    fn rows(&self, ky: usize) -> std::ops::Range<usize> {
        valid_outputs(self.ho, self.h, self.sh, self.ph, ky)
    }

    /// Output columns whose tap `kx` reads a column inside the input.
    fn cols(&self, kx: usize) -> std::ops::Range<usize> {
        valid_outputs(self.wo, self.w, self.sw, self.pw, kx)
    }
}

/// The outputs `o < out` with `0 ≤ o·stride + tap − pad < inp`.
fn valid_outputs(
    out: usize,
    inp: usize,
    stride: usize,
    pad: usize,
    tap: usize,
) -> std::ops::Range<usize> {
    let lo = pad.saturating_sub(tap).div_ceil(stride);
    let hi = if inp + pad > tap {
        ((inp + pad - tap - 1) / stride + 1).min(out)
    } else {
        0
    };
    lo..hi.max(lo)
}

/// `dst[dst_start + j·dst_step] += src[src_start + j·src_step] · w` for
/// `j < len`: one tap's terms along one row, in order of `j`.
#[allow(clippy::too_many_arguments)]
fn add_scaled_row(
    dst: &mut [f64],
    dst_start: usize,
    dst_step: usize,
    src: &[f32],
    src_start: usize,
    src_step: usize,
    len: usize,
    w: f64,
) {
    add_scaled_rows::<1>(
        dst,
        dst_start,
        dst_step,
        src,
        [src_start],
        src_step,
        len,
        [w],
    );
}

/// For `j < len`, adds `src[src_starts[k] + j·src_step] · ws[k]` to
/// `dst[dst_start + j·dst_step]` for k = 0, 1, … in that order: K rows'
/// terms for each element, held in a register between them (1×1 convs
/// take four channels a pass over the plane).
#[allow(clippy::too_many_arguments)]
fn add_scaled_rows<const K: usize>(
    dst: &mut [f64],
    dst_start: usize,
    dst_step: usize,
    src: &[f32],
    src_starts: [usize; K],
    src_step: usize,
    len: usize,
    ws: [f64; K],
) {
    if dst_step == 1 && src_step == 1 {
        // Contiguous rows: the same sums, in a loop the compiler vectorizes.
        let rows: [&[f32]; K] = std::array::from_fn(|k| &src[src_starts[k]..src_starts[k] + len]);
        for (j, d) in dst[dst_start..dst_start + len].iter_mut().enumerate() {
            let mut v = *d;
            for k in 0..K {
                v += rows[k][j] as f64 * ws[k];
            }
            *d = v;
        }
    } else {
        for j in 0..len {
            let d = &mut dst[dst_start + j * dst_step];
            for k in 0..K {
                *d += src[src_starts[k] + j * src_step] as f64 * ws[k];
            }
        }
    }
}

/// Channels whose terms a 1×1 conv's forward and dgrad add in one pass
/// over a plane.
const ROWS_AT_ONCE: usize = 4;

/// `y = conv(x, w) + b` (`+= ` when `accumulate`).
pub fn forward(p: &Conv2dParams, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    forward_on(p, x, w, bias, y, threads_for(Geometry::of(p).macs()));
}

/// The forward with its output planes split between `threads`.
fn forward_on(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    threads: usize,
) {
    let g = Geometry::of(p);
    let plane = g.ho * g.wo;
    // Sums of output plane (n, o) at index n·oc + o.
    let mut sums = vec![0.0f64; g.n * g.oc * plane];
    for_each_run(&mut sums, plane, threads, |first, run| {
        for (k, acc) in run.chunks_mut(plane).enumerate() {
            let (n, o) = ((first + k) / g.oc, (first + k) % g.oc);
            forward_plane(p, &g, x, w, n, o, acc);
        }
    });
    for n in 0..g.n {
        for o in 0..g.oc {
            let acc = &sums[(n * g.oc + o) * plane..][..plane];
            for ho in 0..g.ho {
                for wo in 0..g.wo {
                    write_y(p, bias, o, at(&p.y, n, o, ho, wo), acc[ho * g.wo + wo], y);
                }
            }
        }
    }
}

/// Sums of output plane `(n, o)`, each output's terms in the order
/// (input channel, ky, kx).
fn forward_plane(
    p: &Conv2dParams,
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    n: usize,
    o: usize,
    acc: &mut [f64],
) {
    let (xs2, xs3) = (p.x.strides[2] as usize, p.x.strides[3] as usize);
    let group = o / g.ocg;
    let mut i = 0;
    let cols = g.cols(0);
    if g.kh == 1 && g.kw == 1 && !cols.is_empty() {
        // One tap: four input channels' terms a pass, in channel order.
        let (rows, row_len) = g.tap_runs(0, &cols, xs3 == 1 && xs2 == g.w);
        let first_wi = cols.start * g.sw - g.pw;
        while g.icg - i >= ROWS_AT_ONCE {
            let planes: [usize; ROWS_AT_ONCE] =
                std::array::from_fn(|k| at(&p.x, n, group * g.icg + i + k, 0, 0));
            let ws = std::array::from_fn(|k| w[at(&p.w, o, i + k, 0, 0)] as f64);
            for ho in rows.clone() {
                let hi = ho * g.sh - g.ph;
                let offset = hi * xs2 + first_wi * xs3;
                add_scaled_rows(
                    acc,
                    ho * g.wo + cols.start,
                    1,
                    x,
                    planes.map(|plane| plane + offset),
                    g.sw * xs3,
                    row_len,
                    ws,
                );
            }
            i += ROWS_AT_ONCE;
        }
    }
    for i in i..g.icg {
        let x_plane = at(&p.x, n, group * g.icg + i, 0, 0);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let wv = w[at(&p.w, o, i, ky, kx)] as f64;
                let cols = g.cols(kx);
                if cols.is_empty() {
                    continue;
                }
                let first_wi = cols.start * g.sw + kx - g.pw;
                let (rows, row_len) = g.tap_runs(ky, &cols, xs3 == 1 && xs2 == g.w);
                for ho in rows {
                    let hi = ho * g.sh + ky - g.ph;
                    add_scaled_row(
                        acc,
                        ho * g.wo + cols.start,
                        1,
                        x,
                        x_plane + hi * xs2 + first_wi * xs3,
                        g.sw * xs3,
                        row_len,
                        wv,
                    );
                }
            }
        }
    }
}

/// Stores forward output `yi` of output channel `o`: the sum `v`, plus the
/// bias (when `has_bias`), plus the old value (when `accumulate`), added in
/// that order in f64.
fn write_y(p: &Conv2dParams, bias: Option<&[f32]>, o: usize, yi: usize, mut v: f64, y: &mut [f32]) {
    if let (Some(b), 1) = (bias, p.has_bias) {
        v += b[p.bias_offset as usize + o] as f64;
    }
    if p.accumulate == 1 {
        v += y[yi] as f64;
    }
    y[yi] = v as f32;
}

/// `dx = convᵀ(dy, w)` (`+=` when `accumulate`): every output that read
/// `x[n, c, hi, wi]` sends back `dy · w`.
pub fn dgrad(p: &Conv2dParams, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    dgrad_on(p, dy, w, dx, threads_for(Geometry::of(p).macs()));
}

/// The dgrad with its input planes split between `threads`.
fn dgrad_on(p: &Conv2dParams, dy: &[f32], w: &[f32], dx: &mut [f32], threads: usize) {
    let g = Geometry::of(p);
    let plane = g.h * g.w;
    // Sums of input plane (n, c) at index n·ic + c.
    let mut acc = vec![0.0f64; g.n * g.ic * plane];
    for_each_run(&mut acc, plane, threads, |first, run| {
        for (k, dx_plane) in run.chunks_mut(plane).enumerate() {
            let (n, c) = ((first + k) / g.ic, (first + k) % g.ic);
            dgrad_plane(p, &g, dy, w, n, c, dx_plane);
        }
    });
    write_dx(p, &g, &acc, dx);
}

/// Sums of input plane `(n, c)`: each element's terms by ascending output
/// channel, then by ascending output pixel, as in the direct loop.
fn dgrad_plane(
    p: &Conv2dParams,
    g: &Geometry,
    dy: &[f32],
    w: &[f32],
    n: usize,
    c: usize,
    acc: &mut [f64],
) {
    let (ys2, ys3) = (p.y.strides[2] as usize, p.y.strides[3] as usize);
    let (group, i) = (c / g.icg, c % g.icg);
    let mut o = group * g.ocg;
    let end = (group + 1) * g.ocg;
    let cols = g.cols(0);
    if g.kh == 1 && g.kw == 1 && !cols.is_empty() {
        // One tap: four output channels' terms a pass, in channel order.
        let (rows, row_len) = g.tap_runs(0, &cols, ys3 == 1 && ys2 == g.wo);
        let first_wi = cols.start * g.sw - g.pw;
        while end - o >= ROWS_AT_ONCE {
            let planes: [usize; ROWS_AT_ONCE] = std::array::from_fn(|k| at(&p.y, n, o + k, 0, 0));
            let ws = std::array::from_fn(|k| w[at(&p.w, o + k, i, 0, 0)] as f64);
            for ho in rows.clone() {
                let hi = ho * g.sh - g.ph;
                let offset = ho * ys2 + cols.start * ys3;
                add_scaled_rows(
                    acc,
                    hi * g.w + first_wi,
                    g.sw,
                    dy,
                    planes.map(|plane| plane + offset),
                    ys3,
                    row_len,
                    ws,
                );
            }
            o += ROWS_AT_ONCE;
        }
    }
    for o in o..end {
        let dy_plane = at(&p.y, n, o, 0, 0);
        // Taps in reverse: an input pixel then receives its terms by
        // ascending output pixel.
        for ky in (0..g.kh).rev() {
            for kx in (0..g.kw).rev() {
                let wv = w[at(&p.w, o, i, ky, kx)] as f64;
                let cols = g.cols(kx);
                if cols.is_empty() {
                    continue;
                }
                let first_wi = cols.start * g.sw + kx - g.pw;
                let (rows, row_len) = g.tap_runs(ky, &cols, ys3 == 1 && ys2 == g.wo);
                for ho in rows {
                    let hi = ho * g.sh + ky - g.ph;
                    add_scaled_row(
                        acc,
                        hi * g.w + first_wi,
                        g.sw,
                        dy,
                        dy_plane + ho * ys2 + cols.start * ys3,
                        ys3,
                        row_len,
                        wv,
                    );
                }
            }
        }
    }
}

/// Stores the dgrad's f64 sums (`[n][c][h][w]`) into the dx view, added to
/// what is there when `accumulate`.
fn write_dx(p: &Conv2dParams, g: &Geometry, acc: &[f64], dx: &mut [f32]) {
    let mut k = 0;
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
                    dx[xi] = (prev + acc[k]) as f32;
                    k += 1;
                }
            }
        }
    }
}

/// `dw += Σ dy · x` over the batch and output pixels, into the active block
/// of the full-size gradient; `db[o] += Σ dy` when `has_bias`.
pub fn wgrad(p: &Conv2dParams, x: &[f32], dy: &[f32], dw: &mut [f32], db: Option<&mut [f32]>) {
    wgrad_on(p, x, dy, dw, db, threads_for(Geometry::of(p).macs()));
}

/// The wgrad with its output channels split between `threads`.
fn wgrad_on(
    p: &Conv2dParams,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    threads: usize,
) {
    let g = Geometry::of(p);
    let taps = g.icg * g.kh * g.kw;
    // Sums of output channel o's taps (i, ky, kx) at o·taps + (i·kh + ky)·kw + kx.
    let mut sums = vec![0.0f64; g.oc * taps];
    for_each_run(&mut sums, taps, threads, |first, run| {
        wgrad_channels(p, &g, x, dy, first, run);
    });
    for o in 0..g.oc {
        for i in 0..g.icg {
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let wi = at(&p.w, o, i, ky, kx);
                    let acc = sums[o * taps + (i * g.kh + ky) * g.kw + kx];
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

/// Output and input channels whose weight-gradient sums run side by side:
/// 16 independent chains, so a sum does not wait for the previous one's
/// addition, and each dy and x value loaded serves four sums.
const WGRAD_LANES: usize = 4;

/// The weight-gradient sums of output channels `first..`, one `taps`-long
/// item of `sums` each, taken in blocks of four channels of one group
/// (channels left over, one at a time).
fn wgrad_channels(
    p: &Conv2dParams,
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    first: usize,
    sums: &mut [f64],
) {
    let taps = g.icg * g.kh * g.kw;
    let channels = sums.len() / taps;
    let mut done = 0;
    while done < channels {
        let o = first + done;
        let group_end = (o / g.ocg + 1) * g.ocg;
        let out = &mut sums[done * taps..];
        if channels - done >= WGRAD_LANES && group_end - o >= WGRAD_LANES {
            wgrad_block::<WGRAD_LANES>(p, g, x, dy, o, out);
            done += WGRAD_LANES;
        } else {
            wgrad_block::<1>(p, g, x, dy, o, out);
            done += 1;
        }
    }
}

/// The sums of output channels `o0..o0 + OUT` (of one group) into
/// `sums[k·taps + tap]`, input channels four at a time where four remain.
fn wgrad_block<const OUT: usize>(
    p: &Conv2dParams,
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    o0: usize,
    sums: &mut [f64],
) {
    in_blocks(g.icg, WGRAD_LANES, |i, lanes| match lanes {
        WGRAD_LANES => wgrad_tile::<OUT, WGRAD_LANES>(p, g, x, dy, o0, i, sums),
        _ => wgrad_tile::<OUT, 1>(p, g, x, dy, o0, i, sums),
    });
}

/// The sums of output channels `o0..o0 + OUT` against input channels
/// `i0..i0 + IN` of their group, every tap; each over (image, pixel) in
/// order, as the direct loop adds them.
fn wgrad_tile<const OUT: usize, const IN: usize>(
    p: &Conv2dParams,
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    o0: usize,
    i0: usize,
    sums: &mut [f64],
) {
    if OUT == 1 && IN == 1 && g.kh == 3 && g.kw == 3 {
        return wgrad_taps_together::<3, 3>(p, g, x, dy, o0, i0, sums);
    }
    let (xs3, ys3) = (p.x.strides[3] as usize, p.y.strides[3] as usize);
    let taps = g.icg * g.kh * g.kw;
    let group = o0 / g.ocg;
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            let mut acc = [[0.0f64; IN]; OUT];
            let cols = g.cols(kx);
            for n in 0..g.n {
                for ho in g.rows(ky) {
                    let hi = ho * g.sh + ky - g.ph;
                    let dy_rows: [usize; OUT] = std::array::from_fn(|a| at(&p.y, n, o0 + a, ho, 0));
                    let x_rows: [usize; IN] =
                        std::array::from_fn(|b| at(&p.x, n, group * g.icg + i0 + b, hi, 0));
                    for wo in cols.clone() {
                        let xi = (wo * g.sw + kx - g.pw) * xs3;
                        let xv: [f64; IN] = std::array::from_fn(|b| x[x_rows[b] + xi] as f64);
                        for (a, acc_a) in acc.iter_mut().enumerate() {
                            let d = dy[dy_rows[a] + wo * ys3] as f64;
                            for (acc_ab, &xb) in acc_a.iter_mut().zip(&xv) {
                                *acc_ab += d * xb;
                            }
                        }
                    }
                }
            }
            for (a, acc_a) in acc.iter().enumerate() {
                for (b, &v) in acc_a.iter().enumerate() {
                    sums[a * taps + ((i0 + b) * g.kh + ky) * g.kw + kx] = v;
                }
            }
        }
    }
}

/// One output channel against one input channel (a depthwise conv's
/// case) with a KH × KW kernel: the taps' sums side by side, so their
/// chains interleave. Row by row and, within a row, left to right, so each
/// tap still sums over (image, pixel) in order: the columns every tap
/// reads inside the input go through all KH·KW sums at once; the columns
/// before and after them, and rows some taps read outside, tap by tap.
fn wgrad_taps_together<const KH: usize, const KW: usize>(
    p: &Conv2dParams,
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    o: usize,
    i: usize,
    sums: &mut [f64],
) {
    let (xs3, ys3) = (p.x.strides[3] as usize, p.y.strides[3] as usize);
    let channel = (o / g.ocg) * g.icg + i;
    let rows: [_; KH] = std::array::from_fn(|ky| g.rows(ky));
    let cols: [_; KW] = std::array::from_fn(|kx| g.cols(kx));
    // Columns every tap reads inside the input (may be empty).
    let lo = cols.iter().map(|c| c.start).max().unwrap_or(0);
    let hi = cols.iter().map(|c| c.end).min().unwrap_or(0).max(lo);
    let mut acc = [[0.0f64; KW]; KH];
    // Tap (ky, kx)'s terms of output row `ho` at columns `range`.
    let add_run =
        |acc: &mut f64, x_row: usize, dy_row: usize, kx: usize, range: std::ops::Range<usize>| {
            for wo in range {
                let d = dy[dy_row + wo * ys3] as f64;
                *acc += d * x[x_row + (wo * g.sw + kx - g.pw) * xs3] as f64;
            }
        };
    for n in 0..g.n {
        for ho in 0..g.ho {
            let dy_row = at(&p.y, n, o, ho, 0);
            let live: [bool; KH] = std::array::from_fn(|ky| rows[ky].contains(&ho));
            let x_rows: [usize; KH] = std::array::from_fn(|ky| {
                if live[ky] {
                    at(&p.x, n, channel, ho * g.sh + ky - g.ph, 0)
                } else {
                    0
                }
            });
            // Every live tap's terms at the columns `range(kx)`, tap by tap.
            let by_tap =
                |acc: &mut [[f64; KW]; KH], range: &dyn Fn(usize) -> std::ops::Range<usize>| {
                    for ky in (0..KH).filter(|&ky| live[ky]) {
                        for (kx, a) in acc[ky].iter_mut().enumerate() {
                            add_run(a, x_rows[ky], dy_row, kx, range(kx));
                        }
                    }
                };
            by_tap(&mut acc, &|kx| cols[kx].start..lo.min(cols[kx].end));
            if live.iter().all(|&l| l) {
                for wo in lo..hi {
                    let d = dy[dy_row + wo * ys3] as f64;
                    for (acc_ky, &x_row) in acc.iter_mut().zip(&x_rows) {
                        for (kx, a) in acc_ky.iter_mut().enumerate() {
                            *a += d * x[x_row + (wo * g.sw + kx - g.pw) * xs3] as f64;
                        }
                    }
                }
            } else {
                by_tap(&mut acc, &|_| lo..hi);
            }
            by_tap(&mut acc, &|kx| hi.max(cols[kx].start)..cols[kx].end);
        }
    }
    for ky in 0..KH {
        for kx in 0..KW {
            sums[(i * KH + ky) * KW + kx] = acc[ky][kx];
        }
    }
}

#[cfg(test)]
mod tests {
    //! The plane-at-a-time loops against the direct seven-deep textbook
    //! loops they replaced: bit-identical outputs on random convs (strides,
    //! padding larger than the taps reach, groups, channel-slice views with
    //! offsets, sliced full-size weights, accumulation onto random values).
    use super::*;
    use crate::rng::Rng;

    /// Input row/column read by output `(ho, wo)` at tap `(ky, kx)`, if inside.
    fn input_pos(
        g: &Geometry,
        ho: usize,
        wo: usize,
        ky: usize,
        kx: usize,
    ) -> Option<(usize, usize)> {
        let hi = (ho * g.sh + ky).checked_sub(g.ph)?;
        let wi = (wo * g.sw + kx).checked_sub(g.pw)?;
        (hi < g.h && wi < g.w).then_some((hi, wi))
    }

    fn direct_forward(p: &Conv2dParams, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
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
                                    if let Some((hi, wi)) = input_pos(&g, ho, wo, ky, kx) {
                                        acc += x[at(&p.x, n, c, hi, wi)] as f64
                                            * w[at(&p.w, o, i, ky, kx)] as f64;
                                    }
                                }
                            }
                        }
                        write_y(p, bias, o, at(&p.y, n, o, ho, wo), acc, y);
                    }
                }
            }
        }
    }

    fn direct_dgrad(p: &Conv2dParams, dy: &[f32], w: &[f32], dx: &mut [f32]) {
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
                                    if let Some((hi, wi)) = input_pos(&g, ho, wo, ky, kx) {
                                        acc[flat(n, c, hi, wi)] +=
                                            d * w[at(&p.w, o, i, ky, kx)] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        write_dx(p, &g, &acc, dx);
    }

    fn direct_wgrad(p: &Conv2dParams, x: &[f32], dy: &[f32], dw: &mut [f32]) {
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
                                    if let Some((hi, wi)) = input_pos(&g, ho, wo, ky, kx) {
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
    }

    /// A view of `dims` inside a buffer `extra` channels wider, at `offset`.
    fn view(dims: [usize; 4], extra: usize, offset: usize) -> (ViewParams, usize) {
        let [n, c, h, w] = dims;
        let strides = [(c + extra) * h * w, h * w, w, 1];
        let v = ViewParams {
            dims: dims.map(|d| d as u32),
            strides: strides.map(|s| s as u32),
            offset: offset as u32,
            _pad: [0; 3],
        };
        (v, offset + n * strides[0])
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn plane_loops_equal_the_direct_loops_bit_for_bit() {
        let seed = crate::rng::seed_from_env_or_clock();
        // (Shown when the test fails; SLIMMABLE_SEED=<seed> reruns the case.)
        println!("seed {seed}");
        let mut rng = Rng::new(seed);
        fn pick(rng: &mut Rng, lo: usize, hi: usize) -> usize {
            lo + rng.below((hi - lo + 1) as u64) as usize
        }
        for case in 0..60 {
            let groups = [1, 1, 2, 3][case % 4];
            // Up to two blocks of four channels and a remainder.
            let (icg, ocg) = (pick(&mut rng, 1, 9), pick(&mut rng, 1, 9));
            let (ic, oc) = (icg * groups, ocg * groups);
            // Every fifth a 1×1 (its forward and dgrad take four channels
            // a pass).
            let (kh, kw) = if case % 5 == 0 {
                (1, 1)
            } else {
                ([1, 3, 5, 3][case % 4], [1, 3, 3, 5][(case / 4) % 4])
            };
            // The first cases keep the size ("same" padding, stride 1), where
            // whole rows of a tap run as one.
            let (sh, sw, ph, pw) = if case < 16 {
                (1, 1, kh / 2, kw / 2)
            } else {
                let (sh, sw) = (pick(&mut rng, 1, 2), pick(&mut rng, 1, 2));
                (sh, sw, pick(&mut rng, 0, kh), pick(&mut rng, 0, kw))
            };
            let (h, w) = (pick(&mut rng, 1, 9), pick(&mut rng, 1, 9));
            let (n_img, ho, wo) = (
                pick(&mut rng, 1, 3),
                (h + 2 * ph).saturating_sub(kh) / sh + 1,
                (w + 2 * pw).saturating_sub(kw) / sw + 1,
            );
            if h + 2 * ph < kh || w + 2 * pw < kw {
                continue;
            }
            let (xv, xlen) = view(
                [n_img, ic, h, w],
                pick(&mut rng, 0, 2),
                pick(&mut rng, 0, 5),
            );
            let (yv, ylen) = view(
                [n_img, oc, ho, wo],
                pick(&mut rng, 0, 2),
                pick(&mut rng, 0, 5),
            );
            // The active block of a weight with more channels than used.
            let (full_o, full_i) = (oc + pick(&mut rng, 0, 3), icg + pick(&mut rng, 0, 3));
            let wv = ViewParams {
                dims: [oc, icg, kh, kw].map(|d| d as u32),
                strides: [full_i * kh * kw, kh * kw, kw, 1].map(|s| s as u32),
                offset: 0,
                _pad: [0; 3],
            };
            let wlen = full_o * full_i * kh * kw;
            let bias_offset = pick(&mut rng, 0, 3);
            let p = Conv2dParams {
                x: xv,
                w: wv,
                y: yv,
                bias_offset: bias_offset as u32,
                has_bias: (case % 3 != 0) as u32,
                groups: groups as u32,
                stride_h: sh as u32,
                stride_w: sw as u32,
                pad_h: ph as u32,
                pad_w: pw as u32,
                accumulate: (case % 2) as u32,
            };
            let (x, wt) = (rng.vec_f32(xlen), rng.vec_f32(wlen));
            let (dy, bias) = (rng.vec_f32(ylen), rng.vec_f32(bias_offset + oc));
            let y0 = rng.vec_f32(ylen);
            let (y1, mut y2) = (y0.clone(), y0);
            direct_forward(&p, &x, &wt, Some(&bias), &mut y2);
            let dx0 = rng.vec_f32(xlen);
            let mut dx2 = dx0.clone();
            direct_dgrad(&p, &dy, &wt, &mut dx2);
            // (The bias gradient's loop is unchanged: not compared.)
            let dw0 = rng.vec_f32(wlen);
            let mut dw2 = dw0.clone();
            direct_wgrad(&p, &x, &dy, &mut dw2);
            // One thread, and the outputs split between several.
            for threads in [1, 2, 3] {
                let mut y = y1.clone();
                forward_on(&p, &x, &wt, Some(&bias), &mut y, threads);
                assert_eq!(
                    bits(&y),
                    bits(&y2),
                    "forward, case {case}, {threads} threads: {p:?}"
                );
                let mut dx = dx0.clone();
                dgrad_on(&p, &dy, &wt, &mut dx, threads);
                assert_eq!(
                    bits(&dx),
                    bits(&dx2),
                    "dgrad, case {case}, {threads} threads: {p:?}"
                );
                let mut dw = dw0.clone();
                wgrad_on(&p, &x, &dy, &mut dw, None, threads);
                assert_eq!(
                    bits(&dw),
                    bits(&dw2),
                    "wgrad, case {case}, {threads} threads: {p:?}"
                );
            }
        }
    }
}
