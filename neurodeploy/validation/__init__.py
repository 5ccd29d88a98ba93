"""Monte Carlo validation of a build under device mismatch: specs, runner (cpu batched,
Lava, Brian2, Dask), yield with a Clopper-Pearson interval, durable results, reports."""
from .core import run_validation
from .runner import Settings
from .spec import Spec, SpecError, parse_spec

__all__ = ["run_validation", "Settings", "Spec", "SpecError", "parse_spec"]
