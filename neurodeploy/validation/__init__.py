"""Monte Carlo validation of a build under device mismatch: specs, runner (cpu batched,
Lava, Brian2, Dask), yield with a Clopper-Pearson interval, durable results, reports.

Names are imported on first use (PEP 562): every command's parser imports
``validation.attacks.cli``, which must not pull in scipy.stats and numba with ``core``.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {"run_validation": "core", "Settings": "runner", "Spec": "spec",
            "SpecError": "spec", "parse_spec": "spec"}

__all__ = ["run_validation", "Settings", "Spec", "SpecError", "parse_spec"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
