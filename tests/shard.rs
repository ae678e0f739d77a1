//! `validate --shard I/N` and `merge` through the real binary: four shards merged report what
//! one run reports (every count, maximum, first and worst element; the losses to the last bits
//! of an f64 sum), on a passing and a failing set; what does not belong together is refused
//! with the file named.

mod common;

use std::path::Path;

use common::{root, run};
use serde_json::Value;

/// `common::npy_case` with every path as text.
fn npy_case(dir: &Path, nudge: &[(usize, usize, f32)]) -> (String, String, String) {
    let (model, labels, set) = common::npy_case(dir, nudge);
    (model, labels, set.display().to_string())
}

/// A run's exit code, JSON report and text report.
type Outcome = (i32, Value, String);

/// Runs validate on the whole set, then on 4 shards (each writing its JSON report), then merge;
/// returns (whole, merged) as (exit code, JSON, text), and the shards' report paths.
fn whole_and_merged(
    dir: &Path,
    case: &(String, String, String),
    extra: &[&str],
) -> (Outcome, Outcome, Vec<String>) {
    let (model, labels, set) = case;
    let validate = |more: &[&str]| {
        let mut a = vec![
            "validate",
            model.as_str(),
            "--test-data",
            set.as_str(),
            "--labels",
            labels.as_str(),
        ];
        a.extend_from_slice(extra);
        a.extend_from_slice(more);
        run(&a, dir)
    };
    let json = validate(&["--format", "json"]);
    let text = validate(&[]);
    assert_eq!(json.code, text.code);
    let whole = (
        json.code,
        serde_json::from_str(&json.stdout).unwrap(),
        text.stdout,
    );
    let mut reports = Vec::new();
    for i in 1..=4 {
        let path = dir.join(format!("shard-{i}.json")).display().to_string();
        let spec = format!("{i}/4");
        let r = validate(&[
            "--shard", &spec, "--chunk", "16", "--format", "json", "--report", &path,
        ]);
        assert!(r.code == 0 || r.code == 1, "shard {i}: {}", r.stderr);
        assert!(
            r.stdout.contains(&format!("shard {i}/4")),
            "the text says which shard: {}",
            r.stdout
        );
        reports.push(path);
    }
    // In any order.
    let shuffled: Vec<&str> = [2, 0, 3, 1].iter().map(|&i| reports[i].as_str()).collect();
    let merge = |format: &str| {
        let mut a = vec!["merge", "--format", format];
        a.extend_from_slice(&shuffled);
        run(&a, dir)
    };
    let (json, text) = (merge("json"), merge("text"));
    assert!(json.code != 2, "{}", json.stderr);
    let merged = (
        json.code,
        serde_json::from_str(&json.stdout).unwrap(),
        text.stdout,
    );
    (whole, merged, reports)
}

/// Every key and value equal, except floats under `/loss/` (sums of the shards' sums, and
/// differences of such sums), which must agree to 1e-12 of the larger of 1 and their size.
fn same_report(whole: &Value, merged: &Value, path: &str, loss_floats: &mut usize) {
    match (whole, merged) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "keys at {path}");
            for (k, v) in a {
                same_report(v, &b[k], &format!("{path}/{k}"), loss_floats);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "length at {path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_report(x, y, &format!("{path}[{i}]"), loss_floats);
            }
        }
        (Value::Number(x), Value::Number(y)) if path.contains("/loss/") && x.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            *loss_floats += 1;
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
                "{path}: {x} unsharded, {y} merged"
            );
        }
        _ => assert_eq!(whole, merged, "at {path}"),
    }
}

#[test]
fn four_shards_merge_into_the_report_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let case = npy_case(tmp.path(), &[]);
    let (whole, merged, reports) = whole_and_merged(tmp.path(), &case, &[]);
    assert_eq!((whole.0, merged.0), (0, 0));
    let mut loss_floats = 0;
    same_report(&whole.1, &merged.1, "", &mut loss_floats);
    assert!(loss_floats > 10, "the losses were compared");
    assert_eq!(whole.2, merged.2, "the text reports are identical");
    let (model, labels, set) = &case;
    let junit = run(
        &[
            "validate",
            model,
            "--test-data",
            set,
            "--labels",
            labels,
            "--format",
            "junit",
        ],
        tmp.path(),
    );
    let mut args = vec!["merge", "--format", "junit"];
    args.extend(reports.iter().map(String::as_str));
    let merged_junit = run(&args, tmp.path());
    assert_eq!(merged_junit.code, 0, "{}", merged_junit.stderr);
    assert_eq!(
        junit.stdout, merged_junit.stdout,
        "the JUnit reports are identical"
    );
}

#[test]
fn a_failing_set_merges_into_the_same_failure() {
    let tmp = tempfile::tempdir().unwrap();
    // Shard 2 holds samples 125..250, shard 3 250..375: the first mismatch lies in shard 2, the
    // worst in shard 3, with one almost as bad after it.
    let case = npy_case(
        tmp.path(),
        &[(130, 3, 0.01), (260, 7, -0.5), (300, 1, 0.2), (370, 2, 0.5)],
    );
    let (whole, merged, _) = whole_and_merged(tmp.path(), &case, &[]);
    assert_eq!((whole.0, merged.0), (1, 1));
    let mut loss_floats = 0;
    same_report(&whole.1, &merged.1, "", &mut loss_floats);
    let out = &merged.1["cases"][0]["outputs"][0];
    assert_eq!(out["mismatches"], 4);
    assert_eq!(out["first_mismatch"]["index"], serde_json::json!([130, 3]));
    assert_eq!(out["worst"]["index"], serde_json::json!([260, 7]));
    assert_eq!(whole.2, merged.2);
}

#[test]
fn expected_loss_gates_are_judged_on_the_whole_set_by_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let case = npy_case(tmp.path(), &[]);
    let (whole, merged, _) = whole_and_merged(tmp.path(), &case, &["--expect-probs-loss", "0.25"]);
    assert_eq!((whole.0, merged.0), (1, 1));
    assert!(merged.2.contains("probs-form loss") && merged.2.contains("expected 0.25"));
    let mut loss_floats = 0;
    same_report(&whole.1, &merged.1, "", &mut loss_floats);
}

#[test]
fn what_does_not_belong_together_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let case = npy_case(tmp.path(), &[]);
    let (_, _, reports) = whole_and_merged(tmp.path(), &case, &[]);
    let dir = tmp.path();
    let merge = |files: &[&str]| {
        let mut a = vec!["merge"];
        a.extend_from_slice(files);
        run(&a, dir)
    };
    let r = merge(&[&reports[0], &reports[1], &reports[3]]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("shard(s) 3 of 4 missing"), "{}", r.stderr);

    let r = merge(&[&reports[0], &reports[1], &reports[1], &reports[3]]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("shard-2.json: holds shard 2/4, as"),
        "{}",
        r.stderr
    );

    // A shard of another model (the same test set under the Keras logits export).
    let other = root()
        .join("models/keras-mlp-logits/model.onnx")
        .display()
        .to_string();
    let foreign = dir.join("foreign.json").display().to_string();
    let (_, labels, set) = &case;
    let r = run(
        &[
            "validate",
            &other,
            "--test-data",
            set,
            "--labels",
            labels,
            "--shard",
            "3/4",
            "--format",
            "json",
            "--report",
            &foreign,
        ],
        dir,
    );
    assert!(Path::new(&foreign).exists(), "{}", r.stderr);
    let r = merge(&[&reports[0], &reports[1], &foreign, &reports[3]]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("foreign.json: shard 3 has model"),
        "{}",
        r.stderr
    );

    // Not a shard's report, and not JSON.
    let plain = dir.join("plain.json");
    let (model, labels, set) = &case;
    let r = run(
        &[
            "validate",
            model,
            "--test-data",
            set,
            "--labels",
            labels,
            "--format",
            "json",
        ],
        dir,
    );
    std::fs::write(&plain, r.stdout).unwrap();
    let r = merge(&[&plain.display().to_string()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("plain.json: not a shard's report"),
        "{}",
        r.stderr
    );
    std::fs::write(dir.join("junk.json"), "{ not json").unwrap();
    let r = merge(&[&dir.join("junk.json").display().to_string()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("junk.json: not a JSON report"),
        "{}",
        r.stderr
    );

    // Too many shards for the samples, and a set that is not NAME.npy files.
    let r = run(
        &["validate", model, "--test-data", set, "--shard", "1/300"],
        dir,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("500 samples, too few for 300 shards"),
        "{}",
        r.stderr
    );
    let pb = root()
        .join("models/keras-mlp-sigmoid/test_data_set_0")
        .display()
        .to_string();
    let r = run(
        &["validate", model, "--test-data", &pb, "--shard", "1/2"],
        dir,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("input_0.pb") && r.stderr.contains("--shard"),
        "{}",
        r.stderr
    );
}
