//! `conformance`: `validate` over a folder of ONNX node tests (one folder per case, each with
//! `model.onnx` and `test_data_set_*`), classifying every case.
//!
//! - **pass**: every output within tolerance;
//! - **fail**: it ran and an output differs;
//! - **unsupported**: tract cannot load or run it (an operator, an element type, a panic in
//!   tract), or our decoder does not support an element type or a non-tensor input;
//! - **error**: anything else: a bug on our side to fix, or a broken case.
//!
//! Each case runs in-process under [`guard::catch`], so a panic anywhere becomes an `error`
//! outcome and the suite goes on. Hangs are the caller's to watch: `on_start` is called before
//! each case, so a watchdog can name the case that is taking too long.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::metrics::{ONNX_BACKEND, Tolerance};
use crate::runtime::{RuntimeKind, guard};
use crate::validate::{CaseReport, ErrorKind, ValidateConfig, ValidateError, validate};
use crate::verdict::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unsupported,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Unsupported,
        Outcome::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unsupported => "unsupported",
            Outcome::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseOutcome {
    pub name: String,
    /// Serialized as `verdict`, the name the JSON report has always used.
    pub verdict: Outcome,
    /// The error, or the first failing check, on one line.
    pub reason: Option<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub unsupported: usize,
    pub error: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteReport {
    pub dir: String,
    pub runtime: RuntimeKind,
    pub tolerance: Tolerance,
    pub counts: Counts,
    pub seconds: f64,
    pub cases: Vec<CaseOutcome>,
}

impl SuiteReport {
    /// `Fail` when a case ended in an error on our side, or fewer than `min_pass` cases passed
    /// (a guard against silent regressions); the reason says which.
    pub fn verdict(&self, min_pass: Option<usize>) -> (Verdict, Option<String>) {
        let c = &self.counts;
        if c.error > 0 {
            return (
                Verdict::Fail,
                Some(format!(
                    "{} conformance case(s) ended in an error on our side (list them with --list error)",
                    c.error
                )),
            );
        }
        match min_pass {
            Some(min) if c.pass < min => (
                Verdict::Fail,
                Some(format!(
                    "{} case(s) passed, fewer than --min-pass {min}",
                    c.pass
                )),
            ),
            _ => (Verdict::Pass, None),
        }
    }
}

/// Subfolders of `dir` holding a `model.onnx`, sorted by name.
pub fn case_dirs(dir: &Path) -> Result<Vec<PathBuf>, ValidateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        ValidateError::from(crate::refdata::RefDataError::Io {
            path: dir.to_owned(),
            source,
        })
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(crate::refdata::RefDataError::TestData {
            path: dir.to_owned(),
            message: "no case folders (subfolders with a model.onnx)".to_owned(),
        }
        .into());
    }
    Ok(dirs)
}

/// Classifies the cases of one model.
pub fn classify(cases: &[CaseReport]) -> (Outcome, Option<String>) {
    if let Some(c) = cases.iter().find(|c| c.status == Verdict::Error) {
        let verdict = match c.error_kind {
            Some(ErrorKind::Unsupported) => Outcome::Unsupported,
            _ => Outcome::Error,
        };
        return (verdict, c.error.clone());
    }
    if let Some(c) = cases.iter().find(|c| c.status == Verdict::Fail) {
        return (Outcome::Fail, c.problems.first().cloned());
    }
    (Outcome::Pass, None)
}

/// Validates one case folder with `tol`, run by `runtime`.
pub fn run_case(dir: &Path, tol: Tolerance, runtime: RuntimeKind) -> CaseOutcome {
    let started = Instant::now();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let mut cfg = ValidateConfig::new(dir.join("model.onnx"));
    cfg.tolerance = tol;
    cfg.tolerance_name = "onnx backend".to_owned();
    cfg.runtime = runtime;
    let (verdict, reason) = match guard::catch(|| validate(&cfg)) {
        Ok(cases) => classify(&cases),
        Err(panic) => (Outcome::Error, Some(format!("panicked: {panic}"))),
    };
    CaseOutcome {
        name,
        verdict,
        reason,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Runs every case below `dir`; `on_start(name)` is called before each.
pub fn run_suite(
    dir: &Path,
    tol: Option<Tolerance>,
    runtime: RuntimeKind,
    mut on_start: impl FnMut(&str),
) -> Result<SuiteReport, ValidateError> {
    let started = Instant::now();
    let tol = tol.unwrap_or(ONNX_BACKEND);
    let mut counts = Counts::default();
    let mut cases = Vec::new();
    for case in case_dirs(dir)? {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        on_start(&name);
        let outcome = run_case(&case, tol, runtime);
        counts.total += 1;
        match outcome.verdict {
            Outcome::Pass => counts.pass += 1,
            Outcome::Fail => counts.fail += 1,
            Outcome::Unsupported => counts.unsupported += 1,
            Outcome::Error => counts.error += 1,
        }
        cases.push(outcome);
    }
    Ok(SuiteReport {
        dir: dir.display().to_string(),
        runtime,
        tolerance: tol,
        counts,
        seconds: started.elapsed().as_secs_f64(),
        cases,
    })
}
