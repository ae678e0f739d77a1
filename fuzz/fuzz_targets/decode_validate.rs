//! Fuzzes the decode + validate path: one input is a model, an input_0.pb and an output_0.pb
//! packed together (`onnx_parity::validate::fuzzing::pack`), written to a folder and validated
//! as a user's files would be. Any panic or abort is a finding; tract's own panics are caught
//! by the validator's guard and come back as errors, which is the behaviour under test. With
//! `ONNX_PARITY_FUZZ_RUNTIME=onnxruntime` (and the library found as the README says) the model
//! runs under onnxruntime instead, C++ in the process: a crash there is a finding too.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onnx_parity::runtime::RuntimeKind;
use onnx_parity::validate::fuzzing::run_one_with;

fn workdir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("onnx-parity-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fn runtime() -> RuntimeKind {
    static RUNTIME: OnceLock<RuntimeKind> = OnceLock::new();
    *RUNTIME.get_or_init(|| match std::env::var("ONNX_PARITY_FUZZ_RUNTIME") {
        Ok(name) => name.parse().expect("ONNX_PARITY_FUZZ_RUNTIME: tract or onnxruntime"),
        Err(_) => RuntimeKind::Tract,
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = run_one_with(data, workdir(), runtime());
});
