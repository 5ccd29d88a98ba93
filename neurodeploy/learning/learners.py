"""Which backend can present samples to a learning build: the learner registry.

A learner runs one build (its weights carried between calls) on a backend:
``present(inputs, n_samples, steps, learn)`` -> read-out counts [chips, samples, classes],
``predict_counts(inputs, n_samples, steps)`` -> (counts, spike totals, synaptic events),
``set_phase(phase)``, and ``weights`` / ``layout.dense(w, projection)`` to read weights.
A backend without a learner is refused by name, never replaced by another.
"""
from __future__ import annotations

import importlib

from ..errors import BackendError

LEARNERS: dict[str, tuple[str, str]] = {
    "cpu": ("neurodeploy.compilers.cpu.learner", "CpuLearner"),
    "lava": ("neurodeploy.compilers.lava.learner", "LavaLearner"),
    "brian2": ("neurodeploy.compilers.brian2.learner", "Brian2Learner"),
}


def check_backend(backend: str) -> None:
    """An unknown backend name is a one-line error with a suggestion."""
    from ..errors import did_you_mean
    if backend not in LEARNERS:
        raise BackendError(f"unknown backend '{backend}'{did_you_mean(backend, LEARNERS)}; "
                           f"learning runs on {', '.join(LEARNERS)}")


def refuse_noise(plan, backend: str) -> None:
    """Temporal noise in a learning build is drawn by the cpu learner only."""
    if plan.noise:
        raise BackendError(f"this build has temporal noise ({', '.join(sorted(plan.noise))}), "
                           f"which the {backend} learner does not draw; use --backend cpu, or "
                           "remove the noise block", file=plan.path, path=("noise",))


def _quiet(text: str) -> None:
    """Progress sink of learners built without a console."""


def get_learner(backend: str, plan, readout: str, **options):
    """Instantiate the learner of ``backend`` for ``plan``; a build of an analog profile
    learns through its device model (cpu), which the other learners refuse by name."""
    from .device_models import attach
    check_backend(backend)
    if backend == "lava":
        from ..extras import require
        require("lava")           # an optional extra: a one-line error naming it
    device_build = {"plasticity": getattr(plan, "plasticity", None) or {}}
    if backend != "cpu":                # refuses a build with a device model, by name
        attach(None, device_build, backend, 0, [], _quiet)
    module, cls = LEARNERS[backend]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise BackendError(f"backend '{backend}' cannot run learning builds in this release; "
                           "use --backend cpu") from None
    learner = getattr(mod, cls)(plan, readout, **options)
    attach(learner, device_build, backend, int(getattr(plan, "seed", 0) or 0),
           list(range(int(options.get("chips", 1)))), _quiet)
    return learner
