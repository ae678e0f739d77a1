//! `reduce`: the smallest piece of A's graph that still diverges from B, written as a model
//! with its reference data in the ONNX backend-test layout, ready to attach to a bug report.
//!
//! How: one run of each side fetches every layer's result (the probe `compare` makes), which
//! stands in for bisecting over prefixes of the graph: the first layer of A (in graph order)
//! whose result differs from its counterpart in B beyond tolerance ends the search window. The window then
//! shrinks from the front: the cut computing that layer from layers ever closer to it, fed B's
//! tensors at the cut ([`super::local`]), smallest first, until one still diverges; then the
//! plumbing in front of the layer's own nodes is dropped when B has the tensors right at the
//! core, and the samples are cut to the few that diverge most. What is written:
//!
//! - `DIR/model.onnx`: A's cut; `DIR/test_data_set_0/input_N.pb`: B's tensors at the cut (named
//!   as A names them); `output_0.pb`: B's result of the same piece. `validate DIR/model.onnx`
//!   fails.
//! - `DIR/reference/...`: the same piece cut from B with the same tensors; it passes.
//! - `DIR/reduce.json`: this report, with the config that made it.
//!
//! Both cuts are run here before anything is written, on the runtime of their side, and the
//! report says how each compared.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use prost::Message;
use serde::Serialize;
use tract_onnx::prelude::Tensor;

use super::layers::{LayerKind, node_label};
use super::local::{Cut, CutRun, as_f64, cast_float, closure, compare_as_reference};
use super::{CompareError, Inputs, Probe, Side, cut_runtime, open_sides, side_err, test_sets};
use crate::artifacts::{ArtifactDir, Tool};
use crate::metrics::{Metrics, Tolerance};
use crate::onnx::pb::GraphProto;
use crate::onnx::{TensorLimits, encode_model, tensor_to_proto};
use crate::runtime::{Feed, RuntimeKind};
use crate::verdict::Verdict;

/// What `reduce` needs, as library types.
#[derive(Debug, Clone, Serialize)]
pub struct ReduceConfig {
    pub a: PathBuf,
    /// The reference side.
    pub b: PathBuf,
    /// Test sets (the first is used); empty: those beside A, else beside B.
    pub test_data: Vec<PathBuf>,
    pub out: PathBuf,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    /// Keep at most this many samples (those that diverge most); 0 keeps all.
    pub samples: usize,
    /// Who runs each side.
    pub runtime_a: RuntimeKind,
    pub runtime_b: RuntimeKind,
    #[serde(skip)]
    pub limits: TensorLimits,
}

/// A layer of A and its counterpart in B.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRef {
    pub index: usize,
    pub kind: LayerKind,
    pub a: String,
    pub b: String,
}

/// One window tried.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// First and last layer of A in the window.
    pub first: usize,
    pub last: usize,
    /// Only the layers' own nodes, without the plumbing in front of them.
    pub core_only: bool,
    pub nodes: usize,
    pub diverges: bool,
    pub metrics: Option<Metrics>,
    /// Why it could not be tried.
    pub problem: Option<String>,
}

/// A tensor fed to a written cut.
#[derive(Debug, Clone, Serialize)]
pub struct CutInput {
    pub name: String,
    /// The tensor of B its value comes from.
    pub from: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// One written cut: where, what it holds, and how its output compared with B's.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenCut {
    pub model: String,
    pub nodes: Vec<String>,
    pub inputs: Vec<CutInput>,
    pub output: String,
    pub metrics: Metrics,
    pub status: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReducedCase {
    pub dir: String,
    /// A's layers in the window.
    pub layers: Vec<String>,
    /// Indices of the samples kept, of `samples_in`.
    pub samples: Vec<usize>,
    pub samples_in: usize,
    /// A's cut: must fail.
    pub case: WrittenCut,
    /// The same piece of B: must pass.
    pub reference: WrittenCut,
    /// Commands that reproduce both verdicts.
    pub reproduce: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReduceReport {
    pub tool: Tool,
    /// `fail`: the graphs diverge and a case was written; `pass`: nothing diverges.
    pub status: Verdict,
    pub a: String,
    pub b: String,
    pub test_data: String,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    pub config: ReduceConfig,
    /// The first layer of A whose result diverges from B's: the end of the search.
    pub diverging_layer: Option<LayerRef>,
    /// Windows tried, smallest first.
    pub tried: Vec<Attempt>,
    pub case: Option<ReducedCase>,
    /// What happened when no case was written.
    pub note: Option<String>,
}

/// B's piece: the cut and the B tensor feeding each of its inputs.
struct Piece {
    cut: Cut,
    from: Vec<String>,
}

/// Runs `cut` on `feeds` with `run`, returning its output.
fn run_cut(run: &CutRun<'_>, cut: &Cut, feeds: &[Feed], like: &Tensor) -> Result<Tensor, String> {
    run.run(cut, feeds, (like.datum_type(), like.shape()), false)
}

/// Samples (dim 0) of `t` at `keep`, in that order.
fn take_samples(t: &Tensor, keep: &[usize]) -> Option<Tensor> {
    let rows = keep
        .iter()
        .map(|&i| t.slice(0, i, i + 1).ok())
        .collect::<Option<Vec<_>>>()?;
    Tensor::stack_tensors(0, &rows).ok()
}

/// The `n` samples whose largest error beyond tolerance is largest, in index order.
fn worst_samples(actual: &Tensor, expected: &Tensor, tol: &Tolerance, n: usize) -> Vec<usize> {
    let (Some(a), Some(e)) = (
        cast_float(actual, expected.datum_type()).and_then(|t| as_f64(&t)),
        as_f64(expected),
    ) else {
        return Vec::new();
    };
    let rows = e.shape().first().copied().unwrap_or(0);
    let mut excess: Vec<(f64, usize)> = (0..rows)
        .map(|i| {
            let (ra, re) = (
                a.index_axis(ndarray::Axis(0), i),
                e.index_axis(ndarray::Axis(0), i),
            );
            let worst = ra
                .iter()
                .zip(re.iter())
                .map(|(&x, &y)| {
                    if x.is_nan() || y.is_nan() {
                        f64::INFINITY
                    } else {
                        (x - y).abs() - (tol.atol + tol.rtol * y.abs())
                    }
                })
                .fold(f64::NEG_INFINITY, f64::max);
            (worst, i)
        })
        .filter(|(w, _)| *w > 0.0)
        .collect();
    excess.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut keep: Vec<usize> = excess.into_iter().take(n).map(|(_, i)| i).collect();
    keep.sort_unstable();
    keep
}

/// Cuts A's graph down to the smallest piece that still diverges from B and writes it.
pub fn reduce(cfg: &ReduceConfig) -> Result<ReduceReport, CompareError> {
    let (mut a, mut b) = open_sides(&cfg.a, &cfg.b, cfg.limits, (cfg.runtime_a, cfg.runtime_b))?;
    if a.onnx.is_none() || b.onnx.is_none() {
        let path = if a.onnx.is_none() { &cfg.a } else { &cfg.b };
        return Err(side_err(
            path,
            "reduce cuts both graphs: A and B must be ONNX files",
        ));
    }
    let sets = test_sets(&a, &b, &cfg.test_data)?;
    let inputs = Inputs::load(&sets[0], &a, &b, cfg.limits)?;
    let plain_a = a.run(&inputs.a, &a.output_names())?;
    let plain_b = b.run(&inputs.b, &b.output_names())?;
    let probe = Probe::run(&mut a, &mut b, &inputs, &plain_a, &plain_b)?;
    let tol = cfg.tolerance;
    let mut report = ReduceReport {
        tool: Tool::default(),
        status: Verdict::Pass,
        a: a.label(),
        b: b.label(),
        test_data: inputs.set.display().to_string(),
        tolerance: tol,
        tolerance_name: cfg.tolerance_name.clone(),
        config: cfg.clone(),
        diverging_layer: None,
        tried: Vec::new(),
        case: None,
        note: None,
    };

    // A's layers with a counterpart in B, in A's order.
    let mut mapped: Vec<(usize, usize)> = probe.alignment.pairs.clone();
    mapped.extend(
        probe
            .gaps
            .iter()
            .filter(|g| g.one_to_one)
            .map(|g| (g.a, g.b)),
    );
    mapped.sort_unstable();
    let (la, lb) = (&probe.layers_a, &probe.layers_b);
    let diverges = |m: &Result<Metrics, String>| m.as_ref().map_or(true, |m| !m.passed());
    let end = mapped.iter().position(|&(ia, ib)| {
        let (x, y) = (
            &probe.values_a[&la[ia].tensor],
            &probe.values_b[&lb[ib].tensor],
        );
        diverges(&compare_as_reference(x, y, &tol).0)
    });
    let outputs_pass = plain_a
        .iter()
        .zip(&plain_b)
        .all(|(x, y)| !diverges(&compare_as_reference(x, y, &tol).0));
    let Some(end) = end else {
        report.note = Some(if outputs_pass {
            "A and B agree within tolerance: nothing to reduce".to_owned()
        } else {
            report.status = Verdict::Fail;
            "the outputs diverge but no layer with a counterpart in B does: nothing to cut"
                .to_owned()
        });
        return Ok(report);
    };
    report.status = Verdict::Fail;
    let (end_a, end_b) = mapped[end];
    report.diverging_layer = Some(LayerRef {
        index: end_a,
        kind: la[end_a].kind.clone(),
        a: la[end_a].tensor.clone(),
        b: lb[end_b].tensor.clone(),
    });

    let runtime_a = cut_runtime(&a)?;
    let runtime_b = cut_runtime(&b)?;
    let (graph_a, graph_b) = (a.graph_proto(), b.graph_proto());
    let model_a = a.onnx.clone();
    let ctx = probe.context(model_a.as_ref(), runtime_a.as_ref(), &graph_a, tol);
    let run_a = ctx.run.as_ref().expect("A is an ONNX file");
    let expected = &probe.values_b[&lb[end_b].tensor];

    // Shrink the window from the front: [j..=end] for j from end down to 0.
    let mut chosen: Option<(usize, Cut, Vec<Feed>, Tensor)> = None;
    for j in (0..=end).rev() {
        let first = mapped[j].0;
        let core: Vec<usize> = (first..=end_a)
            .flat_map(|i| la[i].node_ids.iter().copied())
            .collect();
        // Start from any tensor B has a value for, except the window's own results.
        let inside: BTreeSet<&str> = (first..=end_a).map(|i| la[i].tensor.as_str()).collect();
        let start = |t: &str| {
            probe.counterpart.contains_key(t)
                && !inside.contains(t)
                && !probe
                    .aliases
                    .get(t)
                    .is_some_and(|o| inside.contains(o.as_str()))
        };
        let cut = closure(&graph_a, &core, &la[end_a].tensor, &start);
        let mut attempt = Attempt {
            first,
            last: end_a,
            core_only: false,
            nodes: cut.nodes.len(),
            diverges: false,
            metrics: None,
            problem: None,
        };
        let mut from = Vec::new();
        let outcome = ctx.feeds(&cut, &mut from).and_then(|feeds| {
            let out = run_cut(run_a, &cut, &feeds, &probe.values_a[&la[end_a].tensor])?;
            Ok((feeds, out))
        });
        match outcome {
            Ok((feeds, out)) => {
                let m = compare_as_reference(&out, expected, &tol).0;
                attempt.diverges = diverges(&m);
                attempt.metrics = m.ok();
                let hit = attempt.diverges;
                report.tried.push(attempt);
                if hit {
                    chosen = Some((j, cut, feeds, out));
                    break;
                }
            }
            Err(problem) => {
                attempt.problem = Some(problem);
                report.tried.push(attempt);
            }
        }
    }
    let Some((j, mut cut, mut feeds_a, mut out)) = chosen else {
        report.note = Some(
            "no cut of A reproduces the divergence when fed B's tensors (it may come from \
             how the whole graph is optimized): nothing written"
                .to_owned(),
        );
        return Ok(report);
    };
    let first_b = mapped[j..=end]
        .iter()
        .map(|m| m.1)
        .min()
        .expect("non-empty");
    let core_b: Vec<usize> = (first_b..=end_b)
        .flat_map(|i| lb[i].node_ids.iter().copied())
        .collect();
    let mut piece_b = {
        let c = closure(&graph_b, &core_b, &lb[end_b].tensor, &|_| false);
        Piece {
            from: c.inputs.clone(),
            cut: c,
        }
    };
    let mut from_a: Vec<String> = cut
        .inputs
        .iter()
        .map(|n| probe.counterpart.get(n).cloned().unwrap_or_default())
        .collect();
    let mut feeds_b: Vec<Feed> = Vec::new();

    // Drop the plumbing in front of a single layer when B has the tensors at its core.
    let core_a: Vec<usize> = (mapped[j].0..=end_a)
        .flat_map(|i| la[i].node_ids.iter().copied())
        .collect();
    if j == end
        && cut.nodes.len() > core_a.len()
        && let Some(found) = core_only(
            &mut a,
            &mut b,
            &inputs,
            (&graph_a, &core_a, &la[end_a].tensor),
            (&graph_b, &core_b, &lb[end_b].tensor),
        )?
    {
        let (core_cut, core_b_cut, a_values, b_values) = found;
        let mut attempt = Attempt {
            first: end_a,
            last: end_a,
            core_only: true,
            nodes: core_cut.nodes.len(),
            diverges: false,
            metrics: None,
            problem: None,
        };
        let fed: Result<Vec<Feed>, String> = core_cut
            .inputs
            .iter()
            .zip(&core_b_cut.inputs)
            .zip(a_values.iter().zip(&b_values))
            .map(|((name, _), (own, theirs))| {
                cast_float(theirs, own.datum_type())
                    .or_else(|| (own.datum_type() == theirs.datum_type()).then(|| theirs.clone()))
                    .map(|v| Feed::new(name.clone(), Arc::new(v)))
                    .ok_or_else(|| format!("'{name}' has another element type in B"))
            })
            .collect();
        let result = fed.and_then(|f| {
            let o = run_cut(run_a, &core_cut, &f, &probe.values_a[&la[end_a].tensor])?;
            Ok((f, o))
        });
        match result {
            Ok((f, o)) => {
                let m = compare_as_reference(&o, expected, &tol).0;
                attempt.diverges = diverges(&m);
                attempt.metrics = m.ok();
                if attempt.diverges {
                    from_a = core_b_cut.inputs.clone();
                    cut = core_cut;
                    feeds_a = f;
                    out = o;
                    feeds_b = core_b_cut
                        .inputs
                        .iter()
                        .zip(b_values)
                        .map(|(n, v)| Feed::new(n.clone(), Arc::new(v)))
                        .collect();
                    piece_b = Piece {
                        from: core_b_cut.inputs.clone(),
                        cut: core_b_cut,
                    };
                }
            }
            Err(problem) => attempt.problem = Some(problem),
        }
        report.tried.push(attempt);
    }
    if feeds_b.is_empty() {
        feeds_b = piece_b
            .cut
            .inputs
            .iter()
            .map(|n| {
                probe
                    .values_b
                    .get(n)
                    .cloned()
                    .map(|v| Feed::new(n.clone(), Arc::new(v)))
                    .ok_or_else(|| {
                        side_err(
                            &cfg.b,
                            format!("the reference cut reads '{n}', which was not fetched"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
    }

    // Keep the samples that diverge most, when every tensor of both cuts is batched alike.
    let n = inputs.samples();
    let batched = |fs: &[Feed]| fs.iter().all(|f| f.value.shape().first() == Some(&n));
    let mut keep: Vec<usize> = (0..n).collect();
    let mut expected = expected.clone();
    if cfg.samples > 0
        && cfg.samples < n
        && batched(&feeds_a)
        && batched(&feeds_b)
        && expected.shape().first() == Some(&n)
    {
        let worst = worst_samples(&out, &expected, &tol, cfg.samples);
        let sliced = |fs: &[Feed]| {
            fs.iter()
                .map(|f| {
                    take_samples(&f.value, &worst).map(|t| Feed::new(f.name.clone(), Arc::new(t)))
                })
                .collect::<Option<Vec<_>>>()
        };
        if let (false, Some(fa), Some(fb), Some(e)) = (
            worst.is_empty(),
            sliced(&feeds_a),
            sliced(&feeds_b),
            take_samples(&expected, &worst),
        ) && let Ok(o) = run_cut(
            run_a,
            &cut,
            &fa,
            &take_samples(&out, &worst).unwrap_or(out.clone()),
        ) && diverges(&compare_as_reference(&o, &e, &tol).0)
        {
            (feeds_a, feeds_b, expected, out, keep) = (fa, fb, e, o, worst);
        }
    }

    // B's piece on the same tensors: the reference cut, which must pass.
    let ctx_b = CutRun {
        model: b.onnx.as_ref().expect("B is an ONNX file"),
        runtime: runtime_b.as_ref(),
        label: format!("{} [cut]", cfg.b.display()),
    };
    let out_b = run_cut(&ctx_b, &piece_b.cut, &feeds_b, &expected)
        .map_err(|e| side_err(&cfg.b, format!("the reference cut did not run: {e}")))?;
    let written = write_case(
        cfg,
        (&graph_a, run_a, &cut, &feeds_a, &from_a, &out),
        (&graph_b, &ctx_b, &piece_b, &feeds_b, &out_b),
        &expected,
    )?;
    report.case = Some(ReducedCase {
        dir: cfg.out.display().to_string(),
        layers: (mapped[j].0..=end_a)
            .map(|i| format!("{} {}", i, la[i].kind))
            .collect(),
        samples: keep,
        samples_in: n,
        reproduce: reproduce_commands(cfg),
        case: written.0,
        reference: written.1,
    });
    let bytes = crate::report::to_json_bytes(&report);
    ArtifactDir::create(&cfg.out)
        .and_then(|d| d.write("reduce.json", &bytes))
        .map_err(|e| side_err(&cfg.out, e.to_string()))?;
    Ok(report)
}

fn reproduce_commands(cfg: &ReduceConfig) -> Vec<String> {
    let mut tol = if cfg.tolerance_name == "default" {
        String::new()
    } else {
        format!(
            " --atol {:e} --rtol {:e}",
            cfg.tolerance.atol, cfg.tolerance.rtol
        )
    };
    if cfg.tolerance.allow_nonfinite {
        tol.push_str(" --allow-nonfinite");
    }
    let dir = cfg.out.display();
    vec![
        format!("onnx-parity validate {dir}/model.onnx{tol}"),
        format!("onnx-parity validate {dir}/reference/model.onnx{tol}"),
    ]
}

/// The core nodes of one layer on each side, fed straight by B's tensors at the core: the cuts
/// and both sides' values of the core inputs. `None` when the cores read different numbers of
/// tensors or tensors of another shape.
#[allow(clippy::type_complexity)]
fn core_only(
    a: &mut Side,
    b: &mut Side,
    inputs: &Inputs,
    (graph_a, core_a, out_a): (&GraphProto, &[usize], &str),
    (graph_b, core_b, out_b): (&GraphProto, &[usize], &str),
) -> Result<Option<(Cut, Cut, Vec<Tensor>, Vec<Tensor>)>, CompareError> {
    let core_cut = |g: &GraphProto, core: &[usize], out: &str| -> Cut {
        let constants: BTreeSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
        let made: BTreeSet<&str> = core
            .iter()
            .flat_map(|&i| g.node[i].output.iter().map(String::as_str))
            .collect();
        let mut inputs: Vec<String> = Vec::new();
        for &i in core {
            for name in &g.node[i].input {
                if !name.is_empty()
                    && !constants.contains(name.as_str())
                    && !made.contains(name.as_str())
                    && !inputs.contains(name)
                {
                    inputs.push(name.clone());
                }
            }
        }
        let mut nodes = core.to_vec();
        nodes.sort_unstable();
        Cut {
            nodes,
            inputs,
            output: out.to_owned(),
        }
    };
    let (ca, cb) = (
        core_cut(graph_a, core_a, out_a),
        core_cut(graph_b, core_b, out_b),
    );
    if ca.inputs.len() != cb.inputs.len() || ca.inputs.is_empty() {
        return Ok(None);
    }
    // Constant-folded inputs (a `Constant` node's output) cannot be fed; leave those cuts alone.
    let is_constant_node = |g: &GraphProto, name: &str| {
        g.node
            .iter()
            .any(|n| n.op_type() == "Constant" && n.output.iter().any(|o| o == name))
    };
    if ca.inputs.iter().any(|n| is_constant_node(graph_a, n))
        || cb.inputs.iter().any(|n| is_constant_node(graph_b, n))
    {
        return Ok(None);
    }
    let va = a.run(&inputs.a, &ca.inputs)?;
    let vb = b.run(&inputs.b, &cb.inputs)?;
    if va.iter().zip(&vb).any(|(x, y)| x.shape() != y.shape()) {
        return Ok(None);
    }
    Ok(Some((ca, cb, va, vb)))
}

/// Writes both cuts with their data; returns what each holds and how it compared.
#[allow(clippy::type_complexity)]
fn write_case(
    cfg: &ReduceConfig,
    (graph_a, run_a, cut_a, feeds_a, from_a, out_a): (
        &GraphProto,
        &CutRun<'_>,
        &Cut,
        &[Feed],
        &[String],
        &Tensor,
    ),
    (graph_b, run_b, piece_b, feeds_b, out_b): (&GraphProto, &CutRun<'_>, &Piece, &[Feed], &Tensor),
    expected: &Tensor,
) -> Result<(WrittenCut, WrittenCut), CompareError> {
    let dir = ArtifactDir::create(&cfg.out).map_err(|e| side_err(&cfg.out, e.to_string()))?;
    let werr = |e: crate::artifacts::ArtifactError| side_err(&cfg.out, e.to_string());
    let one = |folder: &str,
               graph: &GraphProto,
               run: &CutRun<'_>,
               cut: &Cut,
               feeds: &[Feed],
               from: &[String],
               out: &Tensor|
     -> Result<WrittenCut, CompareError> {
        let proto = run
            .model(cut, feeds, (out.datum_type(), out.shape()))
            .map_err(|e| side_err(&cfg.out, e))?;
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let model = dir
            .write(&format!("{prefix}model.onnx"), &encode_model(&proto))
            .map_err(werr)?;
        let encode = |name: &str, t: &Tensor| {
            tensor_to_proto(name, t)
                .map(|p| p.encode_to_vec())
                .map_err(|e| side_err(&cfg.out, crate::error_chain(&e)))
        };
        for (i, f) in feeds.iter().enumerate() {
            dir.write(
                &format!("{prefix}test_data_set_0/input_{i}.pb"),
                &encode(&f.name, &f.value)?,
            )
            .map_err(werr)?;
        }
        // B's result, in the cut's output type, named like the cut's output.
        let want = cast_float(expected, out.datum_type()).unwrap_or_else(|| expected.clone());
        dir.write(
            &format!("{prefix}test_data_set_0/output_0.pb"),
            &encode(&cut.output, &want)?,
        )
        .map_err(werr)?;
        let (metrics, _) = compare_as_reference(out, &want, &cfg.tolerance);
        let metrics = metrics.map_err(|e| side_err(&cfg.out, e))?;
        Ok(WrittenCut {
            model: model.display().to_string(),
            nodes: cut
                .nodes
                .iter()
                .map(|&i| {
                    format!(
                        "{} ({})",
                        node_label(&graph.node[i], i),
                        graph.node[i].op_type()
                    )
                })
                .collect(),
            inputs: feeds
                .iter()
                .zip(from)
                .map(|(f, from)| CutInput {
                    name: f.name.clone(),
                    from: from.clone(),
                    dtype: crate::metrics::datum_name(f.value.datum_type()),
                    shape: f.value.shape().to_vec(),
                })
                .collect(),
            output: cut.output.clone(),
            status: Verdict::of(metrics.passed()),
            metrics,
        })
    };
    let a = one("", graph_a, run_a, cut_a, feeds_a, from_a, out_a)?;
    let b = one(
        "reference",
        graph_b,
        run_b,
        &piece_b.cut,
        feeds_b,
        &piece_b.from,
        out_b,
    )?;
    Ok((a, b))
}
