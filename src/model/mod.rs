//! The model stage: weights, the burn graphs, optimizers, lockstep training, ONNX export.
//!
//! Why one stage: everything here knows the architectures (the MLP and the CNN). Nothing here
//! reads files or talks to a runtime other than burn.

pub mod burn_cnn;
pub mod burn_mlp;
pub mod export;
pub mod graph;
pub mod npz;
pub mod optim;
pub mod train;
pub mod weights;

pub use optim::{AdamVariant, OptimizerConfig};
pub use train::{TrainConfig, TrainRun, train};
pub use weights::{Arch, CnnWeights, Conv2d, Dense, MlpWeights, ModelWeights};
