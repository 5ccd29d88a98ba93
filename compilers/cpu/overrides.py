"""Validation of what a caller hands ``CpuBackend.run_batch`` per instance: parameter and
weight overrides (Monte Carlo chips) and the chip each instance draws its noise from."""
from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import FixedConstants, has_membrane

from ..plan import SimPlan

POP_OVERRIDES = ("vth", "du", "dv", "bias_mant")
PROJ_OVERRIDES = ("weights",)


def check_noise_chips(chips: Any, batch: int) -> list[int]:
    """Validated chip index per instance for temporal noise (default: chip 0 for all)."""
    if chips is None:
        return [0] * batch
    arr = np.asarray(chips)
    if arr.shape != (batch,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise BackendError(f"noise_chips must be {batch} integers >= 0 (one chip per instance); "
                           f"got shape {list(arr.shape)}, dtype {arr.dtype}")
    return [int(c) for c in arr]


def split_overrides(plan: SimPlan, overrides: dict[str, Any] | None, batch: int
                     ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Validate ``overrides``; return ({pop: {field: array}}, {proj: weights [B, ...]})."""
    if not overrides:
        return {}, {}
    if not isinstance(overrides, dict):
        raise BackendError("overrides must be a dict with 'populations' and/or 'projections'")
    unknown = set(overrides) - {"populations", "projections"}
    if unknown:
        raise BackendError(f"overrides has unknown keys {sorted(unknown)}; expected "
                           "'populations' and/or 'projections'")
    pops: dict[str, dict[str, np.ndarray]] = {}
    for name, fields in (overrides.get("populations") or {}).items():
        where = f"overrides.populations.{name}"
        pop = plan.populations.get(name)
        if pop is None:
            raise BackendError(f"{where}: no population '{name}' in '{plan.name}'")
        if not has_membrane(pop.kind):
            raise BackendError(f"{where}: '{name}' is a {pop.kind} population without parameters")
        bad = set(fields) - set(POP_OVERRIDES)
        if bad:
            raise BackendError(f"{where}: unknown fields {sorted(bad)}; allowed: "
                               f"{', '.join(POP_OVERRIDES)}")
        out = {}
        for key, val in fields.items():
            arr = np.asarray(val)
            f = f"{where}.{key}"
            per_neuron = True       # du/dv per neuron too (neurodeploy.variability chips)
            ok = [(batch,)] + ([(batch, pop.size)] if per_neuron else [])
            if arr.shape not in ok:
                want = " or ".join(f"[{', '.join(map(str, s))}]" for s in ok)
                raise BackendError(f"{f} has shape {list(arr.shape)}; expected {want} "
                                   f"(batch {batch}, population size {pop.size})")
            if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
                raise BackendError(f"{f} must be numeric; got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise BackendError(f"{f} holds non-finite values")
            if plan.fixed:
                if not np.all(arr == np.round(arr)):
                    raise BackendError(f"{f} must hold integers in a fixed build "
                                       "(hardware register values)")
                arr = arr.astype(np.int64)
                fc = FixedConstants.from_neuron_model(plan.neuron_model)
                if key in ("du", "dv") and (arr.min() < 0 or arr.max() > fc.decay_top):
                    raise BackendError(f"{f} outside the {fc.decay_bits}-bit decay register "
                                       f"0..{fc.decay_top}")
            else:
                arr = arr.astype(np.float64)
            out[key] = arr.reshape(batch, -1)
        pops[name] = out
    projs: dict[str, np.ndarray] = {}
    for name, fields in (overrides.get("projections") or {}).items():
        where = f"overrides.projections.{name}"
        proj = plan.projections.get(name)
        if proj is None:
            raise BackendError(f"{where}: no projection '{name}' in '{plan.name}'")
        bad = set(fields) - set(PROJ_OVERRIDES)
        if bad:
            raise BackendError(f"{where}: unknown fields {sorted(bad)}; allowed: weights")
        if "weights" not in fields:
            continue
        arr = np.asarray(fields["weights"])
        want = (batch,) + tuple(proj.weights.shape)
        if arr.shape != want:
            raise BackendError(f"{where}.weights has shape {list(arr.shape)}; expected "
                               f"{list(want)} (batch, then the plan's {proj.format} weights)")
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise BackendError(f"{where}.weights must hold finite numbers")
        projs[name] = arr
    return pops, projs
