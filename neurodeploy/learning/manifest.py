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

FIXED_LEARNING = ("stdp", "feedback_alignment", "direct_feedback_alignment", "dfa")


def _check_fixed(name: str, block, ex, profile: HardwareProfile, file: str) -> None:
    """Refuse, with the reason, what a fixed-point learning engine does not run."""
    if block.rule not in FIXED_LEARNING:
        raise CompileError(
            f"'{block.rule}' runs in float only in this release (fixed point runs stdp, "
            f"feedback_alignment and dfa); train with --profile cpu (float) and deploy the "
            f"trained weights to {profile.name} (neurodeploy train does this), or use one of "
            "those", file=file, path=("plasticity", name, "rule"))
    if block.rule != "stdp" and not profile.learning.third_factor:
        raise CompileError(
            f"{profile.name}'s learning engine has no graded third factor, which '{block.rule}' "
            "needs for its error; train with --profile cpu and deploy the trained weights "
            f"(neurodeploy train does this), or use stdp", file=file,
            path=("plasticity", name, "rule"))
    if block.rule == "feedback_alignment" and len(ex.hidden) > 1:
        raise CompileError(
            f"feedback_alignment in fixed point learns networks with one hidden layer "
            f"({len(ex.hidden)} here): its error relays between hidden layers would carry B e "
            "as integers at graded scale 1, which floors the error away; use dfa, or train "
            "with --profile cpu", file=file, path=("plasticity", name, "projections"))
    epochs = {r.t_epoch for r in ex.rules.values()}
    if epochs != {1}:
        raise CompileError(
            f"learning epoch {max(epochs)} steps: fixed-point rules run every step; set "
            "learning_epoch: 1", file=file, path=("plasticity", name, "learning_epoch"))


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
