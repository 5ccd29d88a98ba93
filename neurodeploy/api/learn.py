"""Train a network with its on-chip learning rule, as objects: the trained build and its curves."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checks
from .build import Build, scratch
from .network import Network, ir_or_path
from .profile import Profile, hardware_or_name
from .progress import reporter


@dataclass
class TrainResult:
    """A training session: the trained build for the profile, and its per-epoch curves.

    ``curves`` has ``epoch``, ``train_accuracy``, ``test_accuracy`` (fractions), ``loss``
    (mean squared rate error), ``angles`` (degrees between B and W^T, per feedback
    projection) and ``seconds`` (wall time per epoch). ``learned_in``: ``fixed``, ``float``
    or the device model learned through; ``workload``: operations per training sample.
    """

    build: Build
    curves: Any
    float_accuracy: float
    deployed_accuracy: float
    deployed_learning: bool
    learned_in: str = "float"
    workload: dict | None = None

    def plot(self, ax: Any = None) -> Any:
        """Train and test accuracy per epoch on one matplotlib axis; returns the axis."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        ax.plot(self.curves.epoch, self.curves.train_accuracy, label="train")
        ax.plot(self.curves.epoch, self.curves.test_accuracy, label="test")
        ax.set(xlabel="epoch", ylabel="accuracy", title=f"{self.build.name} on {self.build.profile}")
        ax.legend()
        return ax


def train(network: Network | str | Path, profile: Profile | str | Path = "loihi2",
          backend: str = "cpu", epochs: int = 20, data: str = "digits",
          classes: list[int] | None = None, train_samples: int | None = None,
          test_samples: int | None = None, seed: int = 0, lr_decay: float | None = None,
          learning_rate: float | None = None, learn_in: str = "chip",
          progress: bool | None = None, out: str | Path | None = None,
          force: bool = False) -> TrainResult:
    """Train ``network`` (which needs a task block and one error-driven plasticity block)
    for ``epochs`` passes on ``backend``, then compile the trained weights for ``profile``.

    ``data``: ``digits`` (needs scikit-learn) or an ``.npz`` with x_train, y_train, x_test,
    y_test; ``classes`` keeps only these labels; ``learning_rate`` replaces the block's
    (per unit weight, per learning epoch); ``learn_in``: ``"chip"`` learns in a fixed-point
    profile's own numbers (its learning engine), ``"float"`` learns in float and deploys the
    trained weights; ``progress``: one line per epoch on stderr
    (default: in a terminal or notebook only; False silences it). The build stays in memory
    until ``result.build.save(dir)``, or is written to ``out`` (``force`` replaces a build
    there, as ``train --force``).
    """
    from ..learning.session import run_session
    from ..learning.train import TrainConfig
    checks.positive("epochs", epochs)
    checks.positive("train_samples", train_samples)
    checks.positive("test_samples", test_samples)
    checks.learning_rate("learning_rate", learning_rate)
    cfg = TrainConfig(epochs=epochs, backend=backend, data=str(data), seed=seed,
                      lr_decay=lr_decay, classes=list(classes) if classes else None,
                      train_samples=train_samples, test_samples=test_samples,
                      learning_rate=learning_rate, learn_in=learn_in)
    net, prof = ir_or_path(network), hardware_or_name(profile)
    if out is not None:
        res = run_session(net, prof, cfg, Path(out), force=force, progress=reporter(progress))
        build = Build(res.build)
    else:
        folder = scratch()
        try:
            res = run_session(net, prof, cfg, folder / "build", progress=reporter(progress))
            build = Build(res.build, owned=folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return TrainResult(build, res.curves, float(res.float_accuracy), float(res.deployed_accuracy),
                       bool(res.deployed_learning), res.learned_in, res.workload)
