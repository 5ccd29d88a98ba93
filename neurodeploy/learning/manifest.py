"""The ``plasticity`` section of a build manifest: each block's parts and engine rules.

Float profiles store the rules as written. Fixed-point profiles must express them in the
learning engine's number formats; what a profile's engine cannot run is refused here with
the reason (compile exits 1), never approximated silently.
"""
from __future__ import annotations

from ..errors import CompileError
from ..profiles import HardwareProfile
from .device_models import resolved
from .expand import Expanded
from .fixed_point import TRACE_BITS, epoch_summed

FIXED_LEARNING = ("stdp", "feedback_alignment", "direct_feedback_alignment", "dfa")


def _check_fixed(name: str, block, ex, profile: HardwareProfile, file: str) -> None:
    """Refuse, with the reason, what a fixed-point learning engine does not run."""
    if block.rule not in FIXED_LEARNING:
        raise CompileError(
            f"'{block.rule}' runs in float only in this release (fixed point runs stdp, "
            f"feedback_alignment and dfa); learn in float and deploy the trained weights to "
            f"{profile.name} (neurodeploy train --learn-in float), or use one of those",
            file=file, path=("plasticity", name, "rule"))
    if block.rule != "stdp" and not profile.learning.third_factor:
        raise CompileError(
            f"{profile.name}'s learning engine has no graded third factor, which '{block.rule}' "
            "needs for its error; learn in float and deploy the trained weights "
            f"(neurodeploy train --learn-in float), or use stdp", file=file,
            path=("plasticity", name, "rule"))
    if block.rule == "feedback_alignment" and len(ex.hidden) > 1:
        raise CompileError(
            f"feedback_alignment in fixed point learns networks with one hidden layer "
            f"({len(ex.hidden)} here): its error relays between hidden layers would carry B e "
            "as integers at graded scale 1, which floors the error away; use dfa, or train "
            "with --profile cpu", file=file, path=("plasticity", name, "projections"))
    spec = profile.learning
    if spec.trace_bits is not None and spec.trace_bits != TRACE_BITS:
        where = ("learning", "trace_bits")
        raise CompileError(
            f"profile {profile.name}: is {spec.trace_bits}; fixed-point learning is modelled "
            f"on Loihi 2's {TRACE_BITS}-bit traces only (set trace_bits: {TRACE_BITS}, or learn "
            f"with --profile cpu) to learn '{block.rule}' of plasticity.{name}",
            file=profile._file or file, path=where, line=profile.line_of(where))
    for r in ex.rules.values():
        if r.t_epoch != 1 and not epoch_summed(r):
            raise CompileError(
                f"learning epoch {r.t_epoch} steps: fixed-point rules other than the "
                "epoch-summed error rules (feedback_alignment, dfa) run every step; set "
                "learning_epoch: 1", file=file, path=("plasticity", name, "learning_epoch"))
        every = spec.epoch_steps or 1
        if r.t_epoch % every:
            raise CompileError(
                f"learning epoch {r.t_epoch} steps is not a multiple of {profile.name}'s "
                f"learning epoch_steps ({every}); set learning_epoch to a multiple of it",
                file=file, path=("plasticity", name, "learning_epoch"))


def plasticity_manifest(expanded: Expanded, profile: HardwareProfile, file: str) -> dict:
    """Manifest entries ``{block: {...}}``; empty when the network does not learn."""
    out = {}
    net = expanded.net
    for name, ex in expanded.blocks.items():
        block = net.plasticity[name]
        if profile.numerics == "fixed":
            _check_fixed(name, block, ex, profile, file)
        out[name] = {
            "rule": block.rule, "params": block.model_dump(mode="json"),
            "label": ex.label, "output": ex.output, "hidden": ex.hidden, "gated": ex.gated,
            "gate_window": getattr(block, "gate_window", 0) if getattr(block, "gate", False) else 0,
            "target_rate": getattr(block, "target_rate", None), "noise": ex.noise, "drive": ex.drive,
            "align": ex.align,
            "pairs": [list(p) for p in ex.pairs],
            "projections": {p: r.to_dict() for p, r in ex.rules.items()},
            "device": resolved(profile),
            "engine": {"profile": profile.name, "trace_bits": profile.learning.trace_bits,
                       "epoch_steps": profile.learning.epoch_steps,
                       "third_factor": profile.learning.third_factor},
        }
    return out
