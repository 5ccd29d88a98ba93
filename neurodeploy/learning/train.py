"""``neurodeploy train``: learn on chip (a backend), then deploy the result to a profile.

The host's part is to present samples and labels; the network's error population,
feedback projections and learning rule do the rest (no host-side gradient). Training runs
the float build of the network (``cpu`` profile numerics); the trained weights, forward and
feedback, are then written as a network YAML with weight files and compiled to the target
profile, and the float and deployed accuracies are reported side by side.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import BackendError, IRError, NeurodeployError
from ..ir.models import Network
from ..task import Dataset, load_dataset
from ..task.datasets import check_fits
from ..task.sequences import check_task, encode_inputs, encode_targets
from . import metrics, workload
from .device_models import attach as attach_device
from .learners import get_learner
from .lr_schedule import scale_learning_rate
from .phases import align_phase, alignment
from .updates import to_layout, update_settings

ERROR_DRIVEN = ("feedback_alignment", "direct_feedback_alignment", "dfa", "kolen_pollack",
                "weight_mirror", "low_rank_fa", "sal", "lra")


@dataclass
class TrainConfig:
    """What ``train`` was asked to do."""

    epochs: int = 20
    backend: str = "cpu"
    data: str = "digits"
    seed: int = 0
    lr_decay: float | None = None
    classes: list[int] | None = None
    train_samples: int | None = None
    test_samples: int | None = None
    learning_rate: float | None = None      # replaces the plasticity block's learning_rate
    learn_in: str = "chip"


@dataclass
class Curves:
    """Per-epoch figures written to ``curves.json`` and plotted to ``curves.png``."""

    epoch: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    angles: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def learning_block(net: Network) -> tuple[str, object]:
    """The one error-driven plasticity block ``train`` drives."""
    blocks = [(n, b) for n, b in net.plasticity.items() if b.rule in ERROR_DRIVEN]
    if net.task is None:
        raise IRError("train needs a 'task' block (input, output, encoding); see "
                      "docs/learning.md", file=net._file, path=("task",))
    if getattr(net.task, "kind", None) == "sampling":
        raise IRError("a sampling task trains on the sampling simulator (neurodeploy train, "
                      "or learning.sampling_session.run_sampling); see docs/sampling.md",
                      file=net._file, path=("task", "kind"))
    if len(blocks) != 1:
        raise IRError(f"train needs exactly one error-driven plasticity block ({', '.join(ERROR_DRIVEN)}); "
                      f"found {len(blocks)}", file=net._file, path=("plasticity",))
    return blocks[0]


def prepare_data(net: Network, cfg: TrainConfig) -> Dataset:
    """The data set, reduced to ``classes`` and sample counts, checked against the network."""
    task = net.task
    data = load_dataset(cfg.data, features=net.populations[task.input].size)
    if cfg.classes:
        data = data.subset(cfg.classes)
    rng = np.random.default_rng(cfg.seed)
    if cfg.train_samples and cfg.train_samples < data.y_train.size:
        keep = np.sort(rng.choice(data.y_train.size, cfg.train_samples, replace=False))
        data.x_train, data.y_train = data.x_train[keep], data.y_train[keep]
    if cfg.test_samples and cfg.test_samples < data.y_test.size:
        data.x_test, data.y_test = data.x_test[:cfg.test_samples], data.y_test[:cfg.test_samples]
    check_fits(data, net.populations[task.input].size, net.populations[task.output].size,
               cfg.data)
    check_task(data, task.model_dump(mode="json"), cfg.data)
    return data


class Trainer:
    """Runs the epochs of one training session on one learner."""

    def __init__(self, plan, block_name: str, data: Dataset, cfg: TrainConfig,
                 progress: Callable[[str], None] | None = None,
                 target_manifest: dict | None = None) -> None:
        """``target_manifest``: the float target's compile manifest, whose plasticity
        imperfections (``variability.learning``) the learning circuitry has."""
        self.plan, self.data, self.cfg = plan, data, cfg
        self.block = plan.plasticity[block_name]
        self.task = plan.task
        self.learner = get_learner(cfg.backend, plan, self.task["output"])
        self.progress = progress or (lambda s: print(s, file=sys.stderr, flush=True))
        if target_manifest is not None:
            self._imperfect_learning(cfg.backend, target_manifest)
            attach_device(self.learner, target_manifest, cfg.backend, plan.seed, [0],
                          self.progress)
        self.curves = Curves()
        self.workload: dict[str, float] = {}
        self.steps = int(self.task["sample_steps"])
        self.n_classes = plan.populations[self.task["output"]].size
        self._w_start = self._forward()

    def _imperfect_learning(self, backend: str, manifest: dict) -> None:
        """The target profile's plasticity imperfections (``variability.learning``:
        learning-rate mismatch, update noise, stochastic rounding) as chip 0's learning
        circuitry has them; the cpu learner simulates them, the other learners refuse them."""
        from ..variability.chip import Chip
        from ..variability.config import MismatchConfig
        chip = Chip(self.plan.seed, 0, MismatchConfig.from_manifest(manifest))
        s = chip.learning_settings
        if not (s["cv"] or s["update_noise"] or s["stochastic_rounding"]):
            return
        if backend != "cpu":
            prof = manifest.get("profile")
            name = prof.get("name") if isinstance(prof, dict) else prof
            raise BackendError(f"profile {name}'s learning imperfections (learning_rate_cv "
                               f"{s['cv']}, update_noise {s['update_noise']}, "
                               f"stochastic_rounding {s['stochastic_rounding']}) are simulated "
                               "by the cpu learner only; use --backend cpu",
                               path=("--backend",))
        lay = self.learner.layout
        gain = np.ones((1, lay.w0.size))
        for name in lay.rule_names:
            sl = lay.slices[name]
            gain[0, sl.syn0:sl.syn0 + sl.nnz] = to_layout(
                lay, self.plan, name, chip.learning_gain(name, plan=self.plan))
        lay.rules = lay.rules._replace(gain=gain, upd=update_settings(lay, self.plan, [chip]))
        self.progress(f"learning with chip 0's imperfect plasticity: learning-rate CV {s['cv']}, "
                      f"update noise {s['update_noise']} LSB, stochastic rounding "
                      f"{'on' if s['stochastic_rounding'] else 'off'}")

    def _encode(self, x: np.ndarray, seed: int) -> np.ndarray:
        return encode_inputs(x, self.task, seed)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Read-out counts of samples x with learning off."""
        counts, _, _ = self.learner.predict_counts({self.task["input"]: self._encode(x, self.cfg.seed + 1)},
                                                   x.shape[0], self.steps)
        return counts

    def epoch(self, k: int) -> None:
        """One pass over the training set in a seeded random order, then the figures."""
        t0 = time.time()
        rng = np.random.default_rng([self.cfg.seed, k])
        order = rng.permutation(self.data.y_train.size)
        x, y = self.data.x_train[order], self.data.y_train[order]
        inputs = {self.task["input"]: self._encode(x, self.cfg.seed * 1000 + k + 7),
                  self.block["label"]: encode_targets(y, self.n_classes, self.task, x,
                                                      self.block["target_rate"])}
        self.learner.set_phase("train")
        synops_before = float(getattr(self.learner, "synops", 0.0))
        counts = self.learner.present(inputs, y.size, self.steps, learn=True)[0]
        self.workload = workload.summary(self.learner, synops_before, y.size, self.plan,
                                         self.block, self.steps)
        if alignment(self.block):
            self._align(k)
        test = self.evaluate(self.data.x_test)
        c = self.curves
        c.epoch.append(k + 1)
        c.train_accuracy.append(metrics.accuracy(counts, y))
        c.test_accuracy.append(metrics.accuracy(test, self.data.y_test))
        c.loss.append(metrics.rate_loss(counts, y, self.steps, self.block["target_rate"]))
        for w_proj, *b_chain in self.block["pairs"]:
            c.angles.setdefault(b_chain[0], []).append(self.angle(w_proj, *b_chain))
        c.seconds.append(time.time() - t0)

    def _align(self, k: int) -> None:
        """The noise phase of weight mirror and SAL: B learns, nothing else."""
        align_phase(self.learner, self.plan, self.block, [self.cfg.seed, k, 99])

    def angle(self, w_proj: str, *b_chain: str) -> float:
        """angle(B, W^T) in degrees for one forward / feedback pair (:func:`metrics.pair_angle`)."""
        return metrics.pair_angle(self.learner.layout, self.learner.weights[0], w_proj, *b_chain)

    def _forward(self) -> dict[str, np.ndarray]:
        """The trained projections' weights as they are now (dense [post, pre])."""
        w = self.learner.weights[0]
        return {name: np.array(self.learner.layout.dense(w, name), dtype=np.float64)
                for name in self.block["projections"]}

    def weight_change(self) -> float:
        """Largest relative change of a trained projection since the start,
        max|W - W0| / max|W0|: about 0 means the learning rate is too small to learn."""
        now = self._forward()
        return max(float(np.max(np.abs(now[n] - w0), initial=0.0)) /
                   max(float(np.max(np.abs(w0), initial=0.0)), 1e-12)
                   for n, w0 in self._w_start.items())

    def scale_learning_rate(self, factor: float) -> None:
        """Multiply every rule coefficient by ``factor`` (the host reprograms the learning
        engine between epochs, as a learning-rate schedule). Decay terms scale too: in
        Kolen-Pollack the decay is part of the step, dW = -eta (grad + lambda W). Fixed-point
        rules re-choose their ``m * 2^e`` (:mod:`.lr_schedule`), on every learner."""
        scale_learning_rate(self.learner, self.plan, factor)

    def run(self) -> Curves:
        total = self.cfg.epochs
        start = time.time()
        decay = self.cfg.lr_decay if self.cfg.lr_decay is not None else \
            float(self.block["params"].get("lr_decay", 1.0))
        if alignment(self.block):
            self._align(total)          # B starts as the initial W's mirror, not from its init
        for k in range(total):
            if k and decay != 1.0:
                self.scale_learning_rate(decay)
            self.epoch(k)
            c = self.curves
            left = (time.time() - start) / (k + 1) * (total - k - 1)
            angle = "".join(f", angle {v[-1]:.1f} deg" for v in c.angles.values())
            self.progress(f"epoch {k + 1}/{total}: train {c.train_accuracy[-1]:.3f}, test "
                          f"{c.test_accuracy[-1]:.3f}, loss {c.loss[-1]:.4f}{angle}, "
                          f"{c.seconds[-1]:.1f} s, about {left:.0f} s left")
        return self.curves

    def trained_weights(self) -> dict[str, np.ndarray]:
        """Every projection's weights as a weight file holds them: [post, pre] (absent
        synapses 0), or the diagonal [size] of a one-to-one projection."""
        w = self.learner.weights[0]
        out = {}
        for name, proj in self.plan.projections.items():
            dense = self.learner.layout.dense(w, name)
            one_to_one = proj.format == "coo" and proj.rows is not None and \
                proj.shape[0] == proj.shape[1] and np.array_equal(proj.rows, proj.cols) and \
                proj.rows.size == proj.shape[0]
            out[name] = np.diag(dense).copy() if one_to_one else dense
        return out


def plot_curves(curves: Curves, path: Path, title: str) -> None:
    """Accuracy, loss and alignment angles per epoch, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(curves.epoch, curves.train_accuracy, label="train")
    axes[0].plot(curves.epoch, curves.test_accuracy, label="test")
    axes[0].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    axes[0].legend()
    axes[1].plot(curves.epoch, curves.loss)
    axes[1].set(xlabel="epoch", ylabel="mean squared rate error", title="loss")
    for name, values in curves.angles.items():
        axes[2].plot(curves.epoch, values, label=name)
    axes[2].set(xlabel="epoch", ylabel="degrees", title="angle(B, W^T)")
    if curves.angles:
        axes[2].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_curves(curves: Curves, directory: Path, title: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "curves.json").write_text(json.dumps(curves.to_dict(), indent=2) + "\n")
    plot_curves(curves, directory / "curves.png", title)


def scratch_dir(near: Path) -> Path:
    """A temporary directory beside ``near`` (same file system, so renames are atomic)."""
    near.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{near.name}.", dir=near.parent))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class TrainError(NeurodeployError):
    """Training cannot start with these inputs."""
