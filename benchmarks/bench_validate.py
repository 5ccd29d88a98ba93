"""Monte Carlo validation throughput: cpu (chips batched) vs each chip through Lava.

The network has the digits classifier's shape (64 spike inputs -> 100 LIF -> 10 LIF, as
examples/digits_fa.yaml without its learning rule), compiled for loihi2 with fixed-pattern
mismatch, driven by the digits test images (sklearn's 8x8 digits, the last 25 %,
rate-coded, --steps-per-image steps each, shown back to back). Parts:

1. chips/s for a short input (--images images): cpu batched (the validate runner, chunks of
   25 chips) vs Lava one chip per run, and Lava with 4 chips in one run; the ratio.
2. 200 chips x the whole digits test set on cpu (wall time; target < 60 s on 2 cores).
3. Peak memory of 1000 chips x the whole test set (fresh process; per-chip summaries are
   streamed), against the size every raster would take if held.
4. The trained digits network (examples/digits_fa.yaml trained for --train-epochs, or
   --trained BUILD): accuracy of --accuracy-chips chips on the 450 test samples (the
   learner read-out of evaluate) on cpu, vs each chip through Lava's read-out.

    .venv/bin/python benchmarks/bench_validate.py
    .venv/bin/python benchmarks/bench_validate.py --lava-chips 2 --skip-memory
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import neurodeploy  # noqa: F401  (Lava compatibility shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.validation.core import run_validation
from neurodeploy.validation.runner import Settings, load_context
from neurodeploy.variability import chip_for

NET = """
neurodeploy: 1
name: digits-mc
seed: 7
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 100, params: {tau_syn: 5.0, tau_mem: 20.0, v_th: 1.0}}
  output: {kind: lif, size: 10}
projections:
  in_hid:  {pre: input, post: hidden, connectivity: dense, weights: {init: normal, mean: 0.05, std: 0.3}}
  hid_out: {pre: hidden, post: output, connectivity: {sparse: 0.5}, weights: {init: normal, mean: 0.05, std: 0.2}, delay: 1}
variability: {v_th: {cv: 0.05}, weights: {cv: 0.10}, dead_fraction: 0.01}
monitors: [{population: output, var: spikes}]
"""


def digits_input(path: Path, images: int | None, steps_per_image: int, seed: int = 0) -> int:
    """Write the rate-coded test images; returns the number of steps."""
    from sklearn.datasets import load_digits
    d = load_digits()
    test = d.data[int(len(d.data) * 0.75):]
    if images:
        test = test[:images]
    rng = np.random.default_rng(seed)
    probs = np.repeat(test / 16.0 * 0.2, steps_per_image, axis=0)
    spikes = (rng.random(probs.shape) < probs).astype(np.uint8)
    np.savez(path, **{"input.spikes": spikes})
    return spikes.shape[0]


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def part_throughput(build: Path, tmp: Path, args) -> dict:
    inp = tmp / "short.npz"
    steps = digits_input(inp, args.images, args.steps_per_image)
    base = dict(build=str(build), seed=7, spec="output.rate>=1", input=str(inp), steps=steps)
    # warm-up: numba compilation (cached on disk) and the nominal chip of the context
    run_validation(Settings(chips=2, **base), tmp / "warm", force=True, progress=False)
    t_cpu, _ = timed(run_validation, Settings(chips=args.cpu_chips, **base), tmp / "cpu",
                     force=True, progress=False)
    ctx = load_context(Settings(chips=1, **base))
    plan = load_plan(build)
    lava = get_backend("lava")
    chips = [chip_for(plan, k) for k in range(args.lava_chips)]
    lava.run(chips[0].apply(plan), ctx.inputs, steps)                   # warm-up
    t_lava, res = timed(lambda: [lava.run(c.apply(plan), ctx.inputs, steps) for c in chips])
    t_many, many = timed(lava.run_many, [(c.apply(plan), ctx.inputs) for c in chips[:4]], steps)
    from neurodeploy.validation.runner import _simulate
    cpu_rasters = _simulate(ctx, "cpu", chips)
    same = all(np.array_equal(r["output.spikes"], c["output"]) for r, c in zip(res, cpu_rasters))
    return {"steps": steps, "cpu_chips": args.cpu_chips, "cpu_s": t_cpu,
            "cpu_chips_per_s": args.cpu_chips / t_cpu, "lava_chips": len(chips),
            "lava_s": t_lava, "lava_chips_per_s": len(chips) / t_lava,
            "lava_run_many_chips_per_s": min(4, len(chips)) / t_many,
            "ratio": (args.cpu_chips / t_cpu) / (len(chips) / t_lava),
            "lava_spikes_equal_cpu": bool(same)}


def part_test_set(build: Path, tmp: Path, args) -> dict:
    inp = tmp / "test_set.npz"
    steps = digits_input(inp, None, args.steps_per_image)
    s = Settings(build=str(build), chips=args.test_chips, seed=7, spec="output.rate>=1",
                 input=str(inp), steps=steps)
    c0 = time.process_time()
    t, rep = timed(run_validation, s, tmp / "test_set", force=True, progress=False)
    cpu = time.process_time() - c0
    return {"chips": args.test_chips, "steps": steps, "images": steps // args.steps_per_image,
            "wall_s": t, "cpu_s": cpu, "target_s": 60.0, "meets": t < 60.0,
            "yield": rep["yield"], "load_avg": os.getloadavg()[0]}


def part_accuracy(tmp: Path, args) -> dict:
    """Accuracy yield of the trained digits network: cpu (chips x test samples on the batch
    axis) vs each chip through Lava (the test set back to back in one run per chip)."""
    build = Path(args.trained) if args.trained else tmp / "trained"
    if not args.trained:
        subprocess.run([sys.executable, "-m", "neurodeploy.cli", "train",
                        str(Path(__file__).resolve().parent.parent / "examples" / "digits_fa.yaml"),
                        "--profile", "loihi2", "--epochs", str(args.train_epochs), "-o",
                        str(build)], check=True, capture_output=True)
    sets = {"variability.weights.cv": 0.1, "variability.v_th.cv": 0.05}
    base = dict(build=str(build), seed=7, spec="accuracy>=0.6", sets=sets)
    run_validation(Settings(chips=2, **base), tmp / "acc-warm", force=True, progress=False)
    t_cpu, rep = timed(run_validation, Settings(chips=args.accuracy_chips, **base),
                       tmp / "acc", force=True, progress=False)
    from neurodeploy.validation.accuracy import chip_figures
    ctx = load_context(Settings(chips=1, **base))
    plan, w = ctx.plan, ctx.work
    chips = [chip_for(plan, k, overrides=sets) for k in range(args.lava_accuracy_chips)]
    t_lava, lava_figs = timed(lambda: [chip_figures(c.apply(plan), "lava", w, plan.dt)
                                       for c in chips])
    same = all(f["accuracy"] == c["figures"]["accuracy"]
               for f, c in zip(lava_figs, rep["chips"]))
    acc = [c["figures"]["accuracy"] for c in rep["chips"]]
    return {"chips": args.accuracy_chips, "samples": w.samples, "steps_per_sample": w.steps,
            "cpu_s": t_cpu, "cpu_chips_per_s": args.accuracy_chips / t_cpu,
            "lava_chips": len(chips), "lava_s": t_lava,
            "lava_chips_per_s": len(chips) / t_lava,
            "ratio": (args.accuracy_chips / t_cpu) / (len(chips) / t_lava),
            "lava_accuracy_equal_cpu": bool(same),
            "accuracy_mean": float(np.mean(acc)), "accuracy_min": float(np.min(acc)),
            "yield": rep["yield"], "yield_ci": rep["yield_ci"]}


MEMORY_CHILD = """
import json, resource, sys, time
from neurodeploy.validation.core import run_validation
from neurodeploy.validation.runner import Settings
build, inp, steps, chips, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
t0 = time.perf_counter()
rep = run_validation(Settings(build=build, chips=chips, seed=7, spec="output.rate>=1",
                              input=inp, steps=steps), out, force=True, progress=False)
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_s": time.perf_counter() - t0, "chips": len(rep["chips"])}))
"""


def part_memory(build: Path, tmp: Path, args) -> dict:
    inp = tmp / "mem.npz"
    steps = digits_input(inp, args.memory_images or None, args.steps_per_image)
    base = subprocess.run([sys.executable, "-c", "import neurodeploy.validation.core, json, "
                           "resource; print(resource.getrusage(resource.RUSAGE_SELF)"
                           ".ru_maxrss / 1024)"], capture_output=True, text=True, check=True)
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(build), str(inp), str(steps),
                          str(args.memory_chips), str(tmp / "mem")],
                         capture_output=True, text=True, check=True)
    fig = json.loads(out.stdout.strip().splitlines()[-1])
    n_lif = 110
    fig.update(import_rss_mib=float(base.stdout.strip()), steps=steps,
               all_rasters_mib=args.memory_chips * steps * n_lif / 2**20,
               results_jsonl_kib=(tmp / "mem" / "results.jsonl").stat().st_size / 1024)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--steps-per-image", type=int, default=50)
    ap.add_argument("--cpu-chips", type=int, default=200)
    ap.add_argument("--lava-chips", type=int, default=4)
    ap.add_argument("--test-chips", type=int, default=200)
    ap.add_argument("--memory-chips", type=int, default=1000)
    ap.add_argument("--memory-images", type=int, default=0,
                    help="images per chip in part 3 (default 0: the whole test set)")
    ap.add_argument("--skip-test-set", action="store_true")
    ap.add_argument("--trained", help="a trained digits build (default: train "
                                      "examples/digits_fa.yaml for --train-epochs)")
    ap.add_argument("--train-epochs", type=int, default=2)
    ap.add_argument("--accuracy-chips", type=int, default=200)
    ap.add_argument("--lava-accuracy-chips", type=int, default=1)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as d:
        tmp = Path(d)
        build = tmp / "build"
        compile_network(parse_network(NET), load_profile("loihi2"), build)
        figs: dict = {"throughput": part_throughput(build, tmp, args)}
        t = figs["throughput"]
        print(f"[1] {t['steps']} steps per chip: cpu batched {t['cpu_chips_per_s']:.1f} chips/s "
              f"({t['cpu_chips']} chips in {t['cpu_s']:.2f} s) | lava one chip per run "
              f"{t['lava_chips_per_s']:.3f} chips/s | lava 4 chips per run "
              f"{t['lava_run_many_chips_per_s']:.3f} chips/s | ratio cpu/lava {t['ratio']:.0f}x "
              f"(target >= 100x) | spikes equal: {t['lava_spikes_equal_cpu']}")
        if not args.skip_test_set:
            figs["test_set"] = p = part_test_set(build, tmp, args)
            print(f"[2] {p['chips']} chips x {p['images']} test images ({p['steps']} steps): "
                  f"{p['wall_s']:.1f} s wall, {p['cpu_s']:.1f} s CPU over all threads, load "
                  f"average {p['load_avg']:.1f} (target < 60 s: "
                  f"{'met' if p['meets'] else 'NOT met'})")
        if not args.skip_accuracy:
            figs["accuracy"] = a = part_accuracy(tmp, args)
            print(f"[4] trained digits, {a['chips']} chips x {a['samples']} test samples "
                  f"({a['steps_per_sample']} steps each): cpu {a['cpu_s']:.1f} s "
                  f"({a['cpu_chips_per_s']:.2f} chips/s; target < 60 s: "
                  f"{'met' if a['cpu_s'] < 60 else 'NOT met'}) | lava one chip per run "
                  f"{a['lava_chips_per_s']:.3f} chips/s | ratio {a['ratio']:.0f}x | same "
                  f"accuracy on lava: {a['lava_accuracy_equal_cpu']} | accuracy "
                  f"mean {a['accuracy_mean']:.3f}, min {a['accuracy_min']:.3f}, yield "
                  f"(>= 0.6) {a['yield']:.3f}")
        if not args.skip_memory:
            figs["memory"] = m = part_memory(build, tmp, args)
            print(f"[3] {m['chips']} chips x {m['steps']} steps: peak RSS {m['peak_rss_mib']:.0f} "
                  f"MiB (after imports {m['import_rss_mib']:.0f} MiB; all rasters would take "
                  f"{m['all_rasters_mib']:.0f} MiB; results.jsonl {m['results_jsonl_kib']:.0f} KiB; "
                  f"{m['wall_s']:.1f} s)")
        if args.json:
            Path(args.json).write_text(json.dumps(figs, indent=1))


if __name__ == "__main__":
    main()
