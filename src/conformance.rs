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
use crate::runtime::{OnnxModel, RuntimeKind, guard};
use crate::validate::{
    CaseReport, ErrorKind, Started, ValidateConfig, ValidateError, validate_model,
};
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
    /// The operator the case tests (see [`operator_under_test`]); `None` when the model could
    /// not be read.
    pub op: Option<String>,
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

/// `ReduceSum` -> `reduce_sum`, `MatMulInteger` -> `mat_mul_integer`.
fn snake_case(op: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = op.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
        if c.is_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The operator a node-test case exercises, from its name and the op types its graph holds:
/// node tests are named `test_<op in snake case>_<variant>`, and an `_expanded` case spells its
/// operator out in several others. The longest op type whose snake-case name starts the case
/// name wins (`test_reduce_sum_...` is ReduceSum, not Reduce...); else the graph's first op.
pub fn operator_under_test(case: &str, ops: &[String]) -> Option<String> {
    let stem = case.strip_prefix("test_").unwrap_or(case).to_lowercase();
    let stem_flat = stem.replace('_', "");
    let named = ops
        .iter()
        .filter(|op| {
            let snake = snake_case(op);
            let starts = |s: &str, p: &str| {
                s.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
            };
            starts(&stem, &snake) || stem_flat.starts_with(&op.to_lowercase())
        })
        .max_by_key(|op| op.len());
    named.or_else(|| ops.first()).cloned()
}

/// An `_expanded` case spells its operator out in others, so its graph does not name it: it
/// tests what the case it expands tests (`test_softmax_axis_0_expanded` is `test_softmax_axis_0`
/// expanded, and its graph holds Exp, ReduceSum, Div but no Softmax).
fn attribute_expanded(cases: &mut [CaseOutcome]) {
    let ops: std::collections::HashMap<String, Option<String>> = cases
        .iter()
        .map(|c| (c.name.clone(), c.op.clone()))
        .collect();
    for c in cases.iter_mut() {
        if let Some(at) = c.name.find("_expanded")
            && let Some(Some(op)) = ops.get(&c.name[..at])
        {
            c.op = Some(op.clone());
        }
    }
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
    let mut op = None;
    let outcome = guard::catch(|| match OnnxModel::open(&cfg.model, cfg.limits) {
        Ok(model) => {
            let mut ops: Vec<String> = Vec::new();
            for op in model.graph().node.iter().filter_map(|n| n.op_type.as_ref()) {
                if !ops.contains(op) {
                    ops.push(op.clone());
                }
            }
            op = operator_under_test(&name, &ops);
            validate_model(&model, &cfg)
        }
        Err(e) => vec![CaseReport::error(
            &cfg.model.display().to_string(),
            None,
            &e.into(),
        )],
    });
    let (verdict, reason) = match outcome {
        Ok(cases) => classify(&cases),
        Err(panic) => (Outcome::Error, Some(format!("panicked: {panic}"))),
    };
    CaseOutcome {
        name,
        op,
        verdict,
        reason,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Runs every case below `dir`; `on_start` is called before each.
pub fn run_suite(
    dir: &Path,
    tol: Option<Tolerance>,
    runtime: RuntimeKind,
    mut on_start: impl FnMut(Started<'_>),
) -> Result<SuiteReport, ValidateError> {
    let started = Instant::now();
    let tol = tol.unwrap_or(ONNX_BACKEND);
    let mut counts = Counts::default();
    let mut cases = Vec::new();
    let dirs = case_dirs(dir)?;
    let total = dirs.len();
    for (index, case) in dirs.into_iter().enumerate() {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        on_start(Started {
            index,
            total,
            name: &name,
        });
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
    attribute_expanded(&mut cases);
    Ok(SuiteReport {
        dir: dir.display().to_string(),
        runtime,
        tolerance: tol,
        counts,
        seconds: started.elapsed().as_secs_f64(),
        cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_operator_under_test_comes_from_the_case_name() {
        let cases = [
            ("test_relu", &["Relu"][..], "Relu"),
            (
                "test_reduce_sum_keepdims_example",
                &["ReduceSum"],
                "ReduceSum",
            ),
            (
                "test_softmax_axis_0_expanded",
                &["Exp", "ReduceSum", "Softmax", "Div"],
                "Softmax",
            ),
            ("test_matmulinteger", &["MatMulInteger"], "MatMulInteger"),
            (
                "test_qlinearmatmul_2D_uint8_float16",
                &["QLinearMatMul"],
                "QLinearMatMul",
            ),
            ("test_gru_seq_length", &["GRU"], "GRU"),
            ("test_add_bcast", &["Add"], "Add"),
            // "test_and..." is And, not Add; an unknown name falls back to the first op.
            ("test_and2d", &["And"], "And"),
            ("test_something_else", &["Cast", "Identity"], "Cast"),
        ];
        for (name, list, want) in cases {
            assert_eq!(
                operator_under_test(name, &ops(list)).as_deref(),
                Some(want),
                "{name}"
            );
        }
        assert_eq!(operator_under_test("test_x", &[]), None);
        assert_eq!(snake_case("ReduceSum"), "reduce_sum");
        assert_eq!(snake_case("GRU"), "gru");
        assert_eq!(snake_case("QLinearMatMul"), "q_linear_mat_mul");
    }

    #[test]
    fn an_expanded_case_counts_for_the_operator_of_the_case_it_expands() {
        let case = |name: &str, op: &str| CaseOutcome {
            name: name.into(),
            op: Some(op.into()),
            verdict: Outcome::Pass,
            reason: None,
            seconds: 0.0,
        };
        let mut cases = vec![
            case("test_softmax_axis_0", "Softmax"),
            case("test_softmax_axis_0_expanded", "Constant"),
            case("test_softmax_axis_0_expanded_ver18", "Constant"),
            case("test_orphan_expanded", "Exp"),
        ];
        attribute_expanded(&mut cases);
        let ops: Vec<_> = cases.iter().map(|c| c.op.as_deref().unwrap()).collect();
        assert_eq!(ops, ["Softmax", "Softmax", "Softmax", "Exp"]);
    }
}
