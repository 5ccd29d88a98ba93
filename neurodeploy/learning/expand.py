"""Plasticity blocks -> real network parts: the registry of rule expanders.

``expand(net)`` returns a new :class:`Network` holding the error populations, label
sources and feedback projections every block needs (compiled, quantized and stored like
any other part), plus the engine rule of each plastic projection. A rule family is one
module with one expander; adding a rule means one module and one line here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import IRError
from ..ir.models import Network
from .engine_rule import EngineRule
from .fa_family import Expansion, expand_error_driven
from .lra import expand_lra
from .stdp import expand_bias, expand_stdp

EXPANDERS: dict[str, Callable[[Network, str, object], Expansion]] = {
    "feedback_alignment": expand_error_driven,
    "direct_feedback_alignment": expand_error_driven,
    "dfa": expand_error_driven,
    "kolen_pollack": expand_error_driven,
    "weight_mirror": expand_error_driven,
    "low_rank_fa": expand_error_driven,
    "sal": expand_error_driven,
    "stdp": expand_stdp,
    "lra": expand_lra,
    "bias": expand_bias,
}


@dataclass
class Expanded:
    """The expanded network and, per plasticity block, what it added."""

    net: Network
    blocks: dict[str, Expansion] = field(default_factory=dict)

    def rules(self) -> dict[str, EngineRule]:
        """Engine rule of every plastic projection (forward and feedback)."""
        return {p: r for ex in self.blocks.values() for p, r in ex.rules.items()}


def _same_part(have, new) -> bool:
    """A part already in the network (a trained network lists its learning parts with their
    learned weights) stands for the generated one when its structure is the same."""
    if getattr(have, "kind", None) is not None or getattr(new, "kind", None) is not None:
        return getattr(have, "kind", None) == getattr(new, "kind", None) and have.size == new.size
    return (have.pre, have.post, have.port, have.connectivity) == (new.pre, new.post, new.port,
                                                                   new.connectivity)


def refuse_sampling(net: Network) -> None:
    """A sampling task runs on the sampling simulator, which no build holds: refused."""
    if getattr(net.task, "kind", None) == "sampling":
        raise IRError("a task of kind sampling trains on the sampling simulator (neurodeploy "
                      "train), not from a build; remove the task block to compile the network",
                      file=net._file, path=("task", "kind"))


def expand(net: Network) -> Expanded:
    """Add every block's network parts; a part already present with the same structure is
    kept (with its weights), any other name clash is an error."""
    refuse_sampling(net)
    pops, projs = dict(net.populations), dict(net.projections)
    blocks: dict[str, Expansion] = {}
    for name, block in net.plasticity.items():
        if block.rule not in EXPANDERS:
            raise IRError(f"rule '{block.rule}' has no implementation yet", file=net._file,
                          path=("plasticity", name, "rule"))
        ex = EXPANDERS[block.rule](net, name, block)
        for kind, added, into in (("population", ex.populations, pops),
                                  ("projection", ex.projections, projs)):
            for key, value in added.items():
                if key in into and not _same_part(into[key], value):
                    raise IRError(f"plasticity block '{name}' adds {kind} '{key}', which the "
                                  "network already has with other settings; rename one of "
                                  "them", file=net._file, path=("plasticity", name))
                into.setdefault(key, value)
        blocks[name] = ex
    if not blocks:
        return Expanded(net=net)
    out = net.model_copy(update={"populations": pops, "projections": projs})
    for attr in ("_base_dir", "_file", "_weights_from_files", "_lines"):
        setattr(out, attr, getattr(net, attr))
    return Expanded(net=out, blocks=blocks)
