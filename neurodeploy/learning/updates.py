"""Per-synapse values in the learner's flat synapse order, and the imperfect-update
settings (update noise, stochastic rounding) of chips: shared by training (chip 0) and
chip-in-the-loop fine-tuning (every chip)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..variability.chip import Chip
from ..variability.effective import update_lsb


def to_layout(layout: Any, plan: Any, name: str, values: np.ndarray) -> np.ndarray:
    """Per-synapse ``values`` of projection ``name`` (shape of the plan's weight array) in
    the learning layout's flat synapse order, checking that the order is the layout's."""
    sl = layout.slices[name]
    proj = plan.projections[name]
    values = np.asarray(values, np.float64)
    if proj.format == "dense":
        return values.reshape(sl.shape)[sl.rows, sl.cols]
    rows, cols = np.asarray(proj.rows, np.int64), np.asarray(proj.cols, np.int64)
    order = sl.order
    if not (np.array_equal(rows[order], sl.rows) and np.array_equal(cols[order], sl.cols)):
        raise RuntimeError(f"synapse order of '{name}' differs from the learning layout's")
    return values.reshape(-1)[order]


def update_settings(layout: Any, plan: Any, chips: Sequence[Chip]) -> Any:
    """The learner's imperfect-update settings of ``chips`` (``Chip.learning_settings``):
    noise std in LSBs and stochastic rounding per chip, drawn at (chip seed, chip index),
    in steps of each plastic projection's :func:`update_lsb`."""
    sets = [c.learning_settings for c in chips]
    bits = {st["weight_bits"] for st in sets}
    if len(bits) > 1:
        raise ValueError(f"chips of one fine-tuning batch have different weight_bits {bits}")
    width = bits.pop()
    lsb = [update_lsb(plan.projections[n].weights, width) for n in layout.rule_names]
    return layout.updates(sigma=[st["update_noise"] for st in sets],
                          rounding=[st["stochastic_rounding"] for st in sets],
                          seed=[c.seed for c in chips], chip=[c.index for c in chips], lsb=lsb)
