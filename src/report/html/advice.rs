//! `--suggest-tolerance` as HTML, shared by the `validate` and `compare` pages: the tightest
//! tolerance that passes (all elements, and without the worst 0.1%) and the noise floor.

use super::page::{Table, count, esc, sci};
use crate::metrics::suggest::{Advice, Floor, Tightest};

fn cells(what: String, t: &Tightest) -> Vec<String> {
    vec![
        what,
        sci(t.atol),
        sci(t.rtol),
        format!("{:.3}×", t.scale),
        if t.ulp == u64::MAX {
            "max".to_owned()
        } else {
            count(t.ulp)
        },
    ]
}

/// The advice of one output: a table of the tightest tolerances and a line on the noise floor.
pub(super) fn block(a: &Advice) -> String {
    let mut html = String::from(
        "<p><strong>Suggested tolerance</strong> (<code>--suggest-tolerance</code>):</p>\n",
    );
    let mut t = Table::new(&[
        "tightest that passes",
        "#atol (rtol 0)",
        "#rtol (atol 0)",
        "#of the tolerance",
        "#ULP",
    ]);
    t.row(&cells("every element".to_owned(), &a.all), false);
    t.row(
        &cells(
            format!(
                "without the worst 0.1% ({} of {} elements)",
                count(a.outliers as u64),
                count(a.elements as u64)
            ),
            &a.without_outliers,
        ),
        false,
    );
    html.push_str(&t.finish());
    html.push_str(&match &a.noise_floor {
        None => "<p class=\"note\">Noise floor: not measured.</p>\n".to_owned(),
        Some(f) => {
            let verdict = match (a.floor, a.above_floor_by) {
                (Floor::AtNoiseFloor, _) => {
                    "the error is <strong>at the noise floor</strong>".to_owned()
                }
                (_, Some(x)) if x.is_infinite() => {
                    "the error is <strong>above the noise floor</strong>, which is 0 \
                     (bit-identical)"
                        .to_owned()
                }
                (_, Some(x)) => {
                    format!("the error is <strong>above the noise floor</strong>, {x:.3}× it")
                }
                _ => String::new(),
            };
            format!(
                "<p>Noise floor ({}): max abs {}, {} ULP: {verdict}.</p>\n",
                esc(&f.sources.join(", ")),
                sci(f.max_abs_err),
                count(f.max_ulp)
            )
        }
    });
    html
}
