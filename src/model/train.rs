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

use crate::dataset::{Dataset, binarize};
use crate::loss::{self, Formulation};
use crate::model::burn_mlp::{self, BurnMlp};
use crate::model::optim::OptimizerConfig;
use crate::model::weights::MlpWeights;
use crate::rng::Rng;

/// Number of independent binary targets: one per digit class.
pub const CLASSES: usize = 10;

/// Everything that decides a training run. Saved next to every artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    /// Hidden layer widths, input side first (the seed model has one: `[128]`).
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
    /// Layer widths for `inputs` features, hidden layers, then the [`CLASSES`] outputs.
    pub fn sizes(&self, inputs: usize) -> Vec<usize> {
        let mut sizes = vec![inputs];
        sizes.extend(&self.hidden);
        sizes.push(CLASSES);
        sizes
    }

    /// The seeded default initialisation for this architecture.
    pub fn glorot_init(&self, inputs: usize) -> MlpWeights {
        MlpWeights::glorot_uniform(&self.sizes(inputs), self.seed)
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
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad("hidden", "every width must be at least 1");
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
    pub initial: MlpWeights,
    pub trained: FormPair<MlpWeights>,
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Evaluate one trained model on a set with its own formulation's loss (reference f32 losses).
pub fn evaluate(
    weights: &MlpWeights,
    form: Formulation,
    x: ArrayView2<f32>,
    targets: ArrayView2<f32>,
) -> EvalScore {
    let model = BurnMlp::new(weights, &burn_mlp::cpu());
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

/// Train both formulations in lockstep from `initial`. `config` must have passed
/// [`TrainConfig::validate`], and `initial` must have `config.sizes(features)`.
pub fn train(
    config: &TrainConfig,
    initial: MlpWeights,
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
    let train_targets = binarize(&train_set.labels, CLASSES);
    let eval_targets = binarize(&eval_set.labels, CLASSES);
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
                    burn_mlp::loss_and_grads(
                        &weights.probs,
                        x.view(),
                        y.view(),
                        Formulation::Probs,
                        &device,
                    )
                });
                let lg = burn_mlp::loss_and_grads(
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
