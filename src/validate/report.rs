//! What `validate` found, as plain data: one case per model and test set, and the whole verdict.
//! JSON keys are stable (README lists them); renderers live in `crate::report`.

use serde::Serialize;

use super::check::{AccuracyReport, LossReport};
use super::error::{ErrorKind, ValidateError};
use super::shard::ShardState;
use crate::artifacts::Tool;
use crate::metrics::suggest::Advice;
use crate::metrics::{ErrorDistribution, Metrics, Tolerance};
use crate::refdata::MatchedBy;
use crate::verdict::Verdict;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShaCheck {
    pub actual: String,
    pub expected: Option<String>,
    pub matches: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct InputReport {
    pub name: String,
    pub file: String,
    pub matched_by: MatchedBy,
    pub dtype: String,
    pub shape: Vec<usize>,
    /// The input was bound into the graph as a constant because tract could not run the graph
    /// with it as an input (see [`model::with_constants`]).
    pub bound_as_constant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputReport {
    pub name: String,
    pub file: String,
    pub matched_by: MatchedBy,
    pub status: Verdict,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub expected_dtype: String,
    pub expected_shape: Vec<usize>,
    pub tolerance: Tolerance,
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Why the output could not be compared element by element (type or shape differ).
    pub problem: Option<String>,
    /// With `--suggest-tolerance`: the tightest tolerance that passes, and the noise floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
    /// Where the errors lie (histograms, worst elements); only when asked for
    /// ([`ValidateConfig::error_detail`](super::ValidateConfig::error_detail)), and absent from
    /// the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<ErrorDistribution>,
}

/// One model on one test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    pub model: String,
    pub test_data: Option<String>,
    pub status: Verdict,
    /// Why it could not run (status `error`), with the file named.
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// Why it failed, one line each (outputs, loss gates, sha256).
    pub problems: Vec<String>,
    pub sha256: Option<ShaCheck>,
    pub tolerance_name: String,
    pub inputs: Vec<InputReport>,
    pub outputs: Vec<OutputReport>,
    pub loss: Option<LossReport>,
    pub binary_accuracy: Option<AccuracyReport>,
    /// What the model declares but does not do (an output produced with another shape or type
    /// than declared); the produced tensors were compared. Absent when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Graph outputs this case did not compute (the graph was pruned to the others), and why.
    /// Absent when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// A graph output left out of a case.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LeftOut {
    pub output: String,
    pub reason: String,
}

impl CaseReport {
    pub(super) fn empty(model: &str, test_data: Option<String>, tolerance_name: &str) -> Self {
        Self {
            model: model.to_owned(),
            test_data,
            status: Verdict::Pass,
            error: None,
            error_kind: None,
            problems: Vec::new(),
            sha256: None,
            tolerance_name: tolerance_name.to_owned(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            loss: None,
            binary_accuracy: None,
            warnings: Vec::new(),
            left_out: Vec::new(),
        }
    }

    /// A case that could not run.
    pub fn error(model: &str, test_data: Option<String>, e: &ValidateError) -> Self {
        Self {
            status: Verdict::Error,
            error: Some(e.chain()),
            error_kind: Some(e.kind()),
            ..Self::empty(model, test_data, "")
        }
    }

    /// A case that failed for a reason outside any run (an unlisted file in a manifest).
    pub fn failed(model: &str, problem: String) -> Self {
        Self {
            status: Verdict::Fail,
            problems: vec![problem],
            ..Self::empty(model, None, "")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

/// The whole verdict: `error` if any case could not run, else `fail` if any failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateReport {
    pub tool: Tool,
    pub status: Verdict,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
    /// With `--shard I/N`: which shard this is, and what `merge` needs from it. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardState>,
}

impl ValidateReport {
    pub fn new(cases: Vec<CaseReport>) -> Self {
        let count = |s: Verdict| cases.iter().filter(|c| c.status == s).count();
        let summary = Summary {
            cases: cases.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            errors: count(Verdict::Error),
        };
        let status = if summary.errors > 0 {
            Verdict::Error
        } else if summary.failed > 0 || cases.is_empty() {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        Self {
            tool: Tool::default(),
            status,
            summary,
            cases,
            shard: None,
        }
    }
}
