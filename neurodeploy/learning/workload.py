"""Workload of learning, per training sample, for energy comparisons (NeuroBench style).

* synaptic operations: spikes delivered through synapses during the training pass (the
  learner counts them as the frozen read-out does), divided by the samples presented;
* learning updates: synapse updates the learning engine evaluates, every synapse of each
  plastic projection of the ``train`` phase once per learning epoch (Loihi's engine visits
  each plastic synapse at every epoch, whatever its traces), so
  ``sum(synapses x sample_steps / learning_epoch)``. Noise phases (weight mirror, SAL
  alignment) are extra and not counted per sample.
"""
from __future__ import annotations

from typing import Any

from .engine_rule import EngineRule


def learning_updates_per_sample(plan: Any, block: dict, sample_steps: int) -> float:
    """Synapse updates the engine evaluates per sample in the block's ``train`` phase."""
    total = 0.0
    for name, d in block["projections"].items():
        rule = EngineRule.from_dict(d)
        if rule.phase != "train":
            continue
        proj = plan.projections[name]
        synapses = proj.weights.size if proj.format == "dense" else len(proj.rows)
        total += synapses * sample_steps / max(rule.t_epoch, 1)
    return float(total)


def summary(learner: Any, synops_before: float, samples: int, plan: Any, block: dict,
            sample_steps: int) -> dict[str, float]:
    """``{"synaptic_operations_per_sample", "learning_updates_per_sample"}`` of one pass."""
    synops = (float(getattr(learner, "synops", 0.0)) - synops_before) / max(samples, 1)
    return {"synaptic_operations_per_sample": synops,
            "learning_updates_per_sample": learning_updates_per_sample(plan, block, sample_steps)}
