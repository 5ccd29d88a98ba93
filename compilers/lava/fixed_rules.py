"""A quantized (fixed-point) rule as Lava's ``Loihi2FLearningRule`` for the bit-approximate
``LearningDense``: the constants ``m*2^e`` and the impulses (multiples of 1/256) are written
exactly, so Lava runs the numbers the manifest stores (see
:mod:`neurodeploy.learning.fixed_point`)."""
from __future__ import annotations

from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.fixed_point import plan_rule

from .learning_rules import LavaRule


def lava_dw(q: dict) -> str:
    """Lava's dw string of a quantized rule."""
    parts = []
    for t in q["terms"]:
        dep = "u0" if t["dependency"] == "u" else t["dependency"]
        body = " * ".join([f"{abs(t['mantissa'])}*2^{t['exponent']}", dep] + t["factors"])
        parts.append(("- " if t["mantissa"] < 0 else "+ ") + body)
    dw = " ".join(parts) if parts else "+ 0*2^0 * u0"
    return dw[2:] if dw.startswith("+ ") else "-" + dw[2:]


def fixed_lava_rule(name: str, rule: EngineRule, plan) -> LavaRule:
    """The LavaRule of a fixed build's plastic projection (a ``Loihi3FLearningRule`` for
    three-factor rules: the learning neuron sends y1..y3)."""
    q = plan_rule(plan, name)
    tr = q["traces"]
    return LavaRule(dw=lava_dw(q), x1_impulse=tr["x1"]["impulse"], x1_tau=tr["x1"]["tau"],
                    x2_impulse=tr["x2"]["impulse"], x2_tau=tr["x2"]["tau"],
                    y1_impulse=tr["y1"]["impulse"], y1_tau=tr["y1"]["tau"],
                    third_factor=rule.third_factor, rng_seed=int(q["rng_seed"]))
