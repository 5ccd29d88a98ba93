"""Pair-based STDP as an engine rule: ``dw = a_plus x1 y0 - a_minus y1 x0`` every step."""
from __future__ import annotations

import math

from ..errors import IRError
from ..ir.models import Network
from .engine_rule import EngineRule, Term, Trace
from .expansion import Expansion


def pair_rule(a_plus: float, a_minus: float, tau_plus: float, tau_minus: float,
              w_min: float = -math.inf, w_max: float = math.inf, pre_impulse: float = 1.0,
              **extra) -> EngineRule:
    """``dw = a_plus x1 y0 - a_minus y1 x0``: x1 the pre trace (``pre_impulse`` times a pre
    event's payload), y1 the post spike trace; ``extra``: further EngineRule fields."""
    return EngineRule(
        terms=(Term(a_plus, "y0", ("x1",)), Term(-a_minus, "x0", ("y1",))),
        x1=Trace(tau=tau_plus, impulse=pre_impulse), y1=Trace(tau=tau_minus, impulse=1.0),
        x2=Trace(), t_epoch=1, w_min=w_min, w_max=w_max, **extra)


def expand_stdp(net: Network, name: str, block) -> Expansion:
    """STDP adds no network parts; each listed projection gets the pair rule (a block with
    the sampling simulator's options is refused: the engine has exponential all-pairs
    traces and no phases of its own)."""
    if not block.engine_only():
        raise IRError(f"plasticity block '{name}' sets phase, window: triangular, pairing: "
                      "nearest or amplitude_cv, which only a task of kind sampling runs "
                      "(neurodeploy train); remove them to compile it", file=net._file,
                      path=("plasticity", name))
    ex = Expansion()
    eta = block.learning_rate
    rule = pair_rule(eta * block.a_plus, eta * block.a_minus, block.tau_plus, block.tau_minus,
                     -math.inf if block.w_min is None else block.w_min,
                     math.inf if block.w_max is None else block.w_max)
    for proj in block.projections:
        ex.rules[proj] = rule
    return ex


def expand_bias(net: Network, name: str, block) -> Expansion:
    """Bias plasticity runs in sampling tasks only: refused when compiling."""
    raise IRError(f"plasticity block '{name}' (rule bias) runs only in a task of kind sampling "
                  "(neurodeploy train); remove it to compile the network", file=net._file,
                  path=("plasticity", name, "rule"))
