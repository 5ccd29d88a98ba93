"""Learning-rate schedules (``lr_decay``): the host reprograms the learning engine between
epochs, on every learner and in both numerics.

Float rules scale their coefficients: the cpu learner's term table and the learner's own
``EngineRule`` copy (from which the Lava learner builds each run's Lava rules). A
fixed-point rule's rate lives in its terms' ``m * 2^e``
(:mod:`neurodeploy.learning.fixed_point`): each term's constant is re-chosen for the scaled
rate (below the smallest constant the trace impulses shrink) in the build plan's stored
rule, which both the cpu learner (its tables are rebuilt here) and the Lava learner read,
so they stay bit for bit alike.
"""
from __future__ import annotations

import dataclasses

from ..errors import BackendError
from .fixed_point import (EXPONENTS, FRACTION_BITS, MANTISSAS, TRACE_BITS, TRACES,
                          best_constant, quantize_impulse)


def _ceil_constant(target: float) -> tuple[int, int]:
    """The smallest m * 2^e >= target (the largest constant when none is)."""
    fits = [(m * 2.0 ** e, e, m) for m in MANTISSAS for e in EXPONENTS if m * 2.0 ** e >= target]
    if not fits:
        return max(MANTISSAS), max(EXPONENTS)
    _, e, m = min(fits)
    return m, e


def rescale_rule(q: dict, factor: float) -> None:
    """Scale a stored quantized rule's rate by ``factor`` in place (a learning-rate
    schedule, the host reprogramming the engine): the leading term of each trace takes the
    next ``m * 2^e`` at or above its scaled rate and the trace impulse shrinks by the rest
    (so rates below the smallest constant, 1*2^-7, keep decaying); the other terms take the
    constant closest to theirs."""
    want = [abs(t["mantissa"]) * 2.0 ** t["exponent"] * abs(t["coef"] / t["coef_quantized"])
            * factor for t in q["terms"]]
    trace_of = [next(f for f in t["factors"] if f in TRACES) for t in q["terms"]]
    shrink = {}
    for f in set(trace_of):
        lead = max(w for w, g in zip(want, trace_of) if g == f)
        m, e = _ceil_constant(lead)
        shrink[f] = min(1.0, lead / (m * 2.0 ** e))
    old_imp = {}
    for f, g in shrink.items():
        tr = q["traces"][f]
        old_imp[f] = tr["impulse_mean"]
        i_int, i_frac, i_q = quantize_impulse(tr["impulse_mean"] * g)
        if i_q == 0:
            raise ValueError(f"learning rate decayed below what {TRACE_BITS}-bit traces and "
                             "m*2^e constants express; use fewer epochs or lr_decay closer to 1")
        tr.update(impulse=i_int + i_frac / (1 << FRACTION_BITS), impulse_mean=i_q,
                  impulse_int=i_int, impulse_frac=i_frac)
    for t, w, f in zip(q["terms"], want, trace_of):
        gain = q["traces"][f]["impulse_mean"] / old_imp[f]
        m, e = best_constant(w / gain)
        sign = 1 if t["mantissa"] > 0 else -1
        ratio = (m * 2.0 ** e) / (abs(t["mantissa"]) * 2.0 ** t["exponent"]) * gain
        t.update(mantissa=sign * m, exponent=e, s_exp=e + 7, coef=t["coef"] * factor,
                 coef_quantized=t["coef_quantized"] * ratio)
        t["rel_error"] = abs(t["coef_quantized"] - t["coef"]) / abs(t["coef"])


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
