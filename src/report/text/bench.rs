//! The `bench` report as a table: every figure with its range, GFLOP/s where known.

use std::fmt::Write;

use crate::bench::{BenchReport, Figure, Unit};

pub(crate) fn number(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds if v < 1.0 => format!("{:.2} ms", v * 1e3),
        Unit::Seconds => format!("{v:.3} s"),
        Unit::MiB => format!("{v:.1} MiB"),
        Unit::GflopsPerSecond => format!("{v:.1} GFLOP/s"),
        Unit::SamplesPerSecond if v >= 1e4 => format!("{:.0} samples/s", v),
        Unit::SamplesPerSecond => format!("{v:.1} samples/s"),
    }
}

pub(crate) fn range(f: &Figure) -> String {
    if f.repetitions < 2 {
        return String::new();
    }
    let short = |v: f64| match f.unit {
        Unit::Seconds if v < 1.0 => format!("{:.2}", v * 1e3),
        Unit::Seconds | Unit::MiB | Unit::GflopsPerSecond => format!("{v:.3}"),
        Unit::SamplesPerSecond => format!("{v:.0}"),
    };
    format!("{}..{}", short(f.low.min(f.high)), short(f.low.max(f.high)))
}

pub(super) fn render(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "machine: {} ({} cores), {} build; data: {}; median of {} after {} warm-up",
        r.machine.cpu, r.machine.cores, r.machine.build, r.data, r.repeat, r.warmup
    );
    let key_w = r
        .figures
        .iter()
        .map(|f| f.key.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let _ = writeln!(
        s,
        "{:key_w$}  {:>20}  {:>17}  {:>9}  what",
        "key", "median", "range", "GFLOP/s"
    );
    for f in &r.figures {
        let gflops = f.gflops().map_or(String::new(), |g| format!("{g:.1}"));
        let _ = writeln!(
            s,
            "{:key_w$}  {:>20}  {:>17}  {:>9}  {}",
            f.key,
            number(f.value, f.unit),
            range(f),
            gflops,
            f.what
        );
    }
    for skip in &r.skipped {
        let _ = writeln!(s, "skipped: {skip}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::Tool;
    use crate::bench::Machine;

    #[test]
    fn a_table_row_per_figure() {
        let r = BenchReport {
            tool: Tool::default(),
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
                os: "linux".into(),
                build: "release".into(),
            },
            data: "synthetic".into(),
            repeat: 3,
            warmup: 1,
            figures: vec![
                Figure {
                    key: "train.logits".into(),
                    what: "train".into(),
                    unit: Unit::SamplesPerSecond,
                    value: 50_000.0,
                    low: 40_000.0,
                    high: 60_000.0,
                    repetitions: 3,
                    flops_per_sample: Some(1e5),
                },
                Figure {
                    key: "validate.run".into(),
                    what: "run".into(),
                    unit: Unit::Seconds,
                    value: 0.0125,
                    low: 0.013,
                    high: 0.012,
                    repetitions: 3,
                    flops_per_sample: None,
                },
            ],
            skipped: vec!["models/x.onnx: missing".into()],
        };
        let text = render(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[2].contains("50000 samples/s") && lines[2].contains("40000..60000"));
        assert!(lines[2].contains(" 5.0 "), "{}", lines[2]);
        assert!(lines[3].contains("12.50 ms") && lines[3].contains("12.00..13.00"));
        assert_eq!(lines[4], "skipped: models/x.onnx: missing");
    }
}
