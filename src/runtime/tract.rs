//! tract as a runtime: the only place in the crate where tract loads and plans a model.
//!
//! A model is parsed once, from the checked bytes, under [`guard::catch`] so that tract's panics
//! become errors naming the model. It is planned per input signature: every input fact is set to
//! the actual input's element type and concrete shape before optimizing. That binds all symbolic
//! dims from the data, which is what makes tf2onnx exports run: they name the batch dim `unk__N`
//! with a different N on the input and on the output, and tract cannot unify those by itself.
//! Extra tensors (the logits under a `Sigmoid` head, the layers `compare` matches) are selected
//! as outputs before optimizing, so they come from the same run. A plan and one spawned state
//! are kept per input signature and fetch list, and reused.
//!
//! tract requires some operands to be constants (reduction axes, reshape targets, pads, Resize
//! scales) that ONNX lets a graph take as inputs. When tract refuses the graph as it is, the run
//! is retried with small inputs bound to their values: first the integer and boolean ones (axes,
//! shapes, indices), then any small one. The arithmetic is still tract's; [`RunOutput`] names
//! the bound inputs. If no retry works, the error gives tract's first message and what the last
//! retry ran into.
//!
//! tract's kernels run on [`Tract::threads`] threads (tract-linalg's `multithread-mm`): matrix
//! products are split by output tiles, element-wise work and pooling by whole rows, so every
//! output element is summed in the same order on any number of threads and the results are
//! bit-identical (`tests/threads.rs` checks it through the binary). A pool per thread count is
//! made once per process and shared by every plan.
//!
//! tract has no `ai.onnx.ml` `Binarizer`, which every skl2onnx classifier with a `label` output
//! uses; [`ml::register`] supplies it, wired from tract's own comparison and cast.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prost::Message;
use tract_linalg::multithread::Executor;
use tract_onnx::prelude::{
    DatumType, InferenceFact, InferenceModel, InferenceModelExt, IntoTensor, OutletId, RunOptions,
    TValue, TVec, Tensor, TractResult, TypedRunnableModel, TypedSimpleState,
};

use super::{Feed, MissingOp, OnnxModel, RunOutput, Runnable, Runtime, RuntimeError, guard};
use crate::onnx::pb::ModelProto;
use crate::onnx::{Signature, tensor_to_proto};

/// Inputs of at most this many elements may be bound as constants when tract refuses a graph.
pub const MAX_CONSTANT_ELEMENTS: usize = 64;

/// How far tract transforms the graph before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Typed and decluttered: the graph's own ops, no kernel fusion or rewriting for speed.
    Decluttered,
    /// Fully optimized, as users run it (the default everywhere).
    #[default]
    Optimized,
}

/// The most threads `--threads` accepts: far above any core count this tool runs on, low
/// enough that a typo cannot ask the system for thousands of threads.
pub const MAX_THREADS: usize = 256;

/// Threads for tract when a caller does not say: 0 means every core the process may use.
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Input elements from which a plan runs on a pool (below, on the calling thread alone):
/// about 40 MNIST images. Measured on two cores (`bench --only infer`, README "Performance"):
/// at batch 1 a pool made the MLP 3.6x and the CNN 1.4x slower, at batch 256 it made them 1.5x
/// faster.
const POOL_FROM_ELEMENTS: usize = 1 << 15;

/// Sets the thread count of every [`Tract`] made with `Tract::default()` from now on (the CLI's
/// `--threads`, set once before any work). 0 restores the default, every core. The count
/// changes speed only: outputs are bit-identical on any number of threads.
pub fn set_default_threads(threads: usize) {
    DEFAULT_THREADS.store(threads.min(MAX_THREADS), Ordering::Relaxed);
}

/// The thread count `Tract::default()` uses: the one set by [`set_default_threads`], else the
/// cores available to this process (1 if that cannot be read).
pub fn default_threads() -> usize {
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        n => n,
    }
}

/// tract, optimizing up to `stage`, its kernels on `threads` threads.
#[derive(Debug, Clone, Copy)]
pub struct Tract {
    pub stage: Stage,
    /// Threads for tract's kernels; 1 runs everything on the calling thread. Small products
    /// (a batch-1 MLP) stay on one thread whatever this says: tract only splits work above
    /// its own size thresholds.
    pub threads: usize,
}

impl Default for Tract {
    fn default() -> Self {
        Self {
            stage: Stage::default(),
            threads: default_threads(),
        }
    }
}

/// tract's executor for `threads`: its single-thread one for 1, else a rayon pool of that
/// size, made once per process and shared.
fn executor(threads: usize) -> Result<Executor, String> {
    if threads <= 1 {
        return Ok(Executor::SingleThread);
    }
    static POOLS: Mutex<Vec<(usize, Executor)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, e)) = pools.iter().find(|(n, _)| *n == threads) {
        return Ok(e.clone());
    }
    // tract panics if the operating system refuses the threads.
    let made = guard::catch(|| Executor::multithread_with_name(threads, "tract"))
        .map_err(|panic| format!("starting {threads} threads for tract: {panic}"))?;
    pools.push((threads, made.clone()));
    Ok(made)
}

impl Runtime for Tract {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn prepare(&self, model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, RuntimeError> {
        Ok(Box::new(
            TractRunnable::new(Arc::clone(model), self.stage)?.with_threads(self.threads),
        ))
    }

    /// tract parses an operator it has no builder for into a placeholder that only fails when
    /// the graph is typed: those placeholders, found in its parse of the main graph (subgraph
    /// bodies are parsed inside their node and not searched).
    fn missing_ops(&self, model: &Arc<OnnxModel>) -> Result<Option<Vec<MissingOp>>, RuntimeError> {
        let parsed = parse(model, &[])?;
        let domain_of = |name: &str| {
            model
                .graph()
                .node
                .iter()
                .find(|n| n.name() == name || n.output.first().is_some_and(|o| o == name))
                .map(|n| n.domain().to_owned())
                .unwrap_or_default()
        };
        let missing = parsed
            .nodes()
            .iter()
            .filter_map(|n| {
                let op = n.op.name();
                let op = op.strip_prefix("Unimplemented(")?.strip_suffix(')')?;
                Some(MissingOp {
                    op: match domain_of(&n.name).as_str() {
                        "" | "ai.onnx" => op.to_owned(),
                        d => format!("{d}::{op}"),
                    },
                    node: n.name.clone(),
                })
            })
            .collect();
        Ok(Some(missing))
    }

    fn unoptimized(&self) -> Option<Box<dyn Runtime>> {
        Some(Box::new(Tract {
            stage: Stage::Decluttered,
            threads: self.threads,
        }))
    }
}

/// A model tract parsed, with its plans.
pub struct TractRunnable {
    model: Arc<OnnxModel>,
    label: String,
    parsed: InferenceModel,
    stage: Stage,
    threads: usize,
    /// One plan per input signature and fetch list; a model meets few, so a list searched
    /// without allocating beats a map whose key must be built for every run.
    plans: Vec<Plan>,
}

struct Plan {
    /// Input element types and shapes, then the fetched names.
    inputs: Vec<(DatumType, Vec<usize>)>,
    fetch: Vec<String>,
    runnable: Arc<TypedRunnableModel>,
    /// Spawned from `runnable` and reused (spawning one per run costs a third of a batch-1
    /// run); dropped after a failed run.
    state: Option<TypedSimpleState>,
    /// Where its kernels run: the calling thread, or the pool the whole plan runs in.
    executor: Executor,
}

fn engine(path: &Path, stage: &'static str, message: String, panicked: bool) -> RuntimeError {
    RuntimeError::Engine {
        path: path.to_owned(),
        engine: "tract",
        stage,
        message,
        panicked,
    }
}

impl TractRunnable {
    /// Parses the checked model with tract; it runs on [`default_threads`] threads.
    pub fn new(model: Arc<OnnxModel>, stage: Stage) -> Result<Self, RuntimeError> {
        let parsed = parse(&model, &[])?;
        Ok(Self {
            label: format!("tract: {}", model.path.display()),
            model,
            parsed,
            stage,
            threads: default_threads(),
            plans: Vec::new(),
        })
    }

    /// The same, running tract's kernels on `threads` threads (plans made from now on).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.clamp(1, MAX_THREADS);
        self.plans.clear();
        self
    }

    /// Plans for these inputs and fetched names without running (the plan is kept for the
    /// runs that follow); for measuring planning on its own.
    pub fn plan(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<(), RuntimeError> {
        let inputs = super::order_by_signature(&self.label, &self.model.signature, inputs)?;
        self.plans.retain(|p| !p.serves(&inputs, fetch));
        let plan = Plan::new(
            &self.model.path,
            &self.parsed,
            &inputs,
            fetch,
            self.stage,
            self.threads,
        )?;
        self.plans.push(plan);
        Ok(())
    }

    /// A run with the kept plan for these inputs, planning first if there is none.
    fn run_planned(
        &mut self,
        inputs: &[&Feed],
        fetch: &[String],
    ) -> Result<Vec<Tensor>, RuntimeError> {
        let at = match self.plans.iter().position(|p| p.serves(inputs, fetch)) {
            Some(at) => at,
            None => {
                let plan = Plan::new(
                    &self.model.path,
                    &self.parsed,
                    inputs,
                    fetch,
                    self.stage,
                    self.threads,
                )?;
                self.plans.push(plan);
                self.plans.len() - 1
            }
        };
        execute(&self.model.path, &mut self.plans[at], inputs)
    }

    /// The retry with small inputs bound as constants, after `first` (a tract error).
    fn run_with_constants(
        &self,
        inputs: &[&Feed],
        fetch: &[String],
        first: RuntimeError,
    ) -> Result<RunOutput, RuntimeError> {
        let tiers: [fn(&Tensor) -> bool; 2] = [
            |t| t.len() <= MAX_CONSTANT_ELEMENTS && !t.datum_type().is_float(),
            |t| t.len() <= MAX_CONSTANT_ELEMENTS,
        ];
        let mut tried: Vec<Vec<usize>> = Vec::new();
        let mut retry_err: Option<(Vec<String>, RuntimeError)> = None;
        for bind in tiers {
            let chosen: Vec<usize> = (0..inputs.len())
                .filter(|&i| bind(&inputs[i].value))
                .collect();
            if chosen.is_empty() || tried.contains(&chosen) {
                continue;
            }
            tried.push(chosen.clone());
            let constants: Vec<(String, Tensor)> = chosen
                .iter()
                .map(|&i| (inputs[i].name.clone(), (*inputs[i].value).clone()))
                .collect();
            let rest: Vec<&Feed> = (0..inputs.len())
                .filter(|i| !chosen.contains(i))
                .map(|i| inputs[i])
                .collect();
            let names: Vec<String> = constants.iter().map(|(n, _)| n.clone()).collect();
            let attempt = with_constants(&self.model, &constants).and_then(|parsed| {
                let mut plan = Plan::new(
                    &self.model.path,
                    &parsed,
                    &rest,
                    fetch,
                    self.stage,
                    self.threads,
                )?;
                execute(&self.model.path, &mut plan, &rest)
            });
            match attempt {
                Ok(values) => {
                    return Ok(RunOutput {
                        values,
                        bound_as_constants: names,
                    });
                }
                Err(e) => retry_err = Some((names, e)),
            }
        }
        // Say what the retry ran into too: it is often the real limitation.
        match (first, retry_err) {
            (
                RuntimeError::Engine {
                    path,
                    engine,
                    stage,
                    message,
                    panicked,
                },
                Some((names, retry)),
            ) => {
                let retry = match retry {
                    RuntimeError::Engine { message, .. } | RuntimeError::Model { message, .. } => {
                        message
                    }
                    other => crate::error_chain(&other),
                };
                Err(RuntimeError::Engine {
                    path,
                    engine,
                    stage,
                    message: format!(
                        "{message}; retried with input(s) {} bound as constants: {retry}",
                        names.join(", ")
                    ),
                    panicked,
                })
            }
            (first, _) => Err(first),
        }
    }
}

impl Runnable for TractRunnable {
    fn label(&self) -> &str {
        &self.label
    }

    fn signature(&self) -> &Signature {
        &self.model.signature
    }

    fn graph(&self) -> Option<&ModelProto> {
        Some(&self.model.proto)
    }

    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<RunOutput, RuntimeError> {
        let inputs = super::order_by_signature(&self.label, &self.model.signature, inputs)?;
        match self.run_planned(&inputs, fetch) {
            Ok(values) => Ok(RunOutput {
                values,
                bound_as_constants: Vec::new(),
            }),
            Err(e @ RuntimeError::Engine { .. }) => self.run_with_constants(&inputs, fetch, e),
            Err(e) => Err(e),
        }
    }
}

impl Plan {
    fn new(
        path: &Path,
        parsed: &InferenceModel,
        inputs: &[&Feed],
        fetch: &[String],
        stage: Stage,
        threads: usize,
    ) -> Result<Self, RuntimeError> {
        // A small run (one sample) loses more to waking a pool than it gains from a second
        // core: on two cores a batch-1 MLP ran at a quarter of its one-thread speed.
        let elements: usize = inputs.iter().map(|f| f.value.len()).sum();
        let threads = if elements < POOL_FROM_ELEMENTS {
            1
        } else {
            threads
        };
        let executor = executor(threads).map_err(|m| engine(path, "run", m, true))?;
        Ok(Plan {
            inputs: inputs
                .iter()
                .map(|f| (f.value.datum_type(), f.value.shape().to_vec()))
                .collect(),
            fetch: fetch.to_vec(),
            runnable: prepare(path, parsed, inputs, fetch, stage, &executor)?,
            state: None,
            executor,
        })
    }

    /// Whether this plan was made for inputs of these types and shapes and this fetch list.
    fn serves(&self, inputs: &[&Feed], fetch: &[String]) -> bool {
        self.fetch == fetch
            && self.inputs.len() == inputs.len()
            && self
                .inputs
                .iter()
                .zip(inputs)
                .all(|((dt, shape), f)| *dt == f.value.datum_type() && shape == f.value.shape())
    }
}

/// tract's parse of the checked bytes, with `constants` turned into initializers.
fn parse(
    model: &OnnxModel,
    constants: &[(String, Tensor)],
) -> Result<InferenceModel, RuntimeError> {
    let path = &model.path;
    let dir = model.dir().and_then(Path::to_str);
    let bytes = model.source();
    let parsed = guard::catch(|| -> Result<InferenceModel, String> {
        let mut proto = tract_onnx::pb::ModelProto::decode(bytes).map_err(|e| e.to_string())?;
        if !constants.is_empty() {
            let graph = proto.graph.as_mut().ok_or("the model has no graph")?;
            graph
                .input
                .retain(|i| !constants.iter().any(|(name, _)| name == &i.name));
            for (name, t) in constants {
                // Our encoder, then tract's decoder: the same wire format.
                let ours = tensor_to_proto(name, t).map_err(|e| e.to_string())?;
                let theirs = tract_onnx::pb::TensorProto::decode(&ours.encode_to_vec()[..])
                    .map_err(|e| e.to_string())?;
                graph.initializer.push(theirs);
            }
        }
        let mut onnx = tract_onnx::onnx();
        ml::register(&mut onnx);
        let result = onnx.parse(&proto, dir).map_err(|e| format!("{e:#}"))?;
        if !result.unresolved_inputs.is_empty() {
            return Err(format!(
                "nodes read tensors that nothing produces: {:?}",
                result.unresolved_inputs
            ));
        }
        Ok(result.model)
    });
    match parsed {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(message)) => Err(engine(path, "load", message, false)),
        Err(panic) => Err(engine(path, "load", panic, true)),
    }
}

/// tract's parse of the model with the named inputs turned into initializers holding the given
/// values. Only the constants change: the file's own tensors were checked when it was opened,
/// the values come from checked reference data, and the sizes they would ask for are checked
/// here before tract folds them.
fn with_constants(
    model: &OnnxModel,
    constants: &[(String, Tensor)],
) -> Result<InferenceModel, RuntimeError> {
    let mut graph = model.graph().clone();
    for (name, t) in constants {
        graph
            .initializer
            .push(tensor_to_proto(name, t).map_err(|e| RuntimeError::Model {
                path: model.path.clone(),
                message: format!("binding input '{name}' as a constant: {e}"),
            })?);
    }
    super::sizes::check_graph_fed(&graph, model.limits(), &|_| None, "tract").map_err(
        |message| RuntimeError::Model {
            path: model.path.clone(),
            message: format!("with inputs bound as constants, {message}"),
        },
    )?;
    parse(model, constants)
}

/// Binds the inputs' types and shapes, selects `fetch` as the outputs and optimizes up to
/// `stage`; the plan runs its kernels on `executor`. `inputs` are in the model's input order.
fn prepare(
    path: &Path,
    parsed: &InferenceModel,
    inputs: &[&Feed],
    fetch: &[String],
    stage: Stage,
    executor: &Executor,
) -> Result<Arc<TypedRunnableModel>, RuntimeError> {
    let options = RunOptions {
        executor: Some(executor.clone()),
        ..RunOptions::default()
    };
    let mut m = parsed.clone();
    let result = guard::catch(
        || -> Result<Arc<TypedRunnableModel>, (&'static str, String)> {
            let outlets = m
                .input_outlets()
                .map_err(|e| ("load", format!("{e:#}")))?
                .to_vec();
            if outlets.len() != inputs.len() {
                return Err((
                    "load",
                    format!(
                        "tract sees {} inputs, the file declares {}",
                        outlets.len(),
                        inputs.len()
                    ),
                ));
            }
            for (ix, f) in inputs.iter().enumerate() {
                m.set_input_fact(
                    ix,
                    InferenceFact::dt_shape(f.value.datum_type(), f.value.shape()),
                )
                .map_err(|e| ("load", format!("binding input {ix}: {e:#}")))?;
            }
            let selected = fetch
                .iter()
                .map(|name| {
                    m.find_outlet_label(name)
                        .or_else(|| m.node_id_by_name(name).ok().map(|id| OutletId::new(id, 0)))
                        .ok_or_else(|| {
                            ("load", format!("no tensor named '{name}' in tract's graph"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            m.select_output_outlets(&selected)
                .map_err(|e| ("load", format!("{e:#}")))?;
            let typed = match stage {
                Stage::Optimized => m.into_optimized(),
                Stage::Decluttered => m.into_typed().and_then(|t| t.into_decluttered()),
            }
            .map_err(|e| ("optimize", format!("{e:#}")))?;
            typed
                .into_runnable_with_options(&options)
                .map_err(|e| ("optimize", format!("{e:#}")))
        },
    );
    match result {
        Ok(Ok(runnable)) => Ok(runnable),
        Ok(Err((stage, message))) => Err(engine(path, stage, message, false)),
        Err(panic) => Err(engine(path, "optimize", panic, true)),
    }
}

/// Runs a plan once on the inputs (one batch) and returns the fetched tensors.
fn execute(path: &Path, plan: &mut Plan, inputs: &[&Feed]) -> Result<Vec<Tensor>, RuntimeError> {
    let values: TVec<TValue> = inputs
        .iter()
        .map(|f| TValue::from_const(Arc::clone(&f.value)))
        .collect();
    let runnable = Arc::clone(&plan.runnable);
    let state = plan.state.take();
    let run = move || -> TractResult<_> {
        let mut state = match state {
            Some(s) => s,
            None => runnable.spawn()?,
        };
        let outputs = state.run(values)?;
        Ok((state, outputs))
    };
    // On a pool, the whole plan runs on one of its threads: the calling thread waits asleep
    // instead of running the element-wise ops while the pool's idle threads spin for work,
    // which on two cores made a CNN twice as slow on two threads as on one.
    let result = match &plan.executor {
        Executor::MultiThread(pool) => guard::catch(move || pool.install(run)),
        _ => guard::catch(run),
    };
    match result {
        Ok(Ok((state, outputs))) => {
            plan.state = Some(state);
            Ok(outputs
                .into_iter()
                .map(|v| plain(v.into_tensor()))
                .collect())
        }
        Ok(Err(e)) => Err(engine(path, "run", format!("{e:#}"), false)),
        Err(panic) => Err(engine(path, "run", panic, true)),
    }
}

/// tract computes shapes as symbolic dims (TDim); ONNX calls them int64.
fn plain(t: Tensor) -> Tensor {
    if t.datum_type() == DatumType::TDim
        && let Ok(c) = t.cast_to::<i64>()
    {
        return c.into_owned();
    }
    t
}

/// `ai.onnx.ml` operators tract lacks, built from tract's own ops.
mod ml {
    use tract_onnx::model::{Onnx, ParsingContext};
    use tract_onnx::pb::NodeProto;
    use tract_onnx::tract_hir::internal::*;
    use tract_onnx::tract_hir::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_hir::tract_core::ops::cast::cast;
    use tract_onnx::tract_hir::tract_core::ops::change_axes::wire_with_rank_broadcast;
    use tract_onnx::tract_hir::tract_core::ops::logic::comp_gt;

    pub(super) fn register(onnx: &mut Onnx) {
        onnx.op_register.insert("Binarizer", binarizer);
    }

    /// `Binarizer`: `y = x > threshold ? 1 : 0` in the input's (float) type; NaN gives 0.
    #[derive(Debug, Clone)]
    struct Binarizer {
        threshold: f32,
    }

    fn binarizer(
        _ctx: &ParsingContext,
        node: &NodeProto,
    ) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
        let threshold = node.get_attr_opt::<f32>("threshold")?.unwrap_or(0.0);
        Ok((expand(Binarizer { threshold }), vec![]))
    }

    impl Expansion for Binarizer {
        fn name(&self) -> StaticName {
            "Binarizer".into()
        }

        fn rules<'r, 'p: 'r, 's: 'r>(
            &'s self,
            s: &mut Solver<'r>,
            inputs: &'p [TensorProxy],
            outputs: &'p [TensorProxy],
        ) -> InferenceResult {
            check_input_arity(inputs, 1)?;
            check_output_arity(outputs, 1)?;
            s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
            s.equals(&inputs[0].shape, &outputs[0].shape)?;
            Ok(())
        }

        fn wire(
            &self,
            prefix: &str,
            model: &mut TypedModel,
            inputs: &[OutletId],
        ) -> TractResult<TVec<OutletId>> {
            let dt = model.outlet_fact(inputs[0])?.datum_type;
            ensure!(
                dt.is_float(),
                "Binarizer on {dt:?} input: only float inputs are supported"
            );
            let threshold = tensor0(self.threshold).cast_to_dt(dt)?.into_owned();
            let threshold = model.add_const(format!("{prefix}.threshold"), threshold)?;
            let above = wire_with_rank_broadcast(
                format!("{prefix}.greater"),
                model,
                TypedBinOp(comp_gt(), None),
                &[inputs[0], threshold],
            )?;
            model.wire_node(format!("{prefix}.cast"), cast(dt), &above)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::TensorLimits;

    /// Outputs of the committed model `rel` (under models/) on a batch of `shape`, tract's
    /// kernels on `threads` threads, as bit patterns.
    fn output_bits(rel: &str, shape: &[usize], threads: usize) -> Vec<Vec<u32>> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(rel);
        let model = OnnxModel::open(&path, TensorLimits::default()).unwrap();
        let mut runnable = TractRunnable::new(model, Stage::Optimized)
            .unwrap()
            .with_threads(threads);
        let len: usize = shape.iter().product();
        // Pixel-like values in [0, 1), varied enough that every product and sum is inexact.
        let x: Vec<f32> = (0..len)
            .map(|i| ((i as u64 * 2_654_435_761) % 1009) as f32 / 1009.0)
            .collect();
        let input = Tensor::from_shape(shape, &x).unwrap();
        let name = runnable.signature().inputs[0].name.clone();
        let fetch = runnable.signature().output_names();
        let out = runnable
            .run(&[Feed::new(name, Arc::new(input))], &fetch)
            .unwrap();
        out.values
            .iter()
            .map(|t| {
                let v = t.to_plain_array_view::<f32>().unwrap();
                v.iter().map(|f| f.to_bits()).collect()
            })
            .collect()
    }

    /// tract splits a product by output tiles and element-wise work by rows, never a sum:
    /// the same bits on 1, 2 and 3 threads. Batch 256 is above tract's threading thresholds
    /// (64 tiles for a product, 32,768 elements for element-wise ops and pooling), so the
    /// runs on more threads really are split.
    #[test]
    fn outputs_are_bit_identical_on_any_thread_count() {
        for (rel, shape) in [
            ("keras-mlp-sigmoid/model.onnx", vec![256, 784]),
            ("mnist-mlp/logits/model.onnx", vec![256, 784]),
            ("keras-cnn/model.onnx", vec![256, 28, 28, 1]),
        ] {
            let one = output_bits(rel, &shape, 1);
            assert!(one.iter().all(|o| !o.is_empty()), "{rel}: no output");
            for threads in [2, 3] {
                assert!(
                    one == output_bits(rel, &shape, threads),
                    "{rel}: outputs on {threads} threads differ from one thread"
                );
            }
        }
    }

    #[test]
    fn thread_counts_are_clamped_and_pools_shared() {
        let model = OnnxModel::open(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("models/mnist-mlp/logits/model.onnx"),
            TensorLimits::default(),
        )
        .unwrap();
        let r = TractRunnable::new(model, Stage::Optimized).unwrap();
        assert_eq!(r.with_threads(0).threads, 1);
        assert!(matches!(executor(1), Ok(Executor::SingleThread)));
        let (Ok(Executor::MultiThread(a)), Ok(Executor::MultiThread(b))) =
            (executor(2), executor(2))
        else {
            panic!("2 threads should give a thread pool");
        };
        assert!(Arc::ptr_eq(&a, &b), "one pool per thread count");
        assert_eq!(a.current_num_threads(), 2);
    }
}
