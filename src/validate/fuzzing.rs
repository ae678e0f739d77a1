//! The decode + validate path on arbitrary bytes: what the fuzz target (`fuzz/`) runs, and
//! what the mutation test below runs in the normal test suite.
//!
//! One input is three files packed together: a model, an `input_0.pb` and an `output_0.pb`
//! (see [`pack`]). They are written into a folder exactly as a user's files would be and
//! validated through [`super::validate`], so the whole path is exercised: file reading, our
//! decoder and size checks, the runtime (tract under the panic guard, or onnxruntime, C++ in
//! our process), reference matching, comparison and losses. Whatever the bytes, the result
//! must be a report, never a panic or a crash.

use std::path::Path;

use super::{ValidateConfig, validate};
use crate::onnx::TensorLimits;
use crate::runtime::RuntimeKind;
use crate::verdict::Verdict;

/// Small limits so that a fuzzed header cannot make a single iteration slow.
pub const FUZZ_LIMITS: TensorLimits = TensorLimits {
    max_elements: 1 << 20,
    max_bytes: 16 << 20,
};

/// `[model len: u32 LE][input len: u32 LE][model][input][output]`.
pub fn pack(model: &[u8], input: &[u8], output: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + model.len() + input.len() + output.len());
    out.extend_from_slice(&(model.len() as u32).to_le_bytes());
    out.extend_from_slice(&(input.len() as u32).to_le_bytes());
    out.extend_from_slice(model);
    out.extend_from_slice(input);
    out.extend_from_slice(output);
    out
}

/// The inverse of [`pack`] for any bytes: lengths are taken modulo what is left.
pub fn unpack(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    if data.len() < 8 {
        return (data, &[], &[]);
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let rest = &data[8..];
    let a = word(0) as usize % (rest.len() + 1);
    let b = word(4) as usize % (rest.len() - a + 1);
    (&rest[..a], &rest[a..a + b], &rest[a + b..])
}

/// Writes the three files into `dir` and validates them with tract. `None` if the files could
/// not be written (the harness's problem, not the input's).
pub fn run_one(data: &[u8], dir: &Path) -> Option<Verdict> {
    run_one_with(data, dir, RuntimeKind::Tract)
}

/// [`run_one`] with the model run by `runtime`.
pub fn run_one_with(data: &[u8], dir: &Path, runtime: RuntimeKind) -> Option<Verdict> {
    let (model, input, output) = unpack(data);
    let set = dir.join("test_data_set_0");
    std::fs::create_dir_all(&set).ok()?;
    std::fs::write(dir.join("model.onnx"), model).ok()?;
    std::fs::write(set.join("input_0.pb"), input).ok()?;
    std::fs::write(set.join("output_0.pb"), output).ok()?;
    let mut cfg = ValidateConfig::new(dir.join("model.onnx"));
    cfg.limits = FUZZ_LIMITS;
    cfg.runtime = runtime;
    let cases = validate(&cfg);
    Some(super::ValidateReport::new(cases).status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{GraphBuilder, ModelMeta, array_to_proto, encode_model};
    use ndarray::{ArrayD, IxDyn};
    use prost::Message;

    fn seed() -> Vec<u8> {
        let mut b = GraphBuilder::new();
        b.input("x", DataType::Float, &["N".into(), 3.into()])
            .initializer_f32("w", &[3, 2], &[0.5, -1.0, 2.0, 0.25, -0.5, 1.0])
            .unwrap()
            .node("MatMul", "mm", &["x", "w"], &["z"], vec![])
            .node("Sigmoid", "s", &["z"], &["y"], vec![])
            .output("y", DataType::Float, &["N".into(), 2.into()]);
        let model = encode_model(&b.finish(ModelMeta::default()));
        let x =
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0]).unwrap();
        // x w = [[3.0, 2.5], [-1.0, 2.0]] exactly; y is its sigmoid.
        let z = [3.0f32, 2.5, -1.0, 2.0];
        let y = ArrayD::from_shape_vec(IxDyn(&[2, 2]), z.map(crate::loss::sigmoid_f32).to_vec())
            .unwrap();
        pack(
            &model,
            &array_to_proto("x", &x).unwrap().encode_to_vec(),
            &array_to_proto("y", &y).unwrap().encode_to_vec(),
        )
    }

    #[test]
    fn pack_and_unpack_round_trip() {
        let data = pack(b"model", b"in", b"out!");
        assert_eq!(unpack(&data), (&b"model"[..], &b"in"[..], &b"out!"[..]));
        // Any bytes split somehow, without panicking.
        for n in 0..40 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
            let (a, b, c) = unpack(&junk);
            assert!(a.len() + b.len() + c.len() <= junk.len());
        }
    }

    #[test]
    fn the_seed_passes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run_one(&seed(), dir.path()), Some(Verdict::Pass));
    }

    #[test]
    fn mutated_inputs_never_panic() {
        mutations(RuntimeKind::Tract);
    }

    /// The same mutations reach onnxruntime (C++ in our process) after our checks: a crash
    /// there would end the test process.
    #[test]
    fn mutated_inputs_never_crash_onnxruntime() {
        if crate::testing::onnxruntime() {
            assert_eq!(
                run_one_with(
                    &seed(),
                    tempfile::tempdir().unwrap().path(),
                    RuntimeKind::Onnxruntime
                ),
                Some(Verdict::Pass)
            );
            mutations(RuntimeKind::Onnxruntime);
        }
    }

    /// A few thousand mutations of the seed (bit flips, byte overwrites, truncations,
    /// duplicated ranges) through the whole path: every one must end in a report.
    fn mutations(runtime: RuntimeKind) {
        let dir = tempfile::tempdir().unwrap();
        let seed = seed();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut statuses = [0usize; 3];
        for _ in 0..2000 {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % data.len();
                match next() % 4 {
                    0 => data[i] ^= 1 << (next() % 8),
                    1 => data[i] = next() as u8,
                    2 => data.truncate(i.max(8)),
                    _ => {
                        let j = (next() as usize) % data.len();
                        let lo = i.min(j);
                        let hi = i.max(j).min(lo + 64);
                        let chunk = data[lo..hi].to_vec();
                        data.splice(lo..lo, chunk);
                    }
                }
            }
            let status = run_one_with(&data, dir.path(), runtime).expect("temp files are writable");
            statuses[status as usize] += 1;
        }
        // The mutations reach every verdict, so the path is really exercised.
        assert!(statuses.iter().all(|&n| n > 0), "{statuses:?}");
    }
}
