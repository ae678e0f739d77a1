//! Reference data: inputs to feed and outputs to expect, matched to the model's tensors.
//!
//! Two layouts. The ONNX backend-test layout, `test_data_set_N/input_K.pb` and `output_K.pb`
//! (serialized TensorProto): a file is matched by its tensor name when that names a model input
//! (output), else by its position K, and the report says which. And NumPy files matched by
//! tensor name: `NAME.npy` files in a folder, or `.npz` archives whose members are named after
//! tensors. Names can be mapped (`--map FILE_NAME=MODEL_NAME`, [`NameMap`]) before matching;
//! a NumPy tensor whose name matches nothing fills the model's only input (or only output) by
//! position, when the model has exactly one and its declaration fits, inputs first in file
//! order. Whatever is left unmatched is an error listing both sides' names. Every reference
//! input is checked against what the model declares (element type, rank, fixed dims, and
//! symbolic dims bound consistently across inputs) before anything runs, so a file that does not
//! belong to the model is an error naming it. Reference outputs are not held to the
//! declarations: exporters declare outputs wrongly (skl2onnx declares a rank-1 `label` it
//! computes as `[N, k]`), and what the model produces is what gets compared; [`disagreement`]
//! tells the caller how a produced tensor differs from its declaration.
//!
//! Tensors of the types tract has no element type for (BFLOAT16, FLOAT8, 4-bit, ...) are read
//! widened ([`crate::onnx::exotic`]); [`RefTensor::data_type`] keeps the type they were stored
//! as, which is what is checked against the declaration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::{DatumType, Tensor};

use super::RefDataError;
use super::npy::{self, NpyRows};
use crate::metrics::datum_name;
use crate::onnx::{
    DimDecl, OnnxError, Signature, TensorDecl, TensorLimits, decode_tensor, dtype_name,
    onnx_data_type, read_tensor_pb,
};

/// How a reference file was paired with a model tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    Name,
    Position,
}

/// One reference tensor and where it came from.
#[derive(Debug, Clone)]
pub struct RefTensor {
    /// The model tensor it stands for.
    pub name: String,
    /// File name within the test set, with `:member` for `.npz` members.
    pub file: String,
    pub matched_by: MatchedBy,
    /// Shared, so that a runtime can take it as an input without a copy.
    pub tensor: Arc<Tensor>,
    /// The ONNX element type the file stored (`tensor` holds narrow types widened).
    pub data_type: i32,
}

impl RefTensor {
    /// The stored element type's ONNX name (`FLOAT`, `BFLOAT16`).
    pub fn dtype_name(&self) -> String {
        dtype_name(self.data_type)
    }
}

/// `--map FILE_NAME=MODEL_NAME` pairs: the name a reference file holds (an `.npz` member, an
/// `.npy` file's stem, the name stored in a `.pb`) and the model tensor it stands for.
pub type NameMap = [(String, String)];

/// One set of inputs and expected outputs.
#[derive(Debug, Clone)]
pub struct TestSet {
    pub path: PathBuf,
    /// One per model input, in the model's order.
    pub inputs: Vec<RefTensor>,
    /// Expected outputs present in the set, in the model's order.
    pub outputs: Vec<RefTensor>,
}

fn test_data_err(path: &Path, message: impl Into<String>) -> RefDataError {
    RefDataError::TestData {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The number N of a `test_data_set_N` folder name.
fn set_number(name: &str) -> Option<u64> {
    name.strip_prefix("test_data_set_")?.parse().ok()
}

/// Every `test_data_set_N` folder directly inside `dir`, in numeric order.
pub fn test_set_dirs(dir: &Path) -> Result<Vec<PathBuf>, RefDataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RefDataError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut sets: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = set_number(e.file_name().to_str()?)?;
            e.path().is_dir().then(|| (n, e.path()))
        })
        .collect();
    sets.sort();
    Ok(sets.into_iter().map(|(_, p)| p).collect())
}

/// The test sets beside a model (every `test_data_set_*` in its folder).
pub fn discover(model: &Path) -> Result<Vec<PathBuf>, RefDataError> {
    let dir = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let sets = test_set_dirs(dir)?;
    if sets.is_empty() {
        return Err(test_data_err(
            model,
            format!(
                "no test_data_set_* folder beside the model in {}; pass --test-data",
                dir.display()
            ),
        ));
    }
    Ok(sets)
}

/// The test sets a command uses: each `--test-data` argument expanded, or, when none was given,
/// every `test_data_set_*` beside `model`.
pub fn resolve(model: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, RefDataError> {
    if given.is_empty() {
        return discover(model);
    }
    let mut sets = Vec::new();
    for p in given {
        sets.extend(expand(p)?);
    }
    Ok(sets)
}

/// A `--test-data` argument: a folder holding `test_data_set_*` folders stands for all of them.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, RefDataError> {
    if path.is_dir() {
        let sets = test_set_dirs(path)?;
        if !sets.is_empty() {
            return Ok(sets);
        }
    } else if !path.exists() {
        return Err(test_data_err(path, "does not exist"));
    }
    Ok(vec![path.to_owned()])
}

/// A reference file before matching.
struct Found {
    file: String,
    /// `Some(K)` for `input_K.pb` / `output_K.pb`.
    position: Option<usize>,
    tensor: Tensor,
    data_type: i32,
    /// Tensor name stored in the file (.pb) or given by the file/member name (.npy/.npz).
    name: String,
}

impl Found {
    fn into_ref(self, name: String, matched_by: MatchedBy) -> RefTensor {
        RefTensor {
            name,
            file: self.file,
            matched_by,
            tensor: Arc::new(self.tensor),
            data_type: self.data_type,
        }
    }
}

/// Loads one test set for a model with `sig`.
pub fn load(path: &Path, sig: &Signature, limits: TensorLimits) -> Result<TestSet, RefDataError> {
    load_mapped(path, sig, limits, &[])
}

/// [`load`] with file names mapped to model names first. A mapped name no file of the set
/// holds, or a model name that is no input or output, is an error.
pub fn load_mapped(
    path: &Path,
    sig: &Signature,
    limits: TensorLimits,
    map: &NameMap,
) -> Result<TestSet, RefDataError> {
    let mut inputs_pb = Vec::new();
    let mut outputs_pb = Vec::new();
    let mut named = Vec::new();
    if path.is_file() {
        match path.extension().and_then(|e| e.to_str()) {
            Some("npz") => named.extend(npz_entries(path, limits)?),
            Some("npy") => {
                return Err(test_data_err(
                    path,
                    "a single .npy file does not say which tensor it holds; put NAME.npy files \
                     in a folder or use an .npz archive",
                ));
            }
            _ => {
                return Err(test_data_err(
                    path,
                    "expected a test_data_set folder, a folder of NAME.npy files or an .npz file",
                ));
            }
        }
    } else {
        let entries = std::fs::read_dir(path).map_err(|source| RefDataError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let Some(fname) = file.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let pb_index = |prefix: &str| {
                fname
                    .strip_prefix(prefix)?
                    .strip_suffix(".pb")?
                    .parse::<usize>()
                    .ok()
            };
            if let Some(k) = pb_index("input_") {
                inputs_pb.push(pb_file(&file, fname, k, limits)?);
            } else if let Some(k) = pb_index("output_") {
                outputs_pb.push(pb_file(&file, fname, k, limits)?);
            } else if let Some(stem) = fname.strip_suffix(".npy") {
                named.push(numpy_found(
                    stem.to_owned(),
                    npy::read_npy(&file, limits)?,
                    fname.clone(),
                ));
            } else if fname.ends_with(".npz") {
                named.extend(npz_entries(&file, limits)?);
            }
        }
    }
    if inputs_pb.is_empty() && outputs_pb.is_empty() && named.is_empty() {
        return Err(test_data_err(
            path,
            "empty test set: no input_*.pb, output_*.pb, .npy or .npz files",
        ));
    }
    inputs_pb.sort_by_key(|f| f.position);
    outputs_pb.sort_by_key(|f| f.position);
    apply_map(
        path,
        sig,
        map,
        [&mut inputs_pb, &mut outputs_pb, &mut named],
    )?;

    let mut inputs = assign(path, inputs_pb, &sig.inputs, "input")?;
    let mut outputs = assign(path, outputs_pb, &sig.outputs, "output")?;
    let mut unmatched = Vec::new();
    for f in named {
        let (slot, list) = if let Some(i) = sig.inputs.iter().position(|d| d.name == f.name) {
            (i, &mut inputs)
        } else if let Some(i) = sig.outputs.iter().position(|d| d.name == f.name) {
            (i, &mut outputs)
        } else {
            unmatched.push(f);
            continue;
        };
        if let Some(prev) = &list[slot] {
            return Err(test_data_err(
                path,
                format!("{} and {} both hold tensor '{}'", prev.file, f.file, f.name),
            ));
        }
        let name = f.name.clone();
        list[slot] = Some(f.into_ref(name, MatchedBy::Name));
    }
    by_position(path, sig, unmatched, &mut inputs, &mut outputs)?;

    require_every_input(path, sig, &inputs)?;
    let inputs: Vec<RefTensor> = inputs.into_iter().flatten().collect();
    let outputs: Vec<RefTensor> = outputs.into_iter().flatten().collect();

    // Symbolic dims bind across inputs; outputs are compared as produced (module docs).
    let mut bound = BTreeMap::new();
    for (r, d) in inputs.iter().map(|r| (r, decl_of(&sig.inputs, &r.name))) {
        check_decl(path, r, d, "input", &mut bound)?;
    }
    Ok(TestSet {
        path: path.to_owned(),
        inputs,
        outputs,
    })
}

/// One reference `.npy` file of a test set read in chunks of samples.
#[derive(Debug)]
pub struct RowRef {
    /// The model tensor it stands for.
    pub name: String,
    pub file: String,
    pub rows: NpyRows,
}

/// A test set of `NAME.npy` files opened to be read in chunks of samples ([`open_rows`]).
#[derive(Debug)]
pub struct RowSet {
    pub path: PathBuf,
    /// One per model input, in the model's order.
    pub inputs: Vec<RowRef>,
    /// Expected outputs present in the set, in the model's order.
    pub outputs: Vec<RowRef>,
    /// Samples in every file (the first axis).
    pub samples: usize,
}

/// Opens a folder of `NAME.npy` files to be read in chunks of samples: files matched by name
/// as [`load`] matches them, every input checked against its declaration (whole shapes), and
/// every file holding the same number of samples. Other layouts are refused: a `.pb` tensor or
/// an `.npz` member is one block that cannot be read in parts.
pub fn open_rows(
    path: &Path,
    sig: &Signature,
    limits: TensorLimits,
) -> Result<RowSet, RefDataError> {
    if !path.is_dir() {
        return Err(test_data_err(
            path,
            "reading in slices of samples (--chunk, --shard) needs a folder of NAME.npy files",
        ));
    }
    let entries = std::fs::read_dir(path).map_err(|source| RefDataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut inputs: Vec<Option<RowRef>> = sig.inputs.iter().map(|_| None).collect();
    let mut outputs: Vec<Option<RowRef>> = sig.outputs.iter().map(|_| None).collect();
    for file in files {
        let Some(fname) = file.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if fname.ends_with(".pb") || fname.ends_with(".npz") {
            return Err(test_data_err(
                path,
                format!(
                    "{fname}: reading in slices of samples (--chunk, --shard) needs NAME.npy \
                     files; a .pb tensor or an .npz archive is read whole (save each tensor as \
                     NAME.npy, or drop --chunk and --shard)"
                ),
            ));
        }
        let Some(stem) = fname.strip_suffix(".npy") else {
            continue;
        };
        let slot = if let Some(i) = sig.inputs.iter().position(|d| d.name == stem) {
            &mut inputs[i]
        } else if let Some(i) = sig.outputs.iter().position(|d| d.name == stem) {
            &mut outputs[i]
        } else {
            return Err(test_data_err(
                path,
                format!(
                    "{fname}: '{stem}' names no model input ({}) or output ({})",
                    names(&sig.inputs),
                    names(&sig.outputs)
                ),
            ));
        };
        *slot = Some(RowRef {
            name: stem.to_owned(),
            file: fname.clone(),
            rows: NpyRows::open(&file, limits)?,
        });
    }
    require_every_input(path, sig, &inputs)?;
    let inputs: Vec<RowRef> = inputs.into_iter().flatten().collect();
    let outputs: Vec<RowRef> = outputs.into_iter().flatten().collect();
    let samples = inputs.first().map_or(0, |r| r.rows.samples());
    if let Some(r) = inputs
        .iter()
        .chain(&outputs)
        .find(|r| r.rows.samples() != samples)
    {
        return Err(test_data_err(
            path,
            format!(
                "{} holds {} samples (first axis), {} holds {samples}: every file of a test set \
                 read in chunks must hold the same samples",
                r.file,
                r.rows.samples(),
                inputs[0].file
            ),
        ));
    }
    let mut bound = BTreeMap::new();
    for r in &inputs {
        let d = decl_of(&sig.inputs, &r.name);
        if let Some(why) = disagreement_of(d, r.rows.datum_type(), r.rows.shape(), &mut bound) {
            return Err(test_data_err(
                path,
                format!(
                    "{}: tensor '{}' is {} {:?}, but model input '{}' is {} {}: {why}",
                    r.file,
                    r.name,
                    datum_name(r.rows.datum_type()),
                    r.rows.shape(),
                    d.name,
                    d.elem_type.map_or("any type".to_owned(), dtype_name),
                    d.dims_text()
                ),
            ));
        }
    }
    Ok(RowSet {
        path: path.to_owned(),
        inputs,
        outputs,
        samples,
    })
}

/// `Err` naming the model inputs that no reference tensor (slot) stands for.
fn require_every_input<T>(
    path: &Path,
    sig: &Signature,
    inputs: &[Option<T>],
) -> Result<(), RefDataError> {
    let missing: Vec<&str> = sig
        .inputs
        .iter()
        .zip(inputs)
        .filter(|(_, r)| r.is_none())
        .map(|(d, _)| d.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(test_data_err(
        path,
        format!(
            "missing input: no reference data for model input(s) {} (model inputs: {})",
            quoted(&missing),
            names(&sig.inputs)
        ),
    ))
}

fn decl_of<'a>(decls: &'a [TensorDecl], name: &str) -> &'a TensorDecl {
    decls
        .iter()
        .find(|d| d.name == name)
        .expect("reference tensors are only created for declared names")
}

fn names(decls: &[TensorDecl]) -> String {
    if decls.is_empty() {
        return "none".to_owned();
    }
    quoted(&decls.iter().map(|d| d.name.as_str()).collect::<Vec<_>>())
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pb_file(
    file: &Path,
    fname: String,
    k: usize,
    limits: TensorLimits,
) -> Result<Found, RefDataError> {
    let proto = read_tensor_pb(file)?;
    let (tensor, data_type) = decode_tensor(&proto, limits).map_err(|e| OnnxError::InFile {
        path: file.to_owned(),
        source: Box::new(e),
    })?;
    Ok(Found {
        file: fname,
        position: Some(k),
        tensor,
        data_type: data_type as i32,
        name: proto.name.unwrap_or_default(),
    })
}

/// A tensor read from a NumPy file; its ONNX type follows from its element type.
fn numpy_found(name: String, tensor: Tensor, file: String) -> Found {
    let data_type = onnx_data_type(tensor.datum_type()).map_or(0, |d| d as i32);
    Found {
        file,
        position: None,
        tensor,
        data_type,
        name,
    }
}

/// Renames files' tensors by `map`; every entry must name a file's tensor and a model tensor.
fn apply_map(
    path: &Path,
    sig: &Signature,
    map: &NameMap,
    lists: [&mut Vec<Found>; 3],
) -> Result<(), RefDataError> {
    if map.is_empty() {
        return Ok(());
    }
    let mut used = vec![false; map.len()];
    for (i, (_, to)) in map.iter().enumerate() {
        let known = sig.inputs.iter().chain(&sig.outputs).any(|d| &d.name == to);
        if !known {
            return Err(test_data_err(
                path,
                format!(
                    "--map {}={to}: the model has no input or output '{to}' (inputs: {}; outputs: \
                     {})",
                    map[i].0,
                    names(&sig.inputs),
                    names(&sig.outputs)
                ),
            ));
        }
    }
    let mut held = Vec::new();
    for list in lists {
        for f in list.iter_mut() {
            held.push(f.name.clone());
            if let Some(i) = map.iter().position(|(from, _)| from == &f.name) {
                used[i] = true;
                f.name = map[i].1.clone();
            }
        }
    }
    if let Some(i) = used.iter().position(|u| !u) {
        let held: Vec<&str> = held.iter().map(String::as_str).collect();
        return Err(test_data_err(
            path,
            format!(
                "--map {}={}: no file in this test set holds a tensor named '{}' (it holds {})",
                map[i].0,
                map[i].1,
                map[i].0,
                quoted(&held)
            ),
        ));
    }
    Ok(())
}

/// NumPy tensors whose names match nothing: they fill the model's only input and its only
/// output by position (inputs first, in file order), where the declaration fits. What cannot
/// be placed is an error naming both sides.
fn by_position(
    path: &Path,
    sig: &Signature,
    unmatched: Vec<Found>,
    inputs: &mut [Option<RefTensor>],
    outputs: &mut [Option<RefTensor>],
) -> Result<(), RefDataError> {
    if unmatched.is_empty() {
        return Ok(());
    }
    // (is input, declaration) of each slot that can be filled by position.
    let mut slots: Vec<(bool, &TensorDecl)> = Vec::new();
    if let ([d], [None]) = (sig.inputs.as_slice(), &*inputs) {
        slots.push((true, d));
    }
    if let ([d], [None]) = (sig.outputs.as_slice(), &*outputs) {
        slots.push((false, d));
    }
    let fits = |f: &Found, d: &TensorDecl| {
        let r = RefTensor {
            name: d.name.clone(),
            file: f.file.clone(),
            matched_by: MatchedBy::Position,
            tensor: Arc::new(Tensor::from(0u8)),
            data_type: f.data_type,
        };
        // Only type and fixed dims: symbolic dims are bound for real later.
        check_decl_parts(path, &r, &f.tensor, d, "input", &mut BTreeMap::new()).is_ok()
    };
    // Each unmatched tensor, in file order, takes the first free slot it fits.
    let mut placed: Vec<Option<usize>> = vec![None; unmatched.len()];
    let mut taken = vec![false; slots.len()];
    for (i, f) in unmatched.iter().enumerate() {
        if let Some(j) = (0..slots.len()).find(|&j| !taken[j] && fits(f, slots[j].1)) {
            taken[j] = true;
            placed[i] = Some(j);
        }
    }
    if let Some(i) = placed.iter().position(Option::is_none) {
        let f = &unmatched[i];
        let left: Vec<&str> = unmatched
            .iter()
            .zip(&placed)
            .filter(|(_, p)| p.is_none())
            .map(|(f, _)| f.name.as_str())
            .collect();
        return Err(test_data_err(
            path,
            format!(
                "{}: {} {} no model input ({}) or output ({}) by name{}; map names with \
                 --map FILE_NAME=MODEL_NAME",
                f.file,
                quoted(&left),
                if left.len() == 1 { "matches" } else { "match" },
                names(&sig.inputs),
                names(&sig.outputs),
                if slots.is_empty() {
                    String::new()
                } else {
                    ", and no free single input or output fits it by position".to_owned()
                }
            ),
        ));
    }
    for (f, j) in unmatched.into_iter().zip(placed) {
        let (is_input, d) = slots[j.expect("all placed")];
        let r = Some(f.into_ref(d.name.clone(), MatchedBy::Position));
        if is_input {
            inputs[0] = r;
        } else {
            outputs[0] = r;
        }
    }
    Ok(())
}

fn npz_entries(path: &Path, limits: TensorLimits) -> Result<Vec<Found>, RefDataError> {
    let fname = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(npy::read_npz(path, limits)?
        .into_iter()
        .map(|(name, tensor)| {
            let file = format!("{fname}:{name}");
            numpy_found(name, tensor, file)
        })
        .collect())
}

/// Pairs `.pb` files with declared tensors: by stored name first, then by position.
fn assign(
    path: &Path,
    files: Vec<Found>,
    decls: &[TensorDecl],
    what: &str,
) -> Result<Vec<Option<RefTensor>>, RefDataError> {
    let mut slots: Vec<Option<RefTensor>> = vec![None; decls.len()];
    let mut rest = Vec::new();
    for f in files {
        match decls
            .iter()
            .position(|d| !f.name.is_empty() && d.name == f.name)
        {
            Some(i) if slots[i].is_none() => {
                slots[i] = Some(f.into_ref(decls[i].name.clone(), MatchedBy::Name));
            }
            _ => rest.push(f),
        }
    }
    for f in rest {
        let k = f.position.expect("pb files have a position");
        match slots.get_mut(k) {
            Some(slot @ None) => {
                *slot = Some(f.into_ref(decls[k].name.clone(), MatchedBy::Position));
            }
            _ => {
                return Err(test_data_err(
                    path,
                    format!(
                        "{}: tensor '{}' matches no model {what} by name, and {what} {k} {} \
                         (model {what}s: {})",
                        f.file,
                        f.name,
                        if k < decls.len() {
                            "is already taken"
                        } else {
                            "does not exist"
                        },
                        names(decls)
                    ),
                ));
            }
        }
    }
    Ok(slots)
}

/// Checks a reference tensor against the model's declaration of the tensor it stands for.
fn check_decl(
    path: &Path,
    r: &RefTensor,
    d: &TensorDecl,
    what: &str,
    bound: &mut BTreeMap<String, usize>,
) -> Result<(), RefDataError> {
    check_decl_parts(path, r, &r.tensor, d, what, bound)
}

/// [`check_decl`] with the tensor given apart (`r` names it and holds its stored type).
fn check_decl_parts(
    path: &Path,
    r: &RefTensor,
    t: &Tensor,
    d: &TensorDecl,
    what: &str,
    bound: &mut BTreeMap<String, usize>,
) -> Result<(), RefDataError> {
    let declared = d.dims_text();
    let declared_type = d.elem_type.map_or("any type".to_owned(), dtype_name);
    let mismatch = |why: String| {
        test_data_err(
            path,
            format!(
                "{}: tensor '{}' is {} {:?}, but model {what} '{}' is {declared_type} {declared}: {why}",
                r.file,
                r.name,
                dtype_name(r.data_type),
                t.shape(),
                d.name
            ),
        )
    };
    match disagreement(d, Some(r.data_type), t, bound) {
        Some(why) => Err(mismatch(why)),
        None => Ok(()),
    }
}

/// How tensor `t`, of ONNX element type `data_type` (`None`: one ONNX has no name for),
/// differs from declaration `d`: its element type, its rank, a fixed dim, or a symbolic dim that
/// `bound` holds at another size (symbols met for the first time are bound to `t`'s size).
/// `None` when it fits.
pub fn disagreement(
    d: &TensorDecl,
    data_type: Option<i32>,
    t: &Tensor,
    bound: &mut BTreeMap<String, usize>,
) -> Option<String> {
    disagreement_in(d, data_type, t.shape(), bound)
}

/// [`disagreement`] for a tensor known by its element type and shape (one read in chunks).
pub fn disagreement_of(
    d: &TensorDecl,
    dt: DatumType,
    shape: &[usize],
    bound: &mut BTreeMap<String, usize>,
) -> Option<String> {
    disagreement_in(d, onnx_data_type(dt).map(|dt| dt as i32), shape, bound)
}

/// The core of [`disagreement`] and [`disagreement_of`]: ONNX element type and shape.
pub fn disagreement_in(
    d: &TensorDecl,
    data_type: Option<i32>,
    shape: &[usize],
    bound: &mut BTreeMap<String, usize>,
) -> Option<String> {
    if let Some(want) = d.elem_type.filter(|&e| e != 0)
        && data_type != Some(want)
    {
        return Some("element types differ".to_owned());
    }
    let dims = d.dims.as_ref()?;
    if dims.len() != shape.len() {
        return Some(format!("rank {} instead of {}", shape.len(), dims.len()));
    }
    for (axis, (decl, &actual)) in dims.iter().zip(shape).enumerate() {
        match decl {
            DimDecl::Fixed(n) if *n >= 0 && *n as u64 != actual as u64 => {
                return Some(format!("axis {axis} is {actual}, not {n}"));
            }
            DimDecl::Symbolic(s) => match bound.get(s) {
                Some(&v) if v != actual => {
                    return Some(format!(
                        "axis {axis} ('{s}') is {actual}, but '{s}' is {v} elsewhere in this test set"
                    ));
                }
                Some(_) => {}
                None => {
                    bound.insert(s.clone(), actual);
                }
            },
            _ => {}
        }
    }
    None
}
