"""An :class:`~neurodeploy.learning.engine_rule.EngineRule` as a Lava learning rule.

Lava's rule strings take only scaling constants ``m * 2^e`` with a 4-bit signed mantissa
(``-8 <= m < 8``) and ``-7 <= e <= 8``, in its float model as well (the applier multiplies
by ``m * 2 ** e``). A learning rate such as 0.01 is not of that form, so for float builds
the coefficient of a term is moved into the impulse of one of its traces (the traces are
linear in their impulse): ``eta * x1 * y2`` becomes ``1 * x1' * y2`` with ``x1'`` the same
trace with impulse ``eta``. The result equals the rule up to float rounding (the product
is formed in a different order). A rule that cannot be written this way is refused with
the reason, never approximated.

Learning epochs longer than one step (the cpu loop's semantics: traces every step, the
gated third factor summed over the epoch, the rule applied at its last step) run as Lava
epochs of ONE step whose y2 / y3 are zero except at the epoch's last step, where the
learning neuron sends the epoch's sum: Lava's own epochs would add the impulses of a
neuron's extra spikes within an epoch undecayed (its traces are exact for one spike per
epoch only). This needs every term to read y2 or y3; other rules with longer epochs are
refused.

Also refused: traces with ``tau = 0`` that a term reads (the cpu loop treats tau 0 as no
decay; Lava's float model leaves such a trace undefined and its fixed-point model keeps only
the impulse of the current epoch), finite ``w_min`` / ``w_max`` (Lava's learning engine
does not clip weights), and learning epochs other than one step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import EngineRule


@dataclass
class LavaRule:
    """What the Lava learner needs to build one plastic projection."""

    dw: str
    x1_impulse: float
    x1_tau: float
    x2_impulse: float
    x2_tau: float
    y1_impulse: float
    y1_tau: float
    third_factor: bool
    scales: dict[str, float] = field(default_factory=dict)
    rng_seed: int = 1

    def learning_rule(self):
        """A fresh Lava ``Loihi2FLearningRule`` / ``Loihi3FLearningRule`` (``rng_seed`` seeds
        the fixed-point model's stochastic rounding; the float model draws nothing)."""
        rng_seed = self.rng_seed
        from lava.magma.core.learning.learning_rule import (Loihi2FLearningRule,
                                                            Loihi3FLearningRule)
        kw = dict(dw=self.dw, x1_impulse=self.x1_impulse, x1_tau=self.x1_tau,
                  x2_impulse=self.x2_impulse, x2_tau=self.x2_tau, t_epoch=1, rng_seed=rng_seed)
        if self.third_factor:
            return Loihi3FLearningRule(**kw)
        return Loihi2FLearningRule(y1_impulse=self.y1_impulse, y1_tau=self.y1_tau, **kw)


def dyadic(c: float) -> tuple[int, int] | None:
    """(m, e) with ``c == m * 2**e`` exactly, m odd (or 0), |m| <= 7, -7 <= e <= 8."""
    if c == 0:
        return (0, 0)
    m, e = math.frexp(abs(c))          # abs(c) = m * 2**e, 0.5 <= m < 1
    for bits in range(1, 4):            # odd mantissas 1, 3, 5, 7 need up to 3 bits
        mant = m * (1 << bits)
        if mant == int(mant):
            mi, ei = int(mant), e - bits
            while mi % 2 == 0:
                mi //= 2
                ei += 1
            if -7 <= ei <= 8:
                return (mi if c > 0 else -mi, ei)
            return None
    return None


def _literal(m: int, e: int) -> str:
    return f"{abs(m)}*2^{e}"


def translate(name: str, rule: EngineRule) -> LavaRule:
    """The Lava form of ``rule`` (projection ``name``); BackendError with the reason when
    Lava's learning engine cannot run it."""
    def refuse(why: str) -> BackendError:
        return BackendError(f"plastic projection '{name}': {why}; Lava's learning engine cannot "
                            "run this rule (use --backend cpu)")

    if rule.t_epoch != 1 and not (rule.third_factor and all(
            t.dependency == "u" and ("y2" in t.factors or "y3" in t.factors) for t in rule.terms)):
        raise refuse(f"learning epoch of {rule.t_epoch} steps with terms that do not read the "
                     "third factor")
    if not (math.isinf(rule.w_min) and math.isinf(rule.w_max)):
        raise refuse(f"weight bounds [{rule.w_min}, {rule.w_max}] (Lava does not clip learned "
                     "weights)")
    used = {f for t in rule.terms for f in t.factors}
    traces = {"x1": rule.x1, "x2": rule.x2}
    if not rule.third_factor:
        traces["y1"] = rule.y1
    for f, tr in traces.items():
        if f in used and getattr(tr, "epoch_sum", False):
            raise refuse(f"trace {f} is summed over the epoch and restarts after it (Lava's "
                         "traces do not restart)")
        if f in used and tr.tau == 0:
            raise refuse(f"trace {f} has tau 0 (no decay on cpu; undefined in Lava's float model)")
    scales = {f: 1.0 for f in traces}
    for t in rule.terms:
        c = t.coef / math.prod(scales.get(f, 1.0) for f in t.factors)
        if dyadic(c) is not None:
            continue
        free = [f for f in t.factors if f in scales and scales[f] == 1.0 and t.factors.count(f) == 1]
        if not free:
            raise refuse(f"coefficient {t.coef} of a '{t.dependency}' term is not m*2^e "
                         "(|m| <= 7, -7 <= e <= 8) and no trace of the term can absorb it")
        scales[free[0]] = abs(c)
    parts = []
    for t in rule.terms:
        c = t.coef / math.prod(scales.get(f, 1.0) for f in t.factors)
        me = dyadic(c)
        if me is None:
            raise refuse(f"coefficients {[x.coef for x in rule.terms]} cannot share trace scales "
                         "as m*2^e constants")
        if me[0] == 0:
            continue
        dep = "u0" if t.dependency == "u" else t.dependency
        body = " * ".join((_literal(*me), dep) + t.factors)
        parts.append(("- " if me[0] < 0 else "+ ") + body)
    dw = " ".join(parts).lstrip("+ ") if parts else "0*2^0 * u0"
    if dw.startswith("- "):
        dw = "-" + dw[2:]
    return LavaRule(dw=dw, x1_impulse=rule.x1.impulse * scales["x1"], x1_tau=rule.x1.tau,
                    x2_impulse=rule.x2.impulse * scales["x2"], x2_tau=rule.x2.tau,
                    y1_impulse=rule.y1.impulse * scales.get("y1", 1.0), y1_tau=rule.y1.tau,
                    third_factor=rule.third_factor, scales=scales)
