//! JSON: every report serialized as it is (keys documented in the README, stable; more may be
//! added). Numbers that are not finite are written as the strings `"NaN"`, `"inf"`, `"-inf"`.

use super::{Renderer, Report, ReportKind, to_json_bytes};

pub struct Json;

impl Renderer for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn renders(&self, _: ReportKind) -> bool {
        true
    }

    fn render(&self, report: &Report<'_>) -> Vec<u8> {
        match report {
            // The JSON of a demo is its report alone (what `DIR/report.json` holds), and of a
            // training run its log (what `--log-json` writes).
            Report::Demo { report, .. } => to_json_bytes(report),
            Report::Train { log, .. } => to_json_bytes(log),
            Report::Validate(r) => to_json_bytes(r),
            Report::Compare(r) => to_json_bytes(r),
            Report::Reduce(r) => to_json_bytes(r),
            Report::Matrix(r) => to_json_bytes(r),
            Report::Bench(r) => to_json_bytes(r),
            Report::Inspect(r) => to_json_bytes(r),
            Report::Conformance(r, _) => to_json_bytes(r),
        }
    }
}
