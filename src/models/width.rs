//! How channel counts follow the width multiplier, as in the published
//! slimmable code (US-Nets `slimmable_ops.py`, reused by MutualNet): every
//! sliced count is `make_divisible(full·w / ratio, 8)·ratio`, where `ratio`
//! is the expansion of an inverted-residual hidden layer (so its width is
//! always `t ×` the block's input width at `w`) and 1 elsewhere.

use crate::error::{Error, Result};

/// Channel counts are rounded to multiples of this.
pub const CHANNEL_DIVISOR: usize = 8;

/// TF-slim's `make_divisible` (used by MobileNetV2, US-Nets and MutualNet):
/// round `v` to the nearest multiple of `divisor`, at least `divisor`, and
/// never more than 10% below `v`. Written with the same integer steps as the
/// Python (`int(v + d/2) // d * d`) so boundary cases round the same way.
/// The floor is `divisor` (TF-slim's default); US-Nets passes
/// `min_value=1`, which differs only below `v = 4` (it gives 9 or 1 there).
///
/// # Panics
/// If `divisor` is 0 (there is no multiple to round to).
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    assert!(
        divisor > 0,
        "make_divisible: the divisor must be at least 1"
    );
    let d = divisor as i64;
    let rounded = ((v + divisor as f64 / 2.0) as i64).div_euclid(d) * d;
    let new_v = rounded.max(d);
    let new_v = if (new_v as f64) < 0.9 * v {
        new_v + d
    } else {
        new_v
    };
    new_v as usize
}

/// The rule for one channel dimension of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    /// Never sliced: image channels, classes, MobileNetV2's last 1×1 conv
    /// (kept at 1280 for widths ≤ 1, as in the MobileNetV2 paper and US-Nets),
    /// kernel extents.
    Fixed(usize),
    /// Sliced with the width: `make_divisible(full·w / ratio, 8)·ratio`.
    Sliced { full: usize, ratio: usize },
}

impl Channels {
    /// A plain sliced count whose full size is `make_divisible(c, 8)`.
    pub fn sliced(c: usize) -> Self {
        Channels::Sliced {
            full: make_divisible(c as f64, CHANNEL_DIVISOR),
            ratio: 1,
        }
    }

    /// `ratio ×` another sliced count (inverted-residual hidden width).
    pub fn expanded(base: Channels, ratio: usize) -> Self {
        match base {
            Channels::Fixed(c) => Channels::Fixed(c * ratio),
            Channels::Sliced { full, .. } => Channels::Sliced {
                full: full * ratio,
                ratio,
            },
        }
    }

    /// The full-size count (width 1.0): the stored parameter's extent.
    pub fn full(&self) -> usize {
        match *self {
            Channels::Fixed(c) => c,
            Channels::Sliced { full, .. } => full,
        }
    }

    /// The active count at width `w` (checked with [`check_width`] first).
    pub fn at(&self, width: f64) -> usize {
        match *self {
            Channels::Fixed(c) => c,
            Channels::Sliced { full, ratio } => {
                make_divisible(full as f64 * width / ratio as f64, CHANNEL_DIVISOR) * ratio
            }
        }
    }

    pub fn is_sliced(&self) -> bool {
        matches!(self, Channels::Sliced { .. })
    }
}

/// Widths are fractions of the full-size network: `0 < w ≤ 1`.
pub fn check_width(width: f64) -> Result<()> {
    if width.is_finite() && width > 0.0 && width <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "width multiplier",
            format!("{width} is outside (0, 1]; the parameters are stored at width 1.0"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by the Python definition
    // (`max(d, int(v + d/2) // d * d)`, `+ d` if below 0.9·v) for the same v.
    #[test]
    fn make_divisible_matches_the_python_definition() {
        assert_eq!(make_divisible(32.0 * 0.35, 8), 16); // 11.2 → 8 < 10.08 → 16
        assert_eq!(make_divisible(16.0 * 0.35, 8), 8); // 5.6 → 8 (the floor)
        assert_eq!(make_divisible(24.0 * 0.35, 8), 8); // 8.4 → 8
        assert_eq!(make_divisible(96.0 * 0.35, 8), 32); // 33.6 → 32
        assert_eq!(make_divisible(320.0 * 0.35, 8), 112);
        assert_eq!(make_divisible(12.0, 8), 16); // int(16) // 8 * 8
        assert_eq!(make_divisible(11.9, 8), 16); // 8 < 10.71 → 16
        assert_eq!(make_divisible(24.0 * 0.375, 8), 16); // 9.0: 8 < 8.1 → 16
    }
}
