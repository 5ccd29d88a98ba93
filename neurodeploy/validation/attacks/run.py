"""Accuracy of a build under attack, per attack and epsilon, nominal and on mismatched chips.

:func:`run_attacks` is the Python API behind ``neurodeploy validate BUILD --attack ...``.
Each attack crafts its examples once per sample on the nominal build (epsilon in pixel
units, the data's [0, 1] scale before spike encoding); the kept examples then run on every
chip of the validate run when ``chips`` is given (robustness x variability).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from neurodeploy.errors import NeurodeployError

from . import blackbox, gradient, select, transfer
from .target import Target, load_target
from .twin import twin_of

ATTACKS = ("fgsm", "pgd", "transfer", "blackbox")


@dataclass
class AttackSettings:
    """Everything that determines an attack run's results."""

    attacks: list[str]
    eps: list[float]
    data: str = "digits"
    samples: int | None = None
    slopes: tuple[float, ...] = (1.0, 5.0, 25.0)
    steps: int = 40
    restarts: int = 2
    queries: int = 200
    twin_epochs: int = 10
    seed: int = 0
    chips: int = 0                 # 0: nominal build only
    chip_seed: int | None = None   # default: the build's seed
    sets: dict = field(default_factory=dict)


def parse_attacks(text: str) -> list[str]:
    """``fgsm,pgd`` or ``all`` -> attack names; unknown names are a one-line error."""
    names = [a.strip() for a in str(text).split(",") if a.strip()]
    if names == ["all"]:
        return list(ATTACKS)
    bad = [a for a in names if a not in ATTACKS]
    if bad or not names:
        raise NeurodeployError(f"unknown attack '{bad[0] if bad else text}'; use "
                               f"{', '.join(ATTACKS)} or all (comma-separated)",
                               path=("--attack",))
    return list(dict.fromkeys(names))


def parse_eps(text: str) -> list[float]:
    """``0.01,0.03,0.1`` -> sorted epsilons in pixel units (0 is always added: the clean
    reference); each must be a number in [0, 1]."""
    out = []
    for part in str(text).split(","):
        try:
            e = float(part)
        except ValueError:
            raise NeurodeployError(f"'{part.strip()}' is not a number; give pixel-unit "
                                   "epsilons in [0, 1], e.g. --eps 0.01,0.03,0.1",
                                   path=("--eps",)) from None
        if not 0.0 <= e <= 1.0:
            raise NeurodeployError(f"{part.strip()} is outside [0, 1] (pixels are scaled to "
                                   "[0, 1] before spike encoding)", path=("--eps",))
        out.append(e)
    return sorted(set(out) | {0.0})


def check(s: AttackSettings) -> None:
    """Settings no attack could run with: one line each."""
    for name, value, low in (("--pgd-steps", s.steps, 1), ("--restarts", s.restarts, 1),
                             ("--queries", s.queries, 1), ("--twin-epochs", s.twin_epochs, 1),
                             ("--chips", s.chips, 0)):
        if value < low:
            raise NeurodeployError(f"must be >= {low}; got {value}", path=(name,))
    if not s.slopes or any(not np.isfinite(k) or k <= 0 for k in s.slopes):
        raise NeurodeployError("surrogate slopes must be positive numbers, e.g. 1,5,25",
                               path=("--slopes",))


def _craft(target: Target, attack: str, eps: float, s: AttackSettings, twin: Any,
           substitute: Any, clean: np.ndarray) -> select.Worst:
    """The per-sample worst case of one attack at one epsilon on the nominal build."""
    worst = select.start(target, clean)
    if eps == 0:
        return worst
    g = gradient.GradientSettings(slopes=tuple(s.slopes), steps=s.steps, restarts=s.restarts,
                                  seed=s.seed)
    if attack == "fgsm":
        gradient.run_fgsm(target, twin, worst, eps, g)
    elif attack == "pgd":
        gradient.run_pgd(target, twin, worst, eps, g)
    elif attack == "transfer":
        transfer.run_transfer(target, substitute, worst, eps, g)
    else:
        blackbox.run_blackbox(target, worst, eps, s.queries, s.seed)
    select.finish(target, worst)
    return worst


def _chip_accuracies(target: Target, build: str, s: AttackSettings,
                     examples: list[np.ndarray]) -> list[list[float]]:
    """Accuracy of each example set on every chip ``0..chips-1``: each distinct set (the
    clean set once) read out per chip in ``evaluate``'s order, chips in parallel threads
    (the cpu read-out releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from neurodeploy.compiling.artifact import Build
    from neurodeploy.variability.chip import Chip
    from neurodeploy.variability.config import MismatchConfig
    manifest = Build(build).manifest
    cfg = MismatchConfig.from_manifest(manifest).with_overrides(s.sets)
    seed = manifest["seed"] if s.chip_seed is None else s.chip_seed
    distinct: list[np.ndarray] = []
    which = []
    for x in examples:
        same = [i for i, d in enumerate(distinct) if np.array_equal(d, x)]
        if not same:
            distinct.append(x)
        which.append(same[0] if same else len(distinct) - 1)

    def one(k: int) -> list[float]:
        plan = Chip(seed, k, cfg).apply(target.plan)
        per_set = [float(target.correct(x, plan=plan, noise_chip=k).mean()) for x in distinct]
        return [per_set[w] for w in which]
    with ThreadPoolExecutor(max(1, len(os.sched_getaffinity(0)))) as pool:
        return list(pool.map(one, range(s.chips)))


def run_attacks(build: str, s: AttackSettings,
                progress: Callable[[str], None] | None = None, substitute: Any = None) -> dict:
    """Accuracy per (attack, epsilon) with 95 % Clopper-Pearson intervals over samples;
    ``substitute`` is a trained twin of the same architecture for the transfer attack
    (default: one trained here)."""
    from neurodeploy.validation.stats import CI_METHOD, clopper_pearson
    check(s)
    say = progress or (lambda msg: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # small matrices: one thread beats contention
    try:
        target = load_target(build, s.data, s.samples, 0)
        twin = twin_of(target.plan, torch.float32)
        t0 = time.perf_counter()
        clean = target.correct(target.x)
        substitute_acc = None
        if "transfer" in s.attacks and substitute is None:
            say(f"training the transfer twin ({s.twin_epochs} epochs of BPTT)")
            substitute = transfer.train_twin(twin, target.x_train, target.y_train,
                                             s.twin_epochs, s.seed)
        if "transfer" in s.attacks:
            substitute_acc = transfer.twin_accuracy(substitute, target.x, target.y)
        entries, examples = [], []
        for attack in s.attacks:
            for eps in s.eps:
                say(f"{attack} eps={eps:g}")
                t1 = time.perf_counter()
                worst = _craft(target, attack, eps, s, twin, substitute, clean)
                k, n = int(worst.correct.sum()), int(worst.correct.size)
                lo, hi = clopper_pearson(k, n)
                entries.append({"attack": attack, "eps": eps, "accuracy": k / n,
                                "accuracy_ci": [lo, hi], "correct": k, "n": n,
                                "broken_by": dict(sorted(worst.broke.items())),
                                "seconds": round(time.perf_counter() - t1, 2)})
                examples.append(worst.x)
        report = {"build": build, "settings": asdict(s), "ci_method": CI_METHOD,
                  "ci_level": 0.95, "clean_accuracy": float(clean.mean()), "n": int(clean.size),
                  "encoding": target.task["encoding"], "numerics": target.plan.numerics,
                  "transfer_twin_accuracy": substitute_acc, "entries": entries,
                  "build_queries": target.queries,
                  "seconds": round(time.perf_counter() - t0, 2)}
        if s.chips:
            say(f"running {len(examples)} example sets on {s.chips} chips")
            t2 = time.perf_counter()
            per_chip = _chip_accuracies(target, build, s, examples)
            for i, e in enumerate(entries):
                accs = np.array([row[i] for row in per_chip])
                e["chips"] = {"mean": float(accs.mean()), "std": float(accs.std()),
                              "min": float(accs.min()), "max": float(accs.max()),
                              "per_chip": accs.tolist()}
            report["chip_seconds"] = round(time.perf_counter() - t2, 2)
        return report
    finally:
        torch.set_num_threads(threads)
