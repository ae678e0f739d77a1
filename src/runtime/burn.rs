//! The trained graph itself, in burn, as a runtime.

use ndarray::ArrayView2;

use super::{Prediction, Runtime, RuntimeError};
use crate::model::burn_mlp::{self, BurnMlp};
use crate::model::export::Head;
use crate::model::weights::MlpWeights;

pub struct BurnRuntime {
    name: String,
    model: BurnMlp,
    head: Head,
}

impl BurnRuntime {
    pub fn new(name: impl Into<String>, weights: &MlpWeights, head: Head) -> Self {
        Self {
            name: name.into(),
            model: BurnMlp::new(weights, &burn_mlp::cpu()),
            head,
        }
    }
}

impl Runtime for BurnRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn predict(&mut self, x: ArrayView2<f32>) -> Result<Prediction, RuntimeError> {
        Ok(match self.head {
            Head::Logits => {
                let logits = self.model.logits(x);
                Prediction {
                    output: logits.clone(),
                    logits,
                }
            }
            Head::Sigmoid => {
                let (logits, output) = self.model.probabilities(x);
                Prediction { output, logits }
            }
        })
    }
}
