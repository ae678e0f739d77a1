//! The CI gate: a TOML manifest listing every committed model with its reference data,
//! tolerances, expected losses and the sha256 of the file.
//!
//! A model whose bytes changed without its entry being updated fails, and so does an `.onnx`
//! file below the manifest's folder that no entry lists (unless `ignore`d), so nothing
//! committed escapes the gate. Paths are relative to the manifest file.
//!
//! ```toml
//! ignore = ["scratch/old.onnx"]          # optional
//!
//! [[model]]
//! path = "mnist-mlp/probs/model.onnx"
//! sha256 = "..."                         # `onnx-parity inspect FILE` prints it
//! test_data = ["mnist-mlp/probs/test_data_set_0"]   # default: every test_data_set_* beside it
//! labels = "mnist-mlp/labels.npy"        # optional
//! loss_output = "probabilities"          # optional, default the first float output
//! outputs = ["probabilities"]            # optional, default what the test data covers
//! tolerance = "default"                  # preset; atol / rtol override it
//! atol = 1e-5
//! rtol = 1e-5
//! allow_nonfinite = false
//! output_tol = { probabilities = { atol = 1e-6, rtol = 1e-6 } }
//! expect_loss = { logits_form = 0.19, probs_form = 0.19, sklearn_form = 2.47, tol = 1e-6 }
//! # the loss verdict against the reference outputs: optional, defaults 1e-3 / 1e-6
//! # expect_loss = { reference_rtol = 1e-3, reference_atol = 1e-6 }
//!
//! [[model.expect_divergence]]            # optional, repeatable: an explained divergence
//! runtime = "tract"                      # tract | onnxruntime
//! loss = "probs_form"                    # logits_form | probs_form | sklearn_form
//! why = "tract's Sigmoid never reaches the 1e-7 clip"
//! ```
//!
//! An expected divergence keeps the case green while that runtime's loss differs from the
//! reference beyond the loss tolerance, and fails it once the loss agrees (the entry is stale).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::check::{ExpectLoss, ExpectedDivergence, LossTolerance};
use super::error::ValidateError;
use super::{CaseReport, DEFAULT_LOSS_TOL, Started, ValidateConfig, ValidateReport, validate};
use crate::metrics::{Preset, Tolerance};
use crate::onnx::TensorLimits;
use crate::refdata::RefDataError;
use crate::runtime::RuntimeKind;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default, rename = "model")]
    pub models: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    pub sha256: String,
    #[serde(default)]
    pub test_data: Vec<String>,
    pub labels: Option<String>,
    pub loss_output: Option<String>,
    #[serde(default)]
    pub outputs: Vec<String>,
    pub tolerance: Option<Preset>,
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    #[serde(default)]
    pub allow_nonfinite: bool,
    #[serde(default)]
    pub output_tol: BTreeMap<String, OutputTol>,
    pub expect_loss: Option<ExpectLossEntry>,
    #[serde(default)]
    pub expect_divergence: Vec<ExpectedDivergence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputTol {
    pub atol: f64,
    pub rtol: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectLossEntry {
    pub logits_form: Option<f64>,
    pub probs_form: Option<f64>,
    pub sklearn_form: Option<f64>,
    pub tol: Option<f64>,
    /// The loss verdict against the reference outputs (defaults: 1e-3 and 1e-6).
    pub reference_rtol: Option<f64>,
    pub reference_atol: Option<f64>,
}

fn manifest_err(path: &Path, message: String) -> ValidateError {
    ValidateError::Manifest {
        path: path.to_owned(),
        message,
    }
}

/// Reads and checks a manifest (numbers finite and non-negative, digests well formed).
pub fn read(path: &Path) -> Result<Manifest, ValidateError> {
    let text = std::fs::read_to_string(path).map_err(|source| RefDataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let m: Manifest = toml::from_str(&text).map_err(|e| {
        // toml's own Display draws a multi-line excerpt; errors here are one line.
        let at = e.span().map_or(String::new(), |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: ")
        });
        manifest_err(path, format!("{at}{}", e.message().trim()))
    })?;
    for e in &m.models {
        let bad = |what: String| manifest_err(path, format!("entry {}: {what}", e.path));
        let sha_ok = e.sha256.len() == 64 && e.sha256.chars().all(|c| c.is_ascii_hexdigit());
        if !sha_ok {
            return Err(bad(format!("sha256 {:?} is not 64 hex digits", e.sha256)));
        }
        let mut numbers = vec![("atol", e.atol), ("rtol", e.rtol)];
        for t in e.output_tol.values() {
            numbers.push(("output_tol.atol", Some(t.atol)));
            numbers.push(("output_tol.rtol", Some(t.rtol)));
        }
        if let Some(x) = &e.expect_loss {
            numbers.push(("expect_loss.tol", x.tol));
            numbers.push(("expect_loss.reference_rtol", x.reference_rtol));
            numbers.push(("expect_loss.reference_atol", x.reference_atol));
        }
        if let Some(d) = e.expect_divergence.iter().find(|d| d.why.trim().is_empty()) {
            return Err(bad(format!(
                "expect_divergence for {} under {} must say why",
                d.loss.short(),
                d.runtime
            )));
        }
        for (what, v) in numbers {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(bad(format!("{what} must be a finite number >= 0, got {v}")));
            }
        }
    }
    Ok(m)
}

impl Entry {
    /// The entry as a validation config, paths resolved against `base` (the manifest's folder).
    pub fn config(&self, base: &Path, limits: TensorLimits) -> ValidateConfig {
        let preset = self.tolerance.unwrap_or(Preset::Default);
        let custom = self.atol.is_some() || self.rtol.is_some();
        let p = preset.tolerance();
        let tolerance = Tolerance {
            atol: self.atol.unwrap_or(p.atol),
            rtol: self.rtol.unwrap_or(p.rtol),
            allow_nonfinite: self.allow_nonfinite,
        };
        let expect = self.expect_loss.map_or(
            ExpectLoss {
                tol: DEFAULT_LOSS_TOL,
                ..ExpectLoss::default()
            },
            |x| {
                let d = LossTolerance::default();
                ExpectLoss {
                    logits_form: x.logits_form,
                    probs_form: x.probs_form,
                    sklearn_form: x.sklearn_form,
                    tol: x.tol.unwrap_or(DEFAULT_LOSS_TOL),
                    reference: LossTolerance {
                        rtol: x.reference_rtol.unwrap_or(d.rtol),
                        atol: x.reference_atol.unwrap_or(d.atol),
                    },
                }
            },
        );
        ValidateConfig {
            model: base.join(&self.path),
            test_data: self.test_data.iter().map(|p| base.join(p)).collect(),
            labels: self.labels.as_ref().map(|p| base.join(p)),
            loss_output: self.loss_output.clone(),
            outputs: self.outputs.clone(),
            tolerance,
            tolerance_name: if custom {
                format!("{} with overrides", preset.name())
            } else {
                preset.name().to_owned()
            },
            output_tolerances: self
                .output_tol
                .iter()
                .map(|(k, t)| {
                    (
                        k.clone(),
                        Tolerance {
                            atol: t.atol,
                            rtol: t.rtol,
                            allow_nonfinite: self.allow_nonfinite,
                        },
                    )
                })
                .collect(),
            expect,
            expect_divergence: self.expect_divergence.clone(),
            sha256: Some(self.sha256.clone()),
            limits,
            suggest_tolerance: false,
            chunk: None,
            shard: None,
            runtime: RuntimeKind::Tract,
            map: Vec::new(),
            error_detail: false,
        }
    }
}

/// Validates every entry of the manifest at `path` with `runtime`, and fails any `.onnx` file
/// below its folder that no entry lists.
pub fn run(
    path: &Path,
    limits: TensorLimits,
    runtime: RuntimeKind,
) -> Result<ValidateReport, ValidateError> {
    run_with(path, limits, runtime, false, |_| {})
}

/// [`run`], recording where each output's errors lie when `error_detail` is set (see
/// [`ValidateConfig::error_detail`]), and calling `on_model` before each entry is validated.
pub fn run_with(
    path: &Path,
    limits: TensorLimits,
    runtime: RuntimeKind,
    error_detail: bool,
    mut on_model: impl FnMut(Started<'_>),
) -> Result<ValidateReport, ValidateError> {
    let manifest = read(path)?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut cases = Vec::new();
    let total = manifest.models.len();
    for (index, entry) in manifest.models.iter().enumerate() {
        on_model(Started {
            index,
            total,
            name: &entry.path,
        });
        let cfg = ValidateConfig {
            runtime,
            error_detail,
            ..entry.config(&base, limits)
        };
        cases.extend(validate(&cfg));
    }
    let listed: Vec<PathBuf> = manifest
        .models
        .iter()
        .map(|e| normalize(&base.join(&e.path)))
        .chain(manifest.ignore.iter().map(|p| normalize(&base.join(p))))
        .collect();
    let mut found = Vec::new();
    onnx_files(&base, &mut found, 0).map_err(|source| RefDataError::Io {
        path: base.clone(),
        source,
    })?;
    found.sort();
    for file in found {
        if !listed.contains(&normalize(&file)) {
            cases.push(CaseReport::failed(
                &file.display().to_string(),
                format!(
                    "{} is not listed in {}: add an entry (or put it under `ignore`)",
                    file.display(),
                    path.display()
                ),
            ));
        }
    }
    Ok(ValidateReport::new(cases))
}

/// `a/./b` and `a/b` are the same entry.
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Every `*.onnx` file below `dir`, not following symlinked folders.
fn onnx_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let p = entry.path();
        if kind.is_dir() {
            onnx_files(&p, out, depth + 1)?;
        } else if p.extension().is_some_and(|e| e == "onnx") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_resolve_against_the_manifest_folder() {
        let m: Manifest = toml::from_str(
            r#"
            [[model]]
            path = "a/model.onnx"
            sha256 = "00"
            test_data = ["a/test_data_set_0"]
            labels = "labels.npy"
            tolerance = "strict"
            rtol = 0.5
            output_tol = { y = { atol = 1.0, rtol = 2.0 } }
            expect_loss = { probs_form = 0.25 }
            "#,
        )
        .unwrap();
        let c = m.models[0].config(Path::new("models"), TensorLimits::default());
        assert_eq!(c.model, Path::new("models/a/model.onnx"));
        assert_eq!(c.test_data, [Path::new("models/a/test_data_set_0")]);
        assert_eq!(c.labels.as_deref(), Some(Path::new("models/labels.npy")));
        assert_eq!((c.tolerance.atol, c.tolerance.rtol), (1e-6, 0.5));
        assert_eq!(c.tolerance_name, "strict with overrides");
        assert_eq!(c.output_tolerances["y"].rtol, 2.0);
        assert_eq!(c.expect.probs_form, Some(0.25));
        assert_eq!(c.expect.logits_form, None);
        assert_eq!(c.expect.tol, DEFAULT_LOSS_TOL);
    }

    #[test]
    fn typos_and_bad_numbers_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parity.toml");
        let sha = "a".repeat(64);
        for (body, needle) in [
            (
                format!("[[model]]\npath = \"m.onnx\"\nsha256 = \"{sha}\"\natoll = 1.0\n"),
                "unknown field",
            ),
            (
                "[[model]]\npath = \"m.onnx\"\nsha256 = \"xyz\"\n".to_owned(),
                "not 64 hex digits",
            ),
            (
                format!("[[model]]\npath = \"m.onnx\"\nsha256 = \"{sha}\"\natol = -1.0\n"),
                "atol must be",
            ),
            (
                format!(
                    "[[model]]\npath = \"m.onnx\"\nsha256 = \"{sha}\"\ntolerance = \"tight\"\n"
                ),
                "unknown variant",
            ),
        ] {
            std::fs::write(&path, body).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(
                err.contains("parity.toml") && err.contains(needle),
                "{needle}: {err}"
            );
        }
    }
}
