//! Progress bars on stderr for every command that can run longer than a few seconds (training,
//! the manifest gate, conformance, bench). Drawn only when stderr is a terminal, so CI logs and
//! pipes never see one.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::validate::Started;

/// A bar counting `unit`s of the task `what` (both plain words).
pub(super) fn bar(what: &str, unit: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    let template =
        format!("{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}}) {{wide_msg}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("a template of plain words")
            .progress_chars("=> "),
    );
    bar
}

/// Moves `bar` to an item that starts (a manifest entry, a conformance case, a bench section).
pub(super) fn started(bar: &ProgressBar, s: Started<'_>) {
    bar.set_length(s.total as u64);
    bar.set_position(s.index as u64);
    bar.set_message(s.name.to_owned());
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_parse_and_a_bar_follows_the_items() {
        let bar = super::bar("checking", "models");
        super::started(
            &bar,
            crate::validate::Started {
                index: 2,
                total: 5,
                name: "m.onnx",
            },
        );
        assert_eq!((bar.position(), bar.length()), (2, Some(5)));
        assert_eq!(bar.message(), "m.onnx");
    }
}
