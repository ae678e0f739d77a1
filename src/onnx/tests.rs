//! Tests across the layer: built models run in tract (through the runtime seam), and official
//! ONNX test inputs decode.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;

use super::pb::tensor_proto::DataType;
use super::pb::{ModelProto, type_proto};
use super::{
    GraphBuilder, ModelMeta, OnnxError, TensorLimits, attr_float, attr_int, decode_model,
    encode_model, load_tensor_pb, read_model, read_tensor_pb, write_model,
};

const INPUTS: usize = 784;
const HIDDEN: usize = 32;
const CLASSES: usize = 10;
const BATCH: usize = 3;

/// Deterministic test values from a 64-bit LCG (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    /// A multiple of `1 / denom` in `[-span, span] / denom`.
    fn grid(&mut self, span: u64, denom: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (self.0 >> 33) % (2 * span + 1);
        (k as f32 - span as f32) / denom
    }
}

/// Weights and inputs on coarse binary grids, chosen so that every product and partial sum of
/// the forward pass is exactly representable in f32 (layer 1 needs 16 significant bits, layer 2
/// at most 24). The result then does not depend on summation order, and tract must match the
/// naive loops below exactly, whatever kernels it picks; the 1e-6 bound only covers Sigmoid.
struct Mlp {
    w1: Vec<f32>, // [INPUTS, HIDDEN], multiples of 1/16 in [-1/2, 1/2]
    b1: Vec<f32>, // [HIDDEN], multiples of 1/128
    w2: Vec<f32>, // [HIDDEN, CLASSES], multiples of 1/16 in [-1/2, 1/2]
    b2: Vec<f32>, // [CLASSES], multiples of 1/16
}

impl Mlp {
    fn new(seed: u64) -> Self {
        let mut g = Lcg(seed);
        Self {
            w1: (0..INPUTS * HIDDEN).map(|_| g.grid(8, 16.0)).collect(),
            b1: (0..HIDDEN).map(|_| g.grid(8, 128.0)).collect(),
            w2: (0..HIDDEN * CLASSES).map(|_| g.grid(8, 16.0)).collect(),
            b2: (0..CLASSES).map(|_| g.grid(8, 16.0)).collect(),
        }
    }

    /// input [N, 784] -> Gemm -> Relu -> Gemm -> logits [N, 10] (-> Sigmoid -> probs).
    fn model(&self, sigmoid: bool) -> ModelProto {
        // Explicit defaults: readers must see transB = 0, i.e. weights stored [in, out].
        let gemm = || {
            vec![
                attr_float("alpha", 1.0),
                attr_float("beta", 1.0),
                attr_int("transA", 0),
                attr_int("transB", 0),
            ]
        };
        let mut b = GraphBuilder::new();
        b.input(
            "input",
            DataType::Float,
            &["N".into(), (INPUTS as i64).into()],
        )
        .initializer_f32("dense1.weight", &[INPUTS, HIDDEN], &self.w1)
        .unwrap()
        .initializer_f32("dense1.bias", &[HIDDEN], &self.b1)
        .unwrap()
        .initializer_f32("dense2.weight", &[HIDDEN, CLASSES], &self.w2)
        .unwrap()
        .initializer_f32("dense2.bias", &[CLASSES], &self.b2)
        .unwrap()
        .node(
            "Gemm",
            "dense1",
            &["input", "dense1.weight", "dense1.bias"],
            &["dense1_out"],
            gemm(),
        )
        .node("Relu", "relu1", &["dense1_out"], &["relu1_out"], vec![])
        .node(
            "Gemm",
            "dense2",
            &["relu1_out", "dense2.weight", "dense2.bias"],
            &["logits"],
            gemm(),
        );
        let output = if sigmoid {
            b.node("Sigmoid", "sigmoid", &["logits"], &["probs"], vec![]);
            "probs"
        } else {
            "logits"
        };
        b.output(
            output,
            DataType::Float,
            &["N".into(), (CLASSES as i64).into()],
        );
        b.finish(ModelMeta {
            doc_string: "test MLP".to_owned(),
            metadata_props: vec![("sigmoid".to_owned(), sigmoid.to_string())],
            ..ModelMeta::default()
        })
    }

    fn naive(&self, x: &[f32], sigmoid: bool) -> Vec<f32> {
        let mut out = Vec::with_capacity(BATCH * CLASSES);
        for row in x.chunks(INPUTS) {
            let hidden: Vec<f32> = (0..HIDDEN)
                .map(|j| {
                    let z = (0..INPUTS)
                        .map(|i| row[i] * self.w1[i * HIDDEN + j])
                        .sum::<f32>();
                    (z + self.b1[j]).max(0.0)
                })
                .collect();
            for k in 0..CLASSES {
                let z = (0..HIDDEN)
                    .map(|j| hidden[j] * self.w2[j * CLASSES + k])
                    .sum::<f32>()
                    + self.b2[k];
                out.push(if sigmoid { 1.0 / (1.0 + (-z).exp()) } else { z });
            }
        }
        out
    }
}

fn batch() -> Vec<f32> {
    let mut g = Lcg(7);
    // Multiples of 1/8 in [0, 1], like scaled pixels.
    (0..BATCH * INPUTS).map(|_| g.grid(4, 8.0) + 0.5).collect()
}

/// The bytes run by tract through the runtime seam, as every command runs a model.
fn run_tract(bytes: &[u8], x: &[f32]) -> anyhow::Result<Vec<f32>> {
    use crate::runtime::{OnnxModel, Runtime, Tract, head};
    let model = OnnxModel::from_bytes(bytes, Path::new("memory"), None, TensorLimits::default())?;
    let mut runnable = Tract::default().prepare(&model)?;
    let input = ndarray::Array2::from_shape_vec((BATCH, INPUTS), x.to_vec())?;
    let y = head::predict(runnable.as_mut(), input.view())?.output;
    assert_eq!(y.shape(), [BATCH, CLASSES]);
    Ok(y.iter().copied().collect())
}

#[test]
fn built_mlps_run_in_tract_like_the_naive_forward_pass() -> anyhow::Result<()> {
    let mlp = Mlp::new(42);
    let x = batch();
    for sigmoid in [false, true] {
        let model = mlp.model(sigmoid);
        let bytes = encode_model(&model);
        assert_eq!(decode_model(&bytes, "memory")?, model);

        let got = run_tract(&bytes, &x)?;
        let want = mlp.naive(&x, sigmoid);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "sigmoid={sigmoid}: max |tract - naive| = {worst:e}"
        );
        if !sigmoid {
            assert_eq!(got, want, "exact-grid logits must match bit for bit");
        }
    }
    Ok(())
}

/// Also writes the two models where `ONNX_PARITY_WRITE_TEST_MODELS` points, so they can be fed
/// to `scripts/check_onnx.py`.
#[test]
fn built_mlps_load_from_files() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let keep = std::env::var_os("ONNX_PARITY_WRITE_TEST_MODELS");
    let out = keep.as_deref().map(Path::new).unwrap_or(dir.path());
    let mlp = Mlp::new(42);
    for (name, sigmoid) in [("mlp_logits.onnx", false), ("mlp_sigmoid.onnx", true)] {
        let path = out.join(name);
        let model = mlp.model(sigmoid);
        write_model(&path, &model)?;
        assert_eq!(read_model(&path)?, model);
        let loaded = crate::runtime::OnnxModel::open(&path, TensorLimits::default())?;
        assert_eq!(loaded.signature.inputs.len(), 1);
        crate::runtime::Runtime::prepare(&crate::runtime::Tract::default(), &loaded)?;
    }
    Ok(())
}

fn chain(e: &dyn Error) -> String {
    crate::error_chain(e)
}

/// True when the model declares its first runtime input as a tensor. Sequence, optional and
/// map inputs are serialized as other messages, which must not be read as a TensorProto.
fn first_input_is_tensor(model: &ModelProto) -> bool {
    let Some(graph) = &model.graph else {
        return false;
    };
    let is_init = |name: &str| graph.initializer.iter().any(|t| t.name() == name);
    graph
        .input
        .iter()
        .find(|i| !is_init(i.name()))
        .and_then(|i| i.r#type.as_ref())
        .is_some_and(|t| matches!(t.value, Some(type_proto::Value::TensorType(_))))
}

#[test]
fn onnx_node_test_inputs_decode() {
    let Some(root) = crate::testing::shared_dir("onnx-node-tests", "") else {
        return;
    };
    let entries = std::fs::read_dir(&root).unwrap();
    let mut dirs: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();

    let (mut ok, mut not_tensor, mut no_input, mut agree_with_tract) = (0, 0, 0, 0);
    let mut unsupported = BTreeMap::<String, usize>::new();
    let mut other = Vec::new();
    for dir in &dirs {
        let input = dir.join("test_data_set_0/input_0.pb");
        if !input.is_file() {
            no_input += 1;
            continue;
        }
        match read_model(dir.join("model.onnx")) {
            Ok(model) if first_input_is_tensor(&model) => {}
            Ok(_) => {
                not_tensor += 1;
                continue;
            }
            Err(e) => {
                other.push(chain(&e));
                continue;
            }
        }
        match load_tensor_pb(&input, TensorLimits::default()) {
            Ok(ours) => {
                ok += 1;
                // Independent check for raw_data files (what numpy-based writers emit):
                // tract's own loader must produce the same bytes.
                let proto = read_tensor_pb(&input).unwrap();
                if proto.raw_data.is_some() {
                    let bytes = std::fs::read(&input).unwrap();
                    let theirs =
                        <tract_onnx::pb::TensorProto as prost::Message>::decode(&bytes[..])
                            .unwrap();
                    let resolver = tract_onnx::data_resolver::default();
                    let theirs =
                        tract_onnx::tensor::load_tensor(&*resolver, &theirs, None).unwrap();
                    assert_eq!(
                        (ours.datum_type(), ours.shape(), ours.as_bytes()),
                        (theirs.datum_type(), theirs.shape(), theirs.as_bytes()),
                        "{}",
                        input.display()
                    );
                    agree_with_tract += 1;
                }
            }
            Err(OnnxError::InFile { source, .. })
                if matches!(*source, OnnxError::Unsupported { .. }) =>
            {
                if let OnnxError::Unsupported { dtype, .. } = *source {
                    *unsupported.entry(dtype).or_default() += 1;
                }
            }
            Err(e) => other.push(chain(&e)),
        }
    }
    let n_unsupported: usize = unsupported.values().sum();
    eprintln!(
        "node tests: {} dirs; input_0 decoded OK {ok} (raw_data ones identical to tract's loader: \
         {agree_with_tract}), unsupported {n_unsupported} {unsupported:?}, not a tensor \
         {not_tensor}, no input {no_input}, other errors {}",
        dirs.len(),
        other.len()
    );
    assert!(
        other.is_empty(),
        "decoding official files failed:\n{}",
        other.join("\n")
    );
    // The suite in ../shared has 1765 cases, 1630 of them with a decodable tensor input_0, all
    // raw_data (onnx 1.x node tests); a truncated or emptied folder must not pass.
    assert!(dirs.len() >= 1700, "only {} node-test folders", dirs.len());
    assert!(
        ok >= 1600 && agree_with_tract >= 1600,
        "only {ok} inputs decoded ({agree_with_tract} checked against tract)"
    );
}

/// Every tensor stored in a graph: initializers and tensor attributes, subgraphs included.
fn graph_tensors<'a>(graph: &'a super::pb::GraphProto, out: &mut Vec<&'a super::pb::TensorProto>) {
    out.extend(&graph.initializer);
    for node in &graph.node {
        for attr in &node.attribute {
            out.extend(attr.t.iter().chain(&attr.tensors));
            for g in attr.g.iter().chain(&attr.graphs) {
                graph_tensors(g, out);
            }
        }
    }
}

/// The official models embed tensors written by `onnx.helper.make_tensor`, most of them in the
/// typed fields (int32_data, int64_data, ...), which the input files above never use.
#[test]
fn onnx_node_test_model_tensors_decode() {
    let Some(root) = crate::testing::shared_dir("onnx-node-tests", "") else {
        return;
    };
    let entries = std::fs::read_dir(&root).unwrap();
    let mut dirs: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();

    let (mut ok, mut typed, mut same_as_tract) = (0, 0, 0);
    let mut unsupported = BTreeMap::<String, usize>::new();
    let mut differs_from_tract = BTreeMap::<String, usize>::new();
    let mut other = Vec::new();
    for dir in &dirs {
        let path = dir.join("model.onnx");
        let model = match read_model(&path) {
            Ok(m) => m,
            Err(e) => {
                other.push(chain(&e));
                continue;
            }
        };
        let bytes = std::fs::read(&path).unwrap();
        let theirs = <tract_onnx::pb::ModelProto as prost::Message>::decode(&bytes[..]).unwrap();
        let mut tensors = Vec::new();
        let mut their_tensors = Vec::new();
        if let Some(g) = &model.graph {
            graph_tensors(g, &mut tensors);
        }
        if let Some(g) = &theirs.graph {
            tract_graph_tensors(g, &mut their_tensors);
        }
        assert_eq!(tensors.len(), their_tensors.len(), "{}", path.display());
        for (proto, their_proto) in tensors.into_iter().zip(their_tensors) {
            match super::tensor_from_proto(proto, TensorLimits::default()) {
                Ok(ours) => {
                    ok += 1;
                    if proto.raw_data.is_none() {
                        typed += 1;
                    }
                    let resolver = tract_onnx::data_resolver::default();
                    let same = tract_onnx::tensor::load_tensor(&*resolver, their_proto, None)
                        .is_ok_and(|t| {
                            // A String tensor's bytes are its pointers: compare the values.
                            if t.datum_type() == tract_onnx::prelude::DatumType::String {
                                return t == ours;
                            }
                            (t.datum_type(), t.shape(), t.as_bytes())
                                == (ours.datum_type(), ours.shape(), ours.as_bytes())
                        });
                    if same {
                        same_as_tract += 1;
                    } else {
                        *differs_from_tract
                            .entry(super::dtype_name(proto.data_type()))
                            .or_default() += 1;
                    }
                }
                Err(OnnxError::Unsupported { dtype, .. }) => {
                    *unsupported.entry(dtype).or_default() += 1;
                }
                Err(e) => other.push(format!("{}: {}", path.display(), chain(&e))),
            }
        }
    }
    eprintln!(
        "node-test model tensors: decoded OK {ok} ({typed} from typed fields; identical to \
         tract's loader {same_as_tract}, different {differs_from_tract:?}), unsupported \
         {unsupported:?}, other errors {}",
        other.len()
    );
    assert!(
        other.is_empty(),
        "decoding official files failed:\n{}",
        other.join("\n")
    );
    // 1312 embedded tensors in the suite in ../shared (1307 in typed fields).
    assert!(
        ok >= 1300 && typed >= 1300 && same_as_tract >= 1300,
        "only {ok} model tensors decoded ({typed} typed, {same_as_tract} checked against tract)"
    );
    // tract reads typed UINT32/UINT64 data from int32_data/int64_data, where the specification
    // puts it in uint64_data; only there may the two loaders legitimately disagree.
    differs_from_tract.retain(|dtype, _| dtype != "UINT32" && dtype != "UINT64");
    assert!(differs_from_tract.is_empty(), "{differs_from_tract:?}");
}

fn tract_graph_tensors<'a>(
    graph: &'a tract_onnx::pb::GraphProto,
    out: &mut Vec<&'a tract_onnx::pb::TensorProto>,
) {
    out.extend(&graph.initializer);
    for node in &graph.node {
        for attr in &node.attribute {
            out.extend(attr.t.iter().chain(&attr.tensors));
            for g in attr.g.iter().chain(&attr.graphs) {
                tract_graph_tensors(g, out);
            }
        }
    }
}
