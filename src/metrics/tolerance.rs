//! Named tolerance presets. Bare epsilons do not appear anywhere else in the crate.

use serde::{Deserialize, Serialize};

/// The rule an element must satisfy: `|actual - expected| <= atol + rtol * |expected|`.
/// NaN or infinity passes only when both sides hold the same non-finite value and
/// `allow_nonfinite` is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
    pub allow_nonfinite: bool,
}

/// The defaults of the ONNX backend test runner (`rtol=1e-3, atol=1e-7`, NaN equal to NaN),
/// used when running the official node tests so that our verdicts match theirs.
pub const ONNX_BACKEND: Tolerance = Tolerance {
    atol: 1e-7,
    rtol: 1e-3,
    allow_nonfinite: true,
};

/// Named tolerances, from bit-exact to loose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Bit-identical (0, 0): the same graph on the same runtime.
    Exact,
    /// atol 1e-6, rtol 1e-6: the same arithmetic with a different summation order.
    Strict,
    /// atol 1e-5, rtol 1e-5: float32 models across runtimes or exporters.
    Default,
    /// atol 1e-4, rtol 1e-4: float32 models with fused or reordered kernels.
    Relaxed,
    /// atol 1e-3, rtol 1e-3: float16 paths, approximated activations.
    Loose,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Exact,
        Preset::Strict,
        Preset::Default,
        Preset::Relaxed,
        Preset::Loose,
    ];

    pub fn tolerance(self) -> Tolerance {
        let (atol, rtol) = match self {
            Preset::Exact => (0.0, 0.0),
            Preset::Strict => (1e-6, 1e-6),
            Preset::Default => (1e-5, 1e-5),
            Preset::Relaxed => (1e-4, 1e-4),
            Preset::Loose => (1e-3, 1e-3),
        };
        Tolerance {
            atol,
            rtol,
            allow_nonfinite: false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::Exact => "exact",
            Preset::Strict => "strict",
            Preset::Default => "default",
            Preset::Relaxed => "relaxed",
            Preset::Loose => "loose",
        }
    }
}

/// A tolerance name that is not a preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tolerance preset '{0}' (presets: exact, strict, default, relaxed, loose)")]
pub struct UnknownPreset(pub String);

impl std::str::FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPreset(s.to_owned()))
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Tolerance {
    pub fn new(atol: f64, rtol: f64) -> Self {
        Self {
            atol,
            rtol,
            allow_nonfinite: false,
        }
    }

    /// Whether `actual` is close enough to `expected` (the reference side).
    pub fn accepts(&self, actual: f64, expected: f64) -> bool {
        if !actual.is_finite() || !expected.is_finite() {
            let same = (actual.is_nan() && expected.is_nan()) || actual == expected;
            return self.allow_nonfinite && same;
        }
        self.accepts_error((actual - expected).abs(), expected.abs())
    }

    /// The rule on an already computed `|actual - expected|` (finite values only); integer
    /// comparisons compute that difference exactly and come here.
    pub fn accepts_error(&self, abs_err: f64, expected_abs: f64) -> bool {
        abs_err <= self.atol + self.rtol * expected_abs
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "atol {:e}, rtol {:e}", self.atol, self.rtol)?;
        if self.allow_nonfinite {
            f.write_str(", non-finite allowed when equal")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_is_atol_plus_rtol_times_expected() {
        let t = Tolerance::new(1e-5, 1e-3);
        assert!(t.accepts(1000.9, 1000.0));
        assert!(!t.accepts(1001.1, 1000.0));
        assert!(t.accepts(0.0, 1e-5));
        assert!(!t.accepts(0.0, 2e-5));
    }

    #[test]
    fn nonfinite_fails_unless_allowed_and_equal() {
        let mut t = Preset::Loose.tolerance();
        for (a, b) in [
            (f64::NAN, f64::NAN),
            (f64::INFINITY, f64::INFINITY),
            (f64::NAN, 1.0),
            (1.0, f64::NAN),
            (f64::INFINITY, 1e300),
        ] {
            assert!(!t.accepts(a, b), "{a} vs {b}");
        }
        t.allow_nonfinite = true;
        assert!(t.accepts(f64::NAN, f64::NAN));
        assert!(t.accepts(f64::NEG_INFINITY, f64::NEG_INFINITY));
        assert!(!t.accepts(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!t.accepts(f64::NAN, 0.0));
    }

    #[test]
    fn presets_parse_from_their_names() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
        }
        assert!(
            "tight"
                .parse::<Preset>()
                .unwrap_err()
                .to_string()
                .contains("'tight'")
        );
    }

    #[test]
    fn presets_are_ordered_from_strict_to_loose() {
        let tols: Vec<f64> = Preset::ALL.iter().map(|p| p.tolerance().atol).collect();
        assert!(tols.windows(2).all(|w| w[0] < w[1]));
    }
}
