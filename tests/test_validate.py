"""validate: specs, yield and its interval, sweeps, resume after SIGKILL, Dask on loopback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from neurodeploy.compiling import compile_network
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.validation.spec import SpecError, parse_spec
from neurodeploy.validation.stats import clopper_pearson

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "neurodeploy.cli"]

NET = """
neurodeploy: 1
name: vnet
seed: 2
populations:
  bg:  {kind: poisson, size: 20, rate: 60.0}
  hid: {kind: lif, size: 30, params: {tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0}}
  out: {kind: lif, size: 6, params: {tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}
projections:
  a: {pre: bg, post: hid, connectivity: dense, weights: {init: normal, mean: 0.05, std: 0.08}}
  b: {pre: hid, post: out, connectivity: dense, weights: {init: normal, mean: 0.03, std: 0.06}}
variability: {v_th: {cv: 0.15}, weights: {cv: 0.3}, dead_fraction: 0.05}
run: {steps: 100}
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("vbuild")
    out = tmp / "fixed"
    compile_network(parse_network(NET, base_dir=tmp), load_profile("loihi2"), out)
    return out


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def median_rate(build: Path, tmp: Path) -> float:
    """Median out.rate over chips (so a spec at it has a yield strictly inside (0, 1))."""
    r = run_cli("validate", str(build), "--chips", "40", "-o", str(tmp / "probe"), "-q")
    assert r.returncode == 0, r.stderr
    return float(np.median([c["figures"]["out.rate"] for c in report(tmp / "probe")["chips"]]))


# --------------------------------------------------------------------------- specs
def test_parse_spec_clauses_and_errors():
    s = parse_spec("accuracy>=0.9 and out.rate<=40 and distance<0.3")
    assert [str(c) for c in s.clauses] == ["accuracy>=0.9", "out.rate<=40", "distance<0.3"]
    assert s.holds({"accuracy": 0.95, "out.rate": 12.0, "distance": 0.1})
    assert not s.holds({"accuracy": 0.95, "out.rate": 41.0, "distance": 0.1})
    assert not s.holds({"out.rate": 12.0, "distance": 0.1})          # missing figure fails
    for bad, msg in (("accuracy>>0.9", "cannot parse clause"), ("accuracy>=", "cannot parse"),
                     ("acuracy>=0.9", "did you mean 'accuracy'"),
                     ("out.rat>=5", "did you mean 'rate'"), ("", "empty spec"),
                     ("out.rate>=5 or out.rate<2", "cannot parse")):
        with pytest.raises(SpecError, match=msg):
            parse_spec(bad)


def test_clopper_pearson_matches_binomial_tails():
    for k, n in ((0, 10), (3, 10), (47, 50), (50, 50), (180, 200)):
        lo, hi = clopper_pearson(k, n)
        # the exact interval's bounds are where a binomial tail equals 2.5 %
        if k > 0:
            assert abs(binom.sf(k - 1, n, lo) - 0.025) < 1e-6
        else:
            assert lo == 0
        if k < n:
            assert abs(binom.cdf(k, n, hi) - 0.025) < 1e-6
        else:
            assert hi == 1
        assert lo <= k / n <= hi


@pytest.mark.parametrize("args, message", [
    (["--spec", "accuracy>>0.9"], "cannot parse clause 'accuracy>>0.9'"),
    (["--spec", "nope.rate>=1"], "population 'nope'"),
    (["--spec", "accuracy>=0.9"], "needs a build trained on a dataset"),
    (["--spec", "out.rate>=1", "--yield", "1.5"], "--yield: must be within 0..1"),
    (["--yield", "0.9"], "--yield: needs a --spec"),
    (["--sweep", "variability.weight.cv=0,0.1"], "unknown parameter path 'variability.weight.cv'"),
    (["--sweep", "variability.weights.cv=0,-0.1"], "is negative"),
    (["--sweep", "variability.weights.cv=0,x"], "must be a number"),
    (["--sweep", "variability.weights.cv"], "needs PATH=VALUE"),
    (["--set", "variability.weights.dist=uniform"], "gaussian or lognormal"),
    (["--chips", "0"], "--chips: must be >= 1"),
    (["--steps", "0"], "--steps: must be >= 1"),
    (["--dask", "--workers", "0"], "--workers: must be >= 1"),
])
def test_bad_arguments_are_one_line_errors(build, tmp_path, capsys, args, message):
    from neurodeploy.cli import main
    code = main(["validate", str(build), "-o", str(tmp_path / "v"), "-q", *args])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "v" / "report.json").exists()


def test_bad_spec_exits_1_from_the_command_line(build, tmp_path):
    r = run_cli("validate", str(build), "--spec", "accuracy>>0.9", "-o", str(tmp_path / "v"))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --------------------------------------------------------------------------- yield and reports
def test_yield_report_and_exit_codes(build, tmp_path):
    rate = median_rate(build, tmp_path)
    spec = f"out.rate>={rate} and distance<=2"
    out = tmp_path / "v"
    r = run_cli("validate", str(build), "--chips", "40", "--spec", spec, "--yield", "0.99",
                "-o", str(out))
    assert r.returncode == 4, r.stderr                     # about half the chips pass
    assert "chips" in r.stderr                              # the progress bar
    rep = report(out)
    chips = rep["chips"]
    assert [c["chip"] for c in chips] == list(range(40))
    assert all(c["seed"] == 2 for c in chips)
    passed = [c["figures"]["out.rate"] >= rate and c["figures"]["distance"] <= 2 for c in chips]
    assert [c["pass"] for c in chips] == passed
    assert rep["yield"] == sum(passed) / 40 and 0 < rep["yield"] < 1
    assert rep["yield_ci"] == list(clopper_pearson(sum(passed), 40))
    assert rep["ci_method"] == "clopper-pearson" and rep["meets_target"] is False
    assert rep["nominal"]["distance"] == 0 and rep["nominal"]["out.rate"] > 0
    worst = rep["points"][0]["worst"]
    assert worst[0]["margin"] == min(c["margin"] for c in chips) and worst[0]["failed"]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Worst chips" in html
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 41 and json.loads(lines[0])["kind"] == "header"
    # a met target exits 0; the same chips give the same figures
    low = tmp_path / "low"
    r = run_cli("validate", str(build), "--chips", "40", "--spec", spec,
                "--yield", str(rep["yield"]), "-o", str(low), "-q")
    assert r.returncode == 0, r.stderr
    assert report(low)["chips"] == chips
    # existing results are never overwritten silently
    r = run_cli("validate", str(build), "--chips", "40", "-o", str(low), "-q")
    assert r.returncode == 1 and "--resume" in r.stderr


def test_sweep_yield_falls_with_weight_cv(build, tmp_path):
    out = tmp_path / "sweep"
    r = run_cli("validate", str(build), "--chips", "30", "--spec", "distance<=0.25",
                "--sweep", "variability.weights.cv=0,0.3,0.9", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    rep = report(out)
    pts = rep["points"]
    assert [p["value"] for p in pts] == [0.0, 0.3, 0.9]
    assert pts[0]["yield"] >= pts[2]["yield"] and pts[0]["yield"] > 0
    assert rep["yield"] == min(p["yield"] for p in pts)
    d = [p["figures"]["distance"]["mean"] for p in pts]
    assert d[0] < d[1] < d[2]
    assert len(rep["chips"]) == 90
    assert "Yield versus variability.weights.cv" in (out / "report.html").read_text()


# --------------------------------------------------------------------------- durability
def _chip_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_bytes().decode().split("\n")[1:] if ln.strip()]


def test_kill_and_resume_gives_the_uninterrupted_report(build, tmp_path):
    args = ["validate", str(build), "--chips", "60", "--chunk", "2", "--steps", "1500",
            "--spec", "distance<=0.5", "-q"]
    ref = tmp_path / "ref"
    assert run_cli(*args, "-o", str(ref)).returncode in (0, 4)
    out = tmp_path / "killed"
    proc = subprocess.Popen(CLI + args + ["-o", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if results.exists() and len(_chip_lines(results)) >= 4:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    before = results.read_bytes()
    done = len(_chip_lines(results))
    assert 4 <= done < 60, "the run must be killed mid-way"
    assert not (out / "report.json").exists()
    # a torn last line (killed inside a write) is dropped, not parsed
    with open(results, "ab") as fh:
        fh.write(b'{"kind": "chip", "point": 0, "chip": 59, "fig')
    r = run_cli(*args, "-o", str(out), "--resume")
    assert r.returncode in (0, 4), r.stderr
    after = results.read_bytes()
    complete = before[:before.rindex(b"\n") + 1]
    assert after.startswith(complete)                    # finished chips kept, not redone
    chips = [json.loads(ln)["chip"] for ln in _chip_lines(results)]
    assert sorted(chips) == list(range(60))              # each chip exactly once
    assert report(out) == report(ref)


def test_resume_with_other_settings_is_refused(build, tmp_path):
    out = tmp_path / "v"
    assert run_cli("validate", str(build), "--chips", "3", "-o", str(out), "-q").returncode == 0
    r = run_cli("validate", str(build), "--chips", "3", "--seed", "9", "-o", str(out),
                "--resume", "-q")
    assert r.returncode == 1 and "other settings" in r.stderr
    # more chips on resume: only the new ones run
    r = run_cli("validate", str(build), "--chips", "5", "-o", str(out), "--resume", "-q")
    assert r.returncode == 0
    assert sorted(json.loads(ln)["chip"] for ln in _chip_lines(out / "results.jsonl")) == list(range(5))


# --------------------------------------------------------------------------- Dask
def test_dask_scheduler_and_worker_on_loopback(build, tmp_path):
    dask = str(Path(sys.executable).parent / "dask")
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(sched_file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        from distributed import Client
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 1 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
        args = ["validate", str(build), "--chips", "12", "--chunk", "3", "--spec",
                "distance<=0.3", "-q"]
        r = run_cli(*args, "--scheduler", address, "-o", str(tmp_path / "dask"))
        assert r.returncode == 0, r.stderr
        r = run_cli(*args, "-o", str(tmp_path / "local"))
        assert r.returncode == 0, r.stderr
        assert report(tmp_path / "dask") == report(tmp_path / "local")
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
    r = run_cli("validate", str(build), "--chips", "2", "-q", "--scheduler",
                "tcp://127.0.0.1:9", "-o", str(tmp_path / "nosched"), timeout=120)
    assert r.returncode == 1 and "cannot reach the Dask scheduler" in r.stderr


# --------------------------------------------------------------------------- other backends
def test_lava_chips_equal_cpu_chips(build, tmp_path):
    args = ["validate", str(build), "--chips", "3", "--spec", "distance<=0.3", "-q"]
    assert run_cli(*args, "--backend", "lava", "-o", str(tmp_path / "lava")).returncode == 0
    assert run_cli(*args, "-o", str(tmp_path / "cpu")).returncode == 0
    lava, cpu = report(tmp_path / "lava"), report(tmp_path / "cpu")
    assert lava["chips"] == cpu["chips"] and lava["backend"] == "lava"


def test_compare_profiles(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(NET.replace("variability: {v_th: {cv: 0.15}, weights: {cv: 0.3}, "
                               "dead_fraction: 0.05}\n", ""))
    r = run_cli("compare-profiles", str(net), "--profiles", "cpu,mixed_signal", "--chips", "8",
                "--spec", "out.rate>=1", "-o", str(tmp_path / "cmp"), "-q")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    cpu, ms = data["profiles"]["cpu"], data["profiles"]["mixed_signal"]
    # the cpu profile has no mismatch: every chip is the nominal chip
    assert cpu["mismatch"]["out.rate"]["std"] == 0
    assert cpu["mismatch"]["out.rate"]["mean"] == cpu["nominal"]["out.rate"]
    assert ms["mismatch"]["distance"]["mean"] > 0 and ms["mismatch"]["out.rate"]["std"] > 0
    assert "mixed_signal" in r.stdout and "cpu" in r.stdout


def test_compare_profiles_names_a_profile_the_network_does_not_fit(tmp_path):
    net = tmp_path / "delayed.yaml"
    net.write_text(NET.replace("connectivity: dense, weights: {init: normal, mean: 0.03",
                               "connectivity: dense, delay: 2, weights: {init: normal, mean: 0.03"))
    r = run_cli("compare-profiles", str(net), "--profiles", "cpu,memristive", "--chips", "2",
                "-q")
    assert r.returncode == 0, r.stderr
    row = [ln for ln in r.stdout.splitlines() if ln.startswith("memristive")]
    assert row and "does not compile" in row[0] and "delay 2" in row[0]


# --------------------------------------------------------------------------- accuracy
TASK_NET = """
neurodeploy: 1
name: tasknet
seed: 4
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 30, params: {tau_syn: 5.0, tau_mem: 20.0, v_th: 1.0}}
  output: {kind: lif, size: 10}
projections:
  a: {pre: input, post: hidden, connectivity: dense, weights: {init: normal, mean: 0.05, std: 0.3}}
  b: {pre: hidden, post: output, connectivity: dense, weights: {init: normal, mean: 0.05, std: 0.4}, delay: 1}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 20}
"""


def test_accuracy_nominal_equals_evaluate_and_chips_agree_across_backends(tmp_path):
    from neurodeploy.learning.evaluate import evaluate_build
    from neurodeploy.validation.profiles import NOMINAL
    build = tmp_path / "task"
    compile_network(parse_network(TASK_NET, base_dir=tmp_path), load_profile("loihi2"), build)
    sets = [x for k, v in NOMINAL.items() for x in ("--set", f"{k}={v}")]
    r = run_cli("validate", str(build), "--chips", "1", "--samples", "40", *sets,
                "-o", str(tmp_path / "nominal"), "-q")
    assert r.returncode == 0, r.stderr
    nominal = report(tmp_path / "nominal")["chips"][0]["figures"]
    assert nominal["accuracy"] == evaluate_build(build, samples=40)["accuracy"]
    mm = ["--chips", "3", "--samples", "40", "--set", "variability.weights.cv=0.4", "--set",
          "variability.v_th.cv=0.1", "--set", "variability.dead_fraction=0.05",
          "--spec", "accuracy>=0.0", "-q"]
    assert run_cli("validate", str(build), *mm, "-o", str(tmp_path / "cpu")).returncode == 0
    r = run_cli("validate", str(build), *mm, "--backend", "lava", "-o", str(tmp_path / "lava"))
    assert r.returncode == 0, r.stderr
    cpu, lava = report(tmp_path / "cpu")["chips"], report(tmp_path / "lava")["chips"]
    assert [c["figures"] for c in cpu] == [c["figures"] for c in lava]
    assert any(c["figures"]["accuracy"] != nominal["accuracy"] for c in cpu)
    # per-neuron time constants of a fixed-point chip: the same figures on cpu and lava
    tau = ["--chips", "2", "--samples", "8", "--set", "variability.tau_mem.cv=0.2",
           "--spec", "accuracy>=0.0", "-q"]
    assert run_cli("validate", str(build), *tau, "-o", str(tmp_path / "tau_cpu")).returncode == 0
    r = run_cli("validate", str(build), *tau, "--backend", "lava", "-o", str(tmp_path / "tau_lava"))
    assert r.returncode == 0, r.stderr
    assert [c["figures"] for c in report(tmp_path / "tau_cpu")["chips"]] == \
        [c["figures"] for c in report(tmp_path / "tau_lava")["chips"]]
    # what the read-out cannot take is refused, never ignored
    bad = run_cli("validate", str(build), "--chips", "1", "--samples", "4", "--spec",
                  "distance<=0.1", "-o", str(tmp_path / "dist"), "-q")
    assert bad.returncode == 1 and "distances need rasters" in bad.stderr


def test_sweep_of_a_distribution_name(build, tmp_path, capsys):
    from neurodeploy.cli import main
    out = tmp_path / "dist"
    assert main(["validate", str(build), "--chips", "3", "--spec", "out.rate>=0", "-q",
                 "--sweep", "variability.weights.dist=gaussian,lognormal", "-o", str(out)]) == 0
    rep = report(out)
    assert [p["value"] for p in rep["points"]] == ["gaussian", "lognormal"]
    g, ln = ([c for c in rep["chips"] if c["point"] == p] for p in (0, 1))
    assert [c["figures"] for c in g] != [c["figures"] for c in ln]
    assert "Yield versus variability.weights.dist" in (out / "report.html").read_text()


def test_one_writer_per_output_folder(tmp_path):
    from neurodeploy.validation.store import ResultStore, StoreError
    a = ResultStore(tmp_path / "v", "k")
    a.open(resume=False, force=False, header={})
    try:
        with pytest.raises(StoreError, match="another validate run"):
            ResultStore(tmp_path / "v", "k").open(resume=True, force=False, header={})
    finally:
        a.close()
    b = ResultStore(tmp_path / "v", "k")
    assert b.open(resume=True, force=False, header={}) == []
    b.close()


def test_distance_kernel_equals_the_filtered_train_formula():
    from neurodeploy.validation import metrics as M
    rng = np.random.default_rng(0)
    chip = (rng.random((5, 300, 20)) < 0.1).astype(np.uint8)
    nominal = (rng.random((300, 20)) < 0.1).astype(np.uint8)
    fc, fn = M.filtered(chip, 1.0), M.filtered(nominal, 1.0)         # scipy lfilter
    want = np.sqrt(((fc - fn[None]) ** 2).sum(axis=(1, 2))) / np.sqrt(
        ((fc ** 2).sum(axis=(1, 2)) + (fn ** 2).sum()) / 2)
    np.testing.assert_allclose(M.distance(chip, nominal, 1.0), want, rtol=1e-12)
    assert M.distance(nominal[None], nominal, 1.0)[0] == 0.0
    assert M.distance(np.zeros((1, 300, 20), np.uint8), np.zeros((300, 20), np.uint8), 1.0)[0] == 0
    assert M.distance(chip[2:3], nominal, 1.0)[0] == M.distance(chip, nominal, 1.0)[2]


def test_temporal_noise_is_drawn_per_chip_and_agrees_across_backends(tmp_path):
    """A build with membrane noise and spike drop: each chip draws its own noise (the same
    chips with noise differ from the same chips without it, chip by chip, and no two chips
    share a figure set), and cpu and Lava give identical per-chip figures."""
    noisy = NET.replace("run: {steps: 100}", "noise: {membrane: {sigma: 0.3}, spike_drop: {p: 0.2}}\n"
                        "run: {steps: 100}")
    out = tmp_path / "noisy"
    compile_network(parse_network(noisy, base_dir=tmp_path), load_profile("loihi2"), out)
    args = ["--chips", "3", "--spec", "out.rate>=0", "--set", "variability.weights.cv=0", "-q"]
    assert run_cli("validate", str(out), *args, "-o", str(tmp_path / "cpu")).returncode == 0
    r = run_cli("validate", str(out), *args, "--backend", "lava", "-o", str(tmp_path / "lava"))
    assert r.returncode == 0, r.stderr
    cpu, lava = report(tmp_path / "cpu")["chips"], report(tmp_path / "lava")["chips"]
    assert [c["figures"] for c in cpu] == [c["figures"] for c in lava]
    rates = [c["figures"]["out.rate"] for c in cpu]
    assert len(set(rates)) == len(rates)
    quiet = run_cli("validate", str(out), *args, "--frozen", "-o", str(tmp_path / "frozen"))
    assert quiet.returncode == 0, quiet.stderr
    frozen = [c["figures"]["out.rate"] for c in report(tmp_path / "frozen")["chips"]]
    assert all(a != b for a, b in zip(rates, frozen))
