//! The first cause of a divergence: the first layer, in A's graph order, that is wrong by
//! itself rather than by what it inherited.
//!
//! Two things qualify. A matched layer whose local error (its cut run on B's inputs,
//! [`super::local`]) is beyond what float rounding can explain ([`super::bound`]); and an op
//! replaced by another: a layer of A and a layer of B of different kinds standing at the same
//! place of the alignment (`LeakyRelu` where B has `Relu`, `HardSigmoid` for `Sigmoid`,
//! `AveragePool` for `MaxPool`), provided their values differ beyond tolerance (an exporter may
//! spell one computation as another op; that is no cause). The earlier in A's order wins.
//! This module only decides; it runs nothing.

use serde::Serialize;

use super::layers::{Alignment, LayerKind};
use super::local::LocalReport;
use super::{LayerPair, PairReport};

/// Unmatched layers of both sides standing between the same matched pairs: a replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub a: usize,
    pub b: usize,
    /// The gap holds as many layers on each side, paired in order: A's layer computes what B's
    /// does, so its result can feed the layers after it in a local run.
    pub one_to_one: bool,
}

/// The replacements of an alignment: in each gap holding unmatched layers on both sides, the
/// layers paired in order (all of them when both sides have as many, else the first of each).
pub fn replacements(al: &Alignment) -> Vec<Gap> {
    let gap_of = |index: usize, side: fn(&(usize, usize)) -> usize| {
        al.pairs.iter().filter(|p| side(p) < index).count()
    };
    let mut out = Vec::new();
    let mut gap = 0;
    let gaps = al.pairs.len() + 1;
    while gap < gaps {
        let a: Vec<usize> = al
            .unmatched_a
            .iter()
            .copied()
            .filter(|&i| gap_of(i, |p| p.0) == gap)
            .collect();
        let b: Vec<usize> = al
            .unmatched_b
            .iter()
            .copied()
            .filter(|&j| gap_of(j, |p| p.1) == gap)
            .collect();
        if !a.is_empty() && !b.is_empty() {
            let one_to_one = a.len() == b.len();
            let n = if one_to_one { a.len() } else { 1 };
            out.extend(
                a.iter()
                    .zip(&b)
                    .take(n)
                    .map(|(&a, &b)| Gap { a, b, one_to_one }),
            );
        }
        gap += 1;
    }
    out
}

/// One op of A standing where B has another.
#[derive(Debug, Clone, Serialize)]
pub struct Replacement {
    /// Position in A's layer sequence, and in B's.
    pub index: usize,
    pub index_b: usize,
    pub kind: LayerKind,
    pub kind_b: LayerKind,
    pub nodes_a: Vec<String>,
    pub nodes_b: Vec<String>,
    /// A's result against B's, as they come out of the whole graphs.
    #[serde(flatten)]
    pub pair: PairReport,
    /// A's op run on B's inputs to B's op, against B's result.
    pub local: Option<LocalReport>,
    /// Whether the two ops compute different values (beyond tolerance): locally where the
    /// local run worked, else as accumulated.
    pub diverges: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseReason {
    /// Its local error is beyond the rounding bound.
    BeyondRounding,
    /// A's op is another op than B's at that place.
    OpReplaced,
}

/// The first layer, in A's graph order, that differs by itself.
#[derive(Debug, Clone, Serialize)]
pub struct FirstCause {
    pub index: usize,
    pub kind: LayerKind,
    /// The tensors holding the layer's result in A and in B.
    pub a: String,
    pub b: String,
    pub reason: CauseReason,
    /// B's op, when it is another (`op_replaced`).
    pub kind_b: Option<LayerKind>,
    /// The local error over the rounding bound (`beyond_rounding`).
    #[serde(serialize_with = "crate::metrics::serialize_opt_f64")]
    pub rounding_ratio: Option<f64>,
}

/// The first cause among matched layers judged beyond rounding and diverging replacements.
pub fn first_cause(layers: &[LayerPair], replaced: &[Replacement]) -> Option<FirstCause> {
    let beyond = layers
        .iter()
        .filter(|l| l.verdict == super::bound::RoundingVerdict::BeyondRounding)
        .map(|l| FirstCause {
            index: l.index,
            kind: l.kind.clone(),
            a: l.pair.a.clone(),
            b: l.pair.b.clone(),
            reason: CauseReason::BeyondRounding,
            kind_b: None,
            rounding_ratio: l.rounding_ratio,
        });
    let swapped = replaced.iter().filter(|r| r.diverges).map(|r| FirstCause {
        index: r.index,
        kind: r.kind.clone(),
        a: r.pair.a.clone(),
        b: r.pair.b.clone(),
        reason: CauseReason::OpReplaced,
        kind_b: Some(r.kind_b.clone()),
        rounding_ratio: None,
    });
    beyond.chain(swapped).min_by_key(|c| c.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_pair_unmatched_layers_of_the_same_gap() {
        // A: Dense LeakyRelu Dense Sigmoid; B: Dense Relu Dense Sigmoid.
        let al = Alignment {
            pairs: vec![(0, 0), (2, 2), (3, 3)],
            unmatched_a: vec![1],
            unmatched_b: vec![1],
        };
        assert_eq!(
            replacements(&al),
            [Gap {
                a: 1,
                b: 1,
                one_to_one: true
            }]
        );
        // An op only A has is an insertion, not a replacement; gaps at the end count too.
        let al = Alignment {
            pairs: vec![(0, 0), (2, 1)],
            unmatched_a: vec![1, 3, 4],
            unmatched_b: vec![2],
        };
        assert_eq!(
            replacements(&al),
            [Gap {
                a: 3,
                b: 2,
                one_to_one: false
            }]
        );
    }
}
