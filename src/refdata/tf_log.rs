//! A TensorFlow training run recorded step by step: the `reference.json` that
//! `scripts/tf_reference.py` writes. Read so that a report can lay TensorFlow's per-step losses
//! beside a Rust run of the same training (same initial weights, same batches).
//!
//! Only what a comparison needs is kept: each formulation's per-step loss and binary accuracy,
//! and the fingerprints (pixels, initial weights) that say whether the two runs trained on the
//! same thing. The file is size-checked before it is read, like every file the crate reads.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RefDataError;
use crate::model::train::{FormPair, Score};

/// Largest reference log read (a 100,000-step run is about 15 MB).
pub const MAX_TF_LOG_BYTES: u64 = 64 << 20;

/// A TensorFlow run of both formulations, step by step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TfReference {
    /// The file it was read from, as given.
    pub file: String,
    /// The command that made it, as the script recorded it.
    pub command: Option<String>,
    /// sha256 of the pixels it trained on (training stream, then held-out set), comparable to
    /// a training log's `data.pixels_sha256`.
    pub pixels_sha256: Option<String>,
    /// sha256 of its initial weights file (`init.npz`), comparable to a training log's
    /// `config.init.sha256` when the Rust run started from that file.
    pub init_sha256: Option<String>,
    /// Loss and binary accuracy of each step's batch before its update, per formulation.
    pub steps: FormPair<Vec<Score>>,
}

#[derive(Deserialize)]
struct File {
    command: Option<String>,
    config: Option<Config>,
    formulations: FormPair<Run>,
}

#[derive(Deserialize)]
struct Config {
    data: Option<Fingerprint>,
    init: Option<Fingerprint>,
}

#[derive(Deserialize)]
struct Fingerprint {
    pixels_sha256: Option<String>,
    sha256: Option<String>,
}

#[derive(Deserialize)]
struct Run {
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    step: usize,
    loss: f64,
    binary_accuracy: f64,
}

/// Reads a `reference.json` written by `scripts/tf_reference.py`.
pub fn read_tf_reference(path: &Path) -> Result<TfReference, RefDataError> {
    let fail = |message: String| RefDataError::TfLog {
        path: path.to_owned(),
        message,
    };
    let io = |source| RefDataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_TF_LOG_BYTES {
        return Err(fail(format!(
            "{len} bytes, more than the {MAX_TF_LOG_BYTES} a reference log may have"
        )));
    }
    let mut text = String::with_capacity(len as usize);
    file.take(MAX_TF_LOG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    let parsed: File = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not a reference log of scripts/tf_reference.py: {e}"
        ))
    })?;
    let steps = |form: &str, run: Run| -> Result<Vec<Score>, RefDataError> {
        if run.steps.is_empty() {
            return Err(fail(format!("formulations.{form}.steps is empty")));
        }
        run.steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                if s.step != i {
                    return Err(fail(format!(
                        "formulations.{form}.steps[{i}] is step {}, expected {i}",
                        s.step
                    )));
                }
                Ok(Score {
                    loss: s.loss,
                    binary_accuracy: s.binary_accuracy,
                })
            })
            .collect()
    };
    let config = parsed.config;
    let pixels_sha256 = config
        .as_ref()
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.pixels_sha256.clone());
    let init_sha256 = config
        .as_ref()
        .and_then(|c| c.init.as_ref())
        .and_then(|d| d.sha256.clone());
    Ok(TfReference {
        file: path.display().to_string(),
        command: parsed.command,
        pixels_sha256,
        init_sha256,
        steps: FormPair {
            logits: steps("logits", parsed.formulations.logits)?,
            probs: steps("probs", parsed.formulations.probs)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("models/tf-reference/sgd/reference.json")
    }

    #[test]
    fn reads_the_committed_reference() {
        let r = read_tf_reference(&committed()).unwrap();
        assert_eq!(r.steps.logits.len(), 20);
        assert_eq!(r.steps.probs.len(), 20);
        // models/tf-reference/sgd/reference.json, formulations.logits.steps[0].loss.
        let text = std::fs::read_to_string(committed()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            r.steps.logits[0].loss,
            v["formulations"]["logits"]["steps"][0]["loss"]
                .as_f64()
                .unwrap()
        );
        assert_eq!(
            r.pixels_sha256.as_deref(),
            v["config"]["data"]["pixels_sha256"].as_str()
        );
        assert_eq!(
            r.init_sha256.as_deref(),
            v["config"]["init"]["sha256"].as_str()
        );
    }

    #[test]
    fn other_json_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        for (body, needle) in [
            ("{\"steps\": []}", "not a reference log"),
            ("not json", "not a reference log"),
            (
                r#"{"formulations": {"logits": {"steps": []}, "probs": {"steps": []}}}"#,
                "steps is empty",
            ),
            (
                r#"{"formulations": {"logits": {"steps": [{"step": 1, "loss": 1, "binary_accuracy": 1}]}, "probs": {"steps": []}}}"#,
                "is step 1, expected 0",
            ),
        ] {
            std::fs::write(&path, body).unwrap();
            let err = read_tf_reference(&path).unwrap_err().to_string();
            assert!(err.contains("log.json") && err.contains(needle), "{err}");
        }
        let err = read_tf_reference(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.json"), "{err}");
    }
}
