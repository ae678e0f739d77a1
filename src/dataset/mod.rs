//! Data in: the MNIST directory loader (IDX files, read by [`crate::refdata::idx`]) and a
//! synthetic stand-in for MNIST.
//!
//! Why: the parity check needs the same samples on every run and on every machine, either real
//! MNIST from disk or a generated set that needs no download. Everything ends up as one
//! [`Dataset`] of pixels in [0, 1] and class labels.
//!
//! This module must never do ML (no models, losses or batching policy) and never panic on a bad
//! file: every problem with input data comes back as a [`DatasetError`] that names the file.

pub mod mnist;
pub mod synthetic;

use std::io;
use std::path::PathBuf;

use ndarray::{Array1, Array2, Axis, s};

pub use crate::refdata::idx::{
    IdxArray, IdxError, MAX_PAYLOAD_BYTES, parse_idx, read_idx, write_idx,
};
pub use mnist::{MNIST_PAIRS, load_mnist_dir, to_idx_pair};

/// Number of digit classes: the default targets are one binary column per digit.
pub const DIGITS: usize = 10;

/// Samples as rows of pixels plus one class label per row, and the binary targets the models
/// learn (by default the labels one-hot, [`binarize`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[n, rows * cols]`, row-major pixels scaled to [0, 1].
    pub images: Array2<f32>,
    /// `[n]`, class of each row of `images`.
    pub labels: Array1<u8>,
    pub rows: usize,
    pub cols: usize,
    /// `[n, k]` targets of 0.0/1.0 given with the data (`--targets`); `None`: the labels as
    /// [`DIGITS`] one-hot columns.
    pub targets: Option<Array2<f32>>,
}

impl Dataset {
    /// The binary targets of every sample, `[n, k]`.
    pub fn targets(&self) -> Array2<f32> {
        match &self.targets {
            Some(t) => t.clone(),
            None => binarize(&self.labels, DIGITS),
        }
    }

    /// `k`, the number of binary targets per sample (the models' output width).
    pub fn target_columns(&self) -> usize {
        self.targets.as_ref().map_or(DIGITS, |t| t.ncols())
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n_first` samples, then the next `n_second`, in file order (no shuffling here:
    /// callers that want a random split `select` a permutation first).
    pub fn split(
        &self,
        n_first: usize,
        n_second: usize,
    ) -> Result<(Dataset, Dataset), DatasetError> {
        let available = self.len();
        let end = n_first
            .checked_add(n_second)
            .filter(|&end| end <= available)
            .ok_or(DatasetError::NotEnoughSamples {
                n_first,
                n_second,
                available,
            })?;
        Ok((self.rows_range(0, n_first), self.rows_range(n_first, end)))
    }

    /// The samples at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is `>= self.len()`: indices come from the program (a permutation, a batch),
    /// never from a file, so an out-of-range one is a bug in the caller.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            images: self.images.select(Axis(0), indices),
            labels: self.labels.select(Axis(0), indices),
            rows: self.rows,
            cols: self.cols,
            targets: self.targets.as_ref().map(|t| t.select(Axis(0), indices)),
        }
    }

    fn rows_range(&self, start: usize, end: usize) -> Dataset {
        Dataset {
            images: self.images.slice(s![start..end, ..]).to_owned(),
            labels: self.labels.slice(s![start..end]).to_owned(),
            rows: self.rows,
            cols: self.cols,
            targets: self
                .targets
                .as_ref()
                .map(|t| t.slice(s![start..end, ..]).to_owned()),
        }
    }
}

/// Class labels as `classes` independent binary targets, `[n, classes]` of 0.0 / 1.0: row `i` has
/// a single 1.0 at column `labels[i]`. This is the target of the sigmoid-BCE models, which treat
/// each column as its own yes/no question (a multi-label target), even though every row of these
/// datasets happens to have exactly one yes.
///
/// # Panics
/// If a label is `>= classes`. Loaders guarantee labels below 10, so this only fires when the
/// caller passes a `classes` smaller than its own data allows.
pub fn binarize(labels: &Array1<u8>, classes: usize) -> Array2<f32> {
    let mut targets = Array2::zeros((labels.len(), classes));
    for (mut row, &label) in targets.outer_iter_mut().zip(labels) {
        let label = usize::from(label);
        assert!(
            label < classes,
            "binarize: label {label} does not fit in {classes} classes"
        );
        row[label] = 1.0;
    }
    targets
}

/// Everything that can go wrong turning files into a [`Dataset`]. Each variant names the file it
/// concerns and the facts (expected vs found), so one line is enough to act on.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "sample index {index} at position {position} is out of range: the data has {len} samples"
    )]
    IndexOutOfRange {
        index: usize,
        position: usize,
        len: usize,
    },

    #[error("reading {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// The IDX magic's last byte is the number of dimensions, so a file with the wrong rank shows
    /// up as a wrong magic number; that is how MNIST tools report it too.
    #[error(
        "reading {}: bad magic number 0x{found:08x} (expected 0x{expected:08x} for {what} file)",
        path.display()
    )]
    WrongRank {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },

    #[error("MNIST directory {} does not exist", path.display())]
    DirMissing { path: PathBuf },

    #[error("{} is not a directory (expected a folder holding MNIST IDX files)", path.display())]
    NotADirectory { path: PathBuf },

    #[error(
        "no MNIST files in {}: looked for {} (each optionally ending in .gz)",
        dir.display(),
        looked_for.join(", ")
    )]
    NoMnistFiles {
        dir: PathBuf,
        looked_for: Vec<String>,
    },

    #[error(
        "found {} but not its partner {missing} (or {missing}.gz) in the same directory",
        found.display()
    )]
    MissingPartner { found: PathBuf, missing: String },

    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels; they must match",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },

    #[error(
        "reading {}: label {label} at index {index} is out of range (expected 0 to 9)",
        path.display()
    )]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
    },

    #[error(
        "reading {}: images are {rows}x{cols} pixels; both sides must be at least 1",
        path.display()
    )]
    EmptyImages {
        path: PathBuf,
        rows: usize,
        cols: usize,
    },

    #[error(
        "reading {}: images are {rows}x{cols} pixels but those in {} are {first_rows}x{first_cols}; all files must agree",
        path.display(),
        first.display()
    )]
    ImageSizeMismatch {
        path: PathBuf,
        rows: usize,
        cols: usize,
        first: PathBuf,
        first_rows: usize,
        first_cols: usize,
    },

    #[error("asked for {n_first} + {n_second} samples but the dataset holds {available}")]
    NotEnoughSamples {
        n_first: usize,
        n_second: usize,
        available: usize,
    },

    /// An IDX file that cannot be read (the file is named).
    #[error(transparent)]
    Idx(#[from] IdxError),

    /// A targets file that cannot serve the data (the file is named).
    #[error(transparent)]
    Targets(#[from] crate::refdata::RefDataError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn tiny() -> Dataset {
        // Five 1x2 "images" whose pixels encode their index, so order is visible.
        Dataset {
            images: Array2::from_shape_fn((5, 2), |(i, j)| (i * 2 + j) as f32 / 10.0),
            labels: array![0, 1, 2, 3, 4],
            rows: 1,
            cols: 2,
            targets: None,
        }
    }

    #[test]
    fn len_and_is_empty() {
        let d = tiny();
        assert_eq!(d.len(), 5);
        assert!(!d.is_empty());
        assert!(d.select(&[]).is_empty());
    }

    #[test]
    fn split_takes_consecutive_runs() {
        let (a, b) = tiny().split(2, 3).unwrap();
        assert_eq!(a.labels, array![0, 1]);
        assert_eq!(b.labels, array![2, 3, 4]);
        assert_eq!(b.images.row(0).to_vec(), vec![0.4, 0.5]);
        assert_eq!((b.rows, b.cols), (1, 2));
    }

    #[test]
    fn split_refuses_more_than_available() {
        let err = tiny().split(4, 2).unwrap_err();
        assert!(matches!(
            err,
            DatasetError::NotEnoughSamples {
                n_first: 4,
                n_second: 2,
                available: 5
            }
        ));
        assert_eq!(
            err.to_string(),
            "asked for 4 + 2 samples but the dataset holds 5"
        );
        // usize overflow in n_first + n_second is "not enough", not a wrap-around.
        assert!(tiny().split(usize::MAX, 2).is_err());
    }

    #[test]
    fn select_keeps_given_order() {
        let d = tiny().select(&[3, 0, 3]);
        assert_eq!(d.labels, array![3, 0, 3]);
        assert_eq!(d.images.row(1).to_vec(), vec![0.0, 0.1]);
        assert_eq!(d.images.row(2), d.images.row(0));
    }

    #[test]
    fn given_targets_follow_every_selection() {
        let mut d = tiny();
        assert_eq!(d.target_columns(), DIGITS);
        assert_eq!(d.targets().row(3).to_vec()[3], 1.0);
        d.targets = Some(Array2::from_shape_fn((5, 2), |(i, j)| {
            f32::from(u8::from((i + j) % 2 == 0))
        }));
        assert_eq!(d.target_columns(), 2);
        let (_, b) = d.split(2, 3).unwrap();
        assert_eq!(b.targets(), array![[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]);
        assert_eq!(d.select(&[1, 0]).targets(), array![[0.0, 1.0], [1.0, 0.0]]);
    }

    #[test]
    fn binarize_sets_one_column_per_row() {
        let t = binarize(&array![2, 0, 1], 3);
        assert_eq!(t, array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        assert_eq!(binarize(&array![], 10).dim(), (0, 10));
    }
}
