"""Backends side by side: cpu (fixed, float, batch) vs Lava (fixed_pt, floating_pt) and Brian2.

Networks of N LIF neurons with 10 % recurrent connectivity driven by 100 Poisson sources,
1000 steps, all spikes monitored. Prints wall times (Lava split into build+run and
read-out) and ratios to the cpu backend, and checks the issue's targets at N = 1000.

    .venv/bin/python benchmarks/bench_backends.py            # N = 100, 1000, 4000
    .venv/bin/python benchmarks/bench_backends.py --sizes 1000 --steps 1000
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
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from targets import verdict  # benchmarks/ is the script's own folder


def network_yaml(n: int) -> str:
    """N recurrent LIF neurons, 10 % connectivity, 100 Poisson inputs at 30 Hz."""
    return f"""
neurodeploy: 1
name: bench{n}
seed: 5
populations:
  bg:  {{kind: poisson, size: 100, rate: 30.0}}
  net: {{kind: lif, size: {n}, params: {{tau_syn: 5.0, tau_mem: 20.0, v_th: 1.0, bias: 0.0}}}}
projections:
  bg_net:  {{pre: bg, post: net, connectivity: {{sparse: 0.1}}, weights: {{init: uniform, low: 0.0, high: 0.6}}}}
  net_net: {{pre: net, post: net, connectivity: {{sparse: 0.1}}, weights: {{init: normal, mean: 0.0, std: {0.6 / np.sqrt(n * 0.1):.4f}}}}}
monitors: [{{population: net, var: spikes}}]
"""


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def bench_size(n: int, steps: int, batch: int, tmp: Path, cython: bool, monitor_max: int,
               singles: bool) -> list[tuple]:
    net = parse_network(network_yaml(n))
    fixed = load_plan(compile_network(net, load_profile("loihi2"), tmp / f"fx{n}", force=True).out)
    flt = load_plan(compile_network(net, load_profile("cpu"), tmp / f"fl{n}", force=True).out)
    inputs_fx = make_inputs(fixed, steps)
    inputs_fl = make_inputs(flt, steps)
    rows: list[tuple] = []
    cpu = get_backend("cpu")
    cpu.run(fixed, inputs_fx, 5)  # JIT warm-up (cached on disk after the first process)
    cpu.run(flt, inputs_fl, 5)
    cpu.run_batch(fixed, inputs_fx, 5, 2)  # warm the batch engine too
    t_fx, r_fx = min((timed(cpu.run, fixed, inputs_fx, steps) for _ in range(3)), key=lambda x: x[0])
    t_fl, r_fl = min((timed(cpu.run, flt, inputs_fl, steps) for _ in range(3)), key=lambda x: x[0])
    spikes = int(r_fx["net.spikes"].sum())
    rows.append((n, "cpu fixed", t_fx, None, None, 1.0, f"{spikes} spikes"))
    rows.append((n, "cpu float", t_fl, None, None, 1.0, f"{int(r_fl['net.spikes'].sum())} spikes"))

    rng = np.random.default_rng(0)
    vth = np.rint(fixed.populations["net"].vth[None, :] * rng.uniform(0.9, 1.1, (batch, n))).astype(np.int64)
    overrides = {"populations": {"net": {"vth": vth}}}
    t_b, r_b = timed(cpu.run_batch, fixed, inputs_fx, steps, batch, overrides)
    rows.append((n, f"cpu fixed batch {batch}", t_b, None, None, t_b / t_fx,
                 f"{t_b / batch * 1e3:.2f} ms per instance"))
    if singles:
        t_s = 0.0
        for b in range(batch):
            single = load_plan(fixed.path)
            single.populations["net"].vth = vth[b]
            t, _ = timed(cpu.run, single, inputs_fx, steps)
            t_s += t
        rows.append((n, f"cpu fixed {batch} single runs", t_s, None, None, t_s / t_fx,
                     f"batch is {t_s / t_b:.1f}x faster"))

    lava = get_backend("lava")
    t_l, r_l = timed(lava.run, fixed, inputs_fx, steps)
    tm = r_l.meta["timings"]
    same = np.array_equal(r_l["net.spikes"], r_fx["net.spikes"])
    rows.append((n, "lava fixed_pt (recorder)", t_l, tm.get("run_s"), tm.get("readout_s"),
                 t_l / t_fx, f"identical to cpu: {same}"))
    if n <= monitor_max:
        lava_mon = get_backend("lava", readout="monitor")
        t_m, r_m = timed(lava_mon.run, fixed, inputs_fx, steps)
        tm = r_m.meta["timings"]
        rows.append((n, "lava fixed_pt (Monitor.get_data)", t_m, tm.get("run_s"),
                     tm.get("readout_s"), t_m / t_fx, "as a Lava user does it today"))
    t_lf, r_lf = timed(lava.run, flt, inputs_fl, steps)
    tm = r_lf.meta["timings"]
    rows.append((n, "lava floating_pt (recorder)", t_lf, tm.get("run_s"), tm.get("readout_s"),
                 t_lf / t_fl, f"spikes equal cpu float: {np.array_equal(r_lf['net.spikes'], r_fl['net.spikes'])}"))

    b2 = get_backend("brian2", target="numpy")
    t_bn, r_bn = timed(b2.run, flt, inputs_fl, steps)
    rows.append((n, "brian2 numpy", t_bn, r_bn.meta.get("timings", {}).get("run_s"), None,
                 t_bn / t_fl, ""))
    if cython:
        b2c = get_backend("brian2", target="cython")
        t_first, _ = timed(b2c.run, flt, inputs_fl, steps)
        t_bc, r_bc = timed(b2c.run, flt, inputs_fl, steps)
        rows.append((n, "brian2 cython (compiled)", t_bc,
                     r_bc.meta.get("timings", {}).get("run_s"), None, t_bc / t_fl,
                     f"first call incl. compile {t_first:.1f} s"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,4000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-cython", action="store_true", help="skip Brian2's cython target")
    parser.add_argument("--monitor-max", type=int, default=1000,
                        help="largest N for the slow Monitor.get_data() baseline")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            rows += bench_size(n, args.steps, args.batch, Path(tmp), not args.no_cython,
                               args.monitor_max, singles=(n == 1000))
    print(f"\n{args.steps} steps, 10 % recurrent connectivity, 100 Poisson inputs; wall seconds")
    print(f"{'N':>5}  {'backend':34s} {'total':>8} {'run':>8} {'read-out':>9} {'x cpu':>8}  note")
    for n, name, total, run, readout, ratio, note in rows:
        fmt = lambda x: f"{x:8.3f}" if x is not None else f"{'-':>8}"  # noqa: E731
        print(f"{n:5d}  {name:34s} {total:8.3f} {fmt(run)} {fmt(readout):>9} {ratio:8.1f}  {note}")
    by = {(n, name): (total, run, readout) for n, name, total, run, readout, _, _ in rows}
    missed: list[str] = []

    def target(label: str, value: float, goal: float) -> None:
        """Print one of the issue's targets with met / MISSED."""
        ok = value >= goal
        if not ok:
            missed.append(f"{label} {value:.1f}x < {goal:g}x")
        print(f"  {label}: {value:6.1f}x  (target >= {goal:g}) -> {'met' if ok else 'MISSED'}")
    if (1000, "cpu fixed") in by:
        cpu_fx = by[(1000, "cpu fixed")][0]
        cpu_fl = by[(1000, "cpu float")][0]
        print(f"\ntargets at N = 1000 (load average {os.getloadavg()[0]:.2f})")
        lava_run = by[(1000, "lava fixed_pt (recorder)")][1]
        target("cpu fixed vs Lava fixed_pt run alone", lava_run / cpu_fx, 60)
        if (1000, "lava fixed_pt (Monitor.get_data)") in by:
            total, _, mon_read = by[(1000, "lava fixed_pt (Monitor.get_data)")]
            ours_read = by[(1000, "lava fixed_pt (recorder)")][2]
            target("cpu fixed vs Lava end to end (Monitor)", total / cpu_fx, 100)
            target("our Lava read-out vs Monitor.get_data", mon_read / ours_read, 10)
        key = next((k for k in by if k[0] == 1000 and k[1].startswith("cpu fixed batch")), None)
        if key:
            per = by[key][0] / args.batch
            lava_total = by[(1000, "lava fixed_pt (recorder)")][0]
            target("batch per-instance vs Lava per instance", lava_total / per, 30)
            singles = next((k for k in by if k[0] == 1000 and "single runs" in k[1]), None)
            if singles:
                target(f"batch vs {args.batch} single cpu runs", by[singles][0] / by[key][0], 3)
        if (1000, "brian2 cython (compiled)") in by:
            target("cpu float vs Brian2 cython", by[(1000, "brian2 cython (compiled)")][0] / cpu_fl, 5)
        print(f"  cpu float vs Brian2 numpy: {by[(1000, 'brian2 numpy')][0] / cpu_fl:6.1f}x")
    return verdict(missed, met_line=False)


if __name__ == "__main__":
    sys.exit(main())
