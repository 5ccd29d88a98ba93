"""Compile-time benchmark: ~1 M and ~10 M synapse networks compiled for loihi2.

Goal (from the issue): 1 M synapses compile in under 2 s, and compile time grows
linearly with the synapse count.

Each case is two LIF layers ``a -> b`` with one projection, built in memory with
``neurodeploy.ir.parse_network``:

    1M  dense          1000 x 1000                  loihi2
    1M  sparse 0.1     3162 x 3162                  loihi2
    10M dense          3163 x 3163                  loihi2
    10M sparse 0.1    10000 x 10000                 loihi2 extended to max_chips: 8

(The 10 M sparse network needs ~836 cores: fan-in per core (8192 axons) limits a core
to 12 neurons of ``b``. A user profile ``extends: loihi2`` with ``cores: {max_chips: 8}``
is written to a temp file and loaded by path.)

Every case runs in its own fresh Python process, so peak RSS and first-run costs are
not polluted by the previous case. Per case it measures:

* compile with ``out=None`` (no files written) and with a temp output directory,
  ``--repeat`` times each; the best run is reported, and the first (cold) run too,
  since a CLI invocation always pays the cold cost;
* the ``tracemalloc`` peak of one compile call (run separately: tracemalloc slows
  allocation, so it is never on in timed runs);
* the ``ru_maxrss`` growth of the process during the ``out=None`` runs.

Usage::

    .venv/bin/python benchmarks/bench_compile.py             # 1 M and 10 M
    .venv/bin/python benchmarks/bench_compile.py --quick     # 1 M only
    .venv/bin/python benchmarks/bench_compile.py --repeat 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_1M_SECONDS = 2.0

CASES = [
    # name, target synapses, connectivity (IR text), pre, post, chips
    {"name": "1M-dense", "target": 1_000_000, "conn": "dense", "pre": 1000, "post": 1000, "chips": 1},
    {"name": "1M-sparse", "target": 1_000_000, "conn": "{sparse: 0.1}", "pre": 3162, "post": 3162, "chips": 1},
    {"name": "10M-dense", "target": 10_000_000, "conn": "dense", "pre": 3163, "post": 3163, "chips": 1},
    {"name": "10M-sparse", "target": 10_000_000, "conn": "{sparse: 0.1}", "pre": 10000, "post": 10000, "chips": 8},
]

NETWORK_YAML = """\
neurodeploy: 1
name: bench-{name}
seed: 1
dt: 1.0
populations:
  a: {{kind: lif, size: {pre}}}
  b: {{kind: lif, size: {post}}}
projections:
  ab: {{pre: a, post: b, connectivity: {conn}}}
run: {{steps: 10}}
"""

PROFILE_YAML = """\
name: loihi2-x{chips}
description: loihi2 with {chips} chips (benchmark)
extends: loihi2
cores: {{max_chips: {chips}}}
"""


# ----------------------------------------------------------------------------- worker
def _maxrss_mib() -> float:
    # Linux reports KiB, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_case(case: dict, repeat: int) -> dict:
    """Measure one case in this process; returns a JSON-able dict."""
    sys.path.insert(0, str(ROOT))
    from neurodeploy.compiling import compile_network
    from neurodeploy.errors import CompileError
    from neurodeploy.ir import parse_network
    from neurodeploy.profiles import load_profile

    tmp = Path(tempfile.mkdtemp(prefix="nd-bench-"))
    try:
        if case["chips"] > 1:
            prof_file = tmp / f"loihi2_x{case['chips']}.yaml"
            prof_file.write_text(PROFILE_YAML.format(chips=case["chips"]), encoding="utf-8")
            profile = load_profile(str(prof_file))
        else:
            profile = load_profile("loihi2")

        t0 = time.perf_counter()
        net = parse_network(NETWORK_YAML.format(**case), name=f"<{case['name']}>")
        parse_s = time.perf_counter() - t0

        result: dict = {"case": case, "profile": profile.name, "parse_s": parse_s}
        rss0 = _maxrss_mib()
        times_nowrite, cpu_nowrite = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                res = compile_network(net, profile, None)
            except CompileError as exc:
                result["error"] = str(exc)
                return result
            times_nowrite.append(time.perf_counter() - t0)
            cpu_nowrite.append(time.process_time() - c0)
            res_report = res.report
            del res
        rss1 = _maxrss_mib()

        times_write, cpu_write = [], []
        for i in range(repeat):
            out = tmp / f"build{i}"
            t0, c0 = time.perf_counter(), time.process_time()
            compile_network(net, profile, out)
            times_write.append(time.perf_counter() - t0)
            cpu_write.append(time.process_time() - c0)
            build_bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            shutil.rmtree(out)
        rss2 = _maxrss_mib()

        peaks = {}
        for mode in ("nowrite", "write"):
            out = None if mode == "nowrite" else tmp / "build_tm"
            tracemalloc.start()
            tracemalloc.reset_peak()
            compile_network(net, profile, out)
            peaks[mode] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            if out is not None:
                shutil.rmtree(out)

        res_ = res_report["resources"]
        result.update(
            synapses=res_["synapses"], neurons=res_["neurons"], cores=res_["cores_used"],
            cores_available=res_["cores_available"], warnings=res_report["warnings"],
            nowrite_s=times_nowrite, write_s=times_write, nowrite_cpu_s=cpu_nowrite,
            write_cpu_s=cpu_write, build_mib=build_bytes / 2**20,
            tracemalloc_peak_mib=peaks, maxrss_base_mib=rss0,
            maxrss_delta_mib={"nowrite": rss1 - rss0, "write": rss2 - rss0},
        )
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- driver
def run_in_subprocess(case: dict, repeat: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(case),
           "--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"case": case, "error": f"worker failed ({proc.returncode}):\n{proc.stderr}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_table(results: list[dict], repeat: int) -> str:
    head = ["synapses", "connectivity", "pre x post", "profile", "cores",
            "out=None s", "1st run s", "write s", "CPU s None/write", "write s per M syn",
            "tracemalloc MiB None/write", "maxrss delta MiB"]
    rows = []
    for r in results:
        c = r["case"]
        conn = "dense" if c["conn"] == "dense" else "sparse 0.1"
        if "error" in r:
            rows.append([f"~{c['target']:,}", conn, f"{c['pre']} x {c['post']}", "-", "-",
                         "ERROR: " + r["error"].splitlines()[0][:80], "", "", "", "", "", ""])
            continue
        best_nw, best_w = min(r["nowrite_s"]), min(r["write_s"])
        tm = r["tracemalloc_peak_mib"]
        rows.append([
            f"{r['synapses']:,}", conn, f"{c['pre']} x {c['post']}", r["profile"],
            f"{r['cores']}/{r['cores_available']}",
            f"{best_nw:.3f}", f"{r['nowrite_s'][0]:.3f}", f"{best_w:.3f}",
            f"{min(r['nowrite_cpu_s']):.3f} / {min(r['write_cpu_s']):.3f}",
            f"{best_w / (r['synapses'] / 1e6):.3f}",
            f"{tm['nowrite']:.0f} / {tm['write']:.0f}",
            f"{r['maxrss_delta_mib']['nowrite']:.0f}",
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(x).ljust(w) for x, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    legend = (f"out=None s / write s: best wall time of {repeat} compiles without / with "
              "writing the build; 1st run s: the first out=None compile in a fresh process (what a "
              "CLI call pays); CPU s: smallest process CPU time (user+sys) per mode; tracemalloc: peak "
              "traced allocation during one compile; maxrss delta: growth of peak RSS over the "
              "out=None runs.")
    return "\n".join([line(head), sep] + [line(r) for r in rows] + ["", legend])


def fmt_summary(results: list[dict]) -> str:
    ok = {r["case"]["name"]: r for r in results if "error" not in r}
    lines = []
    for r in ok.values():
        if r["case"]["target"] == 1_000_000:
            best, cold = min(r["write_s"]), r["nowrite_s"][0]
            verdict = "PASS" if max(best, cold) < GOAL_1M_SECONDS else "FAIL"
            lines.append(f"goal 1M < {GOAL_1M_SECONDS:g} s  [{r['case']['name']}]: best "
                         f"{best:.3f} s with write, cold first compile {cold:.3f} s -> {verdict}")
    for kind in ("dense", "sparse"):
        small, large = ok.get(f"1M-{kind}"), ok.get(f"10M-{kind}")
        if not (small and large):
            continue
        syn_ratio = large["synapses"] / small["synapses"]
        parts = []
        for key, label in (("nowrite_s", "out=None"), ("write_s", "with write")):
            t_ratio = min(large[key]) / min(small[key])
            parts.append(f"{label} {t_ratio:.1f}x ({t_ratio / syn_ratio:.2f} of linear)")
        cpu = min(large["nowrite_cpu_s"]) / min(small["nowrite_cpu_s"])
        parts.append(f"CPU time {cpu:.1f}x ({cpu / syn_ratio:.2f} of linear)")
        first = large["nowrite_s"][0] / small["nowrite_s"][0]
        parts.append(f"first runs {first:.1f}x")
        lines.append(f"10M/1M time ratio [{kind}], synapses x{syn_ratio:.2f}: " + ", ".join(parts))
    for r in ok.values():
        if r["warnings"]:
            lines.append(f"compiler warnings [{r['case']['name']}]: {'; '.join(r['warnings'])}")
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the 1 M synapse cases")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case and mode (best is reported)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    if args.worker:
        print(json.dumps(run_case(json.loads(args.worker), args.repeat)))
        return 0

    cases = [c for c in CASES if not (args.quick and c["target"] > 1_000_000)]
    print(f"neurodeploy compile benchmark: python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, repeat {args.repeat}, "
          f"load average {_loadavg()}", flush=True)
    results = []
    for case in cases:
        print(f"  running {case['name']} ({case['pre']} x {case['post']}, {case['conn']}) ...",
              flush=True)
        t0 = time.perf_counter()
        results.append(run_in_subprocess(case, args.repeat))
        print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(fmt_table(results, args.repeat))
    print()
    print(fmt_summary(results))
    print(f"load average at end: {_loadavg()} (wall times are noisy when it exceeds the CPU count; "
          "CPU s is less sensitive)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    summary = fmt_summary(results)
    if "FAIL" in summary:
        print("MISSED: a compile goal above says FAIL")
    return 1 if any("error" in r for r in results) or "FAIL" in summary else 0


if __name__ == "__main__":
    sys.exit(main())
