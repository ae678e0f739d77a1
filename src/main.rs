//! The onnx-parity binary: parse the command line, run, exit with the verdict's code.

use std::process::ExitCode;

use clap::Parser;
use onnx_parity::verdict::Verdict;

fn main() -> ExitCode {
    let cli = onnx_parity::cli::Cli::parse();
    let verdict = onnx_parity::cli::run(cli).unwrap_or_else(|err| {
        // One line: the error and its causes, outermost first.
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        eprintln!("error: {}", chain.join(": "));
        Verdict::Error
    });
    ExitCode::from(verdict.exit_code())
}
