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


# Why each FA-family rule has no fixed-point form in this release (the engine's limits
# that its feedback update or error path runs into; docs/learning_fixed.md).
_SIGNED_X1 = ("its feedback B learns from the signed error as the presynaptic trace x1 "
              "(dB = eta x1 y1), but the engine's traces are 7-bit unsigned and a graded "
              "spike cannot drive them negative, so every update from a negative error has "
              "no channel")
def _graded_relay(what: str) -> str:
    """Why an error path through a graded population loses the error in fixed point."""
    return (f"its error reaches the lower layer through {what}, a graded population that "
            "fixed point carries at graded scale 1: B e (feedback weights of about "
            "1/sqrt(fan-in)) becomes an integer there and floors the error away")


_GRADED_RELAY = _graded_relay("the relay between hidden layers")
FIXED_REFUSALS = {
    "kolen_pollack": _SIGNED_X1,
    "weight_mirror": ("its feedback B learns every step from (x1 - x2)(y1 - m) with x1 the "
                      "error payload -out, negative, which the engine's 7-bit unsigned traces "
                      "cannot hold, and its output drive's homeostat multiplies two traces "
                      "(x1 y1), which the fixed-point rule encoding does not quantize"),
    "sal": ("its feedback B learns by sign-flipped pair STDP from the error relay's payload "
            "-1 (a negative trace impulse, which the engine's unsigned traces cannot take), "
            "and its alignment phase's output-drive homeostat multiplies two traces (x1 y1), "
            "which the fixed-point rule encoding does not quantize"),
    "low_rank_fa": _graded_relay("the rank-r bottleneck"),
}


def _check_fixed(name: str, block, ex, profile: HardwareProfile, file: str) -> None:
    """Refuse, with the reason, what a fixed-point learning engine does not run."""
    if block.rule in FIXED_REFUSALS:
        raise CompileError(
            f"'{block.rule}' does not learn in {profile.name}'s fixed point: "
            f"{FIXED_REFUSALS[block.rule]}; learn in float and deploy the trained weights "
            f"(neurodeploy train --learn-in float), or use feedback_alignment or dfa",
            file=file, path=("plasticity", name, "rule"))
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
            f"({len(ex.hidden)} here): {_GRADED_RELAY}; use dfa, or learn in float "
            "(neurodeploy train --learn-in float)", file=file,
            path=("plasticity", name, "projections"))
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
