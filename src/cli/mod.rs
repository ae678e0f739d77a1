//! Command-line interface: arguments to library configs, the report to stdout in the chosen
//! format, the verdict back to `main`.
//!
//! The library never sees clap types, and this module does no library work: every command is a
//! config built from flags, one library call, one [`crate::report::Report`] rendered, and a
//! [`Verdict`] (which `main` turns into the exit code, the only place that does).

mod args;
mod bench;
mod compare;
mod matrix;
mod merge;
mod progress;
mod reduce;
mod train;
mod validate;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::verdict::Verdict;

/// `--version`: the crate version and the git commit the binary was built from (build.rs sets
/// `ONNX_PARITY_COMMIT`: a short hash, `-dirty` when tracked files differed from it, or `unknown`
/// outside a git checkout). Reports and artifacts carry the crate version alone, so committed
/// artifacts do not change with every commit.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ONNX_PARITY_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "onnx-parity",
    version = VERSION,
    about = "Prove that a trained model and its ONNX export compute the same thing"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads for tract's kernels wherever tract runs a model (validate, compare, matrix,
    /// demo, bench, ...). Default: every core. Results are bit-identical on any count.
    #[arg(
        long,
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=crate::runtime::tract::MAX_THREADS as i64)
    )]
    threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train both sigmoid-BCE formulations, export both to ONNX, reload in tract, check parity.
    Demo(train::DemoArgs),
    /// Train both formulations from the same start and batches; print and log per-epoch figures.
    Train(train::TrainCommandArgs),
    /// Write our ONNX export of given weights (Keras-layout .npz) without training.
    Export(train::ExportArgs),
    /// Write the embedded synthetic digits as MNIST IDX files, for Python tools to read.
    Data(train::DataArgs),
    /// Validate an ONNX model against reference data (outputs, both sigmoid-BCE losses and
    /// their verdict), under tract or onnxruntime, or every model of a manifest.
    Validate(validate::ValidateArgs),
    /// Describe an ONNX file: versions, inputs/outputs, operators, parameters, metadata, sha256.
    Inspect(validate::InspectArgs),
    /// Run two implementations of a model (each ONNX side under tract or onnxruntime) on the
    /// same inputs; with --layers, find where they diverge and which layer causes it (its own
    /// error beyond float rounding, or a replaced op).
    Compare(compare::CompareArgs),
    /// Cut a model that diverges from a reference down to the smallest diverging piece, and
    /// write it with its reference data (backend-test layout) for a bug report.
    Reduce(reduce::ReduceArgs),
    /// Run validate over a folder of ONNX node tests (tract or onnxruntime) and count
    /// pass/fail/unsupported.
    Conformance(validate::ConformanceArgs),
    /// Combine the JSON reports of `validate --shard I/N` runs into the report and verdict of
    /// the whole validation (README: "Sharding across machines").
    Merge(merge::MergeArgs),
    /// Run any ONNX file (or the committed cases) through every runtime available (tract,
    /// onnxruntime, burn-import, the trained burn graph) and compare every pair of outputs,
    /// with losses per runtime given labels.
    Matrix(matrix::MatrixArgs),
    /// Measure training, inference and validate throughput (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
}

/// Runs the parsed command. `Err` means it could not run; `main` prints it and exits 2.
pub fn run(cli: Cli) -> Result<Verdict> {
    if let Some(threads) = cli.threads {
        crate::runtime::tract::set_default_threads(usize::from(threads));
    }
    match &cli.command {
        Command::Demo(args) => train::run_demo(args),
        Command::Train(args) => train::run_train(args),
        Command::Export(args) => train::run_export(args),
        Command::Data(args) => train::run_data(args),
        Command::Validate(args) => validate::run_validate(args),
        Command::Inspect(args) => validate::run_inspect(args),
        Command::Conformance(args) => validate::run_conformance(args),
        Command::Merge(args) => merge::run_merge(args),
        Command::Compare(args) => compare::run_compare(args),
        Command::Reduce(args) => reduce::run_reduce(args),
        Command::Matrix(args) => matrix::run_matrix(args),
        Command::Bench(args) => bench::run_bench(args),
    }
}
