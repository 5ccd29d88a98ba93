"""Spike drop: a spike emitted by neuron ``i`` at step ``t`` is recorded (and the neuron
resets) but is not delivered to any synapse when ``uniform(seed, chip, pop, i, t,
STREAM_SPIKE_DROP) < p``. Applies to every population, sources included. Manifest:
``spike_drop: {pop: {p}}``."""
from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.variability.streams import STREAM_SPIKE_DROP

from .model import NoiseModel


def manifest(ir: Any, scale: float, shift: float) -> dict[str, float]:
    """The drop probability ``p``."""
    return {"p": ir.p}


def value(entry: dict[str, Any]) -> float:
    """The drop probability."""
    return float(entry["p"])


def reference(p: float, seed: int, chip: int, pop_id: int, size: int, steps: int,
              fixed: bool) -> np.ndarray:
    """``[steps, size]`` bool: True where a spike is not delivered."""
    from neurodeploy.variability import counter_rng as R
    return R.draws(seed, chip, pop_id, size, steps, STREAM_SPIKE_DROP, "uniform") < p


MODEL = NoiseModel(name="spike_drop", channel="drop", stream=STREAM_SPIKE_DROP,
                   needs_membrane=False, manifest=manifest, value=value, reference=reference,
                   value_range=(0.0, 1.0),
                   doc="Each emitted spike is lost with probability ``p`` before reaching its "
                       "synapses.",
                   ir_fields={"p": ("probability", "drop probability")}, ir_class="SpikeDrop")
