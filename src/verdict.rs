//! The verdict every command reaches, and the exit code it maps to.
//!
//! Why one type: `demo`, `validate`, `compare`, `matrix` and `conformance` all answer the same
//! question (did it compute the same thing?), a CI reads the answer from the exit code, and the
//! code must mean the same everywhere. [`Verdict::exit_code`] is the only mapping in the crate.

use serde::{Deserialize, Serialize};

/// Pass, fail or could not run. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Everything within tolerance.
    Pass,
    /// It ran and found a mismatch (or a gate failed).
    Fail,
    /// It could not run: bad input, I/O, something unsupported.
    Error,
}

impl Verdict {
    /// `Pass` when `passed`, else `Fail`.
    pub fn of(passed: bool) -> Self {
        if passed { Verdict::Pass } else { Verdict::Fail }
    }

    /// The worst of several verdicts; `Pass` for none.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Self {
        verdicts.into_iter().max().unwrap_or(Verdict::Pass)
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    /// The process exit code: 0 pass, 1 fail, 2 could not run.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }
}

impl std::fmt::Display for Verdict {
    /// Upper case, as reports print it: `PASS`, `FAIL`, `ERROR`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_the_worst_verdict() {
        assert_eq!(
            [Verdict::Pass, Verdict::Fail, Verdict::Error].map(Verdict::exit_code),
            [0, 1, 2]
        );
        assert_eq!(
            Verdict::worst([Verdict::Pass, Verdict::Fail]),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::worst([Verdict::Error, Verdict::Fail]),
            Verdict::Error
        );
        assert_eq!(Verdict::worst([]), Verdict::Pass);
        assert_eq!(Verdict::of(false).to_string(), "FAIL");
        assert_eq!(serde_json::to_string(&Verdict::Error).unwrap(), "\"error\"");
    }
}
