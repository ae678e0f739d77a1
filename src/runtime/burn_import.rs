//! burn-import as a runtime: committed ONNX artifacts turned into burn code at build time
//! (feature `burn-import`, see `build.rs`) and executed by burn on the CPU.
//!
//! A model is picked by the sha256 of the ONNX file asked for, so the code that runs is the
//! code generated from exactly those bytes, wherever the checkout is. Weights are embedded in
//! the binary. An artifact burn-import could not convert is a load error quoting burn-import.
//!
//! Output only: the generated `Model` exposes its graph output and nothing inside it, so the
//! true logits under a final `Sigmoid` cannot be fetched, and recomputing them from the
//! probabilities, which loses precision where the sigmoid saturates, is never done here.

use std::sync::Arc;

use burn::tensor::{Bytes, Device, Tensor, TensorData};
use ndarray::{Array2, ArrayViewD};
use tract_onnx::prelude::DatumType;

use super::{Feed, OnnxModel, RunOutput, Runnable, Runtime, RuntimeError};
use crate::model::burn_mlp;
use crate::onnx::Signature;
use crate::onnx::pb::ModelProto;

/// A generated model, loaded: input of any rank in, `[n, outputs]` out.
type Forward = Box<dyn Fn(ArrayViewD<f32>, &Device) -> Result<Array2<f32>, String>>;

/// What the build made of one artifact.
pub struct Generated {
    /// The artifact, relative to the crate root, as build.rs read it.
    pub onnx: &'static str,
    pub sha256: &'static str,
    /// The loader, or burn-import's message when it could not convert the artifact.
    load: Result<fn(&Device) -> Forward, &'static str>,
}

impl Generated {
    /// burn-import's message when it could not convert the artifact.
    pub fn failure(&self) -> Option<&'static str> {
        self.load.err()
    }
}

/// Feed `x` to a generated `forward` whose input rank `D` is read off its signature.
fn run<const D: usize>(
    x: ArrayViewD<f32>,
    device: &Device,
    forward: impl FnOnce(Tensor<D>) -> Tensor<2>,
) -> Result<Array2<f32>, String> {
    let shape: [usize; D] = x.shape().try_into().map_err(|_| {
        format!(
            "the generated model takes a rank-{D} input, got shape {:?}",
            x.shape()
        )
    })?;
    // `iter` walks in logical row-major order whatever the memory layout.
    let data = TensorData::new(x.iter().copied().collect::<Vec<f32>>(), shape);
    Ok(burn_mlp::array2(forward(Tensor::from_data(data, device))))
}

/// Expands build.rs's list (`name: "artifact", "sha256", converted | failed "reason";`) into one
/// module per converted artifact and the [`GENERATED`] table.
macro_rules! burn_import_models {
    ($($name:ident: $onnx:literal, $sha256:literal, $outcome:ident $($reason:literal)?;)*) => {
        $(burn_import_models!(@module $name $outcome);)*
        /// Every artifact build.rs handed to burn-import, in its order.
        pub static GENERATED: &[Generated] = &[$(Generated {
            onnx: $onnx,
            sha256: $sha256,
            load: burn_import_models!(@load $name $outcome $($reason)?),
        }),*];
    };
    (@module $name:ident converted) => {
        #[allow(clippy::all, clippy::pedantic, unused)]
        mod $name {
            include!(concat!(env!("OUT_DIR"), "/burn_import/", stringify!($name), "/model.rs"));

            pub static WEIGHTS: &[u8] = include_bytes!(concat!(
                env!("OUT_DIR"),
                "/burn_import/",
                stringify!($name),
                "/model.bpk"
            ));
        }
    };
    (@module $name:ident failed) => {};
    (@load $name:ident converted) => {
        Ok(|device| {
            let model = $name::Model::from_bytes(Bytes::from_bytes_vec($name::WEIGHTS.to_vec()), device);
            Box::new(move |x, device| run(x, device, |t| model.forward(t)))
        })
    };
    (@load $name:ident failed $reason:literal) => {
        Err($reason)
    };
}

include!(concat!(env!("OUT_DIR"), "/burn_import/models.rs"));

/// burn-import as a runtime: prepares the ONNX files it generated code for at build time.
#[derive(Debug, Clone, Copy, Default)]
pub struct BurnImport;

impl Runtime for BurnImport {
    fn name(&self) -> &'static str {
        "burn-import"
    }

    fn prepare(&self, model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, RuntimeError> {
        Ok(Box::new(BurnImportRunnable::for_model(model)?))
    }
}

/// The generated model for an ONNX file, run by burn on the CPU.
pub struct BurnImportRunnable {
    label: String,
    forward: Forward,
    device: Device,
    model: Arc<OnnxModel>,
}

impl BurnImportRunnable {
    /// The model burn-import generated from the bytes of `model` (picked by their sha256).
    pub fn for_model(model: &Arc<OnnxModel>) -> Result<Self, RuntimeError> {
        let label = format!("burn-import: {}", model.path.display());
        let onnx = model.path.display().to_string();
        let sha256 = &model.sha256;
        let fail = |message: String| RuntimeError::Unsupported {
            path: model.path.clone(),
            message,
        };
        // Artifacts live under `models/`; a copy of that folder may be called anything.
        let by_path = || {
            GENERATED.iter().find(|g| {
                let inside = g.onnx.strip_prefix("models/").unwrap_or(g.onnx);
                std::path::Path::new(&onnx).ends_with(inside)
            })
        };
        let generated = match GENERATED.iter().find(|g| g.sha256 == sha256) {
            Some(g) => g,
            // The same artifact path with other bytes: the build saw another version (or none).
            None => match by_path() {
                Some(g) if g.failure().is_some() => g,
                Some(g) => {
                    return Err(fail(format!(
                        "burn-import converted {} as it was at build time (sha256 {}), not \
                         these bytes (sha256 {sha256}); rebuild to convert them",
                        g.onnx, g.sha256
                    )));
                }
                None => {
                    return Err(fail(format!(
                        "burn-import was not run on {onnx} (sha256 {sha256}); this build ran \
                         it on {}",
                        GENERATED
                            .iter()
                            .map(|g| g.onnx)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            },
        };
        let load = generated.load.map_err(|reason| {
            fail(format!(
                "burn-import could not convert {}: {reason}",
                generated.onnx
            ))
        })?;
        let device = burn_mlp::cpu();
        Ok(Self {
            forward: load(&device),
            label,
            device,
            model: Arc::clone(model),
        })
    }

    fn request(&self, message: String) -> RuntimeError {
        RuntimeError::Request {
            model: self.label.clone(),
            message,
        }
    }
}

impl Runnable for BurnImportRunnable {
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
        let output = self
            .model
            .signature
            .outputs
            .first()
            .map(|o| o.name.as_str());
        if let Some(other) = fetch.iter().find(|f| Some(f.as_str()) != output) {
            return Err(self.request(format!(
                "burn-import's generated code gives its graph output only, not '{other}'"
            )));
        }
        let [x] = inputs else {
            return Err(self.request(format!(
                "the generated model takes one input, got {}",
                inputs.len()
            )));
        };
        if x.value.datum_type() != DatumType::F32 {
            return Err(self.request(format!(
                "the generated model takes float32 input, got {:?}",
                x.value.datum_type()
            )));
        }
        let view = x
            .value
            .to_plain_array_view::<f32>()
            .map_err(|e| self.request(format!("{e:#}")))?;
        let y = (self.forward)(view, &self.device).map_err(|m| self.request(m))?;
        let value = tract_onnx::prelude::Tensor::from(y.into_dyn());
        Ok(RunOutput {
            values: fetch.iter().map(|_| value.clone()).collect(),
            bound_as_constants: Vec::new(),
        })
    }
}
