"""Train a network with its on-chip learning rule and evaluate trained builds, as objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .build import Build, as_build, scratch
from .network import Network, as_network
from .profile import Profile, as_profile
from .progress import reporter


@dataclass
class TrainResult:
    """A training session: the trained build for the profile, and its per-epoch curves.

    ``curves`` has ``epoch``, ``train_accuracy``, ``test_accuracy`` (fractions), ``loss``
    (mean squared rate error), ``angles`` (degrees between B and W^T, per feedback
    projection) and ``seconds`` (wall time per epoch).
    """

    build: Build
    curves: Any
    float_accuracy: float
    deployed_accuracy: float
    deployed_learning: bool

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


def _positive(name: str, value: int | None) -> None:
    from ..commands.learn import _positive as check
    check(name, value)


def train(network: Network | str | Path, profile: Profile | str | Path = "loihi2",
          backend: str = "cpu", epochs: int = 20, data: str = "digits",
          classes: list[int] | None = None, train_samples: int | None = None,
          test_samples: int | None = None, seed: int = 0, lr_decay: float | None = None,
          learning_rate: float | None = None, learn_in: str = "chip",
          progress: bool | None = None) -> TrainResult:
    """Train ``network`` (which needs a task block and one error-driven plasticity block)
    for ``epochs`` passes on ``backend``, then compile the trained weights for ``profile``.

    ``data``: ``digits`` (needs scikit-learn) or an ``.npz`` with x_train, y_train, x_test,
    y_test; ``classes`` keeps only these labels; ``learning_rate`` replaces the block's
    (per unit weight, per learning epoch); ``learn_in``: ``"chip"`` learns in a fixed-point
    profile's own numbers (its learning engine), ``"float"`` learns in float and deploys the
    trained weights; ``progress``: one line per epoch on stderr
    (default: in a terminal or notebook only; False silences it). The build stays in memory
    until ``result.build.save(dir)``.
    """
    from ..learning.session import run_session
    from ..learning.train import TrainConfig
    _positive("epochs", epochs)
    _positive("train_samples", train_samples)
    _positive("test_samples", test_samples)
    net, prof = as_network(network), as_profile(profile)
    cfg = TrainConfig(epochs=epochs, backend=backend, data=str(data), seed=seed,
                      lr_decay=lr_decay, classes=list(classes) if classes else None,
                      train_samples=train_samples, test_samples=test_samples,
                      learning_rate=learning_rate, learn_in=learn_in)
    folder = scratch()
    try:
        res = run_session(net.ir, prof.hardware, cfg, folder / "build", progress=reporter(progress))
        build = Build(res.build, owned=folder)
    except BaseException:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return TrainResult(build, res.curves, float(res.float_accuracy), float(res.deployed_accuracy),
                       bool(res.deployed_learning))


@dataclass
class Evaluation:
    """Test accuracy (fraction) and NeuroBench-style workload of a build, per sample."""

    accuracy: float
    n: int
    backend: str
    numerics: str
    activation_sparsity: float
    synaptic_operations_per_sample: float
    mean_rate_hz: dict[str, float]
    predictions: np.ndarray
    mismatch_not_applied: list[str] = field(default_factory=list)


def evaluate(build: Build | str | Path, backend: str = "cpu", data: str = "digits",
             samples: int | None = None, classes: list[int] | None = None,
             seed: int = 0) -> Evaluation:
    """Run ``build`` frozen on the test split of ``data`` (first ``samples`` only, labels
    ``classes``; default: those it was trained on) and measure accuracy and workload."""
    from ..learning.evaluate import evaluate_build
    _positive("samples", samples)
    b = as_build(build)
    r = evaluate_build(b.path, backend=backend, data_spec=str(data), seed=seed,
                       samples=samples, classes=list(classes) if classes else None)
    return Evaluation(accuracy=float(r["accuracy"]), n=int(r["n"]), backend=backend,
                      numerics=r["numerics"], activation_sparsity=float(r["activation_sparsity"]),
                      synaptic_operations_per_sample=float(r["synaptic_operations_per_sample"]),
                      mean_rate_hz=dict(r["mean_rate_hz"]),
                      predictions=np.asarray(r["predictions"], dtype=np.int64),
                      mismatch_not_applied=list(r["mismatch_not_applied"]))
