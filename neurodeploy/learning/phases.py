"""Learning phases besides training: the noise phase of weight mirror and SAL.

After each training epoch (and once before the first) the host presents noise spikes to
the hidden layer and drive spikes to the outputs, with only the phase's rules on; SAL also
couples the feedback into the hidden soma (``coupling``) for the phase's length.
"""
from __future__ import annotations

import numpy as np


def alignment(block: dict) -> dict | None:
    """A block's noise phase (``phase``, ``steps``, ``noise_hz``, ``coupling`` onto the
    hidden ``populations``), or None; weight mirror builds written before the manifest had
    ``align`` get theirs from the rule's parameters."""
    if block.get("align"):
        return block["align"]
    if block.get("rule") == "weight_mirror":
        p = block["params"]
        return {"phase": "mirror", "steps": p["mirror_steps"], "noise_hz": p["mirror_rate_hz"],
                "coupling": 0.0, "populations": []}
    return None


def align_phase(learner, plan, block: dict, seed: list[int]) -> None:
    """One noise phase (``block["align"]``) on every chip of ``learner``: noise spikes into
    the hidden layer, drive spikes every other step into the outputs, the phase's rules on,
    the feedback coupled into the hidden soma when the rule asks for it."""
    spec = alignment(block)
    steps = int(spec["steps"])
    size = plan.populations[block["noise"]].size
    rng = np.random.default_rng(seed)
    inputs = {block["noise"]: (rng.random((1, steps, size)) < spec["noise_hz"]).astype(np.uint8)}
    n_out = plan.populations[block["drive"]].size
    inputs[block["drive"]] = np.tile((np.arange(steps) % 2 == 0)[None, :, None],
                                     (1, 1, n_out)).astype(np.uint8)
    learner.set_phase(spec["phase"])
    try:
        learner.present(inputs, 1, steps, learn=True)
    finally:
        learner.set_phase("train")


def coupling(plan, neuron0: dict[str, int], n: int, dtype, phase: str | None) -> np.ndarray:
    """Per neuron, the gain of its third-factor input onto its soma in ``phase`` (0 but for
    the hidden populations of a block whose alignment phase this is)."""
    out = np.zeros(n, dtype)
    for block in plan.plasticity.values():
        spec = alignment(block)
        if spec is None or phase != spec["phase"]:
            continue
        for pop in spec.get("populations", []):
            lo = neuron0[pop]
            out[lo:lo + plan.populations[pop].size] = spec["coupling"]
    return out


def refuse_coupling(plan, phase: str | None, backend: str) -> None:
    """Learners without the soma coupling refuse the phase that needs it."""
    for name, block in plan.plasticity.items():
        spec = alignment(block)
        if spec is not None and phase == spec["phase"] and spec["coupling"] != 0:
            from ..errors import BackendError
            raise BackendError(f"{block['rule']}'s alignment phase feeds the feedback into "
                               f"the hidden soma, which the {backend} learner does not model in "
                               "this release; train with --backend cpu",
                               path=("plasticity", name, "rule"))
