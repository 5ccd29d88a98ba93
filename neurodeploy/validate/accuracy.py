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
    from neurodeploy.task import encode_samples, load_dataset
    from neurodeploy.task.datasets import check_fits
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
    data = load_dataset(data_spec)
    check_fits(data, plan.populations[task["input"]].size,
               plan.populations[task["output"]].size, data.name)
    x, y = data.x_test, data.y_test
    if samples:
        x, y = x[:samples], y[:samples]
    steps = int(task["sample_steps"])
    spikes = encode_samples(x, steps, task["max_rate"], task["encoding"], seed + 1)
    return Workload(input=task["input"], output=task["output"], steps=steps,
                    spikes=spikes, labels=np.asarray(y, np.int64))


def batch_inputs(plan: Any, work: Workload, chips: int) -> dict[str, np.ndarray]:
    """Instance inputs ``[chips * samples, steps, n]`` (chip-major; Poisson sources drawn
    from the seed for the whole test set, then cut per sample)."""
    from neurodeploy.compilers import make_inputs
    S, T = work.samples, work.steps
    out = {work.input: np.ascontiguousarray(np.tile(work.spikes, (chips, 1, 1)))}
    n_in = work.spikes.shape[2]
    drawn = make_inputs(plan, S * T, {f"{work.input}.spikes": np.zeros((S * T, n_in), np.uint8)})
    for name, arr in drawn.items():
        if name != work.input:
            out[name] = np.ascontiguousarray(np.tile(arr.reshape(S, T, -1), (chips, 1, 1)))
    return out


def per_chip(spikes: np.ndarray, chips: int, samples: int) -> np.ndarray:
    """``[chips * samples, T, n]`` -> ``[chips, samples * T, n]`` (samples back to back)."""
    b, t, n = spikes.shape
    return spikes.reshape(chips, samples * t, n)


def accuracies(output_spikes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy per chip from ``[chips, samples, T, classes]`` output spikes."""
    counts = output_spikes.sum(axis=2)
    pred = np.argmax(counts, axis=2)             # ties: the lowest index, as evaluate
    return (pred == labels[None, :]).mean(axis=1)
