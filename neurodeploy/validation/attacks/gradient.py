"""White-box gradient attacks through a float twin: FGSM and PGD with restarts (L-infinity).

Both ascend a per-sample loss of the twin's spike counts (:func:`.twin.loss_of`) in the
pixels, inside ``|x_adv - x| <= eps`` and the data's range [0, 1]. Each (surrogate slope,
loss, restart) is one candidate, offered to the build by :mod:`.select`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import select
from .target import Target
from .twin import Twin, input_gradient


@dataclass
class GradientSettings:
    """What an adaptive white-box attack tries (docs/attacks.md)."""

    slopes: tuple[float, ...] = (1.0, 5.0, 25.0)
    losses: tuple[str, ...] = ("ce", "margin")      # FGSM tries both
    pgd_losses: tuple[str, ...] = ("margin",)       # PGD: the margin does not saturate
    steps: int = 40            # PGD iterations
    restarts: int = 2          # PGD starts: the clean point, then random ones
    draws: int = 8             # encoder draws per gradient for rate encoding (EOT)
    seed: int = 0


def _draws(twin: Twin, s: GradientSettings) -> int:
    return s.draws if twin.task["encoding"] == "rate" else 1


def fgsm_step(twin: Twin, x: np.ndarray, y: np.ndarray, eps: float, slope: float, loss: str,
              gen: torch.Generator | None = None, draws: int = 1) -> np.ndarray:
    """One FGSM step: ``clip(x + eps sign(grad), 0, 1)``."""
    g = input_gradient(twin, x, y, slope, loss, gen, draws)
    return np.clip(x + eps * np.sign(g), 0.0, 1.0)


def pgd(twin: Twin, x: np.ndarray, y: np.ndarray, eps: float, slope: float, loss: str,
        steps: int, rng: np.random.Generator | None, gen: torch.Generator | None = None,
        draws: int = 1) -> np.ndarray:
    """Projected gradient ascent with step ``2.5 eps / steps`` (Madry et al.); a random
    start in the ball when ``rng`` is given, else the clean point."""
    alpha = 2.5 * eps / steps
    xa = x.copy() if rng is None else np.clip(x + rng.uniform(-eps, eps, x.shape), 0.0, 1.0)
    for _ in range(steps):
        g = input_gradient(twin, xa, y, slope, loss, gen, draws)
        xa = np.clip(np.clip(xa + alpha * np.sign(g), x - eps, x + eps), 0.0, 1.0)
    return xa


def run_fgsm(target: Target, twin: Twin, worst: select.Worst, eps: float,
             s: GradientSettings, tag: str = "") -> None:
    """FGSM at every (slope, loss), each offered to the build."""
    gen = torch.Generator().manual_seed(s.seed)
    for slope in s.slopes:
        for loss in s.losses:
            rows = select.still_correct(worst)
            if rows.size == 0:
                return
            xa = fgsm_step(twin, target.x[rows], target.y[rows], eps, slope, loss, gen,
                           _draws(twin, s))
            select.offer(target, worst, f"{tag}fgsm slope={slope:g} loss={loss}", xa, rows)


def run_pgd(target: Target, twin: Twin, worst: select.Worst, eps: float,
            s: GradientSettings, tag: str = "") -> None:
    """PGD at every (slope, loss, restart), each offered to the build."""
    gen = torch.Generator().manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    for r in range(s.restarts):
        for slope in s.slopes:
            for loss in s.pgd_losses:
                rows = select.still_correct(worst)
                if rows.size == 0:
                    return
                xa = pgd(twin, target.x[rows], target.y[rows], eps, slope, loss, s.steps,
                         rng if r else None, gen, _draws(twin, s))
                select.offer(target, worst, f"{tag}pgd slope={slope:g} loss={loss} "
                             f"restart={r}", xa, rows)
