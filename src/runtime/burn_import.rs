//! burn-import as a runtime: committed ONNX artifacts turned into burn code at build time
//! (feature `burn-import`, see `build.rs`) and executed by burn on the CPU.
//!
//! A model is picked by the sha256 of the ONNX file asked for, so the code that runs is the
//! code generated from exactly those bytes, wherever the checkout is. Weights are embedded in
//! the binary. An artifact burn-import could not convert is a load error quoting burn-import.
//!
//! Output only: the generated `Model` exposes its graph output and nothing inside it, so the
//! true logits under a final `Sigmoid` cannot be read. That is why this is not a
//! [`super::Runtime`] (whose [`super::Prediction`] carries logits) and why recomputing them from
//! the probabilities, which loses precision where the sigmoid saturates, is never done here.

use burn::tensor::{Bytes, Device, Tensor, TensorData};
use ndarray::{Array2, ArrayViewD};

use super::RuntimeError;
use crate::model::burn_mlp;

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

/// The generated model for an ONNX file, run by burn on the CPU.
pub struct BurnImportRuntime {
    name: String,
    forward: Forward,
    device: Device,
}

impl BurnImportRuntime {
    /// The model burn-import generated from the ONNX file whose bytes hash to `sha256`.
    /// `name` labels reports and errors; `onnx` names the file in them.
    pub fn for_artifact(
        name: impl Into<String>,
        onnx: &str,
        sha256: &str,
    ) -> Result<Self, RuntimeError> {
        let name = name.into();
        let fail = |message: String| RuntimeError::Load {
            model: name.clone(),
            message,
        };
        // Artifacts live under `models/`; a copy of that folder may be called anything.
        let by_path = || {
            GENERATED.iter().find(|g| {
                let inside = g.onnx.strip_prefix("models/").unwrap_or(g.onnx);
                std::path::Path::new(onnx).ends_with(inside)
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
            name,
            device,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The graph output for a batch (`[n, ...]` as the ONNX input declares it).
    pub fn predict_output(&mut self, x: ArrayViewD<f32>) -> Result<Array2<f32>, RuntimeError> {
        (self.forward)(x.view(), &self.device).map_err(|message| RuntimeError::Run {
            model: self.name.clone(),
            shape: x.shape().to_vec(),
            message,
        })
    }
}
