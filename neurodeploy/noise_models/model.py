"""What a temporal noise model is: its manifest block, the channel it enters the neuron
update through, its counter-based stream and its reference draw.

A model is defined once in its own module (:mod:`.membrane`, :mod:`.current`,
:mod:`.spike_drop`) and registered in :mod:`neurodeploy.noise_models`. Backends implement
*channels*, not models: a model whose channel a backend declares runs there with no backend
code, and one whose channel it does not declare is refused by name
(:mod:`neurodeploy.compilers.capabilities`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: channels the built-in models use: ``membrane`` (added to v before the threshold),
#: ``current`` (added to the input before u takes it), ``drop`` (a spike not delivered)
CHANNELS = ("membrane", "current", "drop")


@dataclass(frozen=True)
class NoiseModel:
    """One temporal noise model.

    ``manifest(ir_entry, scale, shift)`` is the per-population manifest entry compiled from
    the IR entry (``scale``: the population's state scale, ``shift``: ``2**activation_shift``
    in fixed builds, 1 in float); ``value(manifest_entry)`` the one number the draws are
    scaled or compared by (0: off); ``reference(value, seed, chip, pop_id, size, steps,
    fixed)`` the ``[steps, size]`` array of what it adds (or, for ``drop``, a bool mask),
    the numbers every backend must apply."""

    name: str                         # IR and manifest key: ``noise.<name>``
    channel: str                      # where it enters (backends declare channels)
    stream: int                       # counter_rng stream of its draws
    needs_membrane: bool              # only on kinds with a membrane (u, v)
    manifest: Callable[[Any, float, float], dict[str, float]]
    value: Callable[[dict[str, Any]], float]
    reference: Callable[..., np.ndarray]
    value_range: tuple[float, float] = (0.0, float("inf"))
    doc: str = ""
    #: the IR block's fields besides ``populations``: ``{field: (constraint, description)}``
    #: with constraint ``nonnegative`` or ``probability`` (:mod:`neurodeploy.ir.models`
    #: generates the class ``ir_class`` and the ``noise`` block from the registry)
    ir_fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    ir_class: str = ""

    def refusal(self, pop: str, entry: dict[str, Any]) -> str | None:
        """Why the manifest ``entry`` of population ``pop`` is invalid (None when valid)."""
        try:
            x = self.value(entry)
        except (KeyError, TypeError, ValueError) as exc:
            return f"noise.{self.name}.{pop}: malformed entry {entry!r} ({exc})"
        lo, hi = self.value_range
        if not lo <= x <= hi:
            return f"noise.{self.name}.{pop}: {x} is outside {lo}..{hi}"
        return None


def gaussian_increment(stream: int) -> Callable[..., np.ndarray]:
    """The reference draw of a Gaussian increment on ``stream``: ``value * normal`` in
    float, ``floor(value * normal + 0.5)`` (int64 state units) in fixed point."""
    def reference(value: float, seed: int, chip: int, pop_id: int, size: int, steps: int,
                  fixed: bool) -> np.ndarray:
        from neurodeploy.variability import counter_rng as R
        inc = value * R.draws(seed, chip, pop_id, size, steps, stream, "normal")
        return np.floor(inc + 0.5).astype(np.int64) if fixed else inc
    return reference


def sigma_value(entry: dict[str, Any]) -> float:
    """A Gaussian model's width in state units (``sigma_state``; ``sigma`` when absent)."""
    return float(entry.get("sigma_state", entry["sigma"]))
