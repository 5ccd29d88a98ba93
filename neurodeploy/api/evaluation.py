"""Evaluate a trained build on a data set's test split, as an object."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import checks
from .buildlike import BuildLike, build_path


@dataclass
class Evaluation:
    """Test accuracy (fraction) and NeuroBench-style workload of a build, per sample.

    ``raw`` is the whole record (what ``neurodeploy evaluate --json --predictions`` prints).
    """

    accuracy: float
    n: int
    backend: str
    numerics: str
    activation_sparsity: float
    synaptic_operations_per_sample: float
    mean_rate_hz: dict[str, float]
    predictions: np.ndarray
    mismatch_not_applied: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)


def evaluate(build: BuildLike | str | Path, backend: str = "cpu", data: str = "digits",
             samples: int | None = None, classes: list[int] | None = None,
             seed: int = 0) -> Evaluation:
    """Run ``build`` frozen on the test split of ``data`` (first ``samples`` only, labels
    ``classes``; default: those it was trained on) and measure accuracy and workload."""
    from ..learning.evaluate import evaluate_build
    checks.positive("samples", samples)
    r = evaluate_build(build_path(build), backend=backend, data_spec=str(data), seed=seed,
                       samples=samples, classes=list(classes) if classes else None)
    return Evaluation(accuracy=float(r["accuracy"]), n=int(r["n"]), backend=backend,
                      numerics=r["numerics"], activation_sparsity=float(r["activation_sparsity"]),
                      synaptic_operations_per_sample=float(r["synaptic_operations_per_sample"]),
                      mean_rate_hz=dict(r["mean_rate_hz"]),
                      predictions=np.asarray(r["predictions"], dtype=np.int64),
                      mismatch_not_applied=list(r["mismatch_not_applied"]), raw=r)
