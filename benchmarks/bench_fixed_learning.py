"""Fixed-point learning speed: the cpu learner against Lava's bit-approximate learning engine
(with our learning neuron) on the same loihi2 build, per extra training sample.

The network is ``examples/digits_fa.yaml`` (64 -> 200 -> 10 LIF, feedback alignment, one
learning epoch per 30-step sample) compiled for ``loihi2``. Each learner presents the first
samples of the same shuffled digits training set with learning on, in one call. Lava is
timed at two sample counts, so its start-up cancels: per extra sample = (t(n2) - t(n1)) /
(n2 - n1); the cpu learner the same way after a warm-up call (numba compiles once, cached).
The weights after the n1-sample call are compared (they must be identical: the learners
are bit-exact), and the ratio Lava / cpu is printed against ``--target`` (cpu at least that
many times faster per sample).

    .venv/bin/python benchmarks/bench_fixed_learning.py
    .venv/bin/python benchmarks/bench_fixed_learning.py --lava-samples 2,6 --target 50
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import neurodeploy  # noqa: F401  (Lava compatibility shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers.plan import load_plan
from neurodeploy.ir import load_network
from neurodeploy.learning.learners import get_learner
from neurodeploy.profiles import load_profile
from neurodeploy.task import encode_labels, encode_samples, load_dataset

ROOT = Path(__file__).resolve().parent.parent


def _inputs(plan, n: int) -> dict:
    """The first ``n`` samples of a seeded shuffle of digits, with their labels."""
    ds = load_dataset("digits")
    order = np.random.default_rng(0).permutation(ds.y_train.size)[:n]
    task = plan.task
    steps = int(task["sample_steps"])
    block = next(iter(plan.plasticity.values()))
    return {task["input"]: encode_samples(ds.x_train[order], steps, task["max_rate"],
                                          task["encoding"], 1),
            block["label"]: encode_labels(ds.y_train[order], 10, steps, block["target_rate"])}


def _timed(backend: str, plan, n: int) -> tuple[float, np.ndarray]:
    """Seconds of one learning presentation of ``n`` samples on a fresh learner, and its
    weights after."""
    learner = get_learner(backend, plan, plan.task["output"])
    learner.set_phase("train")
    x = _inputs(plan, n)
    t0 = time.perf_counter()
    learner.present(x, n, int(plan.task["sample_steps"]), learn=True)
    return time.perf_counter() - t0, learner.weights.copy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lava-samples", default="2,6", help="two sample counts for Lava")
    ap.add_argument("--cpu-samples", default="20,200", help="two sample counts for the cpu")
    ap.add_argument("--target", type=float, default=100.0,
                    help="cpu at least this many times faster than Lava per extra sample")
    args = ap.parse_args()
    l1, l2 = (int(v) for v in args.lava_samples.split(","))
    c1, c2 = (int(v) for v in args.cpu_samples.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        compile_network(load_network(ROOT / "examples" / "digits_fa.yaml"),
                        load_profile("loihi2"), Path(tmp) / "b")
        plan = load_plan(Path(tmp) / "b")
        _timed("cpu", plan, 2)                                   # warm-up (numba)
        tc1, _ = _timed("cpu", plan, c1)
        tc2, _ = _timed("cpu", plan, c2)
        tl1, wl1 = _timed("lava", plan, l1)
        tl2, _ = _timed("lava", plan, l2)
        _, wc_l1 = _timed("cpu", plan, l1)
    cpu = (tc2 - tc1) / (c2 - c1)
    lava = (tl2 - tl1) / (l2 - l1)
    same = np.array_equal(wc_l1, wl1)
    ratio = lava / cpu
    print(f"cpu learner:  {cpu * 1e3:9.2f} ms per extra sample ({c1} samples {tc1:.2f} s, "
          f"{c2} samples {tc2:.2f} s)")
    print(f"lava learner: {lava * 1e3:9.2f} ms per extra sample ({l1} samples {tl1:.2f} s, "
          f"{l2} samples {tl2:.2f} s)")
    print(f"weights after {l1} samples identical on cpu and Lava: {same}")
    print(f"lava / cpu per extra sample: {ratio:.0f}x (target >= {args.target:g}x: "
          f"{'met' if ratio >= args.target else 'MISSED'})")
    return 0 if same else 2


if __name__ == "__main__":
    raise SystemExit(main())
