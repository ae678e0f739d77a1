//! Generates the ONNX protobuf types from `proto/onnx.proto`, records the git commit the binary
//! is built from (for `--version`) and, with the `burn-import` feature, burn code for committed
//! ONNX artifacts.
//!
//! protox parses the schema in pure Rust, so building never needs a system `protoc`.

use std::error::Error;

const PROTO: &str = "proto/onnx.proto";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO}");
    println!("cargo:rerun-if-changed=build.rs");

    let descriptors = protox::compile([PROTO], ["proto"])?;
    // A tensor's raw bytes as `Bytes`: decoding a file read into one buffer then slices it
    // instead of copying the tensor twice (prost's default `Vec<u8>`).
    prost_build::Config::new()
        .bytes([".onnx.TensorProto.raw_data"])
        .compile_fds(descriptors)?;

    build_commit::emit();

    #[cfg(feature = "burn-import")]
    burn_import_models::generate()?;
    Ok(())
}

/// Sets `ONNX_PARITY_COMMIT`, which `onnx-parity --version` prints: `git rev-parse --short HEAD`
/// with `-dirty` appended when the files the binary is compiled from (`SOURCES`) differ from that
/// commit (uncommitted or unstaged edits; untracked files do not count), or `unknown` when the
/// source is not a git checkout of this crate (an sdist, a tarball). A packager building from a
/// tarball can set `ONNX_PARITY_COMMIT` in the environment to say which commit it is.
///
/// What it must never do: fail the build, or report the commit of another repository that merely
/// contains an unpacked source tree (the checkout's top level must be this crate's folder).
///
/// Cargo reruns this script when HEAD moves (new commit, checkout), when the branch it points to
/// moves, when the index changes, or when a source file of the binary changes, so the commit and
/// the dirty marker are those of the tree the binary was compiled from.
mod build_commit {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const VAR: &str = "ONNX_PARITY_COMMIT";
    /// What the binary is compiled from: only an edit here makes it dirty.
    const SOURCES: &[&str] = &["src", "proto", "build.rs", "Cargo.toml", "Cargo.lock"];

    pub fn emit() {
        println!("cargo:rerun-if-env-changed={VAR}");
        let commit = std::env::var(VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(from_git)
            .unwrap_or_else(|| "unknown".to_string());
        println!("cargo:rustc-env={VAR}={commit}");
    }

    fn from_git() -> Option<String> {
        let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
        let top = git(&crate_dir, &["rev-parse", "--show-toplevel"])?;
        if Path::new(&top).canonicalize().ok()? != crate_dir.canonicalize().ok()? {
            return None;
        }
        // In a worktree HEAD and the index live in its own git dir, branches in the common one.
        let git_dir = crate_dir.join(git(&crate_dir, &["rev-parse", "--git-dir"])?);
        let common = crate_dir.join(git(&crate_dir, &["rev-parse", "--git-common-dir"])?);
        let mut watched = vec![git_dir.join("HEAD"), git_dir.join("index")];
        watched.push(common.join("packed-refs"));
        if let Some(branch) = git(&crate_dir, &["symbolic-ref", "-q", "HEAD"]) {
            let loose = common.join(&branch);
            // The folder too: a branch whose ref is packed gets a loose file at its next commit.
            watched.extend(loose.parent().map(Path::to_path_buf));
            watched.push(loose);
        }
        watched.extend(SOURCES.iter().map(|s| crate_dir.join(s)));
        // A path that does not exist would make cargo rerun the script on every build.
        for path in watched.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }

        let hash = git(&crate_dir, &["rev-parse", "--short", "HEAD"])?;
        // Dirty means the binary's own sources differ from the commit (an edited README does not
        // count). --no-optional-locks: reading the status must not rewrite the watched index.
        let mut status_args = vec![
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
        ];
        status_args.extend(SOURCES);
        let status = git(&crate_dir, &status_args)?;
        Some(if status.is_empty() {
            hash
        } else {
            format!("{hash}-dirty")
        })
    }

    /// Trimmed stdout of a successful git command; `None` when git is missing or fails.
    fn git(dir: &Path, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// burn-import (a wrapper over burn-onnx's `ModelGen`) turns each artifact below into a burn
/// `Model` in `$OUT_DIR/burn_import/<name>/model.rs` plus its weights `model.bpk`.
///
/// What it must never do: fail the build. `ModelGen` panics on a graph it cannot convert, so
/// each artifact is converted on its own behind `catch_unwind`, and the outcome goes into
/// `$OUT_DIR/burn_import/models.rs`, one line per artifact of a `burn_import_models!` call (see
/// `src/runtime/burn_import.rs`): the artifact's sha256, then `converted` or `failed` with
/// burn-import's own message, which the runtime reports when asked for that model. Weights are
/// loaded from bytes the runtime embeds, never from a path, so the binary works from any
/// checkout location.
#[cfg(feature = "burn-import")]
mod burn_import_models {
    use std::error::Error;
    use std::fmt::Write as _;
    use std::panic::{self, AssertUnwindSafe};
    use std::path::Path;

    use sha2::{Digest, Sha256};

    #[allow(deprecated)] // burn-import 0.22 re-exports burn-onnx under a deprecation notice
    use burn_import::onnx::{LoadStrategy, ModelGen};

    /// `(module name, artifact)`: the module name is how `src/runtime/burn_import.rs` refers to it.
    pub const MODELS: &[(&str, &str)] = &[
        ("keras_seed", "models/keras-mlp-sigmoid/model.onnx"),
        ("our_export", "models/mnist-mlp/probs/model.onnx"),
        ("tf2onnx_export", "models/keras-from-rust-mlp/model.onnx"),
        ("keras_cnn", "models/keras-cnn/model.onnx"),
    ];

    pub fn generate() -> Result<(), Box<dyn Error>> {
        let out_dir = std::env::var("OUT_DIR")?;
        let root = Path::new(&out_dir).join("burn_import");
        std::fs::create_dir_all(&root)?;
        let mut list = String::from(
            "// Written by build.rs: what burn-import made of each artifact.\nburn_import_models! {\n",
        );
        for &(name, onnx) in MODELS {
            println!("cargo:rerun-if-changed={onnx}");
            // A missing file is one more artifact burn-import could not convert, not a build error.
            let read = std::fs::read(onnx).map_err(|e| format!("reading {onnx}: {e}"));
            let sha256 = read
                .as_ref()
                .map_or(String::new(), |b| format!("{:x}", Sha256::digest(b)));
            let outcome = match read.and_then(|_| convert(name, onnx)) {
                Ok(()) => "converted".to_string(),
                Err(reason) => {
                    let reason = scrub_paths(&reason, &out_dir);
                    let one_line = reason.replace('\n', " ");
                    println!("cargo:warning=burn-import could not convert {onnx}: {one_line}");
                    format!("failed {reason:?}")
                }
            };
            writeln!(list, "    {name}: {onnx:?}, {sha256:?}, {outcome};")?;
        }
        list.push_str("}\n");
        std::fs::write(root.join("models.rs"), list)?;
        Ok(())
    }

    /// Run `ModelGen` on one artifact (a relative path, so the generated code names no machine
    /// path), turning its panic into the message.
    fn convert(name: &str, onnx: &str) -> Result<(), String> {
        let quiet = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            ModelGen::new()
                .input(onnx)
                .out_dir(&format!("burn_import/{name}/"))
                .load_strategy(LoadStrategy::Bytes)
                .run_from_script();
        }));
        panic::set_hook(quiet);
        outcome.map_err(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "burn-import panicked without a message".to_string())
        })?;
        let out_dir = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
        let code = Path::new(&out_dir).join(format!("burn_import/{name}/model.rs"));
        let code = std::fs::read_to_string(&code).map_err(|e| e.to_string())?;
        callable(&code)
    }

    /// The runtime calls `forward` with one float tensor and reads back `[n, outputs]`. Code
    /// with another signature would not compile there, so it is refused here, by its text.
    fn callable(code: &str) -> Result<(), String> {
        let signature = code
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("pub fn forward(&self"))
            .ok_or("burn-import generated no `forward` method")?;
        let single_tensor_in = signature
            .strip_prefix("pub fn forward(&self, ")
            .and_then(|rest| rest.split_once(": Tensor<"))
            .and_then(|(_, rest)| rest.split_once(">) -> Tensor<2> {"))
            .is_some_and(|(rank, tail)| rank.parse::<usize>().is_ok() && tail.is_empty());
        if single_tensor_in {
            Ok(())
        } else {
            Err(format!(
                "burn-import generated `{signature}`; the runtime runs one float tensor in, \
                 one rank-2 float tensor out"
            ))
        }
    }

    /// Messages may quote files under `OUT_DIR` or the checkout; keep them machine-independent.
    fn scrub_paths(message: &str, out_dir: &str) -> String {
        let mut message = message.replace(out_dir, "$OUT_DIR");
        if let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") {
            message = message.replace(&format!("{dir}/"), "");
        }
        message
    }
}
