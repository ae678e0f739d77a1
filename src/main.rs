use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = onnx_parity::cli::Cli::parse();
    match onnx_parity::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // One line: the error and its causes, outermost first.
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
