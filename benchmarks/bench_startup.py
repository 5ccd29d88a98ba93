"""Start-up and first-run cost of CLI commands, as a user feels them.

Each command runs as a fresh process (median wall time of --repeat runs). ``simulate`` is
measured twice: *cold* with an empty numba cache (``NUMBA_CACHE_DIR`` pointed at a new
directory: what the first cpu run after installing would cost without the Makefile's
warm-up) and *warm* with that cache filled by the previous run (every later run, and the
first one after ``make venv``). Import time is the sum reported by ``python -X importtime``.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "neurodeploy.cli"]


def wall(args: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(CLI + args, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def import_ms(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Total import time of the command's process (top-level entries of -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *CLI[1:], *args], env=env,
                          cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    total = 0
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, cumulative, name = line.split("|", 2)
            if not name.startswith("  "):  # top level: one space after the bar
                total += int(cumulative)
    return total / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nd-startup-"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba-warm"))
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_digits_input.py"),
                    str(work / "in.npz"), "--images", "1"], check=True, stdout=subprocess.DEVNULL)
    net = str(ROOT / "examples" / "feedforward.yaml")
    for profile in ("loihi2", "cpu"):
        wall(["compile", net, "-p", profile, "-o", str(work / profile), "-q"], env, work)
    run = lambda p: ["simulate", str(work / p), "--input", str(work / "in.npz"),  # noqa: E731
                     "--steps", "50", "-o", str(work / "out.npz")]
    commands = {"--help": ["--help"], "profiles": ["profiles"], "check": ["check", net],
                "compile -q": ["compile", net, "-o", str(work / "c"), "--force", "-q"],
                "simulate fixed": run("loihi2"), "simulate float": run("cpu")}
    rows = []
    for name, args in commands.items():
        cold = None
        if name.startswith("simulate"):
            cold_times = []
            for i in range(2):
                cold_env = dict(env, NUMBA_CACHE_DIR=str(work / f"numba-cold-{name[-5:]}-{i}"))
                cold_times.append(wall(args, cold_env, work))
            cold = min(cold_times)
        wall(args, env, work)  # fill the warm cache / page cache
        warm = statistics.median(wall(args, env, work) for _ in range(opts.repeat))
        rows.append((name, cold, warm, import_ms(args, env, work)))
    print(f"{'command':16s} {'cold s':>8s} {'warm s':>8s} {'imports ms':>11s} {'cold/warm':>10s}")
    for name, cold, warm, imp in rows:
        ratio = f"{cold / warm:9.1f}x" if cold else " " * 10
        cold_s = f"{cold:8.2f}" if cold else " " * 7 + "-"
        print(f"{name:16s} {cold_s} {warm:8.2f} {imp:11.0f} {ratio}")


if __name__ == "__main__":
    main()
