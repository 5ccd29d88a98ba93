"""Analog targets learn through a device model: the profile's ``learning.device`` as the cpu
learner's pulse arrays (:mod:`neurodeploy.compilers.cpu.device_update`).

The models are aihwkit's common pulsed update models as profile data (docs/devices.md):
``constant_step``, ``linear_step``, ``soft_bounds``, ``pow_step`` and ``exp_step``, with
conductance levels, asymmetric up/down steps, a device-to-device spread of the step and
cycle-to-cycle write noise. A weight is a differential pair of devices, as the compiler
quantizes it (``quantize_levels``): ``k g`` with ``|k| <= levels - 1``, ``g = bound /
(levels - 1)``, ``bound`` the profile's ``bound`` times the projection's largest |weight|
when learning starts. The learner first programs every plastic weight onto that grid
(write-verify), then every update is a train of pulses of nominal step ``g``.
"""
from __future__ import annotations

import zlib
from typing import Any, Callable

import numpy as np

from ..errors import BackendError

CODES = {"constant_step": 1, "linear_step": 2, "soft_bounds": 3, "pow_step": 4, "exp_step": 5}


def device_of(manifest: dict) -> dict | None:
    """The device model a build's learning writes through (None: weights written exactly)."""
    for block in (manifest.get("plasticity") or {}).values():
        if isinstance(block, dict) and block.get("device"):
            return block["device"]
    return None


def describe(dev: dict) -> str:
    """One line naming the model and its figures (compile report, train output)."""
    extra = [f"{k} {dev[k]:g}" for k in ("up_down", "gamma_up", "gamma_down", "a_up", "a_down",
                                         "step_dtod", "write_noise") if dev.get(k)]
    return (f"device model {dev['model']}, {dev['levels']} levels over +/-{dev['bound']:g} x "
            f"the starting full scale, up to {dev['max_pulses']} pulses per update"
            + (f"; {', '.join(extra)}" if extra else ""))


def resolved(profile: Any) -> dict | None:
    """The profile's device model as manifest data (levels defaulting to weights.levels)."""
    spec = profile.learning.device
    if spec is None:
        return None
    out = spec.model_dump()
    out["levels"] = int(spec.levels or profile.weights.levels)
    out["profile"] = profile.name
    return out


def _step_gain(seed: int, chip: int, projection: str, n: int, cv: float) -> np.ndarray:
    """Up and down step gains ``max(1 + cv z, 0.05)`` of a projection's devices [2, n]."""
    ss = np.random.SeedSequence([int(seed), int(chip), zlib.crc32(b"device"),
                                 zlib.crc32(projection.encode())])
    z = np.random.Generator(np.random.PCG64(ss)).standard_normal((2, n))
    return np.maximum(1.0 + cv * z, 0.05)


def attach(learner: Any, manifest: dict, backend: str, seed: int, chips: list[int],
           progress: Callable[[str], None]) -> bool:
    """Give ``learner`` the build's device model (``manifest``: a build manifest, or one with
    just its ``plasticity``) and program its weights onto the device grid, for ``chips``
    (their device-to-device spread); False when the build has none. Call it after the
    learner's other update settings: only the cpu learner writes through devices, and
    exact-write imperfections (update noise, stochastic rounding) do not apply to pulses."""
    dev = device_of(manifest)
    if dev is None:
        return False
    prof = manifest.get("profile")
    name = (prof.get("name") if isinstance(prof, dict) else prof) or dev.get("profile", "the")
    if backend != "cpu":
        raise BackendError(f"profile {name}'s learning.device ({dev['model']}) is simulated by "
                           "the cpu learner only; use --backend cpu", path=("--backend",))
    from ..compilers.cpu.device_update import Device
    lay = learner.layout
    upd = lay.rules.upd
    if upd.sigma.any() or upd.rounding.any():
        raise BackendError(f"profile {name} writes weights through its device model "
                           f"({dev['model']}), whose pulses carry their own write noise and "
                           "rounding; set variability.learning.update_noise=0 and "
                           "variability.learning.stochastic_rounding=false",
                           path=("variability", "learning"))
    Q, nnz = len(lay.rule_names), lay.w0.size
    arrays = {k: np.zeros(Q) for k in ("bound", "dw_min", "up_down", "g_up", "g_down",
                                        "a_up", "a_down", "noise")}
    kind, pulses = np.zeros(Q, np.int64), np.ones(Q, np.int64)
    d_up, d_down = np.ones((len(chips), nnz)), np.ones((len(chips), nnz))
    w = np.array(learner.state.w, copy=True)
    for q, rule in enumerate(lay.rule_names):
        sl = lay.slices[rule]
        part = slice(sl.syn0, sl.syn0 + sl.nnz)
        peak = float(np.max(np.abs(lay.w0[part]))) if sl.nnz else 0.0
        if peak == 0.0:
            raise BackendError(f"plastic projection '{rule}' starts with all weights 0: the "
                               f"device model of {name} scales its range by the starting "
                               "weights; initialise it with nonzero weights")
        bound = dev["bound"] * peak
        g = bound / (dev["levels"] - 1)
        kind[q], pulses[q] = CODES[dev["model"]], dev["max_pulses"]
        arrays["bound"][q], arrays["dw_min"][q] = bound, g
        arrays["up_down"][q], arrays["noise"][q] = dev["up_down"], dev["write_noise"]
        for key in ("gamma_up", "gamma_down", "a_up", "a_down"):
            arrays[key.replace("gamma", "g")][q] = dev[key]
        w[:, part] = np.clip(np.rint(w[:, part] / g) * g, -bound, bound)
        for i, chip in enumerate(chips):
            gains = _step_gain(seed, chip, rule, sl.nnz, dev["step_dtod"])
            d_up[i, part], d_down[i, part] = gains[0][sl.order], gains[1][sl.order]
    learner.state = learner.state._replace(w=w)
    device = Device(kind, arrays["bound"], arrays["dw_min"], arrays["up_down"], arrays["g_up"],
                    arrays["g_down"], arrays["a_up"], arrays["a_down"], arrays["noise"], pulses,
                    d_up, d_down, np.full(len(chips), seed, np.int64),
                    np.asarray(chips, np.int64))
    lay.rules = lay.rules._replace(dev=device)
    progress(f"learning through profile {name}'s {describe(dev)}")
    return True
