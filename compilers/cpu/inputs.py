"""Validation of the input spikes a caller hands the cpu backend."""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import BackendError

from ..plan import SimPlan


def source_spikes(plan: SimPlan, sources: list[str], inputs: dict[str, np.ndarray], steps: int,
                  batch: int) -> np.ndarray:
    """Validated spikes of the ``sources`` (in order) as one ``[Bi, steps, n_src]`` uint8
    array (Bi 1 when every input is shared by the batch, else B)."""
    B, T = batch, steps
    if not isinstance(inputs, dict):
        raise BackendError("inputs must be a dict {population: spikes [steps, size]}")
    inputs = dict(inputs)
    arrays = {}
    for name in sources:
        pop = plan.populations[name]
        key = name if name in inputs else f"{name}.spikes" if f"{name}.spikes" in inputs else None
        if key is None:
            raise BackendError(f"no input spikes for {pop.kind} population '{name}': pass "
                               f"inputs['{name}'] of shape [steps, {pop.size}] (make_inputs "
                               "draws Poisson populations from the seed)")
        arr = np.asarray(inputs.pop(key))
        if arr.ndim == 2:
            shared = True
        elif arr.ndim == 3 and arr.shape[0] == B:
            shared = False
        else:
            shared = None
        if shared is None or arr.shape[-1] != pop.size or arr.shape[-2] < T:
            want = f"[steps >= {T}, {pop.size}]" + (f" or [{B}, steps >= {T}, {pop.size}]"
                                                    if B > 1 else "")
            raise BackendError(f"input '{name}' has shape {list(arr.shape)}; expected {want}")
        arr = arr[..., :T, :] if arr.shape[-2] != T else arr
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)
        elif arr.dtype != np.uint8 or (arr.size and arr.max() > 1):
            if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
                raise BackendError(f"input '{name}' must hold 0/1 spikes; found other values "
                                   "(graded spikes are not supported by the cpu backend)")
            arr = arr.astype(np.uint8)
        arrays[name] = arr if not shared else arr[None]
    if inputs:
        raise BackendError(f"inputs {', '.join(sorted(map(str, inputs)))} match no source "
                           f"population of '{plan.name}' (sources: "
                           f"{', '.join(sources) or 'none'})")
    if not arrays:
        return np.zeros((1, T, 0), np.uint8)
    lead = B if any(a.shape[0] > 1 for a in arrays.values()) else 1
    if len(arrays) == 1 and lead == 1:
        return np.ascontiguousarray(next(iter(arrays.values())))
    return np.ascontiguousarray(np.concatenate(
        [np.broadcast_to(a, (lead, T, a.shape[-1])) for a in arrays.values()], axis=2))
