//! Tensors on disk: safetensors files readable by PyTorch
//! (`safetensors.torch.load_file`). Writes are atomic: a temporary file in the
//! same folder, then a rename, so a failure never leaves a partial file.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// A host tensor: f32 values and their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Whether every value is finite (no NaN, no infinity).
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }

    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        // Checked: a wrapped product could equal a short data length.
        let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if n != Some(data.len()) {
            let n = n.map_or("more than an address holds".to_string(), |n| n.to_string());
            return Err(Error::invalid(
                "tensor",
                format!(
                    "shape {shape:?} holds {n} elements but {} were given",
                    data.len()
                ),
            ));
        }
        Ok(HostTensor { shape, data })
    }

    /// The shape as NCHW, padding leading extents with 1 (rank 1 to 4).
    pub fn dims4(&self, name: &str) -> Result<[usize; 4]> {
        if self.shape.is_empty() || self.shape.len() > 4 {
            return Err(Error::invalid(
                format!("tensor '{name}'"),
                format!(
                    "rank {} is not supported; give a tensor of rank 1 to 4",
                    self.shape.len()
                ),
            ));
        }
        let mut d = [1; 4];
        d[4 - self.shape.len()..].copy_from_slice(&self.shape);
        Ok(d)
    }
}

/// Reads every tensor of a safetensors file (f32 only; other dtypes are an
/// error naming the tensor).
pub fn read(path: &Path) -> Result<HashMap<String, HostTensor>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::io(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::io(
                path,
                format!(
                    "tensor '{name}' is {:?}; this tool reads F32 tensors (convert with .float())",
                    view.dtype()
                ),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(name, HostTensor::new(view.shape().to_vec(), data)?);
    }
    Ok(out)
}

/// The string metadata of a safetensors file (empty if it has none).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::io(
            path,
            format!(
                "not a complete safetensors file ({} bytes; truncated, or not a tensor file?): {e}",
                bytes.len()
            ),
        )
    })?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Writes tensors (and string metadata) atomically.
pub fn write(
    path: &Path,
    tensors: &[(String, HostTensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    write_atomic(path, &serialize(path, tensors, metadata)?)
}

/// The safetensors bytes of `tensors` (f32) and `metadata`; `path` names
/// the file they are meant for in errors.
pub fn serialize(
    path: &Path,
    tensors: &[(String, HostTensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                t.shape.clone(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, b, s)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::invalid(format!("tensor '{n}'"), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata)
        .map_err(|e| Error::io(path, format!("serializing: {e}")))
}

/// Makes the folder `dir` (and its parents) to hold `what` ("the
/// cubins", "--isa"), with errors that say what to give: a file in the way,
/// a place where no folder can be made. Returns whether the folder is new.
pub fn make_folder(dir: &Path, what: &str) -> Result<bool> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::io(
            dir,
            format!("is a file; give a folder for {what}"),
        ));
    }
    let made = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            dir,
            format!("cannot make the folder for {what} ({e}); give one in a writable place"),
        )
    })?;
    Ok(made)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_all_atomic(&[(path, bytes)])
}

/// Writes several files as one step, as far as a file system allows: every
/// temporary file is written and synced first, and only then are they
/// renamed over the old ones. A failed write (a full disk, a read-only
/// folder) leaves every old file as it was; only a crash between the
/// renames, a few system calls, can leave a mix (which the checkpoint's
/// SHA-256 tie then refuses on resume).
pub fn write_all_atomic(files: &[(&Path, &[u8])]) -> Result<()> {
    let mut temps = Vec::with_capacity(files.len());
    let cleanup = |temps: &[std::path::PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for &(path, bytes) in files {
        let file_name = path
            .file_name()
            .ok_or_else(|| Error::io(path, "not a file path"))?;
        let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
        temps.push(tmp.clone());
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            std::io::Write::write_all(&mut f, bytes)?;
            f.sync_all()
        });
        if let Err(e) = written {
            cleanup(&temps);
            // Name the path asked for, not the temporary one, and what to do.
            return Err(Error::io(
                path,
                format!(
                    "cannot write it ({e}); check that its folder exists and is writable and the disk has room"
                ),
            ));
        }
    }
    for (i, (&(path, _), tmp)) in files.iter().zip(&temps).enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&temps[i..]);
            return Err(Error::io(path, e));
        }
    }
    // The renames themselves reach the disk with the folder's entry.
    if let Some(dir) = files.first().and_then(|(p, _)| p.parent()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_whose_product_wraps_is_refused() {
        // 2^33 · 2^31 wraps to 0 on 64 bits, which empty data matched.
        let err = HostTensor::new(vec![1 << 33, 1 << 31], vec![]).unwrap_err();
        assert!(
            err.to_string().contains("more than an address holds"),
            "{err}"
        );
        assert!(HostTensor::new(vec![2, 3], vec![0.0; 6]).is_ok());
    }
}
