"""The attacked build itself: pixels -> spikes -> the deployed numerics, as ``evaluate`` runs them.

Every accuracy an attack reports comes from here: the attacked pixels are encoded by the
build's task block with ``evaluate``'s seed and run through the cpu backend's batched frozen
read-out (bit-exact with Lava for fixed builds), nominal or on a mismatched chip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError


@dataclass
class Target:
    """A frozen build with a task and its test split (pixels in [0, 1])."""

    plan: Any                  # frozen SimPlan (nominal)
    x: np.ndarray              # [samples, n_in] test pixels
    y: np.ndarray              # [samples]
    x_train: np.ndarray
    y_train: np.ndarray
    seed: int = 0
    queries: int = 0           # build evaluations so far (black-box budget accounting)

    @property
    def task(self) -> dict:
        return self.plan.task

    def counts(self, x: np.ndarray, plan: Any = None, noise_chip: int = 0) -> np.ndarray:
        """Output spike counts [samples, classes] of pixels ``x`` on the nominal chip or
        ``plan`` (a chip of it); encoding seed ``seed + 1``, as ``evaluate``."""
        from neurodeploy.learning.learners import get_learner
        from neurodeploy.task import encode_samples
        plan = self.plan if plan is None else plan
        task = self.task
        steps = int(task["sample_steps"])
        spikes = encode_samples(x, steps, task["max_rate"], task["encoding"], self.seed + 1)
        options = {"noise_chips": [noise_chip]} if plan.draws_per_chip() else {}
        learner = get_learner("cpu", plan, task["output"], **options)
        counts, _, _ = learner.predict_counts({task["input"]: spikes}, x.shape[0], steps)
        self.queries += 1
        return np.asarray(counts)

    def correct(self, x: np.ndarray, y: np.ndarray | None = None, plan: Any = None,
                noise_chip: int = 0) -> np.ndarray:
        """Per-sample correctness (the class is the output with the most spikes, ties to
        the lowest index, as ``evaluate``)."""
        y = self.y if y is None else y
        return np.argmax(self.counts(x, plan, noise_chip), axis=1) == y


def load_target(build: str, data: str = "digits", samples: int | None = None,
                seed: int = 0) -> Target:
    """The build's nominal frozen plan and data set, exactly as ``evaluate`` loads them."""
    from neurodeploy.compilers import load_plan
    from neurodeploy.learning.evaluate import task_of, trained_classes
    from neurodeploy.task import load_dataset
    from neurodeploy.task.datasets import check_fits
    plan = load_plan(build).frozen(keep_noise=True).nominal()
    task = task_of(plan)
    if samples is not None and samples < 1:
        raise NeurodeployError(f"must be >= 1; got {samples}", path=("--samples",))
    dataset = load_dataset(data)
    classes = trained_classes(build)
    if classes:
        dataset = dataset.subset(classes)
    check_fits(dataset, plan.populations[task["input"]].size,
               plan.populations[task["output"]].size, dataset.name)
    x, y = dataset.x_test, dataset.y_test
    if samples:
        x, y = x[:samples], y[:samples]
    return Target(plan, np.asarray(x, np.float64), np.asarray(y, np.int64),
                  np.asarray(dataset.x_train, np.float64), np.asarray(dataset.y_train, np.int64),
                  seed)
