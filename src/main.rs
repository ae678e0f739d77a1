//! The onnx-parity binary: parse the command line, run, exit with the verdict's code.

use std::process::ExitCode;

use clap::Parser;
use onnx_parity::verdict::Verdict;

fn main() -> ExitCode {
    bounded_heap();
    let cli = onnx_parity::cli::Cli::parse();
    let verdict = onnx_parity::cli::run(cli).unwrap_or_else(|err| {
        // One line: the error and its causes, outermost first.
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        eprintln!("error: {}", chain.join(": "));
        Verdict::Error
    });
    ExitCode::from(verdict.exit_code())
}

/// Buffers of 4 MiB and more are mapped on their own and returned to the system when freed.
/// glibc's default raises that threshold to the size of the largest buffer freed (up to 32 MiB):
/// the 31 MB input blocks of `validate --chunk 10000` then came from the heap, which freed blocks
/// fragmented, and a million-sample run peaked at 280-460 MB instead of about 100 MB (README,
/// "Test sets larger than memory").
fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called once, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
