"""Per-sample worst case over candidate adversarial inputs, judged on the build itself.

An adaptive evaluation does not trust one setting of an attack: every candidate (surrogate
slope, loss, restart, the clean input itself, which lies in every epsilon-ball) is run
through the deployed build, and a sample counts as robust only if the build classifies all
of its candidates right. So accuracy under attack is never above clean accuracy, and
adding a candidate can only lower it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .target import Target


@dataclass
class Worst:
    """The adversarial input kept per sample and whether the build still gets it right."""

    x: np.ndarray                      # [samples, n] pixels
    correct: np.ndarray                # [samples] bool, on the nominal build
    source: list[str]                  # per sample: which candidate broke it ('clean' if none)
    broke: dict[str, int] = field(default_factory=dict)   # candidate -> samples it broke first


def start(target: Target, clean_correct: np.ndarray) -> Worst:
    """The clean input as the first candidate of every sample."""
    n = target.x.shape[0]
    return Worst(target.x.copy(), clean_correct.copy(), ["clean"] * n)


def offer(target: Target, worst: Worst, name: str, x_adv: np.ndarray,
          rows: np.ndarray) -> None:
    """Run candidate ``x_adv`` (for samples ``rows``) on the build; keep it where it breaks
    a sample that every earlier candidate left correct."""
    live = worst.correct[rows]
    if not live.any():
        return
    idx, xa = rows[live], x_adv[live]
    ok = target.correct(xa, target.y[idx])
    newly = idx[~ok]
    worst.x[newly] = xa[~ok]
    worst.correct[newly] = False
    for i in newly:
        worst.source[i] = name
    worst.broke[name] = worst.broke.get(name, 0) + int(newly.size)


def still_correct(worst: Worst) -> np.ndarray:
    """Indices of samples no candidate has broken yet."""
    return np.flatnonzero(worst.correct)
