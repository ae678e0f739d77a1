"""Shared fixtures: the repository's committed models, and synthetic digits written by the
binary itself (`onnx-parity data`), so the tests need no download.

The tests run the installed package and its binary (CI installs the wheel into a fresh venv);
from a checkout, ``ONNX_PARITY_BIN=target/debug/onnx-parity PYTHONPATH=python pytest
python/tests`` runs them against a cargo build.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import onnx_parity

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"


@pytest.fixture(scope="session")
def digits():
    """3000 synthetic digits: x float32 [n, 784] in [0, 1] (exact k/255), y binary targets
    [n, 10] (the digit one-hot, read as 10 independent binary labels)."""
    return onnx_parity.synthetic_digits(3000, seed=7)
