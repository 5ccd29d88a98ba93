"""SAL alignment throughput: our cpu learner vs the SAL authors' own code, side by side.

Both align a 10 x 200 feedback B to the transpose of a fixed 200 -> 10 forward W from
spike timing alone, with noise-driven neurons and pair STDP with flipped signs:

* **peer**: ``SALNetBase([200, 10])`` from ``symmnet/src/symmnet/sal_net.py`` of
  https://github.com/unibe-cns/sal-code (MIT; PyTorch, GLM neurons with rectangular PSPs of
  ``t_ref`` = 10 steps, the loop of ``scripts/symm_net/salnet_symm.py``: update_mempot,
  update_spikes, fb_stdp_online every step, apply_fb_weight_update per epoch);
* **ours**: the alignment phase of ``examples/digits_sal.yaml`` (64 -> 200 -> 10 LIF, the
  error relay, noise and drive sources and the homeostat) on the cpu learner, one chip and
  a batch of chips in parallel, and the same phase on our Lava learner (Lava's learning
  engine) and Brian2 learner, which give the cpu learner's spikes and weights.

Like with like: the peer runs at the same batch as ours (``SALNetBase(batch_size=...)``,
1 and ``--chips`` networks stepped together, torch on one thread), and each of our runs is
divided by the peer's at its batch. Printed: steps per second per network, the ratio (ours
/ peer at the same batch; target >= 30x, a miss prints MISSED and exits 1), and angle(B, Wᵀ)
after the steps each ran (the two models differ, so the angles are context, not a contest). The
models are not the same network; the ratio is the cost of one step of SAL alignment at
this size in each tool.

    pip install torch==2.13.0        # the peer's dependency (CPU build)
    git clone https://github.com/unibe-cns/sal-code /path/to/sal-code
    .venv/bin/python benchmarks/bench_sal.py --sal-code /path/to/sal-code
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from neurodeploy.compiling import compile_network
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.compilers.plan import load_plan
from neurodeploy.ir import load_network
from neurodeploy.learning import metrics
from neurodeploy.learning.learners import get_learner
from neurodeploy.learning.phases import align_phase
from neurodeploy.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]


def load_peer(checkout: Path) -> ModuleType:
    """``symmnet.sal_net`` from a sal-code checkout, without the package's other modules
    (its ``__init__`` imports the conv and RDD nets and their data sets)."""
    src = checkout / "symmnet" / "src" / "symmnet"
    if not (src / "sal_net.py").is_file():
        sys.exit(f"bench_sal.py: {src / 'sal_net.py'} not found; pass --sal-code with a "
                 "checkout of https://github.com/unibe-cns/sal-code")
    pkg = ModuleType("symmnet")
    pkg.__path__ = [str(src)]
    sys.modules["symmnet"] = pkg
    for name in ("utils", "sal_net"):
        spec = importlib.util.spec_from_file_location(f"symmnet.{name}", src / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"symmnet.{name}"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["symmnet.sal_net"]


TARGET = 30.0


def run_peer(sal_net: ModuleType, steps: int, threads: int, batch: int = 1
             ) -> tuple[float, float]:
    """Steps per second per network (``batch`` networks stepped together) and the final
    angle of the authors' SALNetBase([200, 10])."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = sal_net.SALNetBase([200, 10], t_ref=10, stdp_lr=0.01, batch_size=batch)
    epoch = 1000 * 10                  # salnet_symm.py: len_epoch * t_ref steps per update
    with torch.no_grad():
        for _ in range(20):                       # warm-up
            net.update_mempot()
            net.update_spikes()
            net.fb_stdp_online()
        t0 = time.perf_counter()
        for k in range(steps):
            net.update_mempot()
            net.update_spikes()
            net.fb_stdp_online()
            if (k + 1) % epoch == 0:
                net.apply_fb_weight_update()
        dt = time.perf_counter() - t0
    w = net.layers[1].weight.detach().numpy()                 # [10, 200]
    b = net.layers[0].fb_weight.detach().numpy()              # [200, 10]
    return steps * batch / dt, metrics.angle_deg(b, w)


def sal_plan():
    """The float build of ``examples/digits_sal.yaml``."""
    with tempfile.TemporaryDirectory() as tmp:
        net = load_network(ROOT / "examples" / "digits_sal.yaml")
        return load_plan(compile_network(net, load_profile("cpu"), Path(tmp) / "b").out)


def run_learner(backend: str, steps: int) -> tuple[float, float]:
    """Steps per second and final angle of the same alignment phase on the Lava or Brian2
    learner (Lava's figure includes its start-up, paid once per phase)."""
    plan = sal_plan()
    block = dict(plan.plasticity["learn"])
    block["align"] = dict(block["align"], steps=steps)
    learner = get_learner(backend, plan, "output")
    t0 = time.perf_counter()
    align_phase(learner, plan, block, [0, 1])
    dt = time.perf_counter() - t0
    lay, w = learner.layout, learner.weights[0]
    return steps / dt, metrics.angle_deg(lay.dense(w, "learn_fb_hidden"), lay.dense(w, "hid_out"))


def run_ours(steps: int, chips: int) -> tuple[float, float]:
    """Steps per second (per chip) and chip 0's final angle of our alignment phase."""
    plan = sal_plan()
    block = dict(plan.plasticity["learn"])
    block["align"] = dict(block["align"], steps=200)
    w0 = CpuLearner(plan, "output").layout.w0
    rows = np.repeat(w0[None, :], chips, axis=0)              # one weight row per chip
    learner = CpuLearner(plan, "output", chips=chips, weights=rows)
    align_phase(learner, plan, block, [0, 0])                  # warm-up (numba cache)
    learner = CpuLearner(plan, "output", chips=chips, weights=rows)
    block["align"] = dict(block["align"], steps=steps)
    t0 = time.perf_counter()
    align_phase(learner, plan, block, [0, 1])
    dt = time.perf_counter() - t0
    lay = learner.layout
    w = learner.weights[0]
    return steps * chips / dt, metrics.angle_deg(lay.dense(w, "learn_fb_hidden"),
                                                 lay.dense(w, "hid_out"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sal-code", type=Path, required=True, help="a checkout of unibe-cns/sal-code")
    ap.add_argument("--steps", type=int, default=30000, help="alignment steps each (default 30000)")
    ap.add_argument("--peer-steps", type=int, default=30000, help="peer steps (default 30000)")
    ap.add_argument("--chips", type=int, default=20, help="chips in our batched run (default 20)")
    ap.add_argument("--learner-steps", type=int, default=2000,
                    help="steps of the same phase on our Lava and Brian2 learners (default 2000)")
    args = ap.parse_args()
    peer = load_peer(args.sal_code)
    load = os.getloadavg()[0]
    rows, missed = [], []
    for batch in (1, args.chips):
        p_sps, p_angle = run_peer(peer, args.peer_steps, 1, batch)
        rows.append((f"sal-code SALNetBase, batch {batch}, torch 1 thread", p_sps, p_sps,
                     p_angle, args.peer_steps))
        sps, angle = run_ours(args.steps, batch)
        rows.append((f"neurodeploy cpu learner, {batch} chip(s)", sps, p_sps, angle, args.steps))
        if sps / p_sps < TARGET:
            missed.append(f"batch {batch}: {sps / p_sps:.1f}x")
    for backend in ("lava", "brian2"):
        sps, angle = run_learner(backend, args.learner_steps)
        rows.append((f"neurodeploy {backend} learner", sps, rows[0][1], angle,
                     args.learner_steps))
    print(f"load average {load:.2f}; steps/s per network; ratio to the peer at the same batch")
    print(f"{'run':48s} {'steps/s':>10s} {'x peer':>9s} {'angle':>7s} {'after':>7s}")
    for name, sps, base, angle, steps in rows:
        print(f"{name:48s} {sps:10.0f} {sps / base:8.1f}x {angle:6.1f}° {steps:7d}")
    print(f"target: ours vs the authors' code at the same batch >= {TARGET:.0f}x -> "
          + ("met" if not missed else "MISSED (" + "; ".join(missed) + ")"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
