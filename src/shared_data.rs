//! Test-only access to the project's shared data (`../shared/...` beside the crate root): the
//! real MNIST files and the ONNX node test suite. The integration tests have the same helper in
//! `tests/common/mod.rs`.
//!
//! A test that needs one of these folders calls [`shared_dir`]. When the folder is missing it
//! panics, naming the folder, if the environment variable `CI` is set (CI must never pass
//! without running the check); otherwise it writes a `SKIPPED` line straight to the process's
//! stderr (not through `eprintln!`, which the test harness captures and hides for passing
//! tests), so `cargo test` shows which test skipped and why, and the test returns early.

use std::io::Write;
use std::path::{Path, PathBuf};

/// `../shared/<rel>` from the crate root when `../shared/<rel>/<probe>` exists (`probe` may be
/// empty: the folder itself must exist), else `None` after a visible skip line, or a panic
/// under CI.
pub(crate) fn shared_dir(rel: &str, probe: &str) -> Option<PathBuf> {
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
    if std::env::var_os("CI").is_some() {
        panic!(
            "{what} is missing: {test} needs it, and CI is set, so a skip would be a silent pass"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs {what} (absent; set CI=1 to make this a failure)"
    );
    None
}
