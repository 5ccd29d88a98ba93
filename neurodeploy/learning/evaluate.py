"""``neurodeploy evaluate``: test accuracy of a trained build and NeuroBench-style workload.

The build runs frozen (learning off; the learning pathway is left out as it cannot change a
spike), one sample after another with u and v reset between samples. Workload figures are
per sample: activation sparsity (fraction of neuron-steps without a spike, NeuroBench's
definition), synaptic operations (effective accumulates: one per synapse reached by a
spike), and the mean firing rate of every population in Hz. A build whose profile has
mismatch defaults is evaluated as its nominal chip (reported as ``mismatch_not_applied``);
mismatched chips are ``neurodeploy validate``'s job.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ArtifactError
from ..task import Dataset
from ..task.datasets import check_fits
from ..task.sequences import check_task, encode_inputs
from . import metrics
from .learners import get_learner
from .summary import trained_classes


def task_of(plan) -> dict:
    """The build's task block, or a clear error for builds compiled without one."""
    if not plan.task:
        raise ArtifactError("this build has no task block (input, output, encoding); add "
                            "'task:' to the network YAML and recompile", file=plan.path)
    return plan.task


def encoded_test_split(plan, task: dict, data: Dataset, samples: int | None, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(input spikes [samples, steps, n_input], labels) of the test split as evaluate presents
    it: checked against the build, the first ``samples``, encoded with seed ``seed + 1``."""
    check_fits(data, plan.populations[task["input"]].size, plan.populations[task["output"]].size,
               data.name)
    check_task(data, task, data.name)
    x, y = data.x_test, data.y_test
    if samples:
        x, y = x[:samples], y[:samples]
    return encode_inputs(x, task, seed + 1), np.asarray(y)


def evaluate_build(build: str | Path, backend: str = "cpu", data: Dataset | None = None,
                   data_spec: str = "digits", seed: int = 0, samples: int | None = None,
                   classes: list[int] | None = None) -> dict:
    """Accuracy and workload of ``build`` on the test split of ``data``."""
    from ..compilers import load_plan
    from ..task import load_dataset
    plan = load_plan(build).frozen(keep_noise=True)
    mismatch = plan.mismatch_features()
    if mismatch:
        plan = plan.nominal()
    task = task_of(plan)
    if data is None:
        data = load_dataset(data_spec, features=plan.populations[task["input"]].size)
        classes = classes if classes is not None else trained_classes(build)
        if classes:
            data = data.subset(classes)
    spikes, y = encoded_test_split(plan, task, data, samples, seed)
    steps = int(task["sample_steps"])
    learner = get_learner(backend, plan, task["output"])
    counts, totals, synops = learner.predict_counts({task["input"]: spikes}, y.size, steps)
    lay = learner.layout
    rates, neuron_steps, n_spikes = {}, 0, 0
    for name in lay.neurons:
        size = plan.populations[name].size
        o = lay.neuron0[name]
        pop_spikes = float(totals[o:o + size].sum())
        rates[name] = pop_spikes / (size * steps * y.size) * 1000.0 / plan.dt
        neuron_steps += size * steps * y.size
        n_spikes += pop_spikes
    pred = metrics.predictions(counts)
    return {"accuracy": metrics.accuracy(counts, y), "n": int(y.size), "backend": backend,
            "build": str(build), "numerics": plan.numerics, "predictions": pred.tolist(),
            "activation_sparsity": 1.0 - n_spikes / max(neuron_steps, 1),
            "synaptic_operations_per_sample": synops / y.size,
            "mean_rate_hz": rates, "sample_steps": steps,
            "chip": "nominal", "mismatch_not_applied": mismatch}
