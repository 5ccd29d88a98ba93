"""The graded relay: emits its summed input of a step as a graded event (0: nothing).

The error and bottleneck populations of the feedback-alignment family are graded relays
(:mod:`neurodeploy.learning.fa_family`): ``e = label - out`` is a sum of two projections'
inputs, passed on unchanged. Fixed point wraps the value to 32 bits (the port channel).
It has no membrane, never spikes (rates count 0) and takes no membrane noise. Lava: our
``GradedRelay`` process (:mod:`compilers.lava.learning_processes`); Brian2: ``val`` set to
the consumed delivery buffer (:func:`compilers.brian2.learn_code.graded_step`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import types
from numba.extending import overload

from neurodeploy.jit import CACHE, wrap32

from .kind import NeuronKind


def cpu_params(pop: Any, fixed: bool, fc: Any, over: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """A relay has no parameters."""
    return {"p0": 0, "p1": 0, "p2": 0, "p3": 0, "pi": 0}


def reference_step(a_in: np.ndarray, fixed: bool) -> np.ndarray:
    """What the relay emits for the input ``a_in`` of a step."""
    if fixed:
        return np.asarray(a_in, np.int64).astype(np.int32, casting="unsafe").astype(np.int64)
    return np.asarray(a_in, np.float64).copy()


def cpu_step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    """Emit the input (wrapped to 32 bits in fixed point); state unchanged."""


@overload(cpu_step, inline="always", jit_options={"cache": CACHE})
def _cpu_step_overload(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    if isinstance(a, types.Integer):
        return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: (
            u, v, aux, wrap32(a), False)
    return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: (u, v, aux, a, False)


KIND = NeuronKind(
    name="graded", code=1, module=__name__, spiking=False, state=(),
    cpu_params=cpu_params, reference_step=reference_step,
    backends={"cpu": ("run", "batch", "learn"), "lava": ("learn",), "brian2": ("learn",)})
