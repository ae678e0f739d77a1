//! Helpers the test suites share (the library's unit tests and the integration tests under
//! `tests/`): finding the project's shared data (`../shared/...` beside the crate root: the real
//! MNIST files and the ONNX node test suite) and onnxruntime's library, and skipping visibly when
//! one is absent. Not part of the tool's interface.
//!
//! When what a test needs is missing, [`skip`] panics if the environment variable `CI` is set
//! (CI must never pass without running the check); otherwise it writes a `SKIPPED` line straight
//! to the process's stderr (not through `eprintln!`, which the test harness captures and hides for
//! passing tests), so `cargo test` shows which test skipped and why, and the test returns early.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Under CI, a panic with `ci_message`; elsewhere a `SKIPPED {line}` line on stderr.
pub fn skip(ci_message: &str, line: &str) {
    assert!(std::env::var_os("CI").is_none(), "{ci_message}");
    let _ = writeln!(std::io::stderr(), "SKIPPED {line}");
}

/// `../shared/<rel>` from the crate root when `../shared/<rel>/<probe>` exists (`probe` may be
/// empty: the folder itself must exist), else `None` after [`skip`].
pub fn shared_dir(rel: &str, probe: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if dir.join(probe).exists() {
        return Some(dir);
    }
    let what = if probe.is_empty() {
        format!("../shared/{rel}")
    } else {
        format!("../shared/{rel}/{probe}")
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    skip(
        &format!(
            "{what} is missing: {test} needs it, and CI is set, so a skip would be a silent pass"
        ),
        &format!("{test}: needs {what} (absent; set CI=1 to make this a failure)"),
    );
    None
}

/// Whether onnxruntime's shared library is found (as the binary looks for it); `false` after
/// [`skip`].
pub fn onnxruntime() -> bool {
    match crate::runtime::onnxruntime::library() {
        Ok(_) => true,
        Err(message) => {
            skip(
                &format!("CI is set, so the onnxruntime tests must run: {message}"),
                &format!("an onnxruntime test ({message}); with CI set this fails"),
            );
            false
        }
    }
}
