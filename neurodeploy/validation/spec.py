"""Pass/fail specs: ``accuracy>=0.9``, ``out.rate>=5 and out.rate<=40``, ``distance<=0.3``.

A spec is clauses joined with ``and``; a clause is ``METRIC OP NUMBER`` with OP one of
``>= <= > < ==``. Metrics:

* ``accuracy`` -- fraction of the build's dataset classified correctly (trained builds);
* ``POP.rate`` -- mean firing rate of population POP in Hz (any LIF population);
* ``POP.distance`` / ``distance`` -- spike-train distance of POP (or of all LIF populations)
  to the nominal, mismatch-free chip: the van Rossum distance relative to the nominal
  trains, ``||k * (s_chip - s_nominal)|| / ||k * s_nominal||`` with an exponential kernel
  ``k`` (tau 10 ms), 0 for an identical chip;
* ``POP.sparsity`` / ``sparsity`` -- activation sparsity (fraction of neuron-steps without
  a spike, NeuroBench's definition), ``synops`` -- synaptic events per sample.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from neurodeploy.errors import NeurodeployError, did_you_mean


class SpecError(NeurodeployError):
    """A spec string cannot be parsed or names something the build does not have."""


OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
    "==": operator.eq}
GLOBAL_METRICS = ("accuracy", "distance", "sparsity", "synops")
POP_METRICS = ("rate", "distance", "sparsity")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CLAUSE = re.compile(rf"^\s*(?P<metric>[A-Za-z_][\w\-]*(?:\.[A-Za-z_]\w*)?)\s*"
                     rf"(?P<op>>=|<=|==|>|<)\s*(?P<value>{_NUMBER})\s*$")


@dataclass(frozen=True)
class Clause:
    """``metric op value``."""

    metric: str
    op: str
    value: float

    def holds(self, figures: dict[str, Any]) -> bool:
        """Whether the measured figure satisfies the clause (missing or NaN: it does not)."""
        x = figures.get(self.metric)
        if x is None or x != x:
            return False
        return OPS[self.op](float(x), self.value)

    def margin(self, figures: dict[str, Any]) -> float:
        """Signed distance to failing relative to the bound (positive: passes by that
        fraction; absolute when the bound is 0), so clauses in different units compare."""
        x = figures.get(self.metric)
        if x is None or x != x:
            return -1e300
        raw = float(x) - self.value if self.op in (">=", ">") else (
            self.value - float(x) if self.op in ("<=", "<") else -abs(float(x) - self.value))
        return raw / abs(self.value) if self.value else raw

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


@dataclass(frozen=True)
class Spec:
    """Clauses that must all hold."""

    text: str
    clauses: tuple[Clause, ...]

    def holds(self, figures: dict[str, Any]) -> bool:
        return all(c.holds(figures) for c in self.clauses)

    def margin(self, figures: dict[str, Any]) -> float:
        """Smallest clause margin (the chip's distance to failing)."""
        return min(c.margin(figures) for c in self.clauses)

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(c.metric for c in self.clauses))

    def populations(self) -> list[str]:
        """Populations the spec names (``POP.metric``)."""
        return list(dict.fromkeys(c.metric.split(".")[0] for c in self.clauses
                                  if "." in c.metric))


def parse_spec(text: str) -> Spec:
    """Parse ``text``; any malformed clause is a one-line SpecError saying what to write."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec; write e.g. 'accuracy>=0.9' or 'out.rate>=5'",
                        path=("--spec",))
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = _CLAUSE.match(part)
        if not m:
            raise SpecError(f"cannot parse clause '{part.strip()}' of '{text}'; write "
                            "METRIC OP NUMBER with OP one of >=, <=, >, <, == (e.g. "
                            "'accuracy>=0.9', 'out.rate>=5'), clauses joined with 'and'",
                            path=("--spec",))
        metric = m["metric"]
        if "." in metric:
            kind = metric.split(".", 1)[1]
            if kind not in POP_METRICS:
                raise SpecError(f"unknown population metric '{kind}' in '{part.strip()}'"
                                f"{did_you_mean(kind, POP_METRICS)}; use POP.rate, "
                                "POP.distance or POP.sparsity", path=("--spec",))
        elif metric not in GLOBAL_METRICS:
            raise SpecError(f"unknown metric '{metric}'{did_you_mean(metric, GLOBAL_METRICS)}; "
                            f"use {', '.join(GLOBAL_METRICS)} or POP.rate, POP.distance, "
                            "POP.sparsity", path=("--spec",))
        clauses.append(Clause(metric, m["op"], float(m["value"])))
    return Spec(text=text.strip(), clauses=tuple(clauses))


def check_against(spec: Spec, lif_populations: list[str], has_task: bool) -> None:
    """Refuse specs naming populations the build lacks, or accuracy without a task."""
    for pop in spec.populations():
        if pop not in lif_populations:
            raise SpecError(f"spec names population '{pop}'{did_you_mean(pop, lif_populations)}"
                            f"; LIF populations of this build: {', '.join(lif_populations)}",
                            path=("--spec",))
    if "accuracy" in spec.metrics and not has_task:
        raise SpecError("'accuracy' needs a build trained on a dataset (a task in the build); "
                        "use firing-rate or distance specs (e.g. 'out.rate>=5') for this one",
                        path=("--spec",))
