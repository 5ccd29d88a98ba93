"""Simulate a build on one backend, or compare backends, with inputs given as arrays."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError
from .buildlike import BuildLike, build_path
from .results import Comparison, Result


def _given(inputs: Any) -> dict[str, np.ndarray] | None:
    """``{population: [steps, size]}`` (or ``<population>.spikes`` keys), or an ``.npz`` path."""
    if inputs is None:
        return None
    if isinstance(inputs, (str, Path)):
        from ..compilers.plan import read_input_file
        return read_input_file(inputs)
    if not isinstance(inputs, dict):
        raise BackendError("inputs must be a mapping {population: spikes [steps, size]} or an "
                           f".npz path, got {type(inputs).__name__}")
    return {(k if k.endswith(".spikes") else f"{k}.spikes"): np.asarray(v)
            for k, v in inputs.items()}


def _plan(build: Path, inputs: Any, steps: int | None, chip: int | None, nominal: bool,
          frozen: bool) -> tuple[Any, dict[str, np.ndarray], int]:
    """The plan (chip applied), source spikes and step count, checked as the CLI checks them."""
    from ..compilers import load_plan, make_inputs
    from ..limits import check_run_size
    from ..variability import apply_chip_option
    if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
        raise BackendError(f"steps must be an integer >= 1, got {steps!r}", path=("steps",))
    plan = load_plan(build)
    if frozen:
        plan = plan.frozen()
    plan = apply_chip_option(plan, chip, nominal)
    steps = plan.steps if steps is None else int(steps)
    check_run_size(plan, steps)
    return plan, make_inputs(plan, steps, _given(inputs)), steps


def _run(backend: Any, name: str, plan: Any, source: dict, steps: int) -> Result:
    from ..compilers.result import state_scales
    raw = backend.run(plan, source, steps)
    return Result(data=raw.data, scales=state_scales(plan), dt=float(plan.dt), backend=name,
                  numerics=plan.numerics, meta=raw.meta, network=plan.name)


def _backend(name: str, target: str) -> Any:
    from ..compilers import get_backend
    return get_backend(name, **({"target": target} if name == "brian2" else {}))


def simulate(build: BuildLike | str | Path, backend: str = "cpu", inputs: Any = None,
             steps: int | None = None, chip: int | None = None, nominal: bool = False,
             frozen: bool = False, target: str = "numpy") -> Result:
    """Run ``build`` for ``steps`` time steps (default: the network's run.steps; one step is
    ``dt`` ms) on ``backend`` (cpu, lava or brian2).

    ``inputs``: spikes ``[steps, size]`` (0/1) per spike_source population, as a mapping or
    an ``.npz`` path; Poisson populations are drawn from the seed. ``chip``: Monte Carlo chip
    K's mismatch; ``nominal``: the mismatch-free chip; ``frozen``: fixed weights, no temporal
    noise; ``target``: Brian2's code target. A backend that cannot run the build raises
    :class:`~neurodeploy.BackendError` with the reason (never another backend).
    """
    plan, source, steps = _plan(build_path(build), inputs, steps, chip, nominal, frozen)
    runner = _backend(backend, target)
    runner.check(plan)
    return _run(runner, backend, plan, source, steps)


def compare(build: BuildLike | str | Path, backends: tuple[str, ...] | list[str] = ("cpu", "lava"),
            inputs: Any = None, steps: int | None = None, tolerance: float = 0.5,
            chip: int | None = None, nominal: bool = False, frozen: bool = False,
            target: str = "numpy") -> Comparison:
    """Run ``build`` on every backend in ``backends`` with the same input and compare with
    the first: fixed point must be identical, float within ``tolerance`` (mean van Rossum
    distance per neuron, tau 10 steps). Arguments as :func:`simulate`."""
    from ..compilers.compare import compare_pair
    names = list(backends)
    if len(names) < 2:
        raise BackendError("compare needs at least two backends, e.g. ('cpu', 'lava')",
                           path=("backends",))
    plan, source, steps = _plan(build_path(build), inputs, steps, chip, nominal, frozen)
    runners = [_backend(n, target) for n in names]
    for runner in runners:
        runner.check(plan)
    results = {n: _run(r, n, plan, source, steps) for n, r in zip(names, runners)}
    ref = names[0]
    pairs = [compare_pair(ref, _raw(results[ref]), n, _raw(results[n]), plan.numerics,
                          tolerance=tolerance) for n in names[1:]]
    return Comparison(results=results, pairs=pairs, numerics=plan.numerics, steps=steps)


def _raw(result: Result) -> Any:
    from ..compilers.result import SimResult
    return SimResult(result.data, result.meta, result.scales)
