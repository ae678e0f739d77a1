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
mod progress;
mod train;
mod validate;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::verdict::Verdict;

#[derive(Debug, Parser)]
#[command(
    name = "onnx-parity",
    version,
    about = "Prove that a trained model and its ONNX export compute the same thing"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Validate an ONNX model against reference data (outputs, both sigmoid-BCE losses), or
    /// every model of a manifest.
    Validate(validate::ValidateArgs),
    /// Describe an ONNX file: versions, inputs/outputs, operators, parameters, metadata, sha256.
    Inspect(validate::InspectArgs),
    /// Run two implementations of a model on the same inputs; with --layers, find where they diverge.
    Compare(compare::CompareArgs),
    /// Run validate over a folder of ONNX node tests and count pass/fail/unsupported.
    Conformance(validate::ConformanceArgs),
    /// Run every runtime (TensorFlow's recorded outputs, burn, tract, burn-import) on the same
    /// inputs and compare every pair of outputs.
    Matrix(matrix::MatrixArgs),
    /// Measure training, inference and validate throughput (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
}

/// Runs the parsed command. `Err` means it could not run; `main` prints it and exits 2.
pub fn run(cli: Cli) -> Result<Verdict> {
    match &cli.command {
        Command::Demo(args) => train::run_demo(args),
        Command::Train(args) => train::run_train(args),
        Command::Export(args) => train::run_export(args),
        Command::Data(args) => train::run_data(args),
        Command::Validate(args) => validate::run_validate(args),
        Command::Inspect(args) => validate::run_inspect(args),
        Command::Conformance(args) => validate::run_conformance(args),
        Command::Compare(args) => compare::run_compare(args),
        Command::Matrix(args) => matrix::run_matrix(args),
        Command::Bench(args) => bench::run_bench(args),
    }
}
