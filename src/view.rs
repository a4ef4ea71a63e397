//! Views: how every kernel sees its tensors.
//!
//! A view is an element offset into a buffer plus four extents and four
//! strides (NCHW order; lower-rank tensors pad with leading extents of 1).
//! Channel slices of full-width activations and of full-size weights are
//! views, so no kernel ever needs a contiguous copy of its operand.

use crate::error::{Error, Result};
use crate::params::ViewParams;

/// A strided 4-D window into a flat `f32` buffer, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub offset: usize,
    pub dims: [usize; 4],
    pub strides: [usize; 4],
}

impl View {
    /// A dense row-major (NCHW) view starting at element 0.
    pub fn contiguous(dims: [usize; 4]) -> Self {
        // Saturating: extents from a user's file may overflow; check_within
        // then refuses the view instead of indexing with wrapped strides.
        let plane = dims[2].saturating_mul(dims[3]);
        let strides = [dims[1].saturating_mul(plane), plane, dims[3], 1];
        View {
            offset: 0,
            dims,
            strides,
        }
    }

    /// Channels `begin..begin + len` of a dense NCHW tensor of extents `full`.
    /// The result keeps the full tensor's strides: its batch stride is
    /// `C_full·H·W`, not `len·H·W`.
    pub fn channel_slice(full: [usize; 4], begin: usize, len: usize) -> Result<Self> {
        if begin.checked_add(len).is_none_or(|end| end > full[1]) {
            return Err(Error::invalid(
                "channel slice",
                format!(
                    "channels {begin}..{begin}+{len} do not fit in a tensor of {} channels; use a slice within the tensor",
                    full[1]
                ),
            ));
        }
        let base = View::contiguous(full);
        let offset = begin.checked_mul(base.strides[1]).ok_or_else(|| {
            Error::invalid(
                "channel slice",
                format!("a tensor of extents {full:?} has more elements than an address holds"),
            )
        })?;
        Ok(View {
            offset,
            dims: [full[0], len, full[2], full[3]],
            strides: base.strides,
        })
    }

    /// Number of elements the view addresses.
    /// Saturates rather than wrapping, so a huge view is never mistaken
    /// for a small one.
    pub fn numel(&self) -> usize {
        self.dims.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }

    /// Element index of `[n, c, h, w]` in the underlying buffer.
    pub fn index(&self, at: [usize; 4]) -> usize {
        self.offset + (0..4).map(|d| at[d] * self.strides[d]).sum::<usize>()
    }

    /// The largest buffer index the view touches (`None` if it is empty).
    pub fn last_index(&self) -> Option<usize> {
        if self.numel() == 0 {
            return None;
        }
        Some(self.index([
            self.dims[0] - 1,
            self.dims[1] - 1,
            self.dims[2] - 1,
            self.dims[3] - 1,
        ]))
    }

    /// [`View::last_index`] without wrapping: `None` when the extents, the
    /// strides or the offset overflow `usize` (`Some(None)`: no elements).
    fn checked_last_index(&self) -> Option<Option<usize>> {
        let count = self
            .dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))?;
        if count == 0 {
            return Some(None);
        }
        (0..4)
            .try_fold(self.offset, |acc, d| {
                acc.checked_add((self.dims[d] - 1).checked_mul(self.strides[d])?)
            })
            .map(Some)
    }

    /// Every element index of the view, in NCHW order.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        let [n, c, h, w] = self.dims;
        (0..n).flat_map(move |i| {
            (0..c).flat_map(move |j| {
                (0..h).flat_map(move |k| (0..w).map(move |l| self.index([i, j, k, l])))
            })
        })
    }

    /// For kernels that form addresses and counts in signed 32-bit (the
    /// CUDA convolutions): the last element and the element count must
    /// stay below 2^31, half of what [`View::check_within`] allows. Views
    /// whose extents overflow are left to `check_within`'s message.
    pub fn check_signed_32(&self, what: &str) -> Result<()> {
        let limit = i32::MAX as usize;
        let count = self.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        // An index or count that overflows usize is past the limit too.
        let reason = match (self.checked_last_index(), count) {
            (None, _) | (_, None) => "reaches past any address".to_string(),
            (Some(Some(last)), _) if last > limit => format!("reaches element {last}"),
            (_, Some(c)) if c > limit => format!("holds {c} elements"),
            _ => return Ok(()),
        };
        Err(Error::invalid(
            what,
            format!(
                "view (offset {}, extents {:?}) {reason}, beyond the conv kernels' signed 32-bit indexing (at most {limit}); split the batch into smaller launches",
                self.offset, self.dims
            ),
        ))
    }

    /// Checks that the view is non-empty, lies inside a buffer of `buffer_len`
    /// elements and that its indices fit the kernels' 32-bit arithmetic.
    pub fn check_within(&self, what: &str, buffer_len: usize) -> Result<()> {
        // Checked first: extents from a user's file can be large enough that
        // the unchecked products below wrap to an index that looks valid.
        let Some(last) = self.checked_last_index() else {
            return Err(Error::invalid(
                what,
                format!(
                    "view (offset {}, extents {:?}, strides {:?}) spans more elements than an address holds; use smaller extents",
                    self.offset, self.dims, self.strides
                ),
            ));
        };
        let Some(last) = last else {
            return Err(Error::invalid(
                what,
                format!(
                    "view {:?} has no elements; give every extent at least 1",
                    self.dims
                ),
            ));
        };
        if last >= buffer_len {
            return Err(Error::invalid(
                what,
                format!(
                    "view (offset {}, extents {:?}, strides {:?}) reaches element {last} but the buffer holds {buffer_len}; shrink the view or use a larger buffer",
                    self.offset, self.dims, self.strides
                ),
            ));
        }
        if last > u32::MAX as usize {
            return Err(Error::invalid(
                what,
                format!(
                    "view reaches element {last}, beyond the kernels' 32-bit indexing; split the work into smaller launches"
                ),
            ));
        }
        // Zero or overlapping strides can address many more elements than
        // the last index: the kernels count them in 32 bits too.
        if self.numel() > u32::MAX as usize {
            return Err(Error::invalid(
                what,
                format!(
                    "view of extents {:?} has {} elements, beyond the kernels' 32-bit counts; split the work into smaller launches",
                    self.dims,
                    self.numel()
                ),
            ));
        }
        Ok(())
    }

    /// Whether two views of the same buffer touch a common element. Exact
    /// when their joint address range is at most 2^26 elements (two channel
    /// slices of one activation interleave across the batch, so comparing
    /// ranges alone would refuse them); conservative beyond.
    pub fn may_overlap(&self, other: &View) -> bool {
        let (Some(a_end), Some(b_end)) = (self.last_index(), other.last_index()) else {
            return false;
        };
        if self.offset > b_end || other.offset > a_end {
            return false;
        }
        let lo = self.offset.min(other.offset);
        let span = a_end.max(b_end) - lo + 1;
        if span > 1 << 26 {
            return true;
        }
        let mut touched = vec![false; span];
        for i in self.indices() {
            touched[i - lo] = true;
        }
        other.indices().any(|i| touched[i - lo])
    }

    /// The view a kernel-side mirror describes (e.g. one an engine filled
    /// in itself).
    pub fn from_params(p: &ViewParams) -> Self {
        let u = |x: u32| x as usize;
        View {
            offset: u(p.offset),
            dims: p.dims.map(u),
            strides: p.strides.map(u),
        }
    }

    /// The kernel-side mirror of this view. Call [`View::check_within`] first.
    pub fn to_params(&self) -> ViewParams {
        let u = |x: usize| x as u32;
        ViewParams {
            dims: self.dims.map(u),
            strides: self.strides.map(u),
            offset: u(self.offset),
            _pad: [0; 3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_overflow_are_errors_not_wrapped_views() {
        // begin · C·H·W past usize::MAX.
        let huge = 1usize << (usize::BITS / 2);
        assert!(View::channel_slice([1, 4, huge, huge], 2, 1).is_err());
        // Zero strides: one element of memory, 2^48 elements counted.
        let broadcast = View {
            offset: 0,
            dims: [65536, 65536, 65536, 1],
            strides: [0; 4],
        };
        let err = broadcast.check_within("x", 1).unwrap_err().to_string();
        assert!(err.contains("32-bit counts"), "{err}");
        assert!(
            View::contiguous([2, 3, 4, 5])
                .check_within("x", 120)
                .is_ok()
        );
    }

    /// The conv kernels' signed 32-bit limit: a view whose last index
    /// overflows usize is past it too, not taken for an empty one.
    #[test]
    fn views_past_signed_32_bits_are_refused_even_when_their_index_overflows() {
        let at = |offset, dims, strides| View {
            offset,
            dims,
            strides,
        };
        assert!(at(0, [1, 1, 1, 1], [1; 4]).check_signed_32("x").is_ok());
        // Last index i32::MAX: the largest the kernels can form.
        let last_fits = at(1, [2, 1, 1, 1], [(i32::MAX - 1) as usize, 1, 1, 1]);
        assert!(last_fits.check_signed_32("x").is_ok());
        let one_past = at(2, [2, 1, 1, 1], [(i32::MAX - 1) as usize, 1, 1, 1]);
        assert!(one_past.check_signed_32("x").is_err());
        let overflowing = at(0, [3, 1, 1, 1], [usize::MAX / 2 + 1, 1, 1, 1]);
        let err = overflowing.check_signed_32("x").unwrap_err().to_string();
        assert!(err.contains("past any address"), "{err}");
    }
}
