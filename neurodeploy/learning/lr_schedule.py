"""Learning-rate schedules (``lr_decay``): the host reprograms the learning engine between
epochs, on every learner and in both numerics.

Float rules scale their coefficients: the cpu learner's term table and the learner's own
``EngineRule`` copy (from which the Lava learner builds each run's Lava rules). A
fixed-point rule's rate lives in its terms' ``m * 2^e``
(:mod:`neurodeploy.learning.fixed_point`): each term's constant is re-chosen for the scaled
rate (below the smallest constant the trace impulses shrink) in the build plan's stored rule, which both the cpu learner (its tables
are rebuilt here) and the Lava learner read, so they stay bit for bit alike.
"""
from __future__ import annotations

import dataclasses

from ..errors import BackendError
from .fixed_point import rescale_rule


def scale_fixed_rules(plan, factor: float) -> None:
    """Multiply the rate of every stored fixed-point rule of ``plan`` by ``factor``."""
    for block in plan.plasticity.values():
        for name, q in (block.get("fixed") or {}).items():
            try:
                rescale_rule(q, factor)
            except ValueError as exc:
                raise BackendError(f"projection '{name}': {exc}") from None


def scale_learning_rate(learner, plan, factor: float) -> None:
    """Scale every rule's learning rate by ``factor`` on a cpu or Lava learner."""
    lay = learner.layout
    if plan.fixed:
        scale_fixed_rules(plan, factor)
        if lay.rule_names:
            from ..compilers.cpu.fixed_learning import tables_for
            steps = lay.rules.fx.rnd.shape[2] - 1
            lay.rules = lay.rules._replace(fx=tables_for(plan, lay.rule_names, max(steps, 0)))
        return
    if lay.rule_names:
        lay.rules = lay.rules._replace(t_coef=lay.rules.t_coef * factor)
    for name, rule in list(learner.rules.items()):
        learner.rules[name] = dataclasses.replace(rule, terms=tuple(
            dataclasses.replace(t, coef=t.coef * factor) for t in rule.terms))
