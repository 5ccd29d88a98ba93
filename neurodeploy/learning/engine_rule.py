"""A learning rule in the learning engine's own language: a sum of products.

``dw = sum_k coef_k * dep_k * x1^a x2^b y1^c y2^d y3^e w^f`` evaluated for every synapse at
the end of every learning epoch, where ``dep`` is ``u`` (always), ``x0`` (the presynaptic
neuron spiked this epoch) or ``y0`` (the postsynaptic neuron spiked). x1, x2 are
presynaptic traces, y1 the postsynaptic spike trace, and y2 / y3 the positive / negative
part of the third factor delivered to the postsynaptic neuron (the error or a reward; two
non-negative channels because Loihi's y traces are unsigned). This is what Loihi's engine
executes, so one :class:`EngineRule` is translated, never rewritten, per backend: the cpu
kernel reads its arrays, Lava gets :meth:`EngineRule.lava_dw`, Brian2 gets
:meth:`EngineRule.brian2_expression`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

FACTORS = ("x1", "x2", "y1", "y2", "y3", "w")
DEPENDENCIES = ("u", "x0", "y0")


@dataclass(frozen=True)
class Term:
    """One product: ``coef * dependency * prod(factor ** power)``."""

    coef: float
    dependency: str = "u"
    factors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.dependency not in DEPENDENCIES:
            raise ValueError(f"dependency must be one of {DEPENDENCIES}, got {self.dependency!r}")
        for f in self.factors:
            if f not in FACTORS:
                raise ValueError(f"unknown factor {f!r}; factors are {FACTORS}")

    def powers(self) -> list[int]:
        """Exponent of each of :data:`FACTORS` in this product."""
        return [self.factors.count(f) for f in FACTORS]


@dataclass(frozen=True)
class Trace:
    """A trace: ``z <- z * exp(-1/tau) + impulse * s`` each step (tau 0: no decay).

    ``epoch_sum``: no decay, and back to 0 after each learning epoch, so the rule sees the
    sum of the pre neuron's payloads over the epoch (on Loihi 2: the relay sends its epoch
    sum as one graded spike that overwrites x1)."""

    tau: float = 0.0
    impulse: float = 0.0
    epoch_sum: bool = False

    @property
    def decay(self) -> float:
        """Per-step multiplier (1 for tau 0, as Lava treats tau 0 as no decay)."""
        return 1.0 if self.tau == 0 or self.epoch_sum else math.exp(-1.0 / self.tau)


@dataclass(frozen=True)
class EngineRule:
    """The rule of one plastic projection, with its traces and epoch."""

    terms: tuple[Term, ...]
    x1: Trace = Trace()
    x2: Trace = Trace()
    y1: Trace = Trace()
    t_epoch: int = 1
    w_min: float = -math.inf
    w_max: float = math.inf
    third_factor: bool = False
    phase: str = "train"
    tied_to: str | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """JSON-able form stored in the build manifest (infinities as None)."""
        out = asdict(self)
        out["terms"] = [{"coef": t.coef, "dependency": t.dependency, "factors": list(t.factors)}
                        for t in self.terms]
        out["w_min"] = None if math.isinf(self.w_min) else self.w_min
        out["w_max"] = None if math.isinf(self.w_max) else self.w_max
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "EngineRule":
        """Inverse of :meth:`to_dict`."""
        return cls(terms=tuple(Term(t["coef"], t["dependency"], tuple(t["factors"]))
                               for t in d["terms"]),
                   x1=Trace(**d["x1"]), x2=Trace(**d["x2"]), y1=Trace(**d["y1"]),
                   t_epoch=int(d["t_epoch"]),
                   w_min=-math.inf if d["w_min"] is None else d["w_min"],
                   w_max=math.inf if d["w_max"] is None else d["w_max"],
                   third_factor=bool(d["third_factor"]), phase=d.get("phase", "train"),
                   tied_to=d.get("tied_to"), meta=d.get("meta", {}))

    # ------------------------------------------------------------------ translations
    def lava_dw(self) -> str:
        """The ``dw`` string of Lava's ``Loihi2FLearningRule`` / ``Loihi3FLearningRule``
        (Lava names the unconditional dependency ``u0``)."""
        parts = []
        for t in self.terms:
            dep = "u0" if t.dependency == "u" else t.dependency
            factors = " * ".join((f"{t.coef!r}", dep) + tuple(
                "weights" if f == "w" else f for f in t.factors))
            parts.append(factors)
        return " + ".join(parts).replace("+ -", "- ") if parts else "0"

    def brian2_expression(self, names: dict[str, str] | None = None, coef: str = "c",
                          out: str = "_dw") -> str:
        """dw as Brian2 abstract code: statements that leave this epoch's dw in ``out``.

        Each term is evaluated as the cpu kernel does (``compilers/cpu/learn_rules.py``):
        ``(x1^a * x2^b) * (((coef * y1^c) * y2^d) * y3^e)``, times ``w^f``, each power a
        repeated product of its own, and the terms summed in order. One two-operand
        operation per statement, so sympy never sees a whole product or sum to reorder and
        Brian2 computes the same float64 dw. Term k's coefficient is the per-synapse
        variable ``{coef}{k}`` (a vector, so every temporary is one). An unmet dependency
        multiplies its term by 0 where the cpu skips it: the sum is the same. ``names`` maps x1, x2, y1, y2, y3, w to Brian2 variables
        and x0, y0 to boolean expressions (default: the names themselves, x0 and y0 as
        booleans set on the step of a pre / post spike).

        Every temporary ``_e<n>`` is assigned exactly once: Brian2's numpy target turns
        ``a = a * b`` into the in-place ``a *= b``, which would write into a variable's
        array if ``a`` had been bound to it (``a = c0``)."""
        nm = {k: k for k in FACTORS + ("x0", "y0")}
        nm.update(names or {})
        if not self.terms:
            return f"{out} = 0.0"
        lines: list[str] = []

        def new(expr: str) -> str:
            lines.append(f"_e{len(lines) + 1} = {expr}")
            return f"_e{len(lines)}"

        def product(first: str | None, factors: tuple[str, ...], powers: list[int]) -> str | None:
            val = first
            for factor, power in zip(factors, powers):
                if power:
                    f = nm[factor]
                    for _ in range(power - 1):
                        f = new(f"{f} * {nm[factor]}")
                    val = f if val is None else new(f"{val} * {f}")
            return val

        total = None
        for k, term in enumerate(self.terms):
            pw = dict(zip(FACTORS, term.powers()))
            xpart = product(None, ("x1", "x2"), [pw["x1"], pw["x2"]])
            val = product(f"{coef}{k}", ("y1", "y2", "y3"), [pw["y1"], pw["y2"], pw["y3"]])
            if xpart is not None:
                val = new(f"{xpart} * {val}")
            val = product(val, ("w",), [pw["w"]])
            if term.dependency != "u":
                val = new(f"{val} * int({nm[term.dependency]})")
            total = val if total is None else new(f"{total} + {val}")
        lines.append(f"{out} = {total}")
        return "\n".join(lines)

    def reference_dw(self, x1, x2, y1, third, w, x0, y0):
        """NumPy reference of one learning epoch: arrays broadcast as [post, pre]."""
        import numpy as np
        y2, y3 = np.maximum(third, 0.0), np.maximum(-third, 0.0)
        values = {"x1": x1, "x2": x2, "y1": y1, "y2": y2, "y3": y3, "w": w}
        dw = np.zeros(np.broadcast(x1, y1, w).shape)
        for t in self.terms:
            prod = np.full(dw.shape, t.coef)
            for f in t.factors:
                prod = prod * values[f]
            if t.dependency == "x0":
                prod = prod * x0
            elif t.dependency == "y0":
                prod = prod * y0
            dw = dw + prod
        return dw
