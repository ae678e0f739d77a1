//! Snapshot tests: one small report of every kind, rendered in every format that renders it,
//! compared byte for byte with `src/report/snapshots/KIND.FORMAT`.
//!
//! A new format gets its snapshots by running `UPDATE_SNAPSHOTS=1 cargo test --lib report`,
//! then reading them; a missing or different snapshot fails the test otherwise. The reports are
//! built here by hand, so a snapshot changes only when a renderer does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{FORMATS, Renderer, Report, ReportKind, formats_for, render};
use crate::artifacts::Tool;
use crate::bench::{BenchReport, Figure, Machine, Unit};
use crate::compare::bound::{BoundReport, RatioAt, RoundingVerdict, Rule};
use crate::compare::cause::{CauseReason, FirstCause, Replacement};
use crate::compare::layers::{Layer, LayerKind};
use crate::compare::local::LocalReport;
use crate::compare::reduce::{
    Attempt, CutInput, LayerRef, ReduceConfig, ReduceReport, ReducedCase, WrittenCut,
};
use crate::compare::{
    CaseComparison, CompareReport, Divergence, LayerPair, PairReport, StageDelta,
};
use crate::conformance::{CaseOutcome, Counts, Outcome, SuiteReport};
use crate::inspect::{Inspection, Opset, RuntimeSupport, ValueSummary};
use crate::loss::{Formulation, Head, LossPair, Reduction};
use crate::matrix::{
    Case, Column, ColumnLoss, LossSetup, MatrixCase, MatrixReport, Pair, PairOutput,
};
use crate::metrics::distribution::{Bin, Count, Histogram, WorstElement};
use crate::metrics::suggest::{Advice, Floor, NoiseFloor, Tightest};
use crate::metrics::{ElementDiff, ErrorDistribution, Metrics, Preset, Value};
use crate::model::train::{EpochRecord, EvalScore, FormPair, Score, StepRecord, TrainConfig};
use crate::pipeline::{DataInfo, DemoReport, ExportCheck, TrainLog, TrainingParity};
use crate::refdata::{MatchedBy, TfReference};
use crate::runtime::MissingOp;
use crate::validate::{
    AccuracyReport, CaseReport, FormLoss, HeadReport, InputReport, LeftOut, LossReport,
    LossTolerance, OutputReport, ReferenceCheck, ShaCheck, SklearnLoss, ValidateError,
    ValidateReport,
};
use crate::verdict::Verdict;

fn tool() -> Tool {
    Tool {
        name: "onnx-parity".into(),
        version: "0.0.0-snapshot".into(),
    }
}

/// Where the errors of [`case`]`(1)`'s output lie: 18 exact, one at 1e-6, one beyond.
fn distribution() -> ErrorDistribution {
    let count = |elements, beyond| Count { elements, beyond };
    let worst = metrics(1).worst.unwrap();
    ErrorDistribution {
        abs_err: Histogram {
            zero: count(18, 0),
            bins: vec![
                Bin {
                    lo: 1e-6,
                    hi: 1.778_279_410_038_923e-6,
                    count: count(1, 0),
                },
                Bin {
                    lo: 0.177_827_941_003_892_3,
                    hi: 0.316_227_766_016_837_94,
                    count: count(1, 1),
                },
            ],
        },
        ulp: Histogram {
            zero: count(18, 0),
            bins: vec![
                Bin {
                    lo: 8.0,
                    hi: 16.0,
                    count: count(1, 0),
                },
                Bin {
                    lo: 8_388_608.0,
                    hi: 16_777_216.0,
                    count: count(1, 1),
                },
            ],
        },
        nonfinite: count(0, 0),
        max_abs_expected: 0.5,
        worst: vec![WorstElement {
            diff: worst,
            ulp: 8_388_608,
            within: false,
        }],
    }
}

fn validate_report() -> ValidateReport {
    let mut fail = case(1);
    fail.test_data = Some("m/test_data_set_1".into());
    fail.warnings = vec![
        "output 'label' is declared INT64 [?] but tract produced INT64 [4, 13] (rank 2 instead \
         of 1); the produced tensor is what is compared"
            .into(),
    ];
    fail.left_out = vec![LeftOut {
        output: "label".into(),
        reason: "no reference data for it in this test set".into(),
    }];
    fail.outputs[0].distribution = Some(distribution());
    let err: ValidateError = crate::refdata::RefDataError::TestData {
        path: "m/test_data_set_2".into(),
        message: "empty test set".into(),
    }
    .into();
    let error = CaseReport::error("m/model.onnx", Some("m/test_data_set_2".into()), &err);
    let mut r = ValidateReport::new(vec![case(0), fail, error]);
    r.tool = tool();
    r
}

fn pair(a: &str, b: &str, mismatches: usize) -> PairReport {
    PairReport {
        a: a.into(),
        b: b.into(),
        shape_a: vec![4, 5],
        shape_b: vec![4, 5],
        metrics: Some(metrics(mismatches)),
        problem: None,
        cast: None,
        advice: None,
    }
}

fn advice() -> Advice {
    let tight = |atol: f64| Tightest {
        atol,
        rtol: atol * 4.0,
        scale: atol / 2e-5,
        ulp: 2048,
    };
    Advice {
        elements: 20,
        all: tight(2.5e-1),
        outliers: 0,
        without_outliers: tight(2.5e-1),
        noise_floor: Some(NoiseFloor {
            sources: vec!["tract: a.onnx, decluttered vs optimized".into()],
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            max_ulp: 0,
        }),
        floor: Floor::AboveNoiseFloor,
        above_floor_by: Some(f64::INFINITY),
    }
}

fn local(mismatches: usize, cast: Option<&str>) -> LocalReport {
    LocalReport {
        nodes: vec!["dense/Gemm".into()],
        inputs: vec!["input <- input".into()],
        metrics: Some(metrics(mismatches)),
        problem: None,
        cast: cast.map(str::to_owned),
    }
}

fn dense_bound(ratio: f64) -> BoundReport {
    BoundReport {
        rule: Rule::DotProduct { k: 784 },
        formula: "gamma_786 * sum|w||x|".into(),
        unit_roundoff_a: 2f64.powi(-24),
        unit_roundoff_b: 2f64.powi(-24),
        max: 7.5e-4,
        worst: Some(RatioAt {
            ratio,
            index: vec![3, 1],
            abs_err: 2.5e-3 * ratio / 10.0,
            bound: 2.5e-4,
        }),
    }
}

fn compare_report() -> CompareReport {
    let dense = LayerPair {
        index: 0,
        kind: LayerKind::Dense,
        nodes_a: vec!["dense/Gemm".into()],
        nodes_b: vec!["d/MatMul".into(), "d/BiasAdd".into()],
        pair: pair("dense/linear", "d/BiasAdd:0", 1),
        local: Some(local(1, None)),
        bound: Some(dense_bound(10.0)),
        rounding_ratio: Some(10.0),
        verdict: RoundingVerdict::BeyondRounding,
    };
    let relu = LayerPair {
        index: 1,
        kind: LayerKind::Op("Relu".into()),
        nodes_a: vec!["dense/Relu".into()],
        nodes_b: vec!["d/Relu".into()],
        pair: PairReport {
            cast: Some("DOUBLE -> FLOAT".into()),
            ..pair("dense/relu", "d/Relu:0", 0)
        },
        local: Some(local(0, Some("DOUBLE -> FLOAT"))),
        bound: Some(BoundReport {
            rule: Rule::Elementwise {
                ulps: 1.0,
                abs: 0.0,
            },
            formula: "1 ulp".into(),
            max: 4.8e-7,
            worst: None,
            ..dense_bound(0.0)
        }),
        rounding_ratio: Some(0.0),
        verdict: RoundingVerdict::WithinRounding,
    };
    let softmax = LayerPair {
        index: 2,
        kind: LayerKind::Op("Softmax".into()),
        nodes_a: vec!["softmax".into()],
        nodes_b: vec!["d/Softmax".into()],
        pair: PairReport {
            problem: Some("shape [4, 5], expected [5, 4]".into()),
            metrics: None,
            ..pair("softmax", "d/Softmax:0", 0)
        },
        local: Some(LocalReport {
            metrics: None,
            problem: Some(
                "its input 'dense/relu' has shape [4, 5] in A, B's 'd/Relu:0' has [5, 4]".into(),
            ),
            ..local(0, None)
        }),
        bound: None,
        rounding_ratio: None,
        verdict: RoundingVerdict::NotComputed,
    };
    let hard = Replacement {
        index: 3,
        index_b: 3,
        kind: LayerKind::Op("HardSigmoid".into()),
        kind_b: LayerKind::Op("Sigmoid".into()),
        nodes_a: vec!["head/HardSigmoid".into()],
        nodes_b: vec!["d/Sigmoid".into()],
        pair: pair("probabilities", "d/Sigmoid:0", 3),
        local: Some(local(2, None)),
        diverges: true,
    };
    let case = CaseComparison {
        test_data: "m/test_data_set_0".into(),
        samples: 4,
        inputs_matched_by: MatchedBy::Name,
        outputs: vec![PairReport {
            advice: Some(advice()),
            ..pair("probabilities", "Identity:0", 1)
        }],
        outputs_matched_by: MatchedBy::Position,
        layers: vec![dense.clone(), relu, softmax],
        unmatched_a: vec![Layer {
            kind: LayerKind::Op("HardSigmoid".into()),
            tensor: "probabilities".into(),
            nodes: vec!["head/HardSigmoid".into()],
            node_ids: vec![4],
        }],
        unmatched_b: vec![
            Layer {
                kind: LayerKind::Op("Sigmoid".into()),
                tensor: "d/Sigmoid:0".into(),
                nodes: vec!["d/Sigmoid".into()],
                node_ids: vec![5],
            },
            Layer {
                kind: LayerKind::Op("LeakyRelu".into()),
                tensor: "d/LeakyRelu:0".into(),
                nodes: vec!["d/LeakyRelu".into()],
                node_ids: vec![6],
            },
        ],
        replaced: vec![hard],
        first_divergence: Some(Divergence {
            a: dense.pair.a.clone(),
            b: dense.pair.b.clone(),
            kind: LayerKind::Dense,
            index: 0,
            tolerance: Preset::Default.tolerance(),
            metrics: metrics(1),
        }),
        first_cause: Some(FirstCause {
            index: 0,
            kind: LayerKind::Dense,
            a: dense.pair.a.clone(),
            b: dense.pair.b.clone(),
            reason: CauseReason::BeyondRounding,
            kind_b: None,
            rounding_ratio: Some(10.0),
        }),
        probes_changed_outputs: true,
        stages: vec![StageDelta {
            side: "tract: a.onnx".into(),
            runtime: crate::runtime::RuntimeKind::Tract,
            unoptimized: "decluttered",
            outputs: vec![pair("probabilities", "probabilities", 0)],
        }],
        status: Verdict::Fail,
    };
    CompareReport {
        status: Verdict::Fail,
        a: "tract: a.onnx".into(),
        b: "tract: b.onnx".into(),
        tolerance: Preset::Default.tolerance(),
        tolerance_name: "default".into(),
        cases: vec![case],
    }
}

fn reduce_report() -> ReduceReport {
    let written = |model: &str, op: &str, m: usize| WrittenCut {
        model: model.into(),
        nodes: vec![format!("dense/Relu ({op})")],
        inputs: vec![CutInput {
            name: "dense/linear".into(),
            from: "dense/linear".into(),
            dtype: "FLOAT".into(),
            shape: vec![2, 5],
        }],
        output: "dense/relu".into(),
        status: Verdict::of(m == 0),
        metrics: metrics(m),
    };
    let config = ReduceConfig {
        a: "a.onnx".into(),
        b: "b.onnx".into(),
        test_data: vec![],
        out: "case".into(),
        tolerance: Preset::Default.tolerance(),
        tolerance_name: "default".into(),
        samples: 2,
        runtime_a: crate::runtime::RuntimeKind::Tract,
        runtime_b: crate::runtime::RuntimeKind::Tract,
        limits: crate::onnx::TensorLimits::default(),
    };
    ReduceReport {
        tool: tool(),
        status: Verdict::Fail,
        a: "tract: a.onnx".into(),
        b: "tract: b.onnx".into(),
        test_data: "b/test_data_set_0".into(),
        tolerance: Preset::Default.tolerance(),
        tolerance_name: "default".into(),
        config,
        diverging_layer: Some(LayerRef {
            index: 1,
            kind: LayerKind::Op("LeakyRelu".into()),
            a: "dense/relu".into(),
            b: "dense/relu".into(),
        }),
        tried: vec![
            Attempt {
                first: 1,
                last: 1,
                core_only: false,
                nodes: 3,
                diverges: true,
                metrics: Some(metrics(2)),
                problem: None,
            },
            Attempt {
                first: 1,
                last: 1,
                core_only: true,
                nodes: 1,
                diverges: true,
                metrics: Some(metrics(2)),
                problem: None,
            },
        ],
        case: Some(ReducedCase {
            dir: "case".into(),
            layers: vec!["1 LeakyRelu".into()],
            samples: vec![0, 3],
            samples_in: 4,
            case: written("case/model.onnx", "LeakyRelu", 2),
            reference: written("case/reference/model.onnx", "Relu", 0),
            reproduce: vec![
                "onnx-parity validate case/model.onnx".into(),
                "onnx-parity validate case/reference/model.onnx".into(),
            ],
        }),
        note: None,
    }
}

fn matrix_report() -> MatrixReport {
    let column = |label: &str, shape: Option<Vec<usize>>, unavailable: Option<&str>| Column {
        label: label.into(),
        source: format!("models/{}", label.replace(' ', "-")),
        output_shape: shape,
        unavailable: unavailable.map(str::to_owned),
        loss: None,
    };
    let metric_pair = |expected, actual, mismatches| Pair {
        expected,
        actual,
        metrics: Some(metrics(mismatches)),
        outputs: vec![PairOutput {
            name: "y".into(),
            metrics: Some(metrics(mismatches)),
            problem: None,
        }],
        decisions_flipped: None,
    };
    let shape_pair = |expected, actual| Pair {
        expected,
        actual,
        metrics: None,
        outputs: vec![PairOutput {
            name: "y".into(),
            metrics: None,
            problem: Some("shape [4, 6], expected [4, 5]".into()),
        }],
        decisions_flipped: None,
    };
    let committed = MatrixCase {
        case: Case::Seed.name().into(),
        title: "the seed MLP".into(),
        inputs: "models/x/input_0.pb".into(),
        input_shape: vec![4, 784],
        columns: vec![
            column("TF", Some(vec![4, 5]), None),
            column("burn", Some(vec![4, 5]), None),
            column("tract", Some(vec![4, 6]), None),
            column("burn-import", None, Some("not in this build")),
        ],
        pairs: vec![metric_pair(0, 1, 1), shape_pair(0, 2), shape_pair(1, 2)],
        losses: None,
        status: Verdict::Fail,
    };
    // A model's matrix with labels: the reference, a runtime that diverges in the probability
    // form (clipping) and one that agrees.
    let check = |abs_diff: f64, passed| ReferenceCheck {
        abs_diff,
        allowed: 2e-4,
        passed,
        expected_divergence: None,
    };
    let loss = |logits, probs, clipped, vs: Option<(ReferenceCheck, ReferenceCheck)>| ColumnLoss {
        logits_form: logits,
        probs_form: probs,
        clipped,
        probability_range: [4.47e-7, 0.999_999_5],
        binary_accuracy: 0.75,
        clip_explanation: vs
            .as_ref()
            .filter(|(_, p)| !p.passed)
            .map(|_| crate::validate::check::clip_explanation(3, 0, [4.47e-7, 0.999_999_5])),
        logits_vs_reference: None,
        probs_vs_reference: vs.map(|(_, p)| p),
    };
    let mut reference = column("reference", Some(vec![4, 5]), None);
    reference.loss = Some(loss(None, 0.2, 3, None));
    let mut tract = column("tract (optimized)", Some(vec![4, 5]), None);
    tract.loss = Some(loss(
        Some(0.5),
        0.18,
        0,
        Some((check(0.0, true), check(0.02, false))),
    ));
    let mut ort = column("onnxruntime (all optimizations)", Some(vec![4, 5]), None);
    ort.loss = Some(loss(
        Some(0.5),
        0.2,
        3,
        Some((check(0.0, true), check(1e-5, true))),
    ));
    let flips = |mut p: Pair, n| {
        p.decisions_flipped = Some(n);
        p
    };
    let any_model = MatrixCase {
        case: "m/test_data_set_0".into(),
        title: "m/model.onnx on every runtime available here".into(),
        inputs: "m/test_data_set_0:input_0.pb".into(),
        input_shape: vec![4, 784],
        columns: vec![
            reference,
            tract,
            ort,
            column(
                "onnxruntime (unoptimized)",
                None,
                Some("onnxruntime is not available"),
            ),
        ],
        pairs: vec![
            flips(metric_pair(0, 1, 0), 1),
            flips(metric_pair(0, 2, 0), 0),
            flips(metric_pair(1, 2, 0), 1),
        ],
        losses: Some(LossSetup {
            labels: "labels.npy".into(),
            output: "y".into(),
            head: "sigmoid",
            tolerance: LossTolerance::default(),
        }),
        status: Verdict::Fail,
    };
    MatrixReport {
        tool: tool(),
        tolerance: Preset::Default.tolerance(),
        tolerance_name: "default".into(),
        burn_import_built: false,
        status: Verdict::Fail,
        cases: vec![committed, any_model],
    }
}

fn bench_report() -> BenchReport {
    let figure = |key: &str, unit, value: f64, flops| Figure {
        key: key.into(),
        what: format!("what {key} measures"),
        unit,
        value,
        low: value * 0.9,
        high: value * 1.1,
        repetitions: 5,
        flops_per_sample: flops,
    };
    BenchReport {
        tool: tool(),
        machine: Machine {
            cpu: "a CPU".into(),
            cores: 2,
            os: "linux".into(),
            build: "release".into(),
        },
        data: "synthetic".into(),
        repeat: 5,
        warmup: 1,
        figures: vec![
            figure(
                "train.logits",
                Unit::SamplesPerSecond,
                210_342.0,
                Some(409_088.0),
            ),
            figure("validate.run", Unit::Seconds, 0.0285, None),
            figure("validate.peak_rss", Unit::MiB, 111.2, None),
            figure("roof.gemm", Unit::GflopsPerSecond, 130.0, None),
        ],
        skipped: vec!["models/x.onnx: missing".into()],
    }
}

fn inspection() -> Inspection {
    Inspection {
        path: "m/model.onnx".into(),
        file_bytes: 1234,
        sha256: "cd".repeat(32),
        ir_version: Some(8),
        opsets: vec![Opset {
            domain: String::new(),
            version: 17,
        }],
        producer_name: "onnx-parity".into(),
        producer_version: "0.1.0".into(),
        domain: String::new(),
        model_version: None,
        doc_string: "MLP 784-128-10".into(),
        graph_name: "mlp".into(),
        inputs: vec![ValueSummary {
            name: "input".into(),
            dtype: "FLOAT".into(),
            dims: Some(vec!["N".into(), "784".into()]),
        }],
        outputs: vec![ValueSummary {
            name: "logits".into(),
            dtype: "FLOAT".into(),
            dims: None,
        }],
        ops: BTreeMap::from([("Gemm".into(), 2), ("Relu".into(), 1)]),
        nodes: 3,
        initializers: 4,
        parameters: 101_770,
        initializer_bytes: 407_080,
        external_initializers: 0,
        metadata: BTreeMap::from([("onnx_parity.formulation".into(), "logits".into())]),
        runtimes: vec![RuntimeSupport {
            runtime: "tract".into(),
            missing: Some(vec![MissingOp {
                node: "N8".into(),
                op: "ai.onnx.ml::Imputer".into(),
            }]),
            error: None,
        }],
    }
}

fn suite() -> SuiteReport {
    let case = |name: &str, op: &str, outcome, reason: Option<&str>| CaseOutcome {
        name: name.into(),
        op: Some(op.into()),
        verdict: outcome,
        reason: reason.map(str::to_owned),
        seconds: 0.01,
    };
    SuiteReport {
        dir: "node-tests".into(),
        runtime: crate::runtime::RuntimeKind::Tract,
        tolerance: crate::metrics::ONNX_BACKEND,
        counts: Counts {
            total: 3,
            pass: 1,
            fail: 1,
            unsupported: 1,
            error: 0,
        },
        seconds: 0.5,
        cases: vec![
            case("test_relu", "Relu", Outcome::Pass, None),
            case(
                "test_dft",
                "DFT",
                Outcome::Fail,
                Some("output 'y': 2 of 8 elements beyond"),
            ),
            case(
                "test_wrap_pad",
                "Pad",
                Outcome::Unsupported,
                Some("tract could not load"),
            ),
        ],
    }
}

fn epochs() -> Vec<EpochRecord> {
    let score = Score {
        loss: 0.125,
        binary_accuracy: 0.96,
    };
    let eval = |clipped| EvalScore {
        loss: 0.12052307,
        binary_accuracy: 0.96025,
        clipped,
    };
    vec![EpochRecord {
        epoch: 0,
        steps: 80,
        train: FormPair {
            logits: score,
            probs: score,
        },
        eval: FormPair {
            logits: eval(0),
            probs: eval(16),
        },
        eval_loss_diff: 5.9e-10,
        eval_accuracy_diff: 0.0,
    }]
}

fn data() -> DataInfo {
    DataInfo {
        source: "synthetic".into(),
        features: 784,
        train_samples: 8000,
        eval_samples: 2000,
        pixels_sha256: "ef".repeat(32),
        targets: None,
    }
}

fn demo_report() -> DemoReport {
    let losses = LossPair {
        logits_form_f32: 0.0439534,
        logits_form_f64: 0.0439535,
        probs_form_f32: 0.0439536,
        probs_form_f64: 0.0439537,
        clipped: 191,
        elements: 20_000,
    };
    let export = |form: Formulation, mismatches| ExportCheck {
        formulation: form,
        head: Head::for_formulation(form),
        output_name: "logits".into(),
        onnx_bytes: 407_985,
        onnx_sha256: "12".repeat(32),
        samples: 2000,
        output: metrics(mismatches),
        logits: metrics(0),
        loss_burn: losses,
        loss_tract: losses,
        loss_max_abs_diff: 0.0,
        loss_passed: true,
        passed: mismatches == 0,
    };
    DemoReport {
        status: Verdict::Fail,
        model: "MLP 784-128-10, relu".into(),
        config: TrainConfig::default(),
        data: data(),
        tolerance: Preset::Default.tolerance(),
        tolerance_name: "default".into(),
        epochs: epochs(),
        training_parity: TrainingParity {
            max_eval_loss_diff: 5.9e-10,
            max_eval_accuracy_diff: 0.0,
            max_step_loss_diff: 5.96e-8,
            steps_with_clipping: 3,
            clipped_elements: 7,
            max_weight_diff: 5.96e-8,
            passed: true,
        },
        exports: vec![
            export(Formulation::Logits, 0),
            export(Formulation::Probs, 1),
        ],
    }
}

// The validate renderers' own tests, with the fixtures every snapshot shares.

fn metrics(mismatches: usize) -> Metrics {
    let worst = ElementDiff {
        index: vec![3, 7],
        actual: Value::F32(0.25),
        expected: Value::F32(0.5),
        abs_err: 0.25,
    };
    Metrics {
        elements: 20,
        max_abs_err: if mismatches > 0 { 0.25 } else { 0.0 },
        max_rel_err: if mismatches > 0 { 0.5 } else { 0.0 },
        max_ulp: if mismatches > 0 { 8388608 } else { 0 },
        mismatches,
        mismatch_fraction: mismatches as f64 / 20.0,
        nonfinite: 0,
        first_mismatch: (mismatches > 0).then(|| worst.clone()),
        worst: (mismatches > 0).then_some(worst),
    }
}

fn case(mismatches: usize) -> CaseReport {
    let status = if mismatches > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let form = |v: f64| FormLoss {
        value_f32: v,
        value_f64: v,
        reference: Some(v),
        expected: Some(v),
        abs_diff: Some(0.0),
        passed: Some(true),
        vs_reference: Some(ReferenceCheck {
            abs_diff: 0.0,
            allowed: 1e-6,
            passed: true,
            expected_divergence: None,
        }),
    };
    // The probability form diverges from the reference: expected in the passing case, a
    // failure explained by clipping in the failing one.
    let mut probs = form(0.25);
    probs.reference = Some(0.5);
    probs.vs_reference = Some(ReferenceCheck {
        abs_diff: 0.25,
        allowed: 5e-4,
        passed: false,
        expected_divergence: (mismatches == 0).then(|| "a bounded Sigmoid".to_owned()),
    });
    let explanation = crate::validate::check::clip_explanation(1, 0, [4.47e-7, 0.999_999_5]);
    CaseReport {
        model: "m/model.onnx".into(),
        test_data: Some("m/test_data_set_0".into()),
        status,
        error: None,
        error_kind: None,
        problems: if mismatches > 0 {
            vec![
                "output 'y': 1 of 20 elements beyond tolerance".into(),
                format!("probs-form loss 0.25 differs from 0.5; {explanation}"),
            ]
        } else {
            vec![]
        },
        sha256: Some(ShaCheck {
            actual: "ab".repeat(32),
            expected: Some("ab".repeat(32)),
            matches: true,
        }),
        tolerance_name: "default".into(),
        inputs: vec![InputReport {
            name: "x".into(),
            file: "input_0.pb".into(),
            matched_by: MatchedBy::Position,
            dtype: "FLOAT".into(),
            shape: vec![4, 5],
            bound_as_constant: false,
        }],
        outputs: vec![OutputReport {
            name: "y".into(),
            file: "output_0.pb".into(),
            matched_by: MatchedBy::Name,
            status,
            dtype: "FLOAT".into(),
            shape: vec![4, 5],
            expected_dtype: "FLOAT".into(),
            expected_shape: vec![4, 5],
            tolerance: Preset::Default.tolerance(),
            metrics: metrics(mismatches),
            problem: None,
            advice: None,
            distribution: None,
        }],
        loss: Some(LossReport {
            labels: "labels.npy".into(),
            head: HeadReport {
                kind: "sigmoid",
                output: "y".into(),
                sigmoid_node: Some("head/Sigmoid".into()),
                logits_tensor: "logits".into(),
            },
            elements: 20,
            clipped: 0,
            reference_clipped: Some(1),
            clipped_only_by_reference: Some(1),
            probability_range: [4.47e-7, 0.999_999_5],
            logits_form: form(0.125),
            probs_form: probs,
            tolerance: 1e-6,
            reduction: Reduction::Keras,
            sklearn_form: SklearnLoss {
                reduction: Reduction::Sklearn,
                clip: f64::from(f32::EPSILON),
                value: form(0.5),
                clipped: 1,
                reference_clipped: Some(0),
            },
            loss_tolerance: LossTolerance::default(),
            clip_explanation: Some(explanation),
        }),
        binary_accuracy: Some(AccuracyReport {
            model: 0.75,
            reference: Some(0.8),
            decisions_flipped: Some(1),
            elements: 20,
        }),
        warnings: Vec::new(),
        left_out: Vec::new(),
    }
}

#[test]
fn text_names_inputs_outputs_losses_and_the_worst_element() {
    let r = ValidateReport::new(vec![case(1)]);
    let text = String::from_utf8(super::text::Text.render(&Report::Validate(&r))).unwrap();
    let want = "\
m/model.onnx
  m/test_data_set_0: FAIL
    input  'x' <- input_0.pb (by position) FLOAT [4, 5]
    output 'y' <- output_0.pb FLOAT [4, 5], tolerance atol 1e-5, rtol 1e-5: FAIL
      max abs 2.500e-1  max rel 5.000e-1  max ulp 8388608  mismatches 1/20 (5.00%)
      worst at [3, 7]: model 0.25 vs reference 0.5 (|diff| 2.500e-1)
      first at [3, 7]: model 0.25 vs reference 0.5
    loss on 'y' (sigmoid head: logits 'logits' read under node 'head/Sigmoid'), labels labels.npy, 20 elements, Keras reduction (mean over labels, then samples)
      logits form  f32 0.125000000  f64 0.125000000  reference 0.125000000 |diff| 0.00e0 (allowed 1.00e-6) PASS  expected 0.125000000 |diff| 0.00e0 PASS
      probs form   f32 0.250000000  f64 0.250000000  reference 0.500000000 |diff| 2.50e-1 (allowed 5.00e-4) FAIL  expected 0.250000000 |diff| 0.00e0 PASS
      probability clip [1e-7, 1-1e-7] hit 0 element(s) (reference 1)
      the reference clipped 1 element(s) to [1e-7, 1-1e-7] that this runtime did not (it clipped 0): its probabilities span 4.470e-7 to 0.9999995 (1 - 4.768e-7)
    scikit-learn binary_log_loss (sum over labels of the mean over samples, clip 1.192e-7): 1 element(s) clipped (reference 0)
      sklearn      f32 0.500000000  f64 0.500000000  reference 0.500000000 |diff| 0.00e0 (allowed 1.00e-6) PASS  expected 0.500000000 |diff| 0.00e0 PASS
    binary accuracy 0.750000 (reference 0.800000), decisions flipped 1 of 20
    sha256 abababababababababababababababababababababababababababababababab (as listed)
    FAIL: output 'y': 1 of 20 elements beyond tolerance
    FAIL: probs-form loss 0.25 differs from 0.5; the reference clipped 1 element(s) to [1e-7, 1-1e-7] that this runtime did not (it clipped 0): its probabilities span 4.470e-7 to 0.9999995 (1 - 4.768e-7)

verdict: FAIL (1 case(s): 0 pass, 1 fail, 0 error)
";
    assert_eq!(text, want);
}

#[test]
fn json_has_the_documented_stable_keys() {
    let err: ValidateError = crate::refdata::RefDataError::TestData {
        path: "m/test_data_set_1".into(),
        message: "empty test set".into(),
    }
    .into();
    let r = ValidateReport::new(vec![
        case(0),
        CaseReport::error("m/model.onnx", Some("m/test_data_set_1".into()), &err),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&crate::report::to_json_bytes(&r)).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["summary"]["errors"], 1);
    let c = &v["cases"][0];
    assert_eq!(c["model"], "m/model.onnx");
    assert_eq!(c["status"], "pass");
    let o = &c["outputs"][0];
    for key in [
        "name",
        "max_abs_err",
        "max_rel_err",
        "max_ulp",
        "mismatches",
    ] {
        assert!(!o[key].is_null(), "outputs[].{key}");
    }
    assert_eq!(c["loss"]["logits_form"]["f32"], 0.125);
    assert_eq!(c["loss"]["probs_form"]["f64"], 0.25);
    let check = &c["loss"]["probs_form"]["vs_reference"];
    assert_eq!(check["passed"], false);
    assert_eq!(check["expected_divergence"], "a bounded Sigmoid");
    assert_eq!(c["loss"]["loss_tolerance"]["rtol"], 1e-3);
    assert_eq!(c["loss"]["clipped_only_by_reference"], 1);
    assert_eq!(c["binary_accuracy"]["model"], 0.75);
    let e = &v["cases"][1];
    assert_eq!(e["status"], "error");
    assert_eq!(e["error_kind"], "invalid");
    assert_eq!(e["error"], "m/test_data_set_1: empty test set");
}

#[test]
fn infinite_errors_stay_valid_json() {
    let mut c = case(1);
    c.outputs[0].metrics.max_abs_err = f64::INFINITY;
    let v: serde_json::Value =
        serde_json::from_slice(&crate::report::to_json_bytes(&ValidateReport::new(vec![c])))
            .unwrap();
    assert_eq!(v["cases"][0]["outputs"][0]["max_abs_err"], "inf");
}

fn snapshot(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run UPDATE_SNAPSHOTS=1 cargo test --lib report, then read it",
            path.display()
        )
    });
    if bytes != want {
        let got = String::from_utf8_lossy(bytes);
        let want = String::from_utf8_lossy(&want);
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  got:  {:?}\n  want: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn every_format_renders_every_report_it_claims_as_in_its_snapshot() {
    let (demo, validate, compare, reduce, matrix, bench, inspect, suite) = (
        demo_report(),
        validate_report(),
        compare_report(),
        reduce_report(),
        matrix_report(),
        bench_report(),
        inspection(),
        suite(),
    );
    let (config, data, epochs) = (TrainConfig::default(), data(), epochs());
    let steps = vec![StepRecord {
        step: 0,
        epoch: 0,
        logits: epochs[0].train.logits,
        probs: epochs[0].train.probs,
        probs_clipped: 2,
    }];
    let train = TrainLog {
        tool: tool(),
        config: &config,
        data: &data,
        epochs: &epochs,
        steps: &steps,
    };
    let tf = TfReference {
        file: "ref/reference.json".into(),
        command: Some("python scripts/tf_reference.py --steps 1".into()),
        pixels_sha256: Some(data.pixels_sha256.clone()),
        init_sha256: None,
        steps: FormPair {
            logits: vec![Score {
                loss: 0.125 + 2e-8,
                binary_accuracy: 0.96,
            }],
            probs: vec![Score {
                loss: 0.125,
                binary_accuracy: 0.96,
            }],
        },
    };
    let listed = [Outcome::Fail, Outcome::Unsupported];
    let reports = [
        (
            "demo",
            Report::Demo {
                report: &demo,
                log: &train,
                tf: None,
            },
        ),
        (
            "train",
            Report::Train {
                log: &train,
                tf: Some(&tf),
            },
        ),
        ("validate", Report::Validate(&validate)),
        ("compare", Report::Compare(&compare)),
        ("reduce", Report::Reduce(&reduce)),
        ("matrix", Report::Matrix(&matrix)),
        ("bench", Report::Bench(&bench)),
        ("inspect", Report::Inspect(&inspect)),
        ("conformance", Report::Conformance(&suite, &listed)),
    ];
    let mut rendered = 0;
    for (name, report) in &reports {
        for format in FORMATS.iter().filter(|f| f.renders(report.kind())) {
            snapshot(&format!("{name}.{}", format.name()), &format.render(report));
            rendered += 1;
        }
    }
    // text, json and html render all nine kinds, junit three.
    assert_eq!(rendered, 9 + 9 + 3 + 9);
}

#[test]
fn the_cli_is_offered_exactly_the_formats_that_render() {
    assert_eq!(
        formats_for(ReportKind::Validate),
        ["text", "json", "junit", "html"]
    );
    assert_eq!(
        formats_for(ReportKind::Matrix),
        ["text", "json", "junit", "html"]
    );
    assert_eq!(formats_for(ReportKind::Bench), ["text", "json", "html"]);
    let suite = suite();
    let err = render("junit", &Report::Conformance(&suite, &[])).unwrap_err();
    assert!(
        err.to_string().contains("formats: text, json, html"),
        "{err}"
    );
}
