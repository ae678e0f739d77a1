//! `--suggest-tolerance` as text, shared by the `validate` and `compare` reports.

use crate::metrics::suggest::{Advice, Floor, Tightest};

fn figures(t: &Tightest) -> String {
    let ulp = if t.ulp == u64::MAX {
        "inf".to_owned()
    } else {
        t.ulp.to_string()
    };
    format!(
        "atol {:.3e} (rtol 0) | rtol {:.3e} (atol 0) | {:.3}x the tolerance | {ulp} ulp",
        t.atol, t.rtol, t.scale
    )
}

/// The advice lines, each prefixed by `indent`.
pub(crate) fn lines(a: &Advice, indent: &str) -> String {
    let mut s = format!(
        "{indent}tightest that passes: {}\n{indent}without the worst 0.1% ({} of {} elements): {}\n",
        figures(&a.all),
        a.outliers,
        a.elements,
        figures(&a.without_outliers)
    );
    match &a.noise_floor {
        None => s.push_str(&format!("{indent}noise floor: not measured\n")),
        Some(f) => {
            let verdict = match (a.floor, a.above_floor_by) {
                (Floor::AtNoiseFloor, _) => "the error is at the noise floor".to_owned(),
                (_, Some(x)) if x.is_infinite() => {
                    "the error is above the noise floor, which is 0 (bit-identical)".to_owned()
                }
                (_, Some(x)) => format!("the error is above the noise floor, {x:.3}x it"),
                _ => String::new(),
            };
            s.push_str(&format!(
                "{indent}noise floor ({}): max abs {:.3e}, {} ulp: {verdict}\n",
                f.sources.join(", "),
                f.max_abs_err,
                f.max_ulp
            ));
        }
    }
    s
}
