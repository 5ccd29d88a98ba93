"""Device variability: fixed-pattern mismatch per Monte Carlo chip, temporal noise as data,
and the counter-based random function every backend draws from (see docs/validate.md)."""
from __future__ import annotations

from typing import Any

from .chip import Chip, batch_plan, stack_overrides
from .config import MismatchConfig, VariabilityError

__all__ = ["Chip", "MismatchConfig", "VariabilityError", "batch_plan", "stack_overrides",
           "chip_for", "apply_chip_option"]


def chip_for(plan: Any, index: int, seed: int | None = None,
             overrides: dict[str, Any] | None = None) -> Chip:
    """Chip ``index`` of ``seed`` (default: the build's seed) with the build's mismatch
    settings (profile defaults, the IR's block) plus ``overrides`` ({path: value})."""
    from neurodeploy.compiling.artifact import Build
    cfg = MismatchConfig.from_manifest(Build(plan.path).manifest)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    return Chip(plan.seed if seed is None else int(seed), int(index), cfg)


def apply_chip_option(plan: Any, chip: int | None, nominal: bool) -> Any:
    """``--chip K`` / ``--nominal`` of simulate and compare: the plan of chip K, or the
    mismatch-free plan; the plan unchanged when neither is given."""
    if chip is not None and nominal:
        raise VariabilityError("--chip and --nominal exclude each other; pass one",
                               path=("--chip",))
    if chip is not None:
        if chip < 0:
            raise VariabilityError(f"must be >= 0; got {chip}", path=("--chip",))
        return chip_for(plan, chip).apply(plan)
    if nominal:
        return plan.nominal()
    return plan
