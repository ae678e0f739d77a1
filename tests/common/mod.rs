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

/// `../shared/<rel>` from the crate root, or `None` after a visible skip (a failure under CI):
/// see `onnx_parity::testing`.
pub fn shared_dir(rel: &str, probe: &str) -> Option<PathBuf> {
    onnx_parity::testing::shared_dir(rel, probe)
}

/// `../shared/data/mnist` (the t10k IDX files), or `None` after a visible skip (see
/// [`shared_dir`]).
pub fn shared_mnist() -> Option<PathBuf> {
    shared_dir("data/mnist", "t10k-images-idx3-ubyte.gz")
}

/// `../shared/onnx-node-tests`, or `None` after a visible skip (see [`shared_dir`]).
pub fn shared_node_tests() -> Option<PathBuf> {
    shared_dir("onnx-node-tests", "")
}

/// Whether onnxruntime's shared library can be found (as the binary looks for it); without it
/// the onnxruntime tests skip visibly, and fail under CI: see `onnx_parity::testing`.
pub fn onnxruntime() -> bool {
    onnx_parity::testing::onnxruntime()
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

/// Copies a folder tree (a writable copy of committed artifacts, say).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Writes a `.npy` file with ndarray-npy, a writer independent of the crate's reader.
pub fn write_npy<A, S, D>(path: &Path, array: &ndarray::ArrayBase<S, D>)
where
    A: ndarray_npy::WritableElement,
    S: ndarray::Data<Elem = A>,
    D: ndarray::Dimension,
{
    ndarray_npy::write_npy(path, array).unwrap();
}

/// Writes an `.npz` archive of named f32 arrays with ndarray-npy, optionally compressed.
pub fn write_npz(path: &Path, arrays: &[(&str, &ndarray::ArrayD<f32>)], compressed: bool) {
    let file = std::fs::File::create(path).unwrap();
    let mut npz = if compressed {
        ndarray_npy::NpzWriter::new_compressed(file)
    } else {
        ndarray_npy::NpzWriter::new(file)
    };
    for (name, a) in arrays {
        npz.add_array(*name, *a).unwrap();
    }
    npz.finish().unwrap();
}

/// A node-test case folder: `y = Relu(x)` on a [2, 3] float input, with `want` as the
/// expected output (so a wrong `want` makes a failing case).
pub fn relu_case(dir: &Path, want: &[f32]) {
    use ndarray::{ArrayD, IxDyn};
    use onnx_parity::onnx::pb::tensor_proto::DataType;
    use onnx_parity::onnx::{
        GraphBuilder, ModelMeta, array_to_proto, write_model, write_tensor_pb,
    };

    std::fs::create_dir_all(dir.join("test_data_set_0")).unwrap();
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &[2.into(), 3.into()])
        .node("Relu", "relu", &["x"], &["y"], vec![])
        .output("y", DataType::Float, &[2.into(), 3.into()]);
    write_model(dir.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    let x =
        ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![-1.0f32, 2.0, -3.0, 4.0, 0.5, -0.5]).unwrap();
    let y = ArrayD::from_shape_vec(IxDyn(&[2, 3]), want.to_vec()).unwrap();
    let set = dir.join("test_data_set_0");
    write_tensor_pb(set.join("input_0.pb"), &array_to_proto("x", &x).unwrap()).unwrap();
    write_tensor_pb(set.join("output_0.pb"), &array_to_proto("y", &y).unwrap()).unwrap();
}

/// The committed Keras sigmoid case (500 MNIST samples) as a folder of NAME.npy files; with
/// `nudge`, reference elements `(sample, label)` moved by the amounts given.
pub fn npy_case(dir: &Path, nudge: &[(usize, usize, f32)]) -> (String, String, PathBuf) {
    let case = root().join("models/keras-mlp-sigmoid");
    let set = dir.join("npy");
    std::fs::create_dir_all(&set).unwrap();
    for (file, name) in [("input_0.pb", "input"), ("output_0.pb", "Identity:0")] {
        let mut t = onnx_parity::onnx::load_tensor_pb(
            case.join("test_data_set_0").join(file),
            onnx_parity::onnx::TensorLimits::default(),
        )
        .unwrap();
        if name != "input" {
            let mut a = t.to_plain_array_view_mut::<f32>().unwrap();
            for &(sample, label, by) in nudge {
                a[[sample, label]] += by;
            }
        }
        std::fs::write(
            set.join(format!("{name}.npy")),
            onnx_parity::refdata::npy::encode_npy(&t).unwrap(),
        )
        .unwrap();
    }
    let text = |p: PathBuf| p.display().to_string();
    (
        text(case.join("model.onnx")),
        text(case.join("labels.npy")),
        set,
    )
}
