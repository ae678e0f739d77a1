//! Writing files so that a reader never sees half of one: into a checked folder, under a
//! temporary name, then renamed into place. Also who wrote a file ([`Tool`]).
//!
//! Why here: this is the only module that writes into a user's folder. An interrupted run never
//! leaves a truncated file that looks valid. `crate::pipeline::outputs` decides what a run
//! writes; this module only writes it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayViewD};
use prost::Message;

use crate::loss::Formulation;
use crate::loss::Head;
use crate::onnx;

/// Who wrote a file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("output folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: io::Error },
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
}

/// Writes one file atomically beside where it goes, creating its folder.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            },
            name,
        ),
        _ => {
            return Err(ArtifactError::Write {
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            });
        }
    };
    let folder = ArtifactDir::create(dir)?;
    folder.write(&name.to_string_lossy(), bytes)?;
    Ok(())
}

/// A folder that artifacts go into, checked for writability before any work starts.
pub struct ArtifactDir {
    root: PathBuf,
}

impl ArtifactDir {
    /// Create the folder (and parents) and prove it is writable, so a long training run never
    /// ends in "permission denied".
    pub fn create(root: &Path) -> Result<Self, ArtifactError> {
        let folder = |source| ArtifactError::Folder {
            path: root.to_path_buf(),
            source,
        };
        fs::create_dir_all(root).map_err(folder)?;
        let probe = root.join(".onnx-parity-write-test");
        fs::write(&probe, b"").map_err(folder)?;
        fs::remove_file(&probe).map_err(folder)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Write `bytes` at `relative`, atomically (temporary file, then rename).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<PathBuf, ArtifactError> {
        let path = self.root.join(relative);
        let err = |source| ArtifactError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        let tmp = path.with_extension("partial");
        fs::write(&tmp, bytes).map_err(err)?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            err(e)
        })?;
        Ok(path)
    }
}

/// Folder of one export inside an artifact folder, named for its formulation: `logits` or
/// `probs`.
pub fn model_folder(form: Formulation) -> &'static str {
    form.name()
}

/// `FOLDER/model.onnx`.
pub fn model_path(form: Formulation) -> String {
    format!("{}/model.onnx", model_folder(form))
}

/// Write an export with one reference data set in the ONNX backend-test layout. `inputs` has
/// the shape the export takes (`[n, features]`, or NHWC `[n, h, w, c]`).
pub fn write_model_case(
    dir: &ArtifactDir,
    form: Formulation,
    onnx_bytes: &[u8],
    inputs: ArrayViewD<f32>,
    outputs: &Array2<f32>,
) -> Result<(), ArtifactError> {
    let folder = model_folder(form);
    let head = Head::for_formulation(form);
    let tensor = |name: &str, a: ArrayViewD<f32>| {
        onnx::array_to_proto(name, &a.to_owned())
            .expect("an in-memory f32 array always encodes")
            .encode_to_vec()
    };
    dir.write(
        &format!("{folder}/test_data_set_0/input_0.pb"),
        &tensor(crate::model::export::INPUT, inputs),
    )?;
    dir.write(
        &format!("{folder}/test_data_set_0/output_0.pb"),
        &tensor(
            crate::model::export::output_name(head),
            outputs.view().into_dyn(),
        ),
    )?;
    dir.write(&model_path(form), onnx_bytes)?;
    Ok(())
}
