"""Accuracy of a trained build on its data set, for many chips at once.

Follows ``neurodeploy evaluate`` (:func:`neurodeploy.learning.evaluate.evaluate_build`)
exactly: the test split of the data set, features encoded by the build's ``task`` block with
seed ``seed + 1``, each sample presented for ``sample_steps`` steps from a reset state, the
class read out as the output neuron with the most spikes (ties: the lowest index). On the cpu
backend every (chip, sample) pair is one instance of the batch, so a chunk of chips runs the
whole test set in one engine call; Lava and Brian2 run one sample after another per chip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError


@dataclass
class Workload:
    """Encoded test samples of a build's task."""

    input: str
    output: str
    steps: int
    spikes: np.ndarray          # [samples, steps, n_input] uint8
    labels: np.ndarray          # [samples]

    @property
    def samples(self) -> int:
        return int(self.labels.size)


def load_workload(plan: Any, data_spec: str, samples: int | None, seed: int) -> Workload:
    """The build's task on ``data_spec`` (``digits`` or an ``.npz``), as evaluate sees it."""
    from neurodeploy.task import load_dataset
    from neurodeploy.learning.evaluate import encoded_test_split
    task = plan.task
    if not task:
        raise NeurodeployError("this build has no task block, so it has no accuracy; use "
                               "firing-rate or distance specs", path=("--spec",))
    others = [n for n in plan.sources() if plan.populations[n].kind == "spike_source"
              and n != task["input"]]
    if others:
        raise NeurodeployError(f"spike_source populations {', '.join(others)} besides the "
                               f"task input '{task['input']}' have no data; validate runs "
                               "the task's data set only", path=("--spec",))
    from neurodeploy.learning.summary import trained_classes
    data = load_dataset(data_spec, features=plan.populations[task["input"]].size)
    classes = trained_classes(plan.path)
    if classes:                      # as evaluate: the labels the build was trained on
        data = data.subset(classes)
    spikes, y = encoded_test_split(plan, task, data, samples, seed)
    steps = int(task["sample_steps"])
    return Workload(input=task["input"], output=task["output"], steps=steps,
                    spikes=spikes, labels=np.asarray(y, np.int64))


def chip_figures(plan: Any, backend: str, work: Workload, dt: float, noise_chip: int = 0
                 ) -> dict[str, float]:
    """Accuracy and workload of one chip's plan: the backend's learner presents the test
    samples one after another with u and v reset between them, exactly as
    ``neurodeploy evaluate`` does (:func:`neurodeploy.learning.evaluate.evaluate_build`);
    a build with temporal noise or stochastic neurons draws chip ``noise_chip``'s
    (docs/noise.md)."""
    from neurodeploy.learning.learners import get_learner
    options = {"noise_chips": [noise_chip]} if plan.draws_per_chip() else {}
    learner = get_learner(backend, plan, work.output, **options)
    S, T = work.samples, work.steps
    counts, totals, synops = learner.predict_counts({work.input: work.spikes}, S, T)
    counts = np.asarray(counts)
    out: dict[str, float] = {
        "accuracy": float(np.mean(np.argmax(counts, axis=1) == work.labels))}
    lay = learner.layout
    cells = spikes = 0.0
    for name in lay.neurons:
        size = plan.populations[name].size
        o = lay.neuron0[name]
        n_spk = float(np.asarray(totals)[o:o + size].sum())
        out[f"{name}.rate"] = n_spk / (size * T * S) * 1000.0 / dt
        out[f"{name}.sparsity"] = 1.0 - n_spk / (size * T * S)
        cells += size * T * S
        spikes += n_spk
    out["sparsity"] = 1.0 - spikes / cells if cells else 1.0
    out["synops"] = float(synops)
    out["synops_per_sample"] = float(synops) / S
    return out
