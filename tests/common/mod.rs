//! Helpers shared by the integration tests: run the real binary in a temp dir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_onnx-parity"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str], cwd: &Path) -> Run {
    let out: Output = bin()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("binary runs");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The crate root (where `models/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data/mnist` if present; tests that need it print why they skip.
pub fn shared_mnist() -> Option<PathBuf> {
    let dir = root().join("../shared/data/mnist");
    if dir.join("t10k-images-idx3-ubyte.gz").exists() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/data/mnist not present");
        None
    }
}

/// Every file below `dir`, as sorted relative paths.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}
