"""Simulation results: one array per monitor plus run metadata, saved as a plain .npz.

Fixed-point ``v`` and ``u`` are raw hardware integers; their scale (hardware units per
unit of the network's voltage, the unit of ``v_th`` in the YAML) is saved next to them as
``<population>.<var>_scale`` (1.0 on float builds), so ``v / v_scale`` is comparable with
``v_th``.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.outputs import write_error

META_KEY = "__meta__"
SCALE_SUFFIX = "_scale"
STATE_VARS = ("v", "u")


def state_scales(plan: Any) -> dict[str, float]:
    """``<pop>.<var>`` -> hardware units per network voltage unit, for monitored v and u.

    Fixed point (Lava's LIF): ``v`` is compared with ``vth << threshold_shift`` and ``u``
    accumulates ``weights << activation_shift``, where ``vth ~= v_th * scale``.
    """
    from neurodeploy.compiling.artifact import Build
    model = Build(plan.path).manifest.get("neuron_model", {}) if plan.fixed else {}
    shifts = {"v": int(model.get("threshold_shift", 0)), "u": int(model.get("activation_shift", 0))}
    out = {}
    for pop, var in plan.monitors:
        if var in STATE_VARS:
            scale = float(plan.populations[pop].scale) if plan.fixed else 1.0
            out[f"{pop}.{var}"] = scale * 2.0 ** shifts[var]
    return out


@dataclass
class SimResult:
    """Monitored arrays named ``<population>.<var>``: ``[steps, size]`` for one instance,
    ``[batch, steps, size]`` for a batch. Spikes are 0/1 integers."""

    data: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file, then rename); metadata as a JSON string array,
        scales as ``<key>_scale`` 0-d arrays. An OSError is a one-line user error."""
        path = Path(path)
        arrays = {**self.data, **{k + SCALE_SUFFIX: np.float64(v) for k, v in self.scales.items()},
                  META_KEY: np.array(json.dumps(self.meta, sort_keys=True))}
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
            os.close(fd)
            from neurodeploy.arrayfile import write_npz
            write_npz(tmp, arrays)
            os.replace(tmp, path)
        except OSError as exc:
            raise write_error(path, exc) from None
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SimResult":
        """Read a result written by :meth:`save`."""
        from neurodeploy.arrayfile import read_npz
        arrays = read_npz(path, error=BackendError)
        try:
            meta = json.loads(str(arrays.pop(META_KEY))) if META_KEY in arrays else {}
        except ValueError:
            raise BackendError(f"{META_KEY} is not JSON; not a result written by "
                               "neurodeploy", file=path) from None
        scales = {k[:-len(SCALE_SUFFIX)]: float(v) for k, v in arrays.items()
                  if k.endswith(SCALE_SUFFIX) and np.ndim(v) == 0}
        data = {k: v for k, v in arrays.items() if k[:-len(SCALE_SUFFIX)] not in scales
                or not k.endswith(SCALE_SUFFIX)}
        return cls(data=data, meta=meta, scales=scales)
