//! The `conformance` report as text: the listed cases with their reasons, then the counts.

use std::fmt::Write;

use crate::conformance::{Outcome, SuiteReport};

/// Counts, then the cases whose verdicts are in `list`, with their reasons.
pub(super) fn render(r: &SuiteReport, list: &[Outcome]) -> Vec<u8> {
    let mut s = String::new();
    for v in list {
        let cases: Vec<_> = r.cases.iter().filter(|c| c.verdict == *v).collect();
        if cases.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{} ({}):", v.name(), cases.len());
        for c in cases {
            let _ = writeln!(s, "  {}: {}", c.name, c.reason.as_deref().unwrap_or("-"));
        }
    }
    let c = &r.counts;
    let _ = writeln!(
        s,
        "conformance {} on {}: {} case(s): {} pass, {} fail, {} unsupported, {} error ({:.1} s, tolerance {})",
        r.dir, r.runtime, c.total, c.pass, c.fail, c.unsupported, c.error, r.seconds, r.tolerance
    );
    s.into_bytes()
}
