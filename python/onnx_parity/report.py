"""Typed reports, built from the JSON the binary writes (``--format json``).

Every class mirrors one object of that JSON (README, "Reports and exit codes", lists the keys)
and keeps its field names. Numbers that are not finite arrive as the strings ``"NaN"``,
``"inf"``, ``"-inf"`` and become floats here. Keys the binary adds later are ignored by these
classes and stay available in ``json`` of the top-level report. ``text`` holds the binary's own
text report of the same run; ``str(report)`` is that text.
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

Number = Union[int, float, bool]

PASS = "pass"
FAIL = "fail"
ERROR = "error"


def _num(v: Any) -> Any:
    if isinstance(v, str) and v in ("NaN", "inf", "-inf"):
        return float(v)
    return v


def _opt(cls: Any, d: Optional[dict]) -> Any:
    return None if d is None else cls.from_json(d)


@dataclass(frozen=True)
class Tolerance:
    """An element passes when ``|actual - expected| <= atol + rtol * |expected|``."""

    atol: float
    rtol: float
    allow_nonfinite: bool

    @classmethod
    def from_json(cls, d: dict) -> "Tolerance":
        return cls(float(d["atol"]), float(d["rtol"]), bool(d["allow_nonfinite"]))


@dataclass(frozen=True)
class Element:
    """One element of a compared tensor: where it is and both values."""

    index: Tuple[int, ...]
    actual: Number
    expected: Number
    abs_err: float

    @classmethod
    def from_json(cls, d: dict) -> "Element":
        return cls(
            tuple(d["index"]), _num(d["actual"]), _num(d["expected"]), _num(d["abs_err"])
        )


@dataclass(frozen=True)
class Metrics:
    """How far one tensor is from its reference.

    ``max_rel_err`` divides by ``max(|actual|, |expected|)``; ``max_ulp`` is the largest
    distance in units in the last place of the element type; ``first_mismatch`` is the first
    element outside the tolerance (None when all pass), ``worst`` the largest absolute error.
    """

    elements: int
    max_abs_err: float
    max_rel_err: float
    max_ulp: int
    mismatches: int
    mismatch_fraction: float
    nonfinite: int
    first_mismatch: Optional[Element]
    worst: Optional[Element]

    @classmethod
    def from_json(cls, d: dict) -> "Metrics":
        return cls(
            elements=d["elements"],
            max_abs_err=_num(d["max_abs_err"]),
            max_rel_err=_num(d["max_rel_err"]),
            max_ulp=d["max_ulp"],
            mismatches=d["mismatches"],
            mismatch_fraction=_num(d["mismatch_fraction"]),
            nonfinite=d["nonfinite"],
            first_mismatch=_opt(Element, d.get("first_mismatch")),
            worst=_opt(Element, d.get("worst")),
        )


# ---------------------------------------------------------------------------------------------
# validate


@dataclass(frozen=True)
class InputReport:
    """A reference input and how it was paired with the model's input (``"name"`` or
    ``"position"``). ``bound_as_constant``: tract needed it as a constant (see README)."""

    name: str
    file: str
    matched_by: str
    dtype: str
    shape: Tuple[int, ...]
    bound_as_constant: bool

    @classmethod
    def from_json(cls, d: dict) -> "InputReport":
        return cls(
            d["name"], d["file"], d["matched_by"], d["dtype"], tuple(d["shape"]),
            d["bound_as_constant"],
        )


@dataclass(frozen=True)
class OutputReport:
    """One model output against its reference: ``status`` is ``"pass"`` or ``"fail"``;
    ``problem`` says why it could not be compared (type or shape), else None."""

    name: str
    file: str
    matched_by: str
    status: str
    dtype: str
    shape: Tuple[int, ...]
    expected_dtype: str
    expected_shape: Tuple[int, ...]
    tolerance: Tolerance
    metrics: Metrics
    problem: Optional[str]

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @classmethod
    def from_json(cls, d: dict) -> "OutputReport":
        return cls(
            name=d["name"],
            file=d["file"],
            matched_by=d["matched_by"],
            status=d["status"],
            dtype=d["dtype"],
            shape=tuple(d["shape"]),
            expected_dtype=d["expected_dtype"],
            expected_shape=tuple(d["expected_shape"]),
            tolerance=Tolerance.from_json(d["tolerance"]),
            metrics=Metrics.from_json(d),
            problem=d.get("problem"),
        )


@dataclass(frozen=True)
class LossForm:
    """One sigmoid-BCE formulation (Keras reduction: mean over the last axis, then the rest).

    ``f32``: element losses in float32 on the model's outputs (what Keras computes);
    ``f64``: the same in float64; ``reference``: the same on the reference outputs, where the
    reference allows it; ``expected``/``abs_diff``/``passed``: the gate, when one was set
    (``expect_loss=...``), else None.
    """

    f32: float
    f64: float
    reference: Optional[float]
    expected: Optional[float]
    abs_diff: Optional[float]
    passed: Optional[bool]

    @classmethod
    def from_json(cls, d: dict) -> "LossForm":
        return cls(
            _num(d["f32"]), _num(d["f64"]), _num(d.get("reference")), _num(d.get("expected")),
            _num(d.get("abs_diff")), d.get("passed"),
        )


@dataclass(frozen=True)
class Head:
    """How the loss output was read: ``kind`` ``"sigmoid"`` (the output comes from a Sigmoid
    node; the logits are its input, ``logits_tensor``, fetched from the same run) or
    ``"logits"`` (the output is taken as logits)."""

    kind: str
    output: str
    sigmoid_node: Optional[str]
    logits_tensor: str

    @classmethod
    def from_json(cls, d: dict) -> "Head":
        return cls(d["kind"], d["output"], d.get("sigmoid_node"), d["logits_tensor"])


@dataclass(frozen=True)
class Loss:
    """Both losses against the labels. ``logits_form`` is what ``model.evaluate`` reports for a
    sigmoid head; ``probs_form`` is ``binary_crossentropy(y, model.predict(x))``, probabilities
    clipped to [1e-7, 1 - 1e-7]; ``clipped`` counts the elements the clip changed (and
    ``reference_clipped`` the same on the reference outputs)."""

    labels: str
    head: Head
    elements: int
    clipped: int
    reference_clipped: Optional[int]
    logits_form: LossForm
    probs_form: LossForm
    tolerance: float

    @classmethod
    def from_json(cls, d: dict) -> "Loss":
        return cls(
            labels=d["labels"],
            head=Head.from_json(d["head"]),
            elements=d["elements"],
            clipped=d["clipped"],
            reference_clipped=d.get("reference_clipped"),
            logits_form=LossForm.from_json(d["logits_form"]),
            probs_form=LossForm.from_json(d["probs_form"]),
            tolerance=_num(d["tolerance"]),
        )


@dataclass(frozen=True)
class BinaryAccuracy:
    """Fraction of elements where ``p > 0.5`` agrees with ``label > 0.5``, on the model's and
    the reference's outputs, and how many decisions flip between the two."""

    model: float
    reference: Optional[float]
    decisions_flipped: Optional[int]
    elements: int

    @classmethod
    def from_json(cls, d: dict) -> "BinaryAccuracy":
        return cls(
            _num(d["model"]), _num(d.get("reference")), d.get("decisions_flipped"), d["elements"]
        )


@dataclass(frozen=True)
class Sha256:
    actual: str
    expected: Optional[str]
    matches: bool

    @classmethod
    def from_json(cls, d: dict) -> "Sha256":
        return cls(d["actual"], d.get("expected"), d["matches"])


@dataclass(frozen=True)
class Case:
    """One model on one test set. ``status``: ``"pass"``, ``"fail"`` (``problems`` says why,
    one line each) or ``"error"`` (``error`` says why it could not run)."""

    model: str
    test_data: Optional[str]
    status: str
    error: Optional[str]
    error_kind: Optional[str]
    problems: List[str]
    sha256: Optional[Sha256]
    tolerance_name: str
    inputs: List[InputReport]
    outputs: List[OutputReport]
    loss: Optional[Loss]
    binary_accuracy: Optional[BinaryAccuracy]

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def output(self, name: str) -> OutputReport:
        """The output called `name`."""
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(f"no output {name!r} (outputs: {', '.join(o.name for o in self.outputs)})")

    @classmethod
    def from_json(cls, d: dict) -> "Case":
        return cls(
            model=d["model"],
            test_data=d.get("test_data"),
            status=d["status"],
            error=d.get("error"),
            error_kind=d.get("error_kind"),
            problems=list(d.get("problems", [])),
            sha256=_opt(Sha256, d.get("sha256")),
            tolerance_name=d.get("tolerance_name", ""),
            inputs=[InputReport.from_json(i) for i in d.get("inputs", [])],
            outputs=[OutputReport.from_json(o) for o in d.get("outputs", [])],
            loss=_opt(Loss, d.get("loss")),
            binary_accuracy=_opt(BinaryAccuracy, d.get("binary_accuracy")),
        )


@dataclass(frozen=True)
class Summary:
    cases: int
    passed: int
    failed: int
    errors: int

    @classmethod
    def from_json(cls, d: dict) -> "Summary":
        return cls(d["cases"], d["passed"], d["failed"], d["errors"])


@dataclass(frozen=True)
class ValidateReport:
    """What `onnx_parity.validate` found: ``status`` ``"pass"`` or ``"fail"`` (a report with
    status ``"error"`` is raised as `CouldNotRun` instead), one `Case` per test set.

    For the common single-test-set run, ``report.case`` is that case, and ``report.loss`` and
    ``report.binary_accuracy`` are its figures.
    """

    status: str
    summary: Summary
    cases: List[Case]
    tool_version: str
    text: str = field(repr=False)
    json: Dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def case(self) -> Case:
        """The only case; `ValueError` when there are several (use ``cases``)."""
        if len(self.cases) != 1:
            raise ValueError(f"the report has {len(self.cases)} cases; use report.cases")
        return self.cases[0]

    @property
    def loss(self) -> Optional[Loss]:
        return self.case.loss

    @property
    def binary_accuracy(self) -> Optional[BinaryAccuracy]:
        return self.case.binary_accuracy

    @property
    def outputs(self) -> List[OutputReport]:
        return self.case.outputs

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_json(cls, d: dict, text: str = "") -> "ValidateReport":
        return cls(
            status=d["status"],
            summary=Summary.from_json(d["summary"]),
            cases=[Case.from_json(c) for c in d["cases"]],
            tool_version=d.get("tool", {}).get("version", ""),
            text=text,
            json=d,
        )

    @classmethod
    def from_json_text(cls, data: str, text: str = "") -> "ValidateReport":
        return cls.from_json(_json.loads(data), text)


# ---------------------------------------------------------------------------------------------
# compare


@dataclass(frozen=True)
class OutputPair:
    """Side A's tensor `a` against side B's tensor `b`. ``metrics`` is None when they could not
    be compared, and ``problem`` says why (type or shape)."""

    a: str
    b: str
    shape_a: Tuple[int, ...]
    shape_b: Tuple[int, ...]
    metrics: Optional[Metrics]
    problem: Optional[str]

    @classmethod
    def from_json(cls, d: dict) -> "OutputPair":
        return cls(
            d["a"], d["b"], tuple(d["shape_a"]), tuple(d["shape_b"]),
            _opt(Metrics, d.get("metrics")), d.get("problem"),
        )


@dataclass(frozen=True)
class Layer:
    """A semantic layer: ``kind`` (``"Dense"``, ``"Conv"`` or an op type), the tensor holding
    its result, the nodes it spans."""

    kind: str
    tensor: str
    nodes: List[str]

    @classmethod
    def from_json(cls, d: dict) -> "Layer":
        return cls(d["kind"], d["tensor"], list(d["nodes"]))


@dataclass(frozen=True)
class LayerPair:
    """Two layers matched by structure, and their results compared."""

    index: int
    kind: str
    nodes_a: List[str]
    nodes_b: List[str]
    pair: OutputPair

    @classmethod
    def from_json(cls, d: dict) -> "LayerPair":
        return cls(
            d["index"], d["kind"], list(d["nodes_a"]), list(d["nodes_b"]), OutputPair.from_json(d)
        )


@dataclass(frozen=True)
class Divergence:
    """The first layer, in A's order, whose result breaks the tolerance."""

    a: str
    b: str
    kind: str
    index: int
    tolerance: Tolerance
    metrics: Metrics

    @classmethod
    def from_json(cls, d: dict) -> "Divergence":
        return cls(
            d["a"], d["b"], d["kind"], d["index"], Tolerance.from_json(d["tolerance"]),
            Metrics.from_json(d["metrics"]),
        )


@dataclass(frozen=True)
class Stage:
    """For one ONNX side: tract's decluttered graph against its optimized graph."""

    side: str
    outputs: List[OutputPair]

    @classmethod
    def from_json(cls, d: dict) -> "Stage":
        return cls(d["side"], [OutputPair.from_json(o) for o in d["outputs"]])


@dataclass(frozen=True)
class CompareCase:
    """Both sides on one test set."""

    test_data: str
    samples: int
    inputs_matched_by: str
    outputs: List[OutputPair]
    outputs_matched_by: str
    layers: List[LayerPair]
    unmatched_a: List[Layer]
    unmatched_b: List[Layer]
    first_divergence: Optional[Divergence]
    probes_changed_outputs: bool
    stages: List[Stage]
    status: str

    @classmethod
    def from_json(cls, d: dict) -> "CompareCase":
        return cls(
            test_data=d["test_data"],
            samples=d["samples"],
            inputs_matched_by=d["inputs_matched_by"],
            outputs=[OutputPair.from_json(o) for o in d["outputs"]],
            outputs_matched_by=d["outputs_matched_by"],
            layers=[LayerPair.from_json(x) for x in d.get("layers", [])],
            unmatched_a=[Layer.from_json(x) for x in d.get("unmatched_a", [])],
            unmatched_b=[Layer.from_json(x) for x in d.get("unmatched_b", [])],
            first_divergence=_opt(Divergence, d.get("first_divergence")),
            probes_changed_outputs=d.get("probes_changed_outputs", False),
            stages=[Stage.from_json(s) for s in d.get("stages", [])],
            status=d["status"],
        )


@dataclass(frozen=True)
class CompareReport:
    """What `onnx_parity.compare` found: side ``a`` (actual) against side ``b`` (reference)."""

    status: str
    a: str
    b: str
    tolerance: Tolerance
    tolerance_name: str
    cases: List[CompareCase]
    text: str = field(repr=False)
    json: Dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def case(self) -> CompareCase:
        """The only case; `ValueError` when there are several (use ``cases``)."""
        if len(self.cases) != 1:
            raise ValueError(f"the report has {len(self.cases)} cases; use report.cases")
        return self.cases[0]

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_json(cls, d: dict, text: str = "") -> "CompareReport":
        return cls(
            status=d["status"],
            a=d["a"],
            b=d["b"],
            tolerance=Tolerance.from_json(d["tolerance"]),
            tolerance_name=d["tolerance_name"],
            cases=[CompareCase.from_json(c) for c in d["cases"]],
            text=text,
            json=d,
        )

    @classmethod
    def from_json_text(cls, data: str, text: str = "") -> "CompareReport":
        return cls.from_json(_json.loads(data), text)
