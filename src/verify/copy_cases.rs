//! Cases for `slice_copy` and `fill`: channel slices at the slimmable widths,
//! an odd width, offset slices, and sizes that fit no launch tile.

use super::{Case, CaseOutput, Tolerance, poisoned};
use crate::backend::Backend;
use crate::ops;
use crate::rng::Rng;
use crate::view::View;

/// `(full extents, channel begin, channel count)` of the source slice.
const SHAPES: &[([usize; 4], usize, usize)] = &[
    ([2, 16, 8, 8], 0, 16),   // width 1.0
    ([2, 16, 8, 8], 0, 12),   // width 0.75
    ([3, 32, 7, 5], 0, 16),   // width 0.5, odd spatial size
    ([3, 32, 7, 5], 0, 8),    // width 0.25
    ([5, 20, 9, 11], 0, 7),   // odd width
    ([1, 36, 13, 3], 5, 20),  // slice that does not start at channel 0
    ([64, 24, 17, 19], 0, 9), // more elements than one grid pass of small tiles
];

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for &(full, begin, len) in SHAPES {
        out.push(Case {
            op: "slice_copy",
            name: format!("{full:?} ch {begin}..{} -> dense", begin + len),
            tolerance: Tolerance::EXACT,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let src_view = View::channel_slice(full, begin, len)?;
                let src_host = rng.vec_f32(full.iter().product());
                let dst_view = View::contiguous(src_view.dims);
                let written: Vec<usize> = dst_view.indices().collect();
                let before = poisoned(dst_view.numel(), &written, &mut rng);
                let src = be.upload(&src_host)?;
                let dst = be.upload(&before)?;
                ops::slice_copy(be, &src, &src_view, &dst, &dst_view)?;
                Ok(vec![CaseOutput {
                    name: "dst",
                    values: be.download(&dst)?,
                    written,
                    before,
                }])
            }),
        });
        out.push(Case {
            op: "slice_copy",
            name: format!("dense -> {full:?} ch {begin}..{}", begin + len),
            tolerance: Tolerance::EXACT,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let dst_view = View::channel_slice(full, begin, len)?;
                let src_view = View::contiguous(dst_view.dims);
                let src_host = rng.vec_f32(src_view.numel());
                let written: Vec<usize> = dst_view.indices().collect();
                let before = poisoned(full.iter().product(), &written, &mut rng);
                let src = be.upload(&src_host)?;
                let dst = be.upload(&before)?;
                ops::slice_copy(be, &src, &src_view, &dst, &dst_view)?;
                Ok(vec![CaseOutput {
                    name: "dst",
                    values: be.download(&dst)?,
                    written,
                    before,
                }])
            }),
        });
        out.push(Case {
            op: "fill",
            name: format!("{full:?} ch {begin}..{}", begin + len),
            tolerance: Tolerance::EXACT,
            run: Box::new(move |be: &dyn Backend, seed| {
                let mut rng = Rng::new(seed);
                let view = View::channel_slice(full, begin, len)?;
                let written: Vec<usize> = view.indices().collect();
                let before = poisoned(full.iter().product(), &written, &mut rng);
                let value = rng.uniform_f32(-3.0, 3.0);
                let dst = be.upload(&before)?;
                ops::fill(be, &dst, &view, value)?;
                Ok(vec![CaseOutput {
                    name: "dst",
                    values: be.download(&dst)?,
                    written,
                    before,
                }])
            }),
        });
    }
    // Copy between two disjoint channel ranges of the same buffer.
    out.push(Case {
        op: "slice_copy",
        name: "[4, 24, 6, 10] ch 0..8 -> ch 12..20, same buffer".into(),
        tolerance: Tolerance::EXACT,
        run: Box::new(|be: &dyn Backend, seed| {
            let mut rng = Rng::new(seed);
            let full = [4, 24, 6, 10];
            let src_view = View::channel_slice(full, 0, 8)?;
            let dst_view = View::channel_slice(full, 12, 8)?;
            let written: Vec<usize> = dst_view.indices().collect();
            let mut before = poisoned(full.iter().product(), &written, &mut rng);
            for i in src_view.indices() {
                before[i] = rng.uniform_f32(-1.0, 1.0);
            }
            let buf = be.upload(&before)?;
            ops::slice_copy(be, &buf, &src_view, &buf, &dst_view)?;
            Ok(vec![CaseOutput {
                name: "buf",
                values: be.download(&buf)?,
                written,
                before,
            }])
        }),
    });
    out
}
