//! The `demo` report and `train`'s epoch table as text.

use std::fmt::Write;

use crate::metrics::Metrics;
use crate::model::OptimizerConfig;
use crate::model::train::{EpochRecord, InitSource, TrainConfig};
use crate::pipeline::DemoReport;

pub(crate) fn optimizer_line(c: &TrainConfig) -> String {
    match c.optimizer {
        OptimizerConfig::Sgd { lr } => format!("sgd lr {lr}"),
        OptimizerConfig::Adam {
            lr,
            beta1,
            beta2,
            epsilon,
            variant,
        } => format!(
            "adam ({} rule) lr {lr} (beta1 {beta1}, beta2 {beta2}, epsilon {epsilon:e})",
            variant.name()
        ),
    }
}

/// The per-epoch table of both formulations on the eval set.
pub(super) fn epoch_table(epochs: &[EpochRecord]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>5} {:>6} | {:>12} {:>12} {:>9} | {:>8} {:>8} {:>9} | {:>7}",
        "epoch",
        "steps",
        "loss logits",
        "loss probs",
        "|diff|",
        "acc lgt",
        "acc prb",
        "|diff|",
        "clipped"
    );
    for e in epochs {
        let _ = writeln!(
            s,
            "{:>5} {:>6} | {:>12.8} {:>12.8} {:>9.2e} | {:>8.5} {:>8.5} {:>9.2e} | {:>7}",
            e.epoch + 1,
            e.steps,
            e.eval.logits.loss,
            e.eval.probs.loss,
            e.eval_loss_diff,
            e.eval.logits.binary_accuracy,
            e.eval.probs.binary_accuracy,
            e.eval_accuracy_diff,
            e.eval.probs.clipped
        );
    }
    s
}

fn metrics_line(label: &str, m: &Metrics) -> String {
    let mut s = format!(
        "    {label:<8} max abs {:.3e}  max rel {:.3e}  max ulp {:>4}  mismatches {}/{}",
        m.max_abs_err, m.max_rel_err, m.max_ulp, m.mismatches, m.elements
    );
    if let Some(w) = m.worst.as_ref().filter(|_| !m.passed()) {
        let _ = write!(
            s,
            "  worst at {:?}: tract {} vs burn {}",
            w.index, w.actual, w.expected
        );
    }
    s
}

pub(super) fn render(r: &DemoReport) -> String {
    let mut s = String::new();
    let c = &r.config;
    let steps = r.epochs.iter().map(|e| e.steps).sum::<usize>();
    let targets = match &r.data.targets {
        Some(t) => format!(
            ", {} binary targets from a file (sha256 {})",
            t.columns,
            &t.sha256[..16]
        ),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "data: {} ({} train / {} eval samples){}\nmodel: {}, {}\ntraining: {}, batch {}, {} epoch(s), {} step(s) per formulation{}",
        r.data.source,
        r.data.train_samples,
        r.data.eval_samples,
        targets,
        r.model,
        match &c.init {
            InitSource::GlorotUniform => format!("glorot-uniform init (seed {})", c.seed),
            InitSource::File { sha256 } =>
                format!("initial weights from file (sha256 {})", &sha256[..16]),
        },
        optimizer_line(c),
        c.batch_size,
        r.epochs.len(),
        steps,
        if c.shuffle {
            ", reshuffled each epoch"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "\nBoth formulations, same initial weights and batches; held-out set, each model by its own loss:"
    );
    s.push_str(&epoch_table(&r.epochs));
    let p = &r.training_parity;
    let _ = writeln!(
        s,
        "training parity: max |loss diff| {:.2e} (per step {:.2e}), max |accuracy diff| {:.2e}, final weights differ by at most {:.2e}; {}",
        p.max_eval_loss_diff,
        p.max_step_loss_diff,
        p.max_eval_accuracy_diff,
        p.max_weight_diff,
        if p.passed {
            "within tolerance"
        } else {
            "BEYOND TOLERANCE"
        }
    );
    if p.clipped_elements > 0 {
        let _ = writeln!(
            s,
            "  the probability form clipped {} element(s) in {} step(s): there its gradient is zero while the logits form keeps learning",
            p.clipped_elements, p.steps_with_clipping
        );
    }
    let _ = writeln!(
        s,
        "\nExport round trip: trained burn graph vs tract running the exported ONNX ({} samples, tolerance {}: {})",
        r.exports.first().map_or(0, |e| e.samples),
        r.tolerance_name,
        r.tolerance
    );
    for e in &r.exports {
        let _ = writeln!(
            s,
            "  {} model -> {} head, output '{}', {} bytes, sha256 {}: {}",
            e.formulation,
            e.head.name(),
            e.output_name,
            e.onnx_bytes,
            &e.onnx_sha256[..16],
            if e.passed { "PASS" } else { "FAIL" }
        );
        s.push_str(&metrics_line("output", &e.output));
        s.push('\n');
        s.push_str(&metrics_line("logits", &e.logits));
        s.push('\n');
        let (b, t) = (&e.loss_burn, &e.loss_tract);
        let _ = writeln!(
            s,
            "    loss     logits form f32 {:.9} / {:.9}, f64 {:.9} / {:.9} (burn / tract)",
            b.logits_form_f32, t.logits_form_f32, b.logits_form_f64, t.logits_form_f64
        );
        let _ = writeln!(
            s,
            "             probs form  f32 {:.9} / {:.9}, f64 {:.9} / {:.9}; clipped {} / {} of {}; max |diff| {:.2e}",
            b.probs_form_f32,
            t.probs_form_f32,
            b.probs_form_f64,
            t.probs_form_f64,
            b.clipped,
            t.clipped,
            b.elements,
            e.loss_max_abs_diff
        );
    }
    let _ = writeln!(s, "\nverdict: {}", r.status);
    s
}
