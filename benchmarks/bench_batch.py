"""A batch of 100 chips against 100 single runs of the same chips, one thread.

``bench_csr``'s N = 1000 network (``loihi2`` fixed point, 100 Poisson inputs shared by every
chip), each chip with its own thresholds (+-10 %), at moderate and high activity. The batch
steps the chips in blocks that share each event's synapse reads; the single runs are what
a caller looping over chips would do (``run`` per chip, the layout reused). Both on one
thread; the spikes of every chip are checked equal.

    .venv/bin/python benchmarks/bench_batch.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import neurodeploy  # noqa: F401  (Lava compatibility shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan, make_inputs
from neurodeploy.compilers.cpu.backend import CpuBackend
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_csr import network_yaml  # noqa: E402
from targets import verdict  # noqa: E402

TARGET = 3.0


def run(n: int, drive: float, batch: int, steps: int, tmp: Path) -> dict:
    """Times of one batch and of ``batch`` single runs (CPU seconds, best of two rounds)."""
    text = network_yaml(n, 100.0).replace("high: 0.6", f"high: {drive}")
    plan = load_plan(compile_network(parse_network(text), load_profile("loihi2"),
                                     tmp / f"b{drive}", force=True).out)
    inputs = make_inputs(plan, steps)
    rng = np.random.default_rng(0)
    vth = np.rint(plan.populations["net"].vth * rng.uniform(0.9, 1.1, (batch, n))).astype(np.int64)
    cpu = CpuBackend(threads=1)
    cpu.run_batch(plan, inputs, 5, 2, {"populations": {"net": {"vth": vth[:2]}}})
    t_batch, t_single, res, singles = [], [], None, []
    for _ in range(2):
        t0 = time.process_time()
        res = cpu.run_batch(plan, inputs, steps, batch, {"populations": {"net": {"vth": vth}}})
        t_batch.append(time.process_time() - t0)
        t0 = time.process_time()
        singles = []
        for b in range(batch):
            plan.populations["net"].vth = vth[b]
            singles.append(cpu.run(plan, inputs, steps)["net.spikes"])
        t_single.append(time.process_time() - t0)
    same = all(np.array_equal(res["net.spikes"][b], singles[b]) for b in range(batch))
    return {"batch": min(t_batch), "single": min(t_single), "same": same,
            "activity": float(res["net.spikes"].mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--drives", default="0.25,0.6",
                        help="input weight scales (moderate, high activity)")
    args = parser.parse_args()
    missed = []
    print(f"batch {args.batch} vs {args.batch} single runs, N = 1000, {args.steps} steps, one "
          f"thread, CPU seconds; load average {os.getloadavg()[0]:.2f}")
    print(f"{'drive':>6} {'spikes/neuron-step':>18} {'batch s':>8} {'singles s':>9} "
          f"{'ratio':>6}  same spikes / target >= {TARGET}")
    with tempfile.TemporaryDirectory() as td:
        for drive in (float(d) for d in args.drives.split(",")):
            r = run(1000, drive, args.batch, args.steps, Path(td))
            ratio = r["single"] / r["batch"]
            ok = ratio >= TARGET and r["same"]
            if not ok:
                missed.append(f"drive {drive}: {ratio:.2f}x, same spikes {r['same']}")
            print(f"{drive:6.2f} {r['activity']:18.3f} {r['batch']:8.3f} {r['single']:9.3f} "
                  f"{ratio:6.2f}  {r['same']} / {'met' if ok else 'MISSED'}")
    return verdict(missed)


if __name__ == "__main__":
    sys.exit(main())
