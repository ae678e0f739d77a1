//! `bench`: how fast the tool does the work a user would otherwise do in TensorFlow and
//! onnxruntime, measured on this machine.
//!
//! Every figure is the median of several timed repetitions after a warm-up, with the range
//! kept beside it, and carries a stable `key` that `scripts/bench_reference.py` uses to pair it
//! with the same work measured in TensorFlow or onnxruntime. Where the arithmetic is known the
//! figure also carries its FLOPs per sample, so a reader can set it against the cores' peak.
//!
//! The stage measures and returns plain data; it never prints (the CLI renders the report) and
//! never changes what it measures: training here is the same code path as `train`, inference
//! the same tract plans as `demo` and `validate`.

mod infer;
mod train;
mod validate;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use validate::{ValidateChild, run_validate_child};

use crate::artifacts::Tool;
use crate::dataset::{self, Dataset, DatasetError};
use crate::validate::Started;

/// What to measure and on which data.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// MNIST IDX folder; `None` uses the embedded synthetic digits.
    pub data: Option<PathBuf>,
    /// Folder holding the committed models (`mnist-mlp/`, `keras-*/`).
    pub models: PathBuf,
    /// Timed repetitions per figure (the median is reported).
    pub repeat: usize,
    /// Untimed runs before the timed ones.
    pub warmup: usize,
    pub sections: Sections,
    /// Run the `validate` figures in a child process (needed for an isolated peak RSS).
    pub validate_child: Option<PathBuf>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            data: None,
            models: PathBuf::from("models"),
            repeat: 5,
            warmup: 1,
            sections: Sections::default(),
            validate_child: None,
        }
    }
}

/// Which groups of figures to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub train: bool,
    pub infer: bool,
    pub validate: bool,
    pub roof: bool,
}

impl Default for Sections {
    fn default() -> Self {
        Self {
            train: true,
            infer: true,
            validate: true,
            roof: true,
        }
    }
}

/// Unit of a figure; throughputs are better higher, times and memory lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    SamplesPerSecond,
    Seconds,
    #[serde(rename = "mib")]
    MiB,
    GflopsPerSecond,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::SamplesPerSecond => "samples/s",
            Unit::Seconds => "s",
            Unit::MiB => "MiB",
            Unit::GflopsPerSecond => "GFLOP/s",
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Stable name shared with `scripts/bench_reference.py`, e.g. `train.logits`.
    pub key: String,
    /// What was measured, for people.
    pub what: String,
    pub unit: Unit,
    /// The median over the timed repetitions.
    pub value: f64,
    /// The worst and best repetition, in the same unit.
    pub low: f64,
    pub high: f64,
    pub repetitions: usize,
    /// Arithmetic of one sample (multiply-adds count 2), where known.
    pub flops_per_sample: Option<f64>,
}

impl Figure {
    /// Achieved GFLOP/s, for throughputs with known arithmetic.
    pub fn gflops(&self) -> Option<f64> {
        match (self.unit, self.flops_per_sample) {
            (Unit::SamplesPerSecond, Some(f)) => Some(self.value * f / 1e9),
            _ => None,
        }
    }
}

/// The machine the figures were taken on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
    /// `debug` or `release`: a debug build's figures say nothing about the tool.
    pub build: String,
}

/// Everything `bench` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub tool: Tool,
    pub machine: Machine,
    /// `mnist` or `synthetic`.
    pub data: String,
    pub repeat: usize,
    pub warmup: usize,
    pub figures: Vec<Figure>,
    /// What could not be measured (a missing model file), one line each.
    pub skipped: Vec<String>,
}

/// Something that stopped the benchmark from running at all.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Data(#[from] DatasetError),
    #[error("{what}: {message}")]
    Setup { what: String, message: String },
}

impl BenchError {
    fn setup(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        BenchError::Setup {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// Samples of the data the benchmark uses: the MNIST test set has 10,000, and so does the
/// synthetic stand-in.
pub const SAMPLES: usize = 10_000;

/// The data: MNIST from `dir` (its first [`SAMPLES`]), or [`SAMPLES`] synthetic digits.
fn load_samples(dir: Option<&std::path::Path>) -> Result<(Dataset, &'static str), BenchError> {
    let (all, source) = match dir {
        Some(dir) => (dataset::load_mnist_dir(dir)?, "mnist"),
        None => (dataset::synthetic::generate(SAMPLES, 42), "synthetic"),
    };
    let (first, _) = all.split(SAMPLES.min(all.len()), 0)?;
    Ok((first, source))
}

/// Run every section asked for and collect the figures.
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    run_with(cfg, |_| {})
}

/// [`run`], calling `on_section` before each section starts (for a progress bar; it is called
/// between timings, never inside one).
pub fn run_with(
    cfg: &BenchConfig,
    mut on_section: impl FnMut(Started<'_>),
) -> Result<BenchReport, BenchError> {
    let (data, source) = load_samples(cfg.data.as_deref())?;
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    let timer = Timer {
        warmup: cfg.warmup,
        repeat: cfg.repeat.max(1),
    };
    let s = cfg.sections;
    let sections: Vec<&str> = [
        (s.roof, "roof"),
        (s.train, "train"),
        (s.infer, "infer"),
        (s.validate, "validate"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let mut start = |name: &str| {
        let index = sections.iter().position(|s| *s == name).unwrap_or(0);
        on_section(Started {
            index,
            total: sections.len(),
            name,
        });
    };
    if s.roof {
        start("roof");
        figures.extend(train::roof(&timer));
    }
    if s.train {
        start("train");
        figures.extend(train::run(&timer, &data)?);
    }
    if s.infer {
        start("infer");
        let (f, s) = infer::run(&timer, &cfg.models, &data);
        figures.extend(f);
        skipped.extend(s);
    }
    if s.validate {
        start("validate");
        figures.extend(validate::run(&timer, cfg, &data)?);
    }
    Ok(BenchReport {
        tool: Tool::default(),
        machine: machine(),
        data: source.to_string(),
        repeat: timer.repeat,
        warmup: timer.warmup,
        figures,
        skipped,
    })
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os: std::env::consts::OS.to_string(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
    }
}

/// Warm-up and repetition counts; every figure is timed through here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer {
    pub warmup: usize,
    pub repeat: usize,
}

/// Seconds of each timed repetition, sorted.
#[derive(Debug, Clone)]
pub(crate) struct Times(Vec<f64>);

impl Times {
    fn median(&self) -> f64 {
        let v = &self.0;
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    /// A throughput figure: `samples` per repetition divided by its time.
    pub fn throughput(&self, key: &str, what: &str, samples: usize, flops: Option<f64>) -> Figure {
        let rate = |t: f64| samples as f64 / t;
        Figure {
            key: key.to_string(),
            what: what.to_string(),
            unit: Unit::SamplesPerSecond,
            value: rate(self.median()),
            low: rate(self.0[self.0.len() - 1]),
            high: rate(self.0[0]),
            repetitions: self.0.len(),
            flops_per_sample: flops,
        }
    }

    /// A duration figure, in seconds.
    pub fn seconds(&self, key: &str, what: &str) -> Figure {
        Figure {
            key: key.to_string(),
            what: what.to_string(),
            unit: Unit::Seconds,
            value: self.median(),
            low: self.0[self.0.len() - 1],
            high: self.0[0],
            repetitions: self.0.len(),
            flops_per_sample: None,
        }
    }
}

impl Timer {
    /// Time `f` `repeat` times after `warmup` untimed calls.
    pub fn time<R>(&self, mut f: impl FnMut() -> R) -> Times {
        for _ in 0..self.warmup {
            black_box(f());
        }
        let mut times: Vec<f64> = (0..self.repeat)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        Times(times)
    }
}

/// Multiply-adds of a dense layer `[n_in] -> [n_out]`, as FLOPs per sample.
pub(crate) fn dense_flops(n_in: usize, n_out: usize) -> f64 {
    2.0 * (n_in * n_out) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range_of_a_throughput() {
        let t = Times(vec![1.0, 2.0, 4.0]);
        let f = t.throughput("k", "w", 100, Some(10.0));
        assert_eq!((f.value, f.low, f.high), (50.0, 25.0, 100.0));
        assert_eq!(f.gflops(), Some(50.0 * 10.0 / 1e9));
        let even = Times(vec![1.0, 3.0]);
        assert_eq!(even.seconds("k", "w").value, 2.0);
    }

    #[test]
    fn the_timer_runs_warmup_then_repeats() {
        let mut calls = 0;
        let t = Timer {
            warmup: 2,
            repeat: 3,
        }
        .time(|| calls += 1);
        assert_eq!(calls, 5);
        assert_eq!(t.0.len(), 3);
        assert!(t.0.windows(2).all(|w| w[0] <= w[1]));
    }
}
