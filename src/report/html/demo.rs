//! `demo` and `train` as HTML: both formulations' per-step training loss on one chart, their
//! difference on a log scale beneath, the held-out loss and accuracy per epoch, the clipped
//! elements per step, a TensorFlow run of the same training when given, the export round trip
//! (demo), and the config with the data fingerprint.

use super::chart::{
    self, Axis, LineChart, S_BLACK, S_BLUE, S_BROWN_CROSSES, S_ORANGE, S_PURPLE_DOTS, Series,
};
use super::page::{
    self, METRIC_HEADERS, Page, Table, badge, count, esc, figure, fixed9, key_values, metric_cells,
    sci,
};
use crate::model::train::{InitSource, StepRecord, TrainConfig};
use crate::model::weights::Arch;
use crate::pipeline::{DataInfo, DemoReport, ExportCheck, TrainLog};
use crate::refdata::TfReference;
use crate::report::text::optimizer_line;
use crate::verdict::Verdict;

pub(super) fn render_demo(r: &DemoReport, log: &TrainLog<'_>, tf: Option<&TfReference>) -> Vec<u8> {
    let mut p = Page::new("onnx-parity demo", Some(r.status));
    p.subtitle(esc(&run_line(log)));
    p.subtitle(format!(
        "Tolerance {} ({}) for every comparison. Trained twice from the same start on the same \
         batches: once on the logits formulation, once on the probability formulation.",
        esc(&r.tolerance_name),
        page::tolerance(&r.tolerance)
    ));
    p.section("Summary", &summary(r));
    training_sections(&mut p, log, tf);
    p.section("Export round trip: trained graph vs tract", &exports(r));
    p.section("Config and data", &config_table(log));
    p.footer(footer(log));
    p.finish()
}

pub(super) fn render_train(log: &TrainLog<'_>, tf: Option<&TfReference>) -> Vec<u8> {
    let mut p = Page::new("onnx-parity train", None);
    p.subtitle(esc(&run_line(log)));
    p.subtitle(
        "Both formulations trained from the same start on the same batches (no parity verdict: \
         `demo` judges it)."
            .to_owned(),
    );
    training_sections(&mut p, log, tf);
    p.section("Config and data", &config_table(log));
    p.footer(footer(log));
    p.finish()
}

fn footer(log: &TrainLog<'_>) -> String {
    format!(
        "Made by {} {}. Per-step figures are each batch's forward pass before its update.",
        esc(&log.tool.name),
        esc(&log.tool.version)
    )
}

/// The network in words: `MLP 784-128-10`, or `CNN, 8 filters (3x3), 784 pixels -> 13 targets`.
fn network(c: &TrainConfig, d: &DataInfo) -> String {
    let outputs = d.targets.as_ref().map_or(10, |t| t.columns);
    match c.arch {
        Arch::Mlp => {
            let mut sizes = vec![d.features];
            sizes.extend(&c.hidden);
            sizes.push(outputs);
            let sizes: Vec<String> = sizes.iter().map(ToString::to_string).collect();
            format!("MLP {}", sizes.join("-"))
        }
        Arch::Cnn { filters } => format!(
            "CNN {} -> conv 3x3 x{filters} -> max-pool 2 -> {outputs}",
            d.features
        ),
    }
}

/// The model, data and optimizer in one line.
fn run_line(log: &TrainLog<'_>) -> String {
    let c = log.config;
    format!(
        "{} on {} data ({} train / {} held-out samples); {}, batch {}, {} step(s) per formulation",
        network(c, log.data),
        log.data.source,
        log.data.train_samples,
        log.data.eval_samples,
        optimizer_line(c),
        c.batch_size,
        log.steps.len()
    )
}

fn summary(r: &DemoReport) -> String {
    let t = &r.training_parity;
    let mut rows = vec![
        (
            "training parity",
            format!(
                "{} held-out loss and binary accuracy of the two formulations, epoch by epoch",
                badge(Verdict::of(t.passed))
            ),
        ),
        ("max |held-out loss diff|", sci(t.max_eval_loss_diff)),
        (
            "max |held-out accuracy diff|",
            sci(t.max_eval_accuracy_diff),
        ),
        (
            "max |training loss diff| per step",
            sci(t.max_step_loss_diff),
        ),
        ("max |final weight diff|", sci(f64::from(t.max_weight_diff))),
        (
            "clipped by the probability form",
            format!(
                "{} element(s) in {} step(s)",
                count(t.clipped_elements as u64),
                count(t.steps_with_clipping as u64)
            ),
        ),
    ];
    for e in &r.exports {
        rows.push((
            if e.formulation.name() == "logits" {
                "logits model export"
            } else {
                "probability model export"
            },
            format!(
                "{} output, logits and both losses, trained graph vs tract on {} samples",
                badge(Verdict::of(e.passed)),
                count(e.samples as u64)
            ),
        ));
    }
    key_values(&rows)
}

fn points(steps: &[StepRecord], f: impl Fn(&StepRecord) -> f64) -> Vec<(f64, f64)> {
    steps.iter().map(|s| (s.step as f64, f(s))).collect()
}

/// The charts and tables every training run has.
fn training_sections(p: &mut Page, log: &TrainLog<'_>, tf: Option<&TfReference>) {
    let steps = log.steps;
    let mut html = String::new();
    let mut loss = LineChart::new(
        "Training loss per step, both formulations",
        Axis::integer("step"),
        Axis::linear("binary cross-entropy (mean per element)"),
    );
    loss.series.push(Series::line(
        "logits form (rust)",
        points(steps, |s| s.logits.loss),
        S_BLUE,
    ));
    loss.series.push(Series::line(
        "probability form (rust)",
        points(steps, |s| s.probs.loss),
        S_ORANGE,
    ));
    if let Some(tf) = tf {
        for (name, run, style) in [
            ("logits form (TensorFlow)", &tf.steps.logits, S_PURPLE_DOTS),
            (
                "probability form (TensorFlow)",
                &tf.steps.probs,
                S_BROWN_CROSSES,
            ),
        ] {
            let pts = run
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.loss))
                .collect();
            loss.series.push(Series::line(name, pts, style));
        }
    }
    html.push_str(&figure(
        &chart::line_chart(&loss),
        "The two curves lie on top of each other: the dashed orange line is drawn over the solid \
         blue one, which shows through its gaps.",
    ));
    let mut diff = LineChart::new(
        "|logits-form loss − probability-form loss| per step",
        Axis::integer("step"),
        Axis::log("absolute difference (log scale)"),
    );
    diff.series.push(Series::line(
        "|difference|",
        points(steps, |s| (s.logits.loss - s.probs.loss).abs()),
        S_BLACK,
    ));
    html.push_str(&figure(
        &chart::line_chart(&diff),
        "Exactly equal losses are drawn on the row labelled 0 below the log axis.",
    ));
    p.section("Training loss per step", &html);

    if let Some(tf) = tf {
        p.section("TensorFlow reference", &tf_section(log, tf));
    }

    let epochs_html = epoch_section(log);
    p.section("Held-out set per epoch", &epochs_html);

    let mut clip = LineChart::new(
        "Elements clipped by the probability form, per step",
        Axis::integer("step"),
        Axis::integer("clipped elements (count)").with_zero(),
    );
    clip.series.push(Series::bars(
        "elements of the batch at the clip [1e-7, 1−1e-7]",
        points(steps, |s| s.probs_clipped as f64),
        S_BLUE,
    ));
    let total: usize = steps.iter().map(|s| s.probs_clipped).sum();
    p.section(
        "Clipping",
        &figure(
            &chart::line_chart(&clip),
            &format!(
                "{} element(s) clipped over {} step(s); where the clip bites the probability form \
                 has zero gradient while the logits form keeps learning.",
                count(total as u64),
                count(steps.len() as u64)
            ),
        ),
    );
}

fn tf_section(log: &TrainLog<'_>, tf: &TfReference) -> String {
    let mut html = String::new();
    let n = log
        .steps
        .len()
        .min(tf.steps.logits.len())
        .min(tf.steps.probs.len());
    let mut warnings = Vec::new();
    if let Some(sha) = &tf.pixels_sha256
        && *sha != log.data.pixels_sha256
    {
        warnings.push(format!(
            "The TensorFlow run trained on other pixels (sha256 <code>{}</code>, this run \
             <code>{}</code>): its curves are another training, not this one.",
            esc(&sha[..sha.len().min(16)]),
            esc(&log.data.pixels_sha256[..log.data.pixels_sha256.len().min(16)])
        ));
    }
    match (&log.config.init, &tf.init_sha256) {
        (InitSource::File { sha256 }, Some(t)) if sha256 != t => warnings.push(format!(
            "The runs started from different weights (init sha256 <code>{}</code> here, \
             <code>{}</code> in TensorFlow).",
            esc(&sha256[..sha256.len().min(16)]),
            esc(&t[..t.len().min(16)])
        )),
        (InitSource::GlorotUniform, Some(_)) => warnings.push(
            "This run drew its own initial weights; the TensorFlow run started from its \
             init.npz. Replay it with <code>--init init.npz --indices indices.npy</code> from the \
             reference folder to compare the same training."
                .to_owned(),
        ),
        _ => {}
    }
    if log.steps.len() != tf.steps.logits.len() {
        warnings.push(format!(
            "This run has {} step(s), the TensorFlow run {}: the first {n} are compared.",
            log.steps.len(),
            tf.steps.logits.len()
        ));
    }
    for w in &warnings {
        html.push_str(&format!("<p class=\"warn\">{w}</p>\n"));
    }
    let mut c = LineChart::new(
        "|rust − TensorFlow| training loss per step",
        Axis::integer("step"),
        Axis::log("absolute difference (log scale)"),
    );
    let rust = log.steps;
    c.series.push(Series::line(
        "logits form",
        (0..n)
            .map(|i| {
                (
                    i as f64,
                    (rust[i].logits.loss - tf.steps.logits[i].loss).abs(),
                )
            })
            .collect(),
        chart::Style {
            dash: chart::Dash::None,
            marker: chart::Marker::Circle,
            ..S_BLUE
        },
    ));
    c.series.push(Series::line(
        "probability form",
        (0..n)
            .map(|i| {
                (
                    i as f64,
                    (rust[i].probs.loss - tf.steps.probs[i].loss).abs(),
                )
            })
            .collect(),
        chart::Style {
            dash: chart::Dash::None,
            marker: chart::Marker::Triangle,
            ..S_ORANGE
        },
    ));
    html.push_str(&figure(
        &chart::line_chart(&c),
        &format!(
            "TensorFlow's curves are also drawn (markers) on the training-loss chart above. \
             Reference: <code>{}</code>{}",
            esc(&tf.file),
            tf.command.as_ref().map_or(String::new(), |cmd| format!(
                ", made by <code>{}</code>",
                esc(cmd)
            ))
        ),
    ));
    let max = |f: &dyn Fn(usize) -> f64| (0..n).map(f).fold(0.0, f64::max);
    html.push_str(&key_values(&[
        ("steps compared", count(n as u64)),
        (
            "max |loss diff|, logits form",
            sci(max(&|i| {
                (rust[i].logits.loss - tf.steps.logits[i].loss).abs()
            })),
        ),
        (
            "max |loss diff|, probability form",
            sci(max(&|i| {
                (rust[i].probs.loss - tf.steps.probs[i].loss).abs()
            })),
        ),
        (
            "max |binary accuracy diff|",
            sci(max(&|i| {
                (rust[i].logits.binary_accuracy - tf.steps.logits[i].binary_accuracy)
                    .abs()
                    .max((rust[i].probs.binary_accuracy - tf.steps.probs[i].binary_accuracy).abs())
            })),
        ),
    ]));
    html
}

fn epoch_section(log: &TrainLog<'_>) -> String {
    let epochs = log.epochs;
    let at = |f: &dyn Fn(&crate::model::train::EpochRecord) -> f64| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .map(|e| ((e.epoch + 1) as f64, f(e)))
            .collect()
    };
    let mut loss = LineChart::new(
        "Held-out loss per epoch",
        Axis::integer("epoch"),
        Axis::linear("binary cross-entropy"),
    );
    loss.size = chart::HALF;
    loss.series.push(Series::line(
        "logits model, logits form",
        at(&|e| e.eval.logits.loss),
        chart::Style {
            marker: chart::Marker::Circle,
            ..S_BLUE
        },
    ));
    loss.series.push(Series::line(
        "probability model, probability form",
        at(&|e| e.eval.probs.loss),
        chart::Style {
            marker: chart::Marker::Triangle,
            ..S_ORANGE
        },
    ));
    let mut acc = LineChart::new(
        "Held-out binary accuracy per epoch",
        Axis::integer("epoch"),
        Axis::linear("binary accuracy (fraction)"),
    );
    acc.size = chart::HALF;
    acc.series.push(Series::line(
        "logits model",
        at(&|e| e.eval.logits.binary_accuracy),
        chart::Style {
            marker: chart::Marker::Circle,
            ..S_BLUE
        },
    ));
    acc.series.push(Series::line(
        "probability model",
        at(&|e| e.eval.probs.binary_accuracy),
        chart::Style {
            marker: chart::Marker::Triangle,
            ..S_ORANGE
        },
    ));
    let mut html = page::pair(
        &figure(&chart::line_chart(&loss), ""),
        &figure(&chart::line_chart(&acc), ""),
    );
    let mut t = Table::new(&[
        "#epoch",
        "#steps",
        "#loss logits",
        "#loss probs",
        "#|diff|",
        "#acc logits",
        "#acc probs",
        "#|diff|",
        "#clipped",
    ]);
    for e in epochs {
        t.row(
            &[
                (e.epoch + 1).to_string(),
                e.steps.to_string(),
                format!("{:.8}", e.eval.logits.loss),
                format!("{:.8}", e.eval.probs.loss),
                sci(e.eval_loss_diff),
                format!("{:.5}", e.eval.logits.binary_accuracy),
                format!("{:.5}", e.eval.probs.binary_accuracy),
                sci(e.eval_accuracy_diff),
                count(e.eval.probs.clipped as u64),
            ],
            false,
        );
    }
    html.push_str(&t.finish());
    html
}

fn exports(r: &DemoReport) -> String {
    let mut html = format!(
        "<p>Each export reloaded in tract and run on the {} held-out samples beside the trained \
         burn graph (the expected side); tolerance {}.</p>\n",
        r.exports.first().map_or(0, |e| e.samples),
        page::tolerance(&r.tolerance)
    );
    let mut headers = vec!["export", "tensor"];
    headers.extend(METRIC_HEADERS);
    headers.push("verdict");
    let mut t = Table::new(&headers);
    for e in &r.exports {
        for (what, m) in [("graph output", &e.output), ("true logits", &e.logits)] {
            let mut cells = vec![export_name(e), esc(what)];
            cells.extend(metric_cells(m));
            cells.push(badge(Verdict::of(m.passed())));
            t.row(&cells, !m.passed());
        }
    }
    html.push_str(&t.finish());
    let mut t = Table::new(&[
        "export",
        "form",
        "#burn f32",
        "#tract f32",
        "#burn f64",
        "#tract f64",
        "#clipped burn / tract",
    ]);
    for e in &r.exports {
        let (b, tr) = (&e.loss_burn, &e.loss_tract);
        t.row(
            &[
                export_name(e),
                "logits".to_owned(),
                fixed9(b.logits_form_f32),
                fixed9(tr.logits_form_f32),
                fixed9(b.logits_form_f64),
                fixed9(tr.logits_form_f64),
                "–".to_owned(),
            ],
            !e.loss_passed,
        );
        t.row(
            &[
                export_name(e),
                "probability".to_owned(),
                fixed9(b.probs_form_f32),
                fixed9(tr.probs_form_f32),
                fixed9(b.probs_form_f64),
                fixed9(tr.probs_form_f64),
                format!(
                    "{} / {} of {}",
                    count(b.clipped as u64),
                    count(tr.clipped as u64),
                    count(b.elements as u64)
                ),
            ],
            !e.loss_passed,
        );
    }
    html.push_str("<h3>Both losses computed from each side</h3>\n");
    html.push_str(&t.finish());
    let mut t = Table::new(&["export", "output", "#bytes", "sha256"]);
    for e in &r.exports {
        t.row(
            &[
                export_name(e),
                format!("<code>{}</code>", esc(&e.output_name)),
                count(e.onnx_bytes as u64),
                format!("<code>{}</code>", esc(&e.onnx_sha256)),
            ],
            false,
        );
    }
    html.push_str("<h3>Files</h3>\n");
    html.push_str(&t.finish());
    html
}

fn export_name(e: &ExportCheck) -> String {
    format!(
        "{} model, {} head",
        esc(e.formulation.name()),
        esc(e.head.name())
    )
}

fn config_table(log: &TrainLog<'_>) -> String {
    let c = log.config;
    let d = log.data;
    key_values(&[
        ("seed", c.seed.to_string()),
        ("network", network(c, d)),
        (
            "initial weights",
            match &c.init {
                InitSource::GlorotUniform => {
                    format!("glorot-uniform kernels, zero biases (seed {})", c.seed)
                }
                InitSource::File { sha256 } => {
                    format!("from a file, sha256 <code>{}</code>", esc(sha256))
                }
            },
        ),
        ("optimizer", esc(&optimizer_line(c))),
        ("batch size", c.batch_size.to_string()),
        (
            "length",
            format!(
                "{} epoch(s){}",
                c.epochs,
                c.max_steps
                    .map_or(String::new(), |s| format!(", at most {s} step(s)"))
            ),
        ),
        (
            "batch order",
            if c.shuffle {
                "reshuffled every epoch (seeded)"
            } else {
                "fixed"
            }
            .to_owned(),
        ),
        ("data", esc(&d.source)),
        (
            "targets",
            match &d.targets {
                Some(t) => format!(
                    "{} binary targets per sample from a file (<code>--targets</code>), sha256 \
                     <code>{}</code>",
                    t.columns,
                    esc(&t.sha256)
                ),
                None => "the digit, one-hot (10 binary targets)".to_owned(),
            },
        ),
        ("features per sample", d.features.to_string()),
        (
            "samples",
            format!(
                "{} training, {} held out",
                count(d.train_samples as u64),
                count(d.eval_samples as u64)
            ),
        ),
        (
            "pixels sha256",
            format!("<code>{}</code>", esc(&d.pixels_sha256)),
        ),
    ])
}
