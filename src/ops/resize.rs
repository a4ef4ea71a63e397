//! Fused multi-resolution resize + normalize + batch packing (MutualNet's
//! input pipeline in one launch).
//!
//! A batch of source images (`u8` HWC or CHW, or `f32` CHW; sizes may differ
//! per image; optional crop box and horizontal flip per image) is resized to
//! every requested resolution and normalized, `(x/255 − mean[c]) / std[c]`
//! for `u8` input and `(x − mean[c]) / std[c]` for `f32` input, into one
//! `f32` NCHW arena: one dense `[count, C, H, W]` tensor per requested output,
//! back to back. Each output may take a subset of the images (sub-batch
//! assignment). Build a [`ResizePack`] once (it validates everything and
//! uploads the descriptor table), then [`ResizePack::run`] as often as the
//! source buffer changes.
//!
//! Interpolation equals `torch.nn.functional.interpolate` on the cropped
//! image (`Filter`, `align_corners`, `antialias`), followed by
//! `flip(-1)` when the image's flip flag is set (torchvision's order:
//! RandomResizedCrop, then RandomHorizontalFlip).
//!
//! [`Order::MutualNet`] reproduces the official MutualNet code instead:
//! resize the crop to the full resolution with the chosen filter, normalize,
//! flip, then produce every output by bilinear `align_corners=True` without
//! antialias *from that full-resolution tensor*. For outputs smaller than the
//! full resolution this is a two-stage resize, which differs from resizing
//! the source directly (the second stage does not antialias and samples the
//! already-resampled grid); when the source already is the full resolution
//! with no crop, the two orders agree up to f32 rounding, because the
//! normalization is affine and the interpolation weights sum to 1 (except a
//! flipped image at a one-column output: `align_corners=True` then samples
//! column 0, which MutualNet's flip-before-resize moves to the last column).
//!
//! Descriptor table (`u32` words, uploaded as a [`Buffer`]):
//! - per image, [`IMAGE_WORDS`] words: `offset` (bytes for `u8`, elements
//!   for `f32`), `height`, `width`, `crop_top`, `crop_left`, `crop_height`,
//!   `crop_width`, `flip` (0/1);
//! - then per output, [`OUTPUT_WORDS`] words: `height`, `width`,
//!   `list_start`, `count`, `arena_offset` (elements), `group_start` (first
//!   launch index of this output), `group_end`, `tile_start`. One launch
//!   index (one thread) of the per-column kernels is a column of up to
//!   [`GROUP_ROWS`] output pixels of one image, every channel: an output
//!   covers `count · ceil(height/GROUP_ROWS) · width` of them. One block of
//!   CUDA's tiled kernel is a [`TILE_H`] × [`TILE_W`] tile of one image: an
//!   output covers `count · ceil(height/TILE_H) · ceil(width/TILE_W)`,
//!   from `tile_start`;
//! - then the image list: `count` image indices per output, from `list_start`;
//! - then the tile-run table (CUDA's tile kernels), at word
//!   `ResizePackParams::tile_runs_at`: one run per (output, image in its
//!   list), ordered by source image, then output, then slot, in three
//!   arrays of `tile_runs` words: each run's first block (ascending, from
//!   0), its output, its slot in that output's list. Consecutive blocks
//!   then cover every output of one source image, which stays in L2
//!   between them; `tile_start` gives the output-major order instead.

use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::ResizePackParams;
use crate::view::View;

/// Words per image descriptor.
pub const IMAGE_WORDS: usize = 8;
/// Words per output descriptor.
pub const OUTPUT_WORDS: usize = 8;
/// Output rows per thread: the column taps are computed once for them, and
/// consecutive threads still write consecutive columns (coalesced).
pub const GROUP_ROWS: usize = 4;
/// Output tile of one block of CUDA's tile kernels (`RPT_TILE_W` ×
/// `RPT_TILE_H` in kernels/resize_pack.cuh): the bilinear one's warp takes a
/// column a thread, the antialias one's two warps half a column each.
pub const TILE_W: usize = 32;
pub const TILE_H: usize = 8;
/// Largest source, crop, full or output extent (keeps the kernels' exact
/// integer tap arithmetic inside 32 bits).
pub const MAX_EXTENT: usize = 16384;

/// How the source images are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// `u8`, height × width × channels (packed 4 bytes per buffer word,
    /// little-endian: see [`Backend::upload_u8`]); `offset` in bytes.
    U8Hwc,
    /// `u8`, channels × height × width; `offset` in bytes.
    U8Chw,
    /// `f32`, channels × height × width; `offset` in elements. Normalized as
    /// `(x − mean) / std`, without the division by 255.
    F32Chw,
}

impl ImageFormat {
    /// The kernels' code for it (`ResizePackParams::format`).
    pub fn code(self) -> u32 {
        match self {
            ImageFormat::U8Hwc => 0,
            ImageFormat::U8Chw => 1,
            ImageFormat::F32Chw => 2,
        }
    }
}

/// Interpolation filter, as in `torch.nn.functional.interpolate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `mode="nearest"` (PyTorch's legacy index rule, `floor(d·in/out)` in f32).
    Nearest,
    /// `mode="bilinear", antialias=False`.
    Bilinear,
    /// `mode="bilinear", antialias=True` (triangle filter widened by the
    /// scale when shrinking; plain bilinear when enlarging).
    BilinearAntialias,
}

impl Filter {
    /// Its value in [`ResizePackParams::filter_mode`].
    pub fn code(self) -> u32 {
        match self {
            Filter::Nearest => 0,
            Filter::Bilinear => 1,
            Filter::BilinearAntialias => 2,
        }
    }
}

/// Order of operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Every output resized from the (cropped) source, then normalized.
    Direct,
    /// MutualNet: resize to the full resolution, normalize, then bilinear
    /// `align_corners=True` (no antialias) from there to every output.
    MutualNet {
        full_height: usize,
        full_width: usize,
    },
}

/// A crop box in source pixels (rows `top..top+height`, columns
/// `left..left+width`); it must lie inside the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
}

/// One source image in the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceImage {
    /// Where the image starts: bytes for `u8` formats, elements for `f32`.
    pub offset: usize,
    pub height: usize,
    pub width: usize,
    /// `None`: the whole image.
    pub crop: Option<CropBox>,
    /// Mirror the output horizontally.
    pub flip: bool,
}

/// One requested output tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub height: usize,
    pub width: usize,
    /// Which images, in order (`None`: all of them).
    pub images: Option<Vec<usize>>,
}

/// Everything about a resize-pack except the images and outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct ResizePackConfig {
    pub format: ImageFormat,
    /// 1 to 4.
    pub channels: usize,
    /// One per channel.
    pub mean: Vec<f32>,
    /// One per channel, finite and non-zero.
    pub std: Vec<f32>,
    pub filter: Filter,
    /// Bilinear only (PyTorch refuses it for nearest).
    pub align_corners: bool,
    pub order: Order,
    /// Element where the first output starts in the arena.
    pub arena_offset: usize,
}

/// A validated request, on the host: what [`ResizePack`] uploads, and what
/// an engine launching the kernel itself needs.
#[derive(Clone, Debug)]
pub struct ResizePlan {
    /// The kernel's parameter struct.
    pub params: ResizePackParams,
    /// The descriptor table.
    pub words: Vec<u32>,
    /// One view per requested output, in the arena, in request order.
    pub views: Vec<View>,
    /// The input buffer must hold at least this many 32-bit words.
    pub source_words: usize,
    /// The arena must hold at least this many elements.
    pub arena_len: usize,
}

/// A validated resize-pack with its descriptor table on a backend.
pub struct ResizePack {
    plan: ResizePlan,
    desc: Buffer,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::invalid("resize_pack", reason)
}

fn check_extent(what: &str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(bad(format!(
            "{what} is 0; every image, crop and output needs at least one row and one column"
        )));
    }
    if v > MAX_EXTENT {
        return Err(bad(format!(
            "{what} is {v}, above the limit of {MAX_EXTENT}; split or shrink the images"
        )));
    }
    Ok(())
}

/// Validates a request and builds its parameters, descriptor table and
/// output views (host only).
pub fn plan(
    images: &[SourceImage],
    outputs: &[OutputSpec],
    cfg: &ResizePackConfig,
) -> Result<ResizePlan> {
    let c = cfg.channels;
    if !(1..=4).contains(&c) {
        return Err(bad(format!(
            "{c} channels; give 1 to 4 channels (gray, RGB, RGBA)"
        )));
    }
    if cfg.mean.len() != c || cfg.std.len() != c {
        return Err(bad(format!(
            "mean has {} values and std has {} but the images have {c} channels; give one mean and one std per channel",
            cfg.mean.len(),
            cfg.std.len()
        )));
    }
    if let Some(s) = cfg.std.iter().find(|s| !s.is_finite() || **s == 0.0) {
        return Err(bad(format!(
            "std {s} cannot divide; give finite, non-zero std values"
        )));
    }
    if let Some(m) = cfg.mean.iter().find(|m| !m.is_finite()) {
        return Err(bad(format!("mean {m} is not finite")));
    }
    if cfg.filter == Filter::Nearest && cfg.align_corners {
        return Err(bad(
            "align_corners applies to bilinear only (PyTorch refuses it for nearest); set it to false",
        ));
    }
    if images.is_empty() {
        return Err(bad("no images; give at least one source image"));
    }
    if outputs.is_empty() {
        return Err(bad("no outputs; request at least one resolution"));
    }
    let (cascade, full_h, full_w) = match cfg.order {
        Order::Direct => (0, 0, 0),
        Order::MutualNet {
            full_height,
            full_width,
        } => {
            check_extent("the full resolution's height", full_height)?;
            check_extent("the full resolution's width", full_width)?;
            (1, full_height, full_width)
        }
    };
    let limit = u32::MAX as usize;
    let mut words = Vec::with_capacity(IMAGE_WORDS * images.len() + OUTPUT_WORDS * outputs.len());
    let mut src_words = 0usize;
    let mut crops = Vec::with_capacity(images.len());
    for (i, im) in images.iter().enumerate() {
        check_extent(&format!("image {i}'s height"), im.height)?;
        check_extent(&format!("image {i}'s width"), im.width)?;
        let crop = im.crop.unwrap_or(CropBox {
            top: 0,
            left: 0,
            height: im.height,
            width: im.width,
        });
        check_extent(&format!("image {i}'s crop height"), crop.height)?;
        check_extent(&format!("image {i}'s crop width"), crop.width)?;
        let inside = |start: usize, len: usize, extent: usize| {
            start.checked_add(len).is_some_and(|end| end <= extent)
        };
        if !inside(crop.top, crop.height, im.height) || !inside(crop.left, crop.width, im.width) {
            return Err(bad(format!(
                "image {i}: crop box rows {}..+{}, columns {}..+{} lies outside the {}×{} image; clamp the crop to the image",
                crop.top, crop.height, crop.left, crop.width, im.height, im.width
            )));
        }
        crops.push((crop.height, crop.width));
        let elems = im.height * im.width * c;
        let end = im.offset.saturating_add(elems);
        if end > limit {
            return Err(bad(format!(
                "image {i} ends at {end}, beyond the kernels' 32-bit indexing; use several launches"
            )));
        }
        let end_words = match cfg.format {
            ImageFormat::F32Chw => end,
            _ => end.div_ceil(4),
        };
        src_words = src_words.max(end_words);
        words.extend(
            [
                im.offset,
                im.height,
                im.width,
                crop.top,
                crop.left,
                crop.height,
                crop.width,
                im.flip as usize,
            ]
            .map(|v| v as u32),
        );
    }
    let mut list = Vec::new();
    let mut views = Vec::with_capacity(outputs.len());
    let mut groups = 0usize;
    let mut tiles = 0usize;
    let mut max_taps = 0usize;
    // (source image, output, slot in its list, tiles): the tile-run table.
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    // (input, output) extents already counted: batches repeat a few sizes.
    let mut axes_seen = std::collections::HashSet::new();
    if cfg.arena_offset > limit {
        return Err(bad(format!(
            "arena offset {} is beyond the kernels' 32-bit indexing; give at most {limit}",
            cfg.arena_offset
        )));
    }
    let mut arena = cfg.arena_offset;
    let list_base = IMAGE_WORDS * images.len() + OUTPUT_WORDS * outputs.len();
    for (j, o) in outputs.iter().enumerate() {
        check_extent(&format!("output {j}'s height"), o.height)?;
        check_extent(&format!("output {j}'s width"), o.width)?;
        let ids: Vec<usize> = match &o.images {
            Some(ids) => ids.clone(),
            None => (0..images.len()).collect(),
        };
        if ids.is_empty() {
            return Err(bad(format!(
                "output {j} takes no images (an empty tensor); drop it or list at least one image"
            )));
        }
        if let Some(bad_id) = ids.iter().find(|&&k| k >= images.len()) {
            return Err(bad(format!(
                "output {j} names image {bad_id} but there are {} images",
                images.len()
            )));
        }
        for &k in &ids {
            // The MutualNet order filters the crop to the full resolution,
            // then each output from it with two-tap bilinear.
            let (ch, cw) = crops[k];
            let (to_h, to_w) = match cfg.order {
                Order::Direct => (o.height, o.width),
                Order::MutualNet { .. } => (full_h, full_w),
            };
            for axis in [(ch, to_h), (cw, to_w)] {
                if axes_seen.insert(axis) {
                    let taps = axis_taps_max(cfg.filter, cfg.align_corners, axis.0, axis.1);
                    max_taps = max_taps.max(taps);
                }
            }
            if cascade != 0 {
                max_taps = max_taps.max(2);
            }
        }
        let list_start = list.len();
        list.extend(ids.iter().map(|&k| k as u32));
        let count = ids.len();
        let image_tiles = o.height.div_ceil(TILE_H) * o.width.div_ceil(TILE_W);
        runs.extend(ids.iter().enumerate().map(|(n, &k)| (k, j, n, image_tiles)));
        let px = count * o.height.div_ceil(GROUP_ROWS) * o.width;
        let output_tiles = count * image_tiles;
        let view = View::contiguous([count, c, o.height, o.width]);
        let view = View {
            offset: arena,
            ..view
        };
        words.extend(
            [
                o.height,
                o.width,
                list_start,
                count,
                arena,
                groups,
                groups + px,
                tiles,
            ]
            .map(|v| v as u32),
        );
        groups += px;
        tiles += output_tiles;
        // (Checked: an offset near usize::MAX would wrap past the limit.)
        arena = match arena.checked_add(view.numel()) {
            Some(end) if end <= limit => end,
            _ => {
                return Err(bad(format!(
                    "the outputs end past arena element {limit} (offset {} plus their sizes), beyond the kernels' 32-bit indexing; use several launches or a smaller arena offset",
                    cfg.arena_offset
                )));
            }
        };
        views.push(view);
    }
    debug_assert_eq!(words.len(), list_base);
    words.extend(list);
    // The tile-run table, image by image (then output, then slot): each
    // run's first block, its output, its slot.
    runs.sort_unstable();
    let tile_runs_at = words.len();
    let mut first = 0usize;
    for &(_, _, _, t) in &runs {
        words.push(first as u32);
        first += t;
    }
    debug_assert_eq!(first, tiles);
    words.extend(runs.iter().map(|&(_, j, _, _)| j as u32));
    words.extend(runs.iter().map(|&(_, _, n, _)| n as u32));
    // (v/div − mean)/std as one multiply-add, folded in f64.
    let div = if cfg.format == ImageFormat::F32Chw {
        1.0
    } else {
        255.0
    };
    let mut scale = [0.0f32; 4];
    let mut bias = [0.0f32; 4];
    for k in 0..c {
        let (m, s) = (cfg.mean[k] as f64, cfg.std[k] as f64);
        scale[k] = (1.0 / (div * s)) as f32;
        bias[k] = (-m / s) as f32;
        if !scale[k].is_finite() || !bias[k].is_finite() {
            return Err(bad(format!(
                "channel {k}: mean {m} / std {s} overflows f32; give a std of ordinary size"
            )));
        }
    }
    let params = ResizePackParams {
        scale,
        bias,
        num_images: images.len() as u32,
        num_outputs: outputs.len() as u32,
        channels: c as u32,
        format: cfg.format.code(),
        filter_mode: cfg.filter.code(),
        align_corners: cfg.align_corners as u32,
        cascade,
        full_h: full_h as u32,
        full_w: full_w as u32,
        total_groups: groups as u32,
        total_tiles: tiles as u32,
        max_taps: max_taps as u32,
        same_size: 1,
        staged: 1,
        tile_runs: runs.len() as u32,
        tile_runs_at: tile_runs_at as u32,
    };
    Ok(ResizePlan {
        params,
        words,
        views,
        source_words: src_words,
        arena_len: arena,
    })
}

/// The most taps any output coordinate of an `input → output` axis has under
/// the kernels' tap rule (`rp_axis` in kernels/resize_pack.cuh: antialias
/// counts the source pixels of each widened triangle, zero weights at its
/// ends included).
pub fn axis_taps_max(filter: Filter, align_corners: bool, input: usize, output: usize) -> usize {
    match filter {
        Filter::Nearest => 1,
        Filter::Bilinear => 2,
        Filter::BilinearAntialias => {
            let (p, q) = match (align_corners, output > 1) {
                (true, true) => (input as i64 - 1, output as i64 - 1),
                (true, false) => (0, 1),
                (false, _) => (input as i64, output as i64),
            };
            let m2 = 2 * p.max(q);
            (0..output as i64)
                .map(|d| {
                    let c2 = p * (2 * d + 1);
                    let lo_num = c2 - m2 + q;
                    let lo = if lo_num > 0 { lo_num / (2 * q) } else { 0 };
                    let hi = ((c2 + m2 + q) / (2 * q)).min(input as i64);
                    (hi - lo).max(0) as usize
                })
                .max()
                .unwrap_or(0)
        }
    }
}

impl ResizePack {
    /// Validates the request and uploads its descriptor table to `backend`.
    pub fn new(
        backend: &dyn Backend,
        images: &[SourceImage],
        outputs: &[OutputSpec],
        cfg: &ResizePackConfig,
    ) -> Result<Self> {
        let plan = plan(images, outputs, cfg)?;
        let desc = backend.upload_u32(&plan.words)?;
        Ok(ResizePack { plan, desc })
    }

    /// One view per requested output, in the arena, in request order.
    pub fn views(&self) -> &[View] {
        &self.plan.views
    }

    /// The arena must hold at least this many elements.
    pub fn arena_len(&self) -> usize {
        self.plan.arena_len
    }

    /// The validated request (parameters and descriptor words for raw launches).
    pub fn plan(&self) -> &ResizePlan {
        &self.plan
    }

    /// Resizes, normalizes and packs `src` into `arena`, one launch.
    pub fn run(&self, backend: &dyn Backend, src: &Buffer, arena: &Buffer) -> Result<()> {
        let plan = &self.plan;
        if src.len() < plan.source_words {
            return Err(bad(format!(
                "the source buffer holds {} words but the images reach word {}; check the image offsets and sizes",
                src.len(),
                plan.source_words
            )));
        }
        if arena.len() < plan.arena_len {
            return Err(bad(format!(
                "the arena holds {} elements but the outputs need {}; allocate ResizePack::arena_len() elements",
                arena.len(),
                plan.arena_len
            )));
        }
        if src.same_storage(arena) {
            return Err(bad("source and arena are the same buffer; use two buffers"));
        }
        backend.resize_pack(src, &self.desc, arena, &plan.params)
    }
}

/// `u8` bytes packed little-endian into 32-bit words carried as `f32` bit
/// patterns (the crate's buffers are `f32`-word buffers); the last word is
/// padded with zeros.
pub fn pack_u8(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|ch| {
            let mut w = [0u8; 4];
            w[..ch.len()].copy_from_slice(ch);
            f32::from_bits(u32::from_le_bytes(w))
        })
        .collect()
}

/// `u32` words carried as `f32` bit patterns.
pub fn pack_u32(words: &[u32]) -> Vec<f32> {
    words.iter().map(|&w| f32::from_bits(w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::resize::axis_taps;

    #[test]
    fn the_tap_count_covers_the_reference_filters() {
        // Every tap of the CPU reference's antialias filter with a non-zero
        // weight lies in the kernels' window, so the window's size is at
        // least the reference's count of non-zero taps.
        for ac in [false, true] {
            for input in 1..70 {
                for output in 1..70 {
                    let most = axis_taps_max(Filter::BilinearAntialias, ac, input, output);
                    let reference = axis_taps(2, ac, input, output)
                        .iter()
                        .map(|t| t.iter().filter(|(_, w)| *w != 0.0).count())
                        .max()
                        .unwrap();
                    assert!(
                        reference <= most,
                        "{input}->{output} ac={ac}: reference {reference} taps, kernels {most}"
                    );
                }
            }
        }
        // 224 -> 128 shrinks by 1.75: a window of 3.5 pixels.
        assert_eq!(axis_taps_max(Filter::BilinearAntialias, false, 224, 128), 4);
        assert_eq!(axis_taps_max(Filter::Bilinear, true, 224, 28), 2);
    }

    /// One-channel `u8` images, bilinear, outputs from `arena_offset` on.
    fn gray_bilinear(arena_offset: usize) -> ResizePackConfig {
        ResizePackConfig {
            format: ImageFormat::U8Hwc,
            channels: 1,
            mean: vec![0.5],
            std: vec![0.25],
            filter: Filter::Bilinear,
            align_corners: false,
            order: Order::Direct,
            arena_offset,
        }
    }

    #[test]
    fn an_arena_offset_past_32_bits_is_refused_not_wrapped() {
        let images = [SourceImage {
            offset: 0,
            height: 8,
            width: 8,
            crop: None,
            flip: false,
        }];
        let outputs = [OutputSpec {
            height: 8,
            width: 8,
            images: None,
        }];
        // usize::MAX - 5 + 64 wrapped to 58 and passed the limit.
        for offset in [usize::MAX - 5, u32::MAX as usize - 5, u32::MAX as usize + 1] {
            let err = plan(&images, &outputs, &gray_bilinear(offset)).err();
            assert!(
                err.is_some_and(|e| e.to_string().contains("32-bit indexing")),
                "arena offset {offset} was accepted"
            );
        }
        assert!(plan(&images, &outputs, &gray_bilinear(u32::MAX as usize - 64)).is_ok());
    }

    #[test]
    fn the_tile_runs_cover_every_tile_image_by_image() {
        let image = |h: usize, w: usize| SourceImage {
            offset: 0,
            height: h,
            width: w,
            crop: None,
            flip: false,
        };
        let images = [image(40, 50), image(9, 70), image(33, 33)];
        let out = |height, width, images| OutputSpec {
            height,
            width,
            images,
        };
        // Sub-batches in another order than the images', and a repeat.
        let outputs = [
            out(17, 40, None),
            out(9, 33, Some(vec![2, 0])),
            out(40, 65, Some(vec![1, 1])),
        ];
        let plan = plan(&images, &outputs, &gray_bilinear(0)).unwrap();
        let (runs, at) = (
            plan.params.tile_runs as usize,
            plan.params.tile_runs_at as usize,
        );
        assert_eq!(runs, 3 + 2 + 2);
        assert_eq!(
            plan.words.len(),
            at + 3 * runs,
            "the table ends the descriptor"
        );
        let word = |i: usize| plan.words[i] as usize;
        let list_start = |j: usize| word(IMAGE_WORDS * images.len() + OUTPUT_WORDS * j + 2);
        let tiles =
            |j: usize| outputs[j].height.div_ceil(TILE_H) * outputs[j].width.div_ceil(TILE_W);
        let mut seen = std::collections::HashSet::new();
        let mut last_image = 0;
        for r in 0..runs {
            let (first, j, n) = (word(at + r), word(at + runs + r), word(at + 2 * runs + r));
            let next = if r + 1 < runs {
                word(at + r + 1)
            } else {
                plan.params.total_tiles as usize
            };
            assert_eq!(
                next - first,
                tiles(j),
                "run {r}: its output's tiles of one image"
            );
            let img =
                word(IMAGE_WORDS * images.len() + OUTPUT_WORDS * outputs.len() + list_start(j) + n);
            assert!(
                img >= last_image,
                "run {r}: image {img} after image {last_image}"
            );
            last_image = img;
            assert!(seen.insert((j, n)), "run {r}: output {j} slot {n} twice");
        }
        assert_eq!(word(at), 0);
        assert_eq!(seen.len(), runs);
    }
}
