"""Cost of temporal noise on the cpu backend: the bench_backends network with and without
``noise: {membrane: {sigma: 0.05}, spike_drop: {p: 0.1}}``, fixed and float, one instance
and a batch. Prints wall times and the ratio noisy / noise-free (setup included: the noise
blocks are drawn per run).

    .venv/bin/python benchmarks/bench_noise.py                 # N = 1000, 1000 steps
    .venv/bin/python benchmarks/bench_noise.py --size 4000 --steps 500 --batch 8
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import neurodeploy  # noqa: F401
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

from bench_backends import network_yaml

NOISE = "noise: {membrane: {sigma: 0.05}, spike_drop: {p: 0.1}}\n"


def best(fn, reps: int = 3) -> float:
    """Shortest of ``reps`` wall times of ``fn()``."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-noise-"))
    cpu = get_backend("cpu")
    print(f"N = {args.size}, {args.steps} steps, batch {args.batch}")
    print(f"{'build':<8}{'run':<10}{'clean s':>10}{'noisy s':>10}{'ratio':>8}")
    for profile, label in (("loihi2", "fixed"), ("cpu", "float")):
        plans = {}
        for tag, extra in (("clean", ""), ("noisy", NOISE)):
            net = parse_network(network_yaml(args.size) + extra)
            out = tmp / f"{label}-{tag}"
            compile_network(net, load_profile(profile), out, force=True)
            plans[tag] = load_plan(out)
        inputs = make_inputs(plans["clean"], args.steps)
        for tag in plans:                                   # JIT warm-up
            cpu.run_batch(plans[tag], inputs, 5, 1)
            cpu.run_batch(plans[tag], inputs, 5, 2)
        for run, batch in (("single", 1), (f"batch {args.batch}", args.batch)):
            t = {tag: best(lambda p=plan: cpu.run_batch(p, inputs, args.steps, batch))
                 for tag, plan in plans.items()}
            print(f"{label:<8}{run:<10}{t['clean']:>10.3f}{t['noisy']:>10.3f}"
                  f"{t['noisy'] / t['clean']:>8.2f}")


if __name__ == "__main__":
    main()
