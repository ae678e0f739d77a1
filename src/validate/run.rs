//! Running a loaded model on one test set with tract.
//!
//! Every input fact is set to the actual input's element type and concrete shape before
//! optimizing. That binds all symbolic dims from the data, which is what makes tf2onnx exports
//! run: they name the batch dim `unk__N` with a different N on the input and on the output,
//! and tract cannot unify those by itself. Extra tensors (the logits under a `Sigmoid` head)
//! are selected as outputs before optimizing, so they come from the same run.

use std::sync::Arc;

use tract_onnx::prelude::{
    DatumType, InferenceFact, InferenceModelExt, IntoRunnable, IntoTensor, OutletId, Tensor,
    TypedRunnableModel,
};

use super::error::ValidateError;
use super::guard;
use super::model::LoadedModel;

/// An optimized plan for one input signature, producing `fetch` in order.
pub struct Plan {
    runnable: Arc<TypedRunnableModel>,
}

fn tract_err(
    model: &LoadedModel,
    stage: &'static str,
    message: String,
    panicked: bool,
) -> ValidateError {
    ValidateError::Tract {
        path: model.path.clone(),
        stage,
        message,
        panicked,
    }
}

/// How far tract transforms the graph before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Typed and decluttered: the graph's own ops, no kernel fusion or rewriting for speed.
    Decluttered,
    /// Fully optimized, as users run it (the default everywhere).
    Optimized,
}

/// Binds the inputs' types and shapes, selects `fetch` as the outputs and optimizes.
/// `inputs` are in the model's input order.
pub fn prepare(
    model: &LoadedModel,
    inputs: &[&Tensor],
    fetch: &[String],
) -> Result<Plan, ValidateError> {
    prepare_stage(model, inputs, fetch, Stage::Optimized)
}

/// [`prepare`], stopping the graph transformations at `stage`.
pub fn prepare_stage(
    model: &LoadedModel,
    inputs: &[&Tensor],
    fetch: &[String],
    stage: Stage,
) -> Result<Plan, ValidateError> {
    let mut m = model.tract.clone();
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
            for (ix, t) in inputs.iter().enumerate() {
                m.set_input_fact(ix, InferenceFact::dt_shape(t.datum_type(), t.shape()))
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
                .into_runnable()
                .map_err(|e| ("optimize", format!("{e:#}")))
        },
    );
    match result {
        Ok(Ok(runnable)) => Ok(Plan { runnable }),
        Ok(Err((stage, message))) => Err(tract_err(model, stage, message, false)),
        Err(panic) => Err(tract_err(model, "optimize", panic, true)),
    }
}

/// Runs the plan once on the whole test set (one batch) and returns the fetched tensors.
pub fn execute(
    model: &LoadedModel,
    plan: &Plan,
    inputs: &[&Tensor],
) -> Result<Vec<Tensor>, ValidateError> {
    let values = inputs.iter().map(|t| (*t).clone().into()).collect();
    let result = guard::catch(|| plan.runnable.run(values));
    let outputs = match result {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(e)) => return Err(tract_err(model, "run", format!("{e:#}"), false)),
        Err(panic) => return Err(tract_err(model, "run", panic, true)),
    };
    Ok(outputs
        .into_iter()
        .map(|v| plain(v.into_tensor()))
        .collect())
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
