//! IDX files (the MNIST family's format): big-endian magic `0x0000_08TT`
//! where TT is the element type (0x08 = u8) and the low byte the number of
//! dimensions, then each dimension as a u32, then the data. `.gz` files are
//! decompressed first. Every inconsistency is an error naming the file:
//! never silently fewer images.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// A u8 IDX array: its dimensions and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads a whole file, decompressing it when it ends in `.gz`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::io(
                    path,
                    format!("corrupt gzip data: {e}; re-install or re-download the file"),
                )
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes holding u8 data with `expected_rank` dimensions.
pub fn parse(path: &Path, bytes: &[u8], expected_rank: usize) -> Result<IdxArray> {
    let bad = |msg: String| {
        Error::io(
            path,
            format!("{msg}; the file is not a valid IDX file (corrupt or truncated)"),
        )
    };
    if bytes.len() < 4 {
        return Err(bad(format!(
            "{} bytes, too short for an IDX header",
            bytes.len()
        )));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let expected_magic = 0x0000_0800 | expected_rank as u32;
    if magic != expected_magic {
        return Err(bad(format!(
            "magic number {magic:#010x}, expected {expected_magic:#010x} (u8 data, {expected_rank} dimensions)"
        )));
    }
    let header = 4 + 4 * expected_rank;
    if bytes.len() < header {
        return Err(bad(format!(
            "header needs {header} bytes, file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..expected_rank)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    // Checked: dimensions near 2^32 each would wrap the product to a size
    // that matches a short file.
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_add(header).is_some())
        .ok_or_else(|| bad(format!("dimensions {dims:?} are too large for any file")))?;
    if bytes.len() != header + count {
        return Err(bad(format!(
            "dimensions {dims:?} need {count} data bytes, the file has {}",
            bytes.len() - header
        )));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads and parses an IDX file (`.gz` or raw).
pub fn read(path: &Path, expected_rank: usize) -> Result<IdxArray> {
    let bytes = read_bytes(path)?;
    parse(path, &bytes, expected_rank)
}

/// Serializes a u8 array as IDX (used by tests and tools).
///
/// # Panics
/// If a dimension does not fit IDX's 32 bits or there are more than 255
/// of them: the format cannot say it, and a truncated size would describe
/// another array.
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let rank = u8::try_from(dims.len()).expect("IDX holds at most 255 dimensions");
    let mut out = (0x0000_0800u32 | u32::from(rank)).to_be_bytes().to_vec();
    for &d in dims {
        let d = u32::try_from(d).expect("IDX dimensions are 32-bit");
        out.extend(d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
