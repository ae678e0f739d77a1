//! Loads MNIST from a directory holding the files of the original distribution.
//!
//! Why: real digits are the reference case for the parity check, and people keep them as the
//! four IDX files (gzipped or not) under their distribution names.
//!
//! This loader must never guess: half a pair, an image count that differs from the label count,
//! a label outside 0-9 or images of different sizes are errors naming the file, never a dataset
//! that is quietly a few samples short.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};

use super::{Dataset, DatasetError, IdxArray, read_idx};

/// Image and label file names of the MNIST distribution, in the order [`load_mnist_dir`] joins
/// them. Each may also carry a `.gz` suffix.
pub const MNIST_PAIRS: [(&str, &str); 2] = [
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
];

const CLASSES: u8 = 10;

/// Loads every complete image/label pair found in `dir`: the training pair first, then the test
/// (`t10k`) pair, concatenated in that order. A directory with only the 10,000 test samples is
/// the common case and loads as just those.
///
/// Each file may be raw or gzipped (detected by content). If both `name` and `name.gz` exist,
/// the uncompressed one is used, since that is what `gunzip --keep` leaves behind.
///
/// Pixels become `f32` as `byte / 255.0`, the same rounding as NumPy's
/// `x.astype(np.float32) / 255`, so Python-side references see identical inputs.
pub fn load_mnist_dir(dir: &Path) -> Result<Dataset, DatasetError> {
    check_dir(dir)?;

    let mut pixels: Vec<f32> = Vec::new();
    let mut labels: Vec<u8> = Vec::new();
    // The first pair's image size and file, which every later pair must match.
    let mut size: Option<(usize, usize, PathBuf)> = None;

    for (images_name, labels_name) in MNIST_PAIRS {
        let (images_path, labels_path) = match (find(dir, images_name), find(dir, labels_name)) {
            (Some(images), Some(labels)) => (images, labels),
            (None, None) => continue,
            (Some(found), None) => {
                return Err(DatasetError::MissingPartner {
                    found,
                    missing: labels_name.to_owned(),
                });
            }
            (None, Some(found)) => {
                return Err(DatasetError::MissingPartner {
                    found,
                    missing: images_name.to_owned(),
                });
            }
        };
        let part = load_pair(&images_path, &labels_path)?;
        match &size {
            None => size = Some((part.rows, part.cols, images_path)),
            Some((rows, cols, first)) if (*rows, *cols) != (part.rows, part.cols) => {
                return Err(DatasetError::ImageSizeMismatch {
                    path: images_path,
                    rows: part.rows,
                    cols: part.cols,
                    first: first.clone(),
                    first_rows: *rows,
                    first_cols: *cols,
                });
            }
            Some(_) => {}
        }
        pixels.extend(part.pixels.iter().map(|&p| f32::from(p) / 255.0));
        labels.extend_from_slice(&part.labels);
    }

    let Some((rows, cols, _)) = size else {
        let looked_for = MNIST_PAIRS
            .iter()
            .flat_map(|&(images, labels)| [images.to_owned(), labels.to_owned()])
            .collect();
        return Err(DatasetError::NoMnistFiles {
            dir: dir.to_owned(),
            looked_for,
        });
    };
    let n = labels.len();
    let images = Array2::from_shape_vec((n, rows * cols), pixels)
        .expect("every pair was checked to hold n images of rows x cols pixels");
    Ok(Dataset {
        images,
        labels: Array1::from_vec(labels),
        rows,
        cols,
        targets: None,
    })
}

/// One image/label pair after validation, still as bytes.
struct Part {
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

fn check_dir(dir: &Path) -> Result<(), DatasetError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(DatasetError::NotADirectory {
            path: dir.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(DatasetError::DirMissing {
            path: dir.to_owned(),
        }),
        Err(source) => Err(DatasetError::Io {
            path: dir.to_owned(),
            source,
        }),
    }
}

/// `dir/name` if it is a file, else `dir/name.gz` if that is.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|path| path.is_file())
}

fn load_pair(images_path: &Path, labels_path: &Path) -> Result<Part, DatasetError> {
    let images = read_idx(images_path)?;
    let labels = read_idx(labels_path)?;
    let [n_images, rows, cols] = expect_rank::<3>(&images, images_path, "an image")?;
    let [n_labels] = expect_rank::<1>(&labels, labels_path, "a label")?;

    if rows == 0 || cols == 0 {
        return Err(DatasetError::EmptyImages {
            path: images_path.to_owned(),
            rows,
            cols,
        });
    }
    if n_images != n_labels {
        return Err(DatasetError::CountMismatch {
            images: images_path.to_owned(),
            n_images,
            labels: labels_path.to_owned(),
            n_labels,
        });
    }
    if let Some((index, &label)) = labels.data.iter().enumerate().find(|&(_, &l)| l >= CLASSES) {
        return Err(DatasetError::LabelOutOfRange {
            path: labels_path.to_owned(),
            index,
            label,
        });
    }
    Ok(Part {
        rows,
        cols,
        pixels: images.data,
        labels: labels.data,
    })
}

/// The dims of `array` if it has exactly `R` of them. A wrong rank is reported as the magic
/// number it implies, because the rank is the magic's last byte.
fn expect_rank<const R: usize>(
    array: &IdxArray,
    path: &Path,
    what: &'static str,
) -> Result<[usize; R], DatasetError> {
    let magic = |rank: usize| 0x0000_0800 | rank as u32;
    <[usize; R]>::try_from(array.dims.as_slice()).map_err(|_| DatasetError::WrongRank {
        path: path.to_owned(),
        found: magic(array.dims.len()),
        expected: magic(R),
        what,
    })
}

/// A dataset as the bytes of an MNIST image file and label file (uncompressed IDX), the pair
/// [`load_mnist_dir`] reads back. Pixels are written as `round(p * 255)`, which is exact for
/// MNIST and for the synthetic set (both hold `k / 255` values).
pub fn to_idx_pair(ds: &Dataset) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = ds
        .images
        .iter()
        .map(|&p| (p * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    let images = super::write_idx(&[ds.len(), ds.rows, ds.cols], &pixels);
    let labels = super::write_idx(
        &[ds.len()],
        ds.labels.as_slice().expect("labels are contiguous"),
    );
    (images, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{IdxError, write_idx};
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    /// Writes an IDX file `name` into `dir`, gzipped when the name ends in `.gz`.
    fn put(dir: &Path, name: &str, dims: &[usize], data: &[u8]) {
        let mut bytes = write_idx(dims, data);
        if name.ends_with(".gz") {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(&bytes).unwrap();
            bytes = enc.finish().unwrap();
        }
        fs::write(dir.join(name), bytes).unwrap();
    }

    /// Two 2x3 training images (raw files) and one test image (gzipped).
    fn small_mnist() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        put(
            d,
            "train-images-idx3-ubyte",
            &[2, 2, 3],
            &[0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6],
        );
        put(d, "train-labels-idx1-ubyte", &[2], &[7, 0]);
        put(d, "t10k-images-idx3-ubyte.gz", &[1, 2, 3], &[255; 6]);
        put(d, "t10k-labels-idx1-ubyte.gz", &[1], &[9]);
        dir
    }

    fn load_err(dir: &Path) -> DatasetError {
        load_mnist_dir(dir).unwrap_err()
    }

    #[test]
    fn loads_train_then_test() {
        let dir = small_mnist();
        let ds = load_mnist_dir(dir.path()).unwrap();
        assert_eq!((ds.len(), ds.rows, ds.cols), (3, 2, 3));
        assert_eq!(ds.labels.to_vec(), vec![7, 0, 9]);
        assert_eq!(ds.images.dim(), (3, 6));
        assert_eq!(
            ds.images.row(0).to_vec(),
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(ds.images[[1, 0]], 1.0 / 255.0);
        assert!(ds.images.row(2).iter().all(|&p| p == 1.0));
    }

    #[test]
    fn a_single_pair_is_enough() {
        let dir = small_mnist();
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
            fs::remove_file(dir.path().join(name)).unwrap();
        }
        let ds = load_mnist_dir(dir.path()).unwrap();
        assert_eq!(ds.labels.to_vec(), vec![9]);
    }

    #[test]
    fn uncompressed_file_wins_over_gz() {
        let dir = small_mnist();
        fs::write(
            dir.path().join("train-labels-idx1-ubyte.gz"),
            b"not even gzip",
        )
        .unwrap();
        assert_eq!(load_mnist_dir(dir.path()).unwrap().len(), 3);
    }

    #[test]
    fn missing_partner_is_named() {
        let dir = small_mnist();
        fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let found = dir.path().join("t10k-images-idx3-ubyte.gz");
        assert_eq!(
            load_err(dir.path()).to_string(),
            format!(
                "found {} but not its partner t10k-labels-idx1-ubyte \
                 (or t10k-labels-idx1-ubyte.gz) in the same directory",
                found.display()
            )
        );

        let dir = small_mnist();
        fs::remove_file(dir.path().join("train-images-idx3-ubyte")).unwrap();
        let err = load_err(dir.path());
        let DatasetError::MissingPartner { found, missing } = err else {
            panic!("{err:?}");
        };
        assert_eq!(missing, "train-images-idx3-ubyte");
        assert!(found.ends_with("train-labels-idx1-ubyte"));
    }

    #[test]
    fn count_mismatch() {
        let dir = small_mnist();
        put(dir.path(), "train-labels-idx1-ubyte", &[3], &[1, 2, 3]);
        let err = load_err(dir.path());
        assert!(
            matches!(
                err,
                DatasetError::CountMismatch {
                    n_images: 2,
                    n_labels: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("holds 2 images but "));
    }

    #[test]
    fn label_out_of_range() {
        let dir = small_mnist();
        put(dir.path(), "train-labels-idx1-ubyte", &[2], &[3, 11]);
        let err = load_err(dir.path());
        assert!(matches!(
            err,
            DatasetError::LabelOutOfRange {
                index: 1,
                label: 11,
                ..
            }
        ));
        assert!(err.to_string().ends_with(
            "train-labels-idx1-ubyte: label 11 at index 1 is out of range (expected 0 to 9)"
        ));
    }

    #[test]
    fn wrong_rank_reads_as_bad_magic() {
        let dir = small_mnist();
        put(dir.path(), "t10k-images-idx3-ubyte", &[1, 6], &[0; 6]);
        let err = load_err(dir.path());
        let want = "t10k-images-idx3-ubyte: bad magic number 0x00000802 (expected 0x00000803 for an image file)";
        assert!(err.to_string().ends_with(want), "{err}");

        let dir = small_mnist();
        put(dir.path(), "train-labels-idx1-ubyte", &[2, 1, 1], &[0, 0]);
        assert!(matches!(
            load_err(dir.path()),
            DatasetError::WrongRank {
                found: 0x803,
                expected: 0x801,
                ..
            }
        ));
    }

    #[test]
    fn image_sizes_must_agree_and_be_nonempty() {
        let dir = small_mnist();
        put(dir.path(), "t10k-images-idx3-ubyte", &[1, 3, 2], &[0; 6]);
        let err = load_err(dir.path());
        assert!(matches!(
            err,
            DatasetError::ImageSizeMismatch {
                rows: 3,
                cols: 2,
                first_rows: 2,
                first_cols: 3,
                ..
            }
        ));

        let dir = small_mnist();
        put(dir.path(), "train-images-idx3-ubyte", &[2, 0, 3], &[]);
        assert!(matches!(
            load_err(dir.path()),
            DatasetError::EmptyImages {
                rows: 0,
                cols: 3,
                ..
            }
        ));
    }

    #[test]
    fn file_errors_pass_through_with_their_path() {
        let dir = small_mnist();
        fs::write(
            dir.path().join("t10k-labels-idx1-ubyte.gz"),
            [0x1f, 0x8b, 8, 0],
        )
        .unwrap();
        let err = load_err(dir.path());
        assert!(
            matches!(err, DatasetError::Idx(IdxError::Gzip { .. })),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("t10k-labels-idx1-ubyte.gz: gzip data is corrupt or truncated")
        );
    }

    #[test]
    fn empty_missing_or_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_err(dir.path());
        assert!(matches!(err, DatasetError::NoMnistFiles { .. }));
        assert!(err.to_string().ends_with(
            ": looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, \
             t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally ending in .gz)"
        ));

        let missing = dir.path().join("nope");
        assert!(matches!(
            load_err(&missing),
            DatasetError::DirMissing { .. }
        ));

        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            load_err(&file),
            DatasetError::NotADirectory { .. }
        ));
    }

    /// The real MNIST files, when the project's shared data folder has them.
    #[test]
    fn real_mnist_if_present() {
        let Some(dir) = crate::testing::shared_dir("data/mnist", "t10k-images-idx3-ubyte.gz")
        else {
            return;
        };
        let ds = load_mnist_dir(&dir).unwrap();
        assert_eq!((ds.rows, ds.cols), (28, 28));
        let has_train = find(&dir, MNIST_PAIRS[0].0).is_some();
        assert_eq!(ds.len(), if has_train { 70_000 } else { 10_000 });

        let mut histogram = [0usize; 10];
        for &label in &ds.labels {
            histogram[usize::from(label)] += 1;
        }
        assert_eq!(histogram.iter().sum::<usize>(), ds.len());
        if !has_train {
            // Class counts of the published MNIST test set.
            assert_eq!(
                histogram,
                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
            );
        }
        assert!(ds.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // MNIST is mostly background: the mean pixel is about 0.13.
        let mean = ds.images.mean().unwrap();
        assert!((0.12..0.14).contains(&mean), "mean pixel {mean}");
    }
}
