"""Per-sample worst case over candidate adversarial inputs, judged on the build itself.

An adaptive evaluation does not trust one setting of an attack: every candidate (surrogate
slope, loss, restart, the clean input itself, which lies in every epsilon-ball) is run
through the deployed build, and a sample counts as robust only if the build classifies all
of its candidates right. So accuracy under attack is never above clean accuracy, and
adding a candidate can only lower it.

The build reads the test set as one sequence, as ``evaluate`` does, and the last step's
spikes of a sample arrive at the next one's first step; so a candidate is judged in place
(the other samples hold their current inputs), and :func:`finish` reads the kept set once
more in ``evaluate``'s order: that read-out is the reported accuracy.
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
    trial = worst.x.copy()
    trial[idx] = xa
    ok = target.correct(trial)[idx]
    newly = idx[~ok]
    worst.x[newly] = xa[~ok]
    worst.correct[newly] = False
    for i in newly:
        worst.source[i] = name
    worst.broke[name] = worst.broke.get(name, 0) + int(newly.size)


def finish(target: Target, worst: Worst) -> None:
    """Read the kept examples in ``evaluate``'s order; its verdict is the accuracy."""
    worst.correct = target.correct(worst.x)


def still_correct(worst: Worst) -> np.ndarray:
    """Indices of samples no candidate has broken yet."""
    return np.flatnonzero(worst.correct)
