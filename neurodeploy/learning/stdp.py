"""Pair-based STDP as an engine rule: ``dw = a_plus x1 y0 - a_minus y1 x0`` every step."""
from __future__ import annotations

import math

from ..ir.models import Network
from .engine_rule import EngineRule, Term, Trace
from .fa_family import Expansion


def expand_stdp(net: Network, name: str, block) -> Expansion:
    """STDP adds no network parts; each listed projection gets the pair rule."""
    ex = Expansion()
    eta = block.learning_rate
    rule = EngineRule(
        terms=(Term(eta * block.a_plus, "y0", ("x1",)), Term(-eta * block.a_minus, "x0", ("y1",))),
        x1=Trace(tau=block.tau_plus, impulse=1.0), y1=Trace(tau=block.tau_minus, impulse=1.0),
        x2=Trace(), t_epoch=1,
        w_min=-math.inf if block.w_min is None else block.w_min,
        w_max=math.inf if block.w_max is None else block.w_max)
    for proj in block.projections:
        ex.rules[proj] = rule
    return ex
