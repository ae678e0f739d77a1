//! `bench` as HTML: the machine and every figure with its range, as the text table has them.

use super::page::{Page, Table, esc, key_values};
use crate::bench::BenchReport;
use crate::report::text::{bench_number, bench_range};

pub(super) fn render(r: &BenchReport) -> Vec<u8> {
    let mut p = Page::new("onnx-parity bench", None);
    p.subtitle(format!(
        "Median of {} timed repetitions after {} warm-up; range from the worst to the best.",
        r.repeat, r.warmup
    ));
    p.section(
        "Machine",
        &key_values(&[
            ("CPU", esc(&r.machine.cpu)),
            ("cores", r.machine.cores.to_string()),
            ("OS", esc(&r.machine.os)),
            ("build", esc(&r.machine.build)),
            ("data", esc(&r.data)),
        ]),
    );
    let mut t = Table::new(&["key", "#median", "#range", "#GFLOP/s", "what"]);
    for f in &r.figures {
        t.row(
            &[
                format!("<code>{}</code>", esc(&f.key)),
                esc(&bench_number(f.value, f.unit)),
                esc(&bench_range(f)),
                f.gflops().map_or(String::new(), |g| format!("{g:.1}")),
                esc(&f.what),
            ],
            false,
        );
    }
    p.section("Figures", &t.finish());
    if !r.skipped.is_empty() {
        let items: String = r
            .skipped
            .iter()
            .map(|s| format!("<li>{}</li>\n", esc(s)))
            .collect();
        p.section("Not measured", &format!("<ul>\n{items}</ul>\n"));
    }
    p.footer(format!(
        "Made by {} {}.",
        esc(&r.tool.name),
        esc(&r.tool.version)
    ));
    p.finish()
}
