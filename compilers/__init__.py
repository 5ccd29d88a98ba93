"""Simulation backends, installed as ``neurodeploy.compilers``.

A backend turns a build directory (read as a :class:`~neurodeploy.compilers.plan.SimPlan`)
into a runnable model and runs it. Backends are registered here by name with the Python
package they need; a missing package is reported with the command that installs it, and a
backend never hands a run to another backend.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError

from .capabilities import Capabilities, refusal
from .plan import SimPlan, load_plan, make_inputs
from .result import SimResult


class Backend(ABC):
    """A simulator that can run a :class:`SimPlan`."""

    name: str = ""
    #: what this backend runs (kinds come from each kind's translations); every entry point
    #: calls :meth:`check` first
    capabilities: Capabilities

    def refuse_reason(self, plan: SimPlan, mode: str = "run") -> str | None:
        """Why this backend cannot run ``plan`` in ``mode`` (None when it can): its declared
        capabilities first (:func:`compilers.capabilities.refusal`), then what no frozen run
        simulates and unapplied mismatch."""
        reason = refusal(self.capabilities, plan, mode)
        if reason or mode == "learn":       # a learner applies plasticity and chips itself
            return reason
        missing = plan.unsupported_features()
        if missing:
            return (f"{', '.join(missing)} not simulated by backend '{self.name}' yet; pass "
                    "--frozen to simulate with fixed weights and no temporal noise")
        return mismatch_refusal(plan)

    def check(self, plan: SimPlan, mode: str = "run") -> None:
        """Raise BackendError when this backend cannot run ``plan`` in ``mode``."""
        reason = self.refuse_reason(plan, mode)
        if reason:
            raise BackendError(f"backend '{self.name}' refuses {plan.path}: {reason}")

    @abstractmethod
    def run(self, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int) -> SimResult:
        """Simulate ``steps`` steps with source spikes ``inputs`` ([steps, size] each)."""


def mismatch_refusal(plan: SimPlan) -> str | None:
    """Why a build with fixed-pattern mismatch cannot be run as if it had none.

    The one place where every backend refuses a ``variability`` block (profile defaults
    included) that the run would silently ignore. A caller that applies a chip to the plan
    (``neurodeploy.variability``: ``Chip.apply`` or batch overrides) sets
    ``plan.mismatch_applied = True``; a deliberate nominal run uses ``plan.nominal()``.
    """
    if plan.mismatch_applied:
        return None
    active = plan.mismatch_features()
    if not active:
        return None
    zeros = ", ".join(_IR_ZERO.get(item.split("=")[0], item.split("=")[0] + ": 0")
                      for item in active)
    return (f"the build has fixed-pattern mismatch ({', '.join(active)}; from the profile's "
            "defaults or the network's variability block), which a plain run would ignore; "
            "pass --chip K to simulate Monte Carlo chip K (the same chip on every backend), "
            "--nominal for the mismatch-free chip, use `neurodeploy validate` for many chips, "
            "or write variability: {" + zeros + "} in the network and compile again")


_IR_ZERO = {"v_th_cv": "v_th: {cv: 0}", "tau_mem_cv": "tau_mem: {cv: 0}",
            "tau_syn_cv": "tau_syn: {cv: 0}", "weights_cv": "weights: {cv: 0}",
            "bias_sigma": "bias: {sigma: 0}", "gain_cv": "gain: {cv: 0}"}


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives and what it needs."""

    name: str
    module: str
    cls: str
    requires: str
    install: str
    description: str


BACKENDS: dict[str, BackendSpec] = {
    "cpu": BackendSpec("cpu", "neurodeploy.compilers.cpu.backend", "CpuBackend", "numba",
                       "pip install numba", "NumPy/numba simulator; bit-exact with Lava fixed_pt, batched"),
    "lava": BackendSpec("lava", "neurodeploy.compilers.lava.backend", "LavaBackend", "lava",
                        "pip install --ignore-requires-python 'neurodeploy[lava]' (lava-nc 0.10.0 "
                        "declares Python < 3.11; or make venv)",
                        "Lava processes on Loihi2SimCfg (fixed_pt or floating_pt)"),
    "brian2": BackendSpec("brian2", "neurodeploy.compilers.brian2.backend", "Brian2Backend",
                          "brian2", "pip install brian2", "Brian2 float reference (numpy or cython)"),
}


def get_backend(name: str, **options: Any) -> Backend:
    """Instantiate backend ``name``; a missing dependency is a BackendError with the fix."""
    from neurodeploy.errors import did_you_mean
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}'{did_you_mean(name, BACKENDS)}; "
                           f"available: {', '.join(BACKENDS)}")
    spec = BACKENDS[name]
    try:
        importlib.import_module(spec.requires)
    except ImportError:
        raise BackendError(f"backend '{name}' needs the Python package '{spec.requires}', "
                           f"which is not installed; install it with: {spec.install}") from None
    module = importlib.import_module(spec.module)
    return getattr(module, spec.cls)(**options)


__all__ = ["Backend", "Capabilities", "mismatch_refusal", "BackendSpec", "BACKENDS", "get_backend",
           "SimPlan", "SimResult",
           "load_plan", "make_inputs"]
