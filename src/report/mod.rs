//! Renderers: plain data in, bytes out.
//!
//! Why: the same report goes to a terminal, a JSON file for CI, and snapshot tests. Renderers do
//! no I/O and make no decisions; the verdict is already in the data.

mod divergence;
mod junit;
mod text;
mod validate;

pub use divergence::{render_compare_json, render_compare_junit, render_compare_text};
pub use junit::render_validate_junit;
pub use text::{render_demo_text, render_epoch_table};
pub use validate::{
    render_conformance_json, render_conformance_text, render_inspect_json, render_inspect_text,
    render_validate_json, render_validate_text,
};

use serde::Serialize;

use crate::artifacts::Tool;
use crate::model::train::{EpochRecord, StepRecord, TrainConfig};
use crate::pipeline::{DataInfo, DemoReport};

/// The training log written by `--log-json`: the run's config, then per-epoch and per-step
/// records (the step records are the forward pass before each update).
#[derive(Debug, Serialize)]
pub struct TrainLog<'a> {
    pub tool: Tool,
    pub config: &'a TrainConfig,
    pub data: &'a DataInfo,
    pub epochs: &'a [EpochRecord],
    pub steps: &'a [StepRecord],
}

/// Pretty JSON with a trailing newline.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("plain data serializes");
    out.push(b'\n');
    out
}

pub fn render_demo_json(report: &DemoReport) -> Vec<u8> {
    to_json_bytes(report)
}
