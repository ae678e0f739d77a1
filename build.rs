//! Generates the ONNX protobuf types from `proto/onnx.proto`.
//!
//! protox parses the schema in pure Rust, so building never needs a system `protoc`.

use std::error::Error;

const PROTO: &str = "proto/onnx.proto";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO}");
    println!("cargo:rerun-if-changed=build.rs");

    let descriptors = protox::compile([PROTO], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
