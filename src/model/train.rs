//! Training both formulations side by side: same initial weights, same batches, same update rule.
//!
//! Why lockstep: the claim under test is that the logits form and the probability form train the
//! same model up to rounding. Running them batch by batch from one weight set and one sample order
//! leaves nothing else that could make them differ. The per-step record is the forward pass
//! before the update, which is what Keras `train_on_batch` reports.
//!
//! This module must never print or draw: progress goes to the observer the caller passes.

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::loss::{self, Formulation};
use crate::model::burn_mlp;
use crate::model::graph::{self, BurnModel};
use crate::model::optim::OptimizerConfig;
use crate::model::weights::{Arch, CnnDims, CnnWeights, MlpWeights, ModelWeights};
use crate::rng::Rng;

/// Everything that decides a training run. Saved next to every artifact.
///
/// The MLP's config serializes as it did before the CNN existed (no `arch` key), so its
/// artifacts keep their bytes; a CNN's carries `"arch": {"kind": "cnn", "filters": 8}` and no
/// `hidden`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    /// Which network; the MLP's widths are `hidden`.
    #[serde(default, skip_serializing_if = "Arch::is_mlp")]
    pub arch: Arch,
    /// Hidden layer widths of the MLP, input side first (the seed model has one: `[128]`).
    /// Empty for the CNN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<usize>,
    /// Where the initial weights came from.
    pub init: InitSource,
    pub epochs: usize,
    /// Stop after this many steps (batches) in total, whatever `epochs` says.
    pub max_steps: Option<usize>,
    pub batch_size: usize,
    pub optimizer: OptimizerConfig,
    /// Reshuffle the training samples every epoch (seeded); otherwise file order.
    pub shuffle: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            arch: Arch::Mlp,
            hidden: vec![128],
            init: InitSource::GlorotUniform,
            epochs: 3,
            max_steps: None,
            batch_size: 100,
            optimizer: OptimizerConfig::adam(1e-3),
            shuffle: true,
        }
    }
}

/// Initial weights: Keras's default initialisation from the seed, or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitSource {
    /// Glorot-uniform kernels drawn from the config's seed, zero biases.
    GlorotUniform,
    /// Loaded from an `.npz` file (`--init`), identified by its sha256.
    File { sha256: String },
}

impl TrainConfig {
    /// A CNN config with `filters` convolution filters and the other defaults.
    pub fn cnn(filters: usize) -> Self {
        Self {
            arch: Arch::Cnn { filters },
            hidden: Vec::new(),
            ..Self::default()
        }
    }

    /// The seeded default initialisation (Keras's glorot-uniform, zero biases) of this
    /// architecture for images `[height, width, channels]` and `outputs` targets.
    ///
    /// # Panics
    /// For a CNN on images smaller than 4x4; [`TrainConfig::check_input`] says so first.
    pub fn glorot_init(&self, image: [usize; 3], outputs: usize) -> ModelWeights {
        match self.arch {
            Arch::Mlp => {
                let mut sizes = vec![image.iter().product()];
                sizes.extend(&self.hidden);
                sizes.push(outputs);
                MlpWeights::glorot_uniform(&sizes, self.seed).into()
            }
            Arch::Cnn { filters } => {
                CnnWeights::glorot_uniform(image, filters, outputs, self.seed).into()
            }
        }
    }

    /// Whether the architecture can take images of this size (the CNN needs 4x4 at least).
    pub fn check_input(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        match self.arch {
            Arch::Cnn { filters } if CnnDims::new(image, filters).is_none() => Err(ConfigError {
                flag: "arch",
                problem: format!(
                    "the CNN needs images of at least 4x4 pixels, the data has {}x{}",
                    image[0], image[1]
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// A configuration that cannot train, with the offending field named as a CLI flag.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("--{flag}: {problem}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub problem: String,
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |flag, problem: &str| {
            Err(ConfigError {
                flag,
                problem: problem.to_string(),
            })
        };
        if self.batch_size == 0 {
            return bad("batch", "must be at least 1");
        }
        match self.arch {
            Arch::Mlp if self.hidden.is_empty() || self.hidden.contains(&0) => {
                return bad("hidden", "every width must be at least 1");
            }
            Arch::Cnn { .. } if !self.hidden.is_empty() => {
                return bad("hidden", "applies to --arch mlp only");
            }
            Arch::Cnn { filters: 0 } => return bad("filters", "must be at least 1"),
            _ => {}
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.max_steps == Some(0) {
            return bad("steps", "must be at least 1");
        }
        let lr = self.optimizer.lr();
        if !lr.is_finite() || lr <= 0.0 {
            return bad("lr", &format!("must be a finite number above 0, got {lr}"));
        }
        Ok(())
    }
}

/// Loss and binary accuracy of one formulation on one batch or set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub loss: f64,
    pub binary_accuracy: f64,
}

/// One training step, recorded before the update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub epoch: usize,
    pub logits: Score,
    pub probs: Score,
    /// Elements of the batch where the probability model's output hit the clip.
    pub probs_clipped: usize,
}

/// Held-out evaluation of one formulation at the end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalScore {
    pub loss: f64,
    pub binary_accuracy: f64,
    /// Elements whose probability hit the clip (only the probability form clips).
    pub clipped: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub steps: usize,
    /// Means of the step records of this epoch.
    pub train: FormPair<Score>,
    /// Each model on the held-out set, by its own formulation's loss.
    pub eval: FormPair<EvalScore>,
    /// `|logits - probs|` of the eval loss and eval binary accuracy.
    pub eval_loss_diff: f64,
    pub eval_accuracy_diff: f64,
}

/// A value per formulation, serialized as `{"logits": .., "probs": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FormPair<T> {
    pub logits: T,
    pub probs: T,
}

impl<T> FormPair<T> {
    pub fn get(&self, form: Formulation) -> &T {
        match form {
            Formulation::Logits => &self.logits,
            Formulation::Probs => &self.probs,
        }
    }
}

/// What the caller learns while training runs.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    Started { total_steps: usize },
    Step(&'a StepRecord),
    Epoch(&'a EpochRecord),
}

/// The complete outcome: the log plus the weights each formulation ended with.
#[derive(Debug, Clone)]
pub struct TrainRun {
    pub config: TrainConfig,
    pub initial: ModelWeights,
    pub trained: FormPair<ModelWeights>,
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Evaluate one trained model on a set with its own formulation's loss (reference f32 losses).
pub fn evaluate(
    weights: &ModelWeights,
    form: Formulation,
    x: ArrayView2<f32>,
    targets: ArrayView2<f32>,
) -> EvalScore {
    let model = BurnModel::new(weights, &burn_mlp::cpu());
    let (logits, probs) = model.probabilities(x);
    let t = targets.into_dyn();
    let loss = match form {
        Formulation::Logits => loss::logits_form_f32(&logits.view().into_dyn(), &t),
        Formulation::Probs => loss::probs_form_f32(&probs.view().into_dyn(), &t),
    }
    .expect("model output and targets share a shape");
    let binary_accuracy =
        loss::binary_accuracy(&probs.view().into_dyn(), &t).expect("same shape as above");
    EvalScore {
        loss: loss.value,
        binary_accuracy,
        clipped: loss.clipped,
    }
}

/// Steps per epoch and in total for a training set of `n` samples.
pub fn planned_steps(config: &TrainConfig, n: usize) -> usize {
    let per_epoch = n.div_ceil(config.batch_size);
    let total = per_epoch * config.epochs;
    config.max_steps.map_or(total, |m| m.min(total))
}

/// Train both formulations in lockstep from `initial` on the sets' targets. `config` must have
/// passed [`TrainConfig::validate`], and `initial` must fit the data (the shapes of
/// [`TrainConfig::glorot_init`] for its images and target columns).
pub fn train(
    config: &TrainConfig,
    initial: ModelWeights,
    train_set: &Dataset,
    eval_set: &Dataset,
    mut observe: impl FnMut(Progress<'_>),
) -> TrainRun {
    let device = burn_mlp::cpu();
    let mut weights = FormPair {
        logits: initial.clone(),
        probs: initial.clone(),
    };
    let mut opt_logits = config.optimizer.build(&initial);
    let mut opt_probs = config.optimizer.build(&initial);
    let train_targets = train_set.targets();
    let eval_targets = eval_set.targets();
    let total_steps = planned_steps(config, train_set.len());
    observe(Progress::Started { total_steps });

    let mut steps = Vec::with_capacity(total_steps);
    let mut epochs = Vec::with_capacity(config.epochs);
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    for epoch in 0..config.epochs {
        if steps.len() == total_steps {
            break;
        }
        if config.shuffle {
            Rng::derive(config.seed, &format!("batch-order-{epoch}")).shuffle(&mut order);
        }
        let first_step = steps.len();
        for batch in order.chunks(config.batch_size) {
            if steps.len() == total_steps {
                break; // the epoch is still recorded, with the steps it ran
            }
            let x = train_set.images.select(Axis(0), batch);
            let y = train_targets.select(Axis(0), batch);
            // The two formulations share nothing but the batch, so their passes run on two
            // threads; each is the same deterministic computation it would be on one.
            let (lg, pr) = std::thread::scope(|s| {
                let probs = s.spawn(|| {
                    graph::loss_and_grads(
                        &weights.probs,
                        x.view(),
                        y.view(),
                        Formulation::Probs,
                        &device,
                    )
                });
                let lg = graph::loss_and_grads(
                    &weights.logits,
                    x.view(),
                    y.view(),
                    Formulation::Logits,
                    &device,
                );
                (
                    lg,
                    probs.join().expect("the probability-form pass panicked"),
                )
            });
            opt_logits.step(&mut weights.logits, &lg.grads);
            opt_probs.step(&mut weights.probs, &pr.grads);
            let record = StepRecord {
                step: steps.len(),
                epoch,
                logits: batch_score(lg.loss, &lg.logits, &y),
                probs: batch_score(pr.loss, &pr.logits, &y),
                probs_clipped: clipped_count(&pr.logits),
            };
            observe(Progress::Step(&record));
            steps.push(record);
        }
        let done = &steps[first_step..];
        let pair = |f: fn(&StepRecord) -> &Score| Score {
            loss: mean(done.iter().map(|s| f(s).loss)),
            binary_accuracy: mean(done.iter().map(|s| f(s).binary_accuracy)),
        };
        let eval = FormPair {
            logits: evaluate(
                &weights.logits,
                Formulation::Logits,
                eval_set.images.view(),
                eval_targets.view(),
            ),
            probs: evaluate(
                &weights.probs,
                Formulation::Probs,
                eval_set.images.view(),
                eval_targets.view(),
            ),
        };
        let record = EpochRecord {
            epoch,
            steps: done.len(),
            train: FormPair {
                logits: pair(|s| &s.logits),
                probs: pair(|s| &s.probs),
            },
            eval_loss_diff: (eval.logits.loss - eval.probs.loss).abs(),
            eval_accuracy_diff: (eval.logits.binary_accuracy - eval.probs.binary_accuracy).abs(),
            eval,
        };
        observe(Progress::Epoch(&record));
        epochs.push(record);
    }
    TrainRun {
        config: config.clone(),
        initial,
        trained: weights,
        steps,
        epochs,
    }
}

fn batch_score(loss: f32, logits: &Array2<f32>, targets: &Array2<f32>) -> Score {
    let probs = logits.mapv(loss::sigmoid_f32);
    let binary_accuracy =
        loss::binary_accuracy(&probs.view().into_dyn(), &targets.view().into_dyn())
            .expect("logits and targets share the batch shape");
    Score {
        loss: f64::from(loss),
        binary_accuracy,
    }
}

fn clipped_count(logits: &Array2<f32>) -> usize {
    let (lo, hi) = (loss::KERAS_EPSILON, 1.0 - loss::KERAS_EPSILON);
    logits
        .iter()
        .map(|&z| loss::sigmoid_f32(z))
        .filter(|&p| p < lo || p > hi)
        .count()
}
