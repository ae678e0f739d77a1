//! A graph cut down to what some of its outputs need.
//!
//! Why: a runtime that lacks an operator on a branch feeding only outputs nobody compares must
//! not refuse the whole model. skl2onnx's classifiers compute `label` through `ai.onnx.ml`
//! `Binarizer` while `probabilities` needs only standard ops; validating the probabilities
//! should not depend on the label branch. Pruning happens here, on our own protobuf types, so
//! that every runtime prepares the same pruned graph.
//!
//! It only removes: the nodes no kept output depends on (looking into subgraphs for the outer
//! names they read), the outputs not asked for, the initializers and `value_info` entries
//! nothing kept reads. Everything kept stays in its order. Every graph input stays, used or
//! not, because reference data is matched to inputs by position as well as by name. It must
//! never add or rewrite a node.

use std::collections::{BTreeSet, HashMap};

use super::pb::{GraphProto, NodeProto};

/// How deep subgraphs are searched for outer names (model opening refuses deeper nesting).
const MAX_DEPTH: usize = 32;

/// What [`prune`] removed, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Removed {
    pub outputs: Vec<String>,
    pub nodes: usize,
    pub initializers: usize,
}

/// `graph` with only the outputs named in `keep` (in the graph's order) and what they need.
/// `Err` names an output that the graph does not have.
pub fn prune(graph: &GraphProto, keep: &[String]) -> Result<(GraphProto, Removed), String> {
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name()).collect();
    if let Some(missing) = keep.iter().find(|k| !outputs.contains(&k.as_str())) {
        return Err(format!(
            "'{missing}' is not a graph output (outputs: {})",
            outputs
                .iter()
                .map(|o| format!("'{o}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // First producer of each tensor; a worklist from the kept outputs back to the inputs.
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            producer.entry(out.as_str()).or_insert(i);
        }
    }
    let mut needed: BTreeSet<String> = keep.iter().cloned().collect();
    let mut work: Vec<String> = keep.to_vec();
    let mut kept = vec![false; graph.node.len()];
    while let Some(name) = work.pop() {
        let Some(&i) = producer.get(name.as_str()) else {
            continue;
        };
        if kept[i] {
            continue;
        }
        kept[i] = true;
        let mut reads = BTreeSet::new();
        node_reads(&graph.node[i], &mut reads, 0);
        for r in reads {
            if needed.insert(r.clone()) {
                work.push(r);
            }
        }
    }
    let input_names: BTreeSet<&str> = graph.input.iter().map(|i| i.name()).collect();
    let mut pruned = graph.clone();
    pruned.node = graph
        .node
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(n, _)| n.clone())
        .collect();
    pruned.output.retain(|o| keep.iter().any(|k| k == o.name()));
    pruned
        .initializer
        .retain(|t| needed.contains(t.name()) || input_names.contains(t.name()));
    // Hints only; an entry whose type this schema does not model (a sequence, a map) would be
    // written back without one, so it goes too.
    pruned.value_info.retain(|v| {
        needed.contains(v.name()) && v.r#type.as_ref().is_some_and(|t| t.value.is_some())
    });
    let removed = Removed {
        outputs: outputs
            .iter()
            .filter(|o| !keep.iter().any(|k| k == *o))
            .map(|o| (*o).to_owned())
            .collect(),
        nodes: graph.node.len() - pruned.node.len(),
        initializers: graph.initializer.len() - pruned.initializer.len(),
    };
    Ok((pruned, removed))
}

/// Every tensor name a node reads: its inputs, and the names its subgraphs read (which
/// include the outer-scope names they capture; names a subgraph defines itself match no outer
/// producer, so including them costs nothing).
fn node_reads(node: &NodeProto, reads: &mut BTreeSet<String>, depth: usize) {
    reads.extend(node.input.iter().filter(|i| !i.is_empty()).cloned());
    if depth >= MAX_DEPTH {
        return;
    }
    for attr in &node.attribute {
        for sub in attr.g.iter().chain(&attr.graphs) {
            for n in &sub.node {
                node_reads(n, reads, depth + 1);
            }
            reads.extend(sub.output.iter().map(|o| o.name().to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{GraphBuilder, ModelMeta, attr_float};

    /// x -> Relu -> a -> Sigmoid -> p (output), a -> Mystery -> m -> Cast -> label (output);
    /// `w` feeds only the mystery branch.
    fn two_branches() -> GraphProto {
        let mut b = GraphBuilder::new();
        b.input("x", DataType::Float, &["N".into(), 2.into()])
            .initializer_f32("w", &[1], &[0.5])
            .unwrap()
            .node("Relu", "relu", &["x"], &["a"], vec![])
            .node(
                "Mystery",
                "mystery",
                &["a", "w"],
                &["m"],
                vec![attr_float("t", 0.5)],
            )
            .node("Sigmoid", "sigmoid", &["a"], &["p"], vec![])
            .node("Cast", "cast", &["m"], &["label"], vec![])
            .output("label", DataType::Int64, &["N".into()])
            .output("p", DataType::Float, &["N".into(), 2.into()]);
        b.finish(ModelMeta::default()).graph.unwrap()
    }

    #[test]
    fn keeps_what_the_kept_outputs_need_and_every_input() {
        let g = two_branches();
        let (p, removed) = prune(&g, &["p".to_owned()]).unwrap();
        let ops: Vec<&str> = p.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Relu", "Sigmoid"]);
        assert_eq!(p.output.len(), 1);
        assert_eq!(p.output[0].name(), "p");
        assert!(p.initializer.is_empty());
        assert_eq!(p.input.len(), 1);
        assert_eq!(
            removed,
            Removed {
                outputs: vec!["label".into()],
                nodes: 2,
                initializers: 1
            }
        );
        // Keeping everything changes nothing.
        let all = ["label".to_owned(), "p".to_owned()];
        let (same, removed) = prune(&g, &all).unwrap();
        assert_eq!(same, g);
        assert_eq!(removed, Removed::default());
    }

    #[test]
    fn an_unknown_output_is_an_error_naming_the_outputs() {
        let err = prune(&two_branches(), &["q".to_owned()]).unwrap_err();
        assert!(err.contains("'q' is not a graph output"), "{err}");
        assert!(err.contains("'label', 'p'"), "{err}");
    }

    #[test]
    fn names_read_inside_subgraphs_keep_their_producers() {
        // An If whose branch reads `a` from the outer scope.
        let mut g = two_branches();
        let mut body = GraphBuilder::new();
        body.node("Identity", "inner", &["a"], &["b"], vec![])
            .output("b", DataType::Float, &[]);
        let body = body.finish(ModelMeta::default()).graph.unwrap();
        let mut attr = attr_float("then_branch", 0.0);
        attr.f = None;
        attr.g = Some(body);
        g.node.push(NodeProto {
            input: vec!["cond".into()],
            output: vec!["q".into()],
            op_type: Some("If".into()),
            attribute: vec![attr],
            ..NodeProto::default()
        });
        g.output.push(g.output[1].clone());
        g.output[2].name = Some("q".into());
        let (p, _) = prune(&g, &["q".to_owned()]).unwrap();
        let ops: Vec<&str> = p.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Relu", "If"]);
    }
}
