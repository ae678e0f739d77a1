//! onnx-parity proves that a trained model and its ONNX export compute the same thing.
//!
//! The data flow, one module per stage:
//!
//! 1. [`dataset`] and [`refdata`]: samples in (MNIST IDX or embedded synthetic digits), and every
//!    file the crate reads (test sets, NumPy, IDX) through one size-checked reader.
//! 2. [`model`]: a burn MLP or CNN trained twice in lockstep, once per sigmoid-BCE formulation
//!    ([`loss`]), then exported to ONNX by our own protobuf code ([`onnx`]).
//! 3. [`runtime`]: one seam through which every model runs: tract, the trained burn graph,
//!    burn-import's code, recorded reference data.
//! 4. [`metrics`]: named tolerances and how two tensors differ.
//! 5. The commands, each a library call: [`pipeline`] (`demo`, `train`), [`validate`],
//!    [`compare`] (and its `reduce`), [`matrix`], [`conformance`], [`inspect`], [`bench`]; each
//!    reaches a [`verdict::Verdict`].
//! 6. [`report`] renders any command's result in any format; [`artifacts`] writes files; [`cli`]
//!    only parses flags.
//!
//! ```
//! use onnx_parity::metrics::Preset;
//! use onnx_parity::model::TrainConfig;
//! use onnx_parity::pipeline::{DataConfig, check_parity, train_and_export};
//! use onnx_parity::verdict::Verdict;
//!
//! let config = TrainConfig { hidden: vec![16], epochs: 1, ..TrainConfig::default() };
//! let data = DataConfig { train: 300, eval: 100, ..DataConfig::default() };
//! let trained = train_and_export(&config, &data, None, |_| {}).unwrap();
//! let report = check_parity(&trained, Preset::Default.tolerance(), "default").unwrap();
//! assert_eq!(report.status, Verdict::Pass);
//! assert!(report.exports.iter().all(|e| e.output.max_abs_err <= 1e-5));
//! ```

pub mod artifacts;
pub mod bench;
pub mod cli;
pub mod compare;
pub mod conformance;
pub mod dataset;
pub mod inspect;
pub mod loss;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod pipeline;
pub mod refdata;
pub mod report;
pub mod rng;
pub mod runtime;
#[doc(hidden)]
pub mod testing;
pub mod validate;
pub mod verdict;

/// An error and its causes joined by ": ", outermost first: how every error is printed, on one
/// line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
