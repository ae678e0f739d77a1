//! `validate --shard I/N` and `merge`: one validation split across machines, and put back
//! together.
//!
//! Shard `I` of `N` validates a contiguous slice of every test set's samples (read as `--chunk`
//! reads them: a folder of `NAME.npy` files). Its report judges its own samples and carries a
//! [`ShardState`]: the run's settings and each case's [`CaseState`] (running sums and recorded
//! elements, floats as bit patterns). [`merge`] checks that the shards belong together (same
//! tool version, model bytes, runtime and settings, same test sets; every index from 1 to `N`
//! once; slices that tile every set), folds the states in shard order into the whole set's,
//! and finishes them into the report an unsharded run writes: counts, maxima, the first and
//! worst elements, clip counts, accuracy and flips identical; each loss the sum of the shards'
//! sums, which can differ from one running sum in the last bits of an f64.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::check::{ExpectLoss, LossTolerance};
use super::error::ErrorKind;
use super::report::{CaseReport, ShaCheck, ValidateReport};
use super::stream::{CaseState, Finish};
use super::{ValidateConfig, model_name};
use crate::artifacts::Tool;
use crate::metrics::TensorAccumulator;
use crate::runtime::RuntimeKind;
use crate::verdict::Verdict;

/// Shard `index` (from 1) of `count`, as `--shard I/N` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// The most shards `--shard` accepts: far above any CI matrix.
pub const MAX_SHARDS: usize = 10_000;

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected I/N, shard I of N, 1 <= I <= N <= {MAX_SHARDS}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's samples of a set of `samples`: contiguous, in shard order, sizes differing
    /// by at most one. Each shard needs two samples at least: a batch of one takes tract's
    /// matrix-vector kernels, which round differently from the batched ones.
    pub fn range(&self, samples: usize) -> Result<Range<usize>, String> {
        if samples < 2 * self.count {
            return Err(format!(
                "holds {samples} samples, too few for {} shards: each needs 2 at least (a \
                 batch of one rounds differently); use at most {} shards",
                self.count,
                samples / 2
            ));
        }
        let at = |i: usize| (samples as u128 * i as u128 / self.count as u128) as usize;
        Ok(at(self.index - 1)..at(self.index))
    }
}

/// What a shard's report carries for `merge` (the `shard` key of its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardState {
    /// The layout of this state; `merge` reads only its own.
    pub layout: u32,
    pub index: usize,
    pub count: usize,
    pub tool: Tool,
    pub model: String,
    /// The model file's sha256 (empty when it could not be opened).
    pub sha256: String,
    pub runtime: RuntimeKind,
    pub tolerance_name: String,
    pub expect: ExpectState,
    pub cases: Vec<ShardCase>,
}

const LAYOUT: u32 = 1;

/// One case of a shard: its state, or why it could not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardCase {
    Ran(Box<CaseState>),
    Error {
        test_data: Option<String>,
        error: String,
        error_kind: Option<ErrorKind>,
    },
}

impl ShardCase {
    fn test_data(&self) -> Option<&str> {
        match self {
            ShardCase::Ran(s) => Some(&s.test_data),
            ShardCase::Error { test_data, .. } => test_data.as_deref(),
        }
    }
}

/// [`ExpectLoss`] with its numbers carried bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpectState {
    #[serde(with = "crate::metrics::exact::option")]
    pub logits_form: Option<f64>,
    #[serde(with = "crate::metrics::exact::option")]
    pub probs_form: Option<f64>,
    #[serde(with = "crate::metrics::exact::option")]
    pub sklearn_form: Option<f64>,
    #[serde(with = "crate::metrics::exact")]
    pub tol: f64,
    #[serde(with = "crate::metrics::exact")]
    pub reference_rtol: f64,
    #[serde(with = "crate::metrics::exact")]
    pub reference_atol: f64,
}

impl From<ExpectLoss> for ExpectState {
    fn from(e: ExpectLoss) -> Self {
        Self {
            logits_form: e.logits_form,
            probs_form: e.probs_form,
            sklearn_form: e.sklearn_form,
            tol: e.tol,
            reference_rtol: e.reference.rtol,
            reference_atol: e.reference.atol,
        }
    }
}

impl From<ExpectState> for ExpectLoss {
    fn from(e: ExpectState) -> Self {
        Self {
            logits_form: e.logits_form,
            probs_form: e.probs_form,
            sklearn_form: e.sklearn_form,
            tol: e.tol,
            reference: LossTolerance {
                rtol: e.reference_rtol,
                atol: e.reference_atol,
            },
        }
    }
}

impl ShardState {
    pub(super) fn new(
        shard: Shard,
        cfg: &ValidateConfig,
        sha256: String,
        cases: &[(CaseReport, Option<CaseState>)],
    ) -> Self {
        Self {
            layout: LAYOUT,
            index: shard.index,
            count: shard.count,
            tool: Tool::default(),
            model: model_name(cfg),
            sha256,
            runtime: cfg.runtime,
            tolerance_name: cfg.tolerance_name.clone(),
            expect: cfg.expect.into(),
            cases: cases
                .iter()
                .map(|(report, state)| match state {
                    Some(s) => ShardCase::Ran(Box::new(s.clone())),
                    None => ShardCase::Error {
                        test_data: report.test_data.clone(),
                        error: report
                            .error
                            .clone()
                            .unwrap_or_else(|| report.problems.join("; ")),
                        error_kind: report.error_kind,
                    },
                })
                .collect(),
        }
    }
}

/// Why shard reports could not be merged; each names the file it is about where there is one.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Set(String),
}

/// Reports larger than this are refused unread: a shard's report holds a few numbers per
/// output and test set.
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// Reads the shard state of a report `validate --shard I/N --format json` wrote.
pub fn read(path: &Path) -> Result<ShardState, MergeError> {
    let fail = |message: String| MergeError::File {
        path: path.to_owned(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?
        .len();
    if len > MAX_REPORT_BYTES {
        return Err(fail(format!(
            "{len} bytes, more than a shard's report holds ({MAX_REPORT_BYTES})"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    #[derive(Deserialize)]
    struct File {
        shard: Option<serde_json::Value>,
    }
    let file: File =
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("not a JSON report ({e})")))?;
    let value = file.shard.ok_or_else(|| {
        fail(
            "not a shard's report (no \"shard\" key): write one with `onnx-parity validate \
             ... --shard I/N --format json --report FILE`"
                .to_owned(),
        )
    })?;
    let layout = value.get("layout").and_then(serde_json::Value::as_u64);
    if layout != Some(u64::from(LAYOUT)) {
        return Err(fail(format!(
            "shard state of layout {layout:?}; this onnx-parity reads layout {LAYOUT}: merge \
             with the version that wrote the shards"
        )));
    }
    serde_json::from_value(value).map_err(|e| fail(format!("malformed shard state ({e})")))
}

/// Folds shard states (any order) into the report of the whole validation.
pub fn merge(shards: &[(PathBuf, ShardState)]) -> Result<ValidateReport, MergeError> {
    let Some((first_path, first)) = shards.first() else {
        return Err(MergeError::Set("no shard reports to merge".to_owned()));
    };
    let count = first.count;
    let mut by_index: BTreeMap<usize, (&PathBuf, &ShardState)> = BTreeMap::new();
    for (path, s) in shards {
        let fail = |message: String| MergeError::File {
            path: path.clone(),
            message,
        };
        if s.count != count || s.index == 0 || s.index > s.count {
            return Err(fail(format!(
                "holds shard {}/{}, {} holds shard {}/{count}: shards of one run share N",
                s.index,
                s.count,
                first_path.display(),
                first.index
            )));
        }
        if let Some((other, _)) = by_index.insert(s.index, (path, s)) {
            return Err(fail(format!(
                "holds shard {}/{count}, as {} does",
                s.index,
                other.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Set(format!(
            "shard(s) {} of {count} missing: merge needs every shard's report",
            missing.join(", ")
        )));
    }
    let ordered: Vec<(&PathBuf, &ShardState)> = by_index.into_values().collect();
    let (one_path, one) = ordered[0];
    for &(path, s) in &ordered[1..] {
        agree(one_path, one, path, s)?;
    }
    let finish = Finish {
        model: std::borrow::Cow::Borrowed(&one.model),
        tolerance_name: &one.tolerance_name,
        expect: one.expect.into(),
        expect_divergence: &[],
        runtime: one.runtime,
    };
    let mut cases = Vec::with_capacity(one.cases.len());
    for k in 0..one.cases.len() {
        let parts: Vec<(&PathBuf, &ShardState, &ShardCase)> =
            ordered.iter().map(|&(p, s)| (p, s, &s.cases[k])).collect();
        cases.push(merge_case(&parts, &finish, &one.sha256)?);
    }
    Ok(ValidateReport::new(cases))
}

/// Whether shard `s` was run as shard `one` was (same tool, model, settings and test sets).
fn agree(one_path: &Path, one: &ShardState, path: &Path, s: &ShardState) -> Result<(), MergeError> {
    let differs = |what: &str, mine: String, theirs: String| MergeError::File {
        path: path.to_owned(),
        message: format!(
            "shard {} has {what} {mine}, shard {} ({}) has {theirs}: the shards of one run share \
             it",
            s.index,
            one.index,
            one_path.display()
        ),
    };
    let checks: [(&str, String, String); 6] = [
        (
            "tool version",
            s.tool.version.clone(),
            one.tool.version.clone(),
        ),
        ("model", s.model.clone(), one.model.clone()),
        ("model sha256", s.sha256.clone(), one.sha256.clone()),
        ("runtime", s.runtime.to_string(), one.runtime.to_string()),
        (
            "tolerance",
            s.tolerance_name.clone(),
            one.tolerance_name.clone(),
        ),
        (
            "expected losses",
            format!("{:?}", s.expect),
            format!("{:?}", one.expect),
        ),
    ];
    for (what, mine, theirs) in checks {
        if mine != theirs {
            return Err(differs(what, mine, theirs));
        }
    }
    let sets = |st: &ShardState| -> Vec<String> {
        st.cases
            .iter()
            .map(|c| c.test_data().unwrap_or("(no test set)").to_owned())
            .collect()
    };
    if sets(s) != sets(one) {
        return Err(differs(
            "test sets",
            sets(s).join(", "),
            sets(one).join(", "),
        ));
    }
    Ok(())
}

/// One test set's shards (in shard order) as the whole set's case.
fn merge_case(
    parts: &[(&PathBuf, &ShardState, &ShardCase)],
    finish: &Finish<'_>,
    sha256: &str,
) -> Result<CaseReport, MergeError> {
    // A shard that could not run makes the whole case one that could not run.
    if let Some((
        _,
        s,
        ShardCase::Error {
            test_data,
            error,
            error_kind,
        },
    )) = parts
        .iter()
        .find(|(_, _, c)| matches!(c, ShardCase::Error { .. }))
    {
        let mut case = CaseReport::empty(&finish.model, test_data.clone(), "");
        case.status = Verdict::Error;
        case.error = Some(format!("shard {}/{}: {error}", s.index, s.count));
        case.error_kind = *error_kind;
        return Ok(case);
    }
    let states: Vec<(&PathBuf, &CaseState)> = parts
        .iter()
        .map(|(p, _, c)| match c {
            ShardCase::Ran(state) => (*p, &**state),
            ShardCase::Error { .. } => unreachable!("errors returned above"),
        })
        .collect();
    let (_, whole) = states[0];
    let mut merged = whole.clone();
    let mut end = 0;
    for &(path, st) in &states {
        let fail = |message: String| MergeError::File {
            path: path.clone(),
            message,
        };
        if st.start != end || st.total != whole.total || st.outputs.len() != whole.outputs.len() {
            return Err(fail(format!(
                "{}: samples {}..{} of {}, where the shard before it ended at {end} of {}",
                st.test_data, st.start, st.end, st.total, whole.total
            )));
        }
        end = st.end;
        if std::ptr::eq(st, whole) {
            continue;
        }
        for (m, o) in merged.outputs.iter_mut().zip(&st.outputs) {
            if m.name != o.name {
                return Err(fail(format!(
                    "{}: output '{}' where the first shard has '{}'",
                    st.test_data, o.name, m.name
                )));
            }
            m.produced = m.produced.take().or_else(|| o.produced.clone());
            if m.problem.is_none() {
                m.problem = o.problem.clone();
            }
            m.acc = match (m.acc.take(), &o.acc) {
                (Some(a), Some(b)) => {
                    let mut acc = TensorAccumulator::from_state(&a).map_err(&fail)?;
                    let next = TensorAccumulator::from_state(b).map_err(&fail)?;
                    if a.dtype != b.dtype {
                        return Err(fail(format!(
                            "{}: output '{}' compared as {} here, as {} before",
                            st.test_data, o.name, b.dtype, a.dtype
                        )));
                    }
                    acc.merge(next);
                    Some(acc.state())
                }
                (a, b) => a.or_else(|| b.clone()),
            };
        }
        for (m, i) in merged.inputs.iter_mut().zip(&st.inputs) {
            m.bound_as_constant |= i.bound_as_constant;
        }
        for w in &st.warnings {
            if !merged.warnings.contains(w) {
                merged.warnings.push(w.clone());
            }
        }
        merged.loss = match (merged.loss.take(), &st.loss) {
            (Some(mut a), Some(b)) => {
                a.acc.merge(&b.acc).map_err(fail)?;
                Some(a)
            }
            (None, None) => None,
            _ => {
                return Err(fail(format!(
                    "{}: losses in some shards only (were the shards run with the same --labels?)",
                    st.test_data
                )));
            }
        };
    }
    if end != whole.total {
        return Err(MergeError::Set(format!(
            "{}: the shards end at sample {end} of {}",
            whole.test_data, whole.total
        )));
    }
    merged.start = 0;
    merged.end = whole.total;
    let mut case = finish
        .case(&merged)
        .map_err(|m| MergeError::Set(format!("{}: {m}", whole.test_data)))?;
    case.sha256 = Some(ShaCheck {
        actual: sha256.to_owned(),
        expected: None,
        matches: true,
    });
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_tile_the_samples() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "1/10001", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        for (samples, count) in [(8, 4), (9, 4), (10_000, 3), (1_000_001, 7)] {
            let mut end = 0;
            for index in 1..=count {
                let r = Shard { index, count }.range(samples).unwrap();
                assert_eq!(r.start, end);
                assert!(r.len() >= 2 && r.len() <= samples / count + 1, "{r:?}");
                end = r.end;
            }
            assert_eq!(end, samples);
        }
        let e = Shard { index: 1, count: 4 }.range(7).unwrap_err();
        assert!(
            e.contains("7 samples") && e.contains("at most 3 shards"),
            "{e}"
        );
    }
}
