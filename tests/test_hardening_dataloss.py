"""Issue 10, data loss: --force replaces only our builds, concurrent compiles, colliding
outputs, SIGTERM/SIGHUP during Lava runs and compiles, dead Lava workers.

Signals and concurrency run the real CLI in subprocesses; "no leftovers" is checked on the
process tree (/proc) and on the temporary directory given to the CLI via TMPDIR.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling.artifact import _place, build_refusal
from neurodeploy.errors import CompileError

CLI = [sys.executable, "-m", "neurodeploy.cli"]

SMALL = """
neurodeploy: 1
name: small
seed: {seed}
populations:
  inp: {{kind: spike_source, size: 4}}
  out: {{kind: lif, size: 4}}
projections:
  p: {{pre: inp, post: out, connectivity: dense, weights: {{init: normal, std: 0.5}}}}
monitors: [{{population: out, var: spikes}}]
run: {{steps: 20}}
"""


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in-process (the refusals need no separate process): exit code and output."""
    import contextlib
    import io

    from neurodeploy.cli import main
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def net(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(seed=1))
    return path


def compile_to(net: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("compile", str(net), "-o", str(out), "-q", *extra)


# ------------------------------------------------------------------ --force
def test_force_replaces_a_build(net, tmp_path):
    out = tmp_path / "b"
    assert compile_to(net, out).returncode == 0
    again = compile_to(net, out)
    assert again.returncode == 1 and "--force" in again.stderr
    assert compile_to(net, out, "--force").returncode == 0
    assert build_refusal(out) is None


def test_force_refuses_a_folder_with_foreign_files(net, tmp_path):
    out = tmp_path / "b"
    assert compile_to(net, out).returncode == 0
    (out / "notes.txt").write_text("my thesis")
    res = compile_to(net, out, "--force")
    assert res.returncode == 1
    assert "not a neurodeploy build" in res.stderr and "notes.txt" in res.stderr
    assert (out / "notes.txt").read_text() == "my thesis"
    assert (out / "manifest.json").exists()


def test_force_refuses_a_foreign_manifest(net, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text(json.dumps({"format": "webapp", "version": 3}))
    res = compile_to(net, project, "--force")
    assert res.returncode == 1 and "not a neurodeploy build" in res.stderr
    assert json.loads((project / "manifest.json").read_text())["format"] == "webapp"


def test_force_refuses_current_directory_and_its_parents(net, tmp_path):
    out = tmp_path / "b"
    assert compile_to(net, out).returncode == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    for cwd, target in ((out, "."), (out / "weights", ".."), (out, str(out))):
        res = run_cli("compile", str(net), "-o", target, "-q", "--force", cwd=cwd)
        assert res.returncode == 1, (cwd, target, res.stderr)
        assert "current directory" in res.stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_force_refuses_a_symlink_and_a_file(net, tmp_path):
    out = tmp_path / "b"
    assert compile_to(net, out).returncode == 0
    link = tmp_path / "link"
    link.symlink_to(out)
    res = compile_to(net, link, "--force")
    assert res.returncode == 1 and "symbolic link" in res.stderr
    file = tmp_path / "f"
    file.write_text("x")
    res = compile_to(net, file, "--force")
    assert res.returncode == 1 and "not a directory" in res.stderr and file.read_text() == "x"


def test_empty_directory_is_used(net, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert compile_to(net, out).returncode == 0
    assert build_refusal(out) is None


# ------------------------------------------------------------------ concurrency
def test_rename_never_replaces_an_existing_build(net, tmp_path):
    """The no-force rename itself refuses a build that appeared after the early check."""
    out = tmp_path / "b"
    assert compile_to(net, out).returncode == 0
    theirs = (out / "manifest.json").read_bytes()
    mine = tmp_path / ".b.mine.tmp"
    mine.mkdir()
    (mine / "manifest.json").write_text("{}")
    with pytest.raises(CompileError, match="someone else"):
        _place(mine, out, out, force=False)
    assert (out / "manifest.json").read_bytes() == theirs


def test_concurrent_compiles_exactly_one_wins(tmp_path):
    """Four compiles of different networks to one -o at once: one writes, three fail."""
    nets = []
    for seed in range(4):
        path = tmp_path / f"n{seed}.yaml"
        text = SMALL.format(seed=seed).replace("size: 4}", "size: 600}")
        path.write_text(text)
        nets.append(path)
    out = tmp_path / "shared"
    procs = [subprocess.Popen(CLI + ["compile", str(n), "-o", str(out), "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in nets]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    winners = [i for i, (rc, _, _) in enumerate(results) if rc == 0]
    assert len(winners) == 1, results
    for i, (rc, out_text, err) in enumerate(results):
        if i != winners[0]:
            assert rc == 1 and "wrote" not in out_text
            assert "already exists" in err or "someone else" in err, err
    assert json.loads((out / "manifest.json").read_text())["seed"] == winners[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_build_appearing_while_compiling_is_not_replaced(tmp_path):
    """A compile past its existence check (its hidden temporary build is being written)
    meets a build that another compile renamed into place meanwhile: it must fail and
    leave that build untouched."""
    net = tmp_path / "big.yaml"
    net.write_text(BIG)
    theirs = tmp_path / "theirs"
    assert compile_to(net, theirs).returncode == 0
    before = {p: p.read_bytes() for p in theirs.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    proc = subprocess.Popen(CLI + ["compile", str(net), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not any(p.name.startswith(".out.") and p.name.endswith(".tmp")
                  for p in tmp_path.iterdir()):
        assert proc.poll() is None, "compile finished before its temporary build was seen"
        time.sleep(0.0005)
    os.rename(theirs, out)                    # the other compile wins the race
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "someone else" in err and "wrote" not in stdout, err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == \
        {p.relative_to(theirs): b for p, b in before.items()}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ------------------------------------------------------------------ colliding outputs
@pytest.fixture
def build(net, tmp_path) -> Path:
    out = tmp_path / "build"
    assert compile_to(net, out).returncode == 0
    return out


@pytest.fixture
def spikes(tmp_path) -> Path:
    path = tmp_path / "in.npz"
    np.savez(path, **{"inp.spikes": np.ones((20, 4), np.uint8)})
    return path


@pytest.mark.parametrize("output,plot", [("res", "res"), ("r.png", "./r.png"),
                                         ("sub/../r.png", "r.png")])
def test_colliding_outputs_refused_before_running(build, spikes, tmp_path, output, plot):
    res = run_cli("simulate", str(build), "--input", str(spikes), "-o", output, "--plot", plot,
                  cwd=tmp_path)
    assert res.returncode == 1 and "both write" in res.stderr
    assert not (tmp_path / "res").exists() and not (tmp_path / "r.png").exists()


def test_outputs_must_not_overwrite_inputs(build, spikes, tmp_path):
    before = spikes.read_bytes()
    res = run_cli("simulate", str(build), "--input", str(spikes), "-o", str(spikes))
    assert res.returncode == 1 and "--input" in res.stderr and spikes.read_bytes() == before
    res = run_cli("simulate", str(build), "--input", str(spikes),
                  "-o", str(build / "manifest.json"))
    assert res.returncode == 1 and "inside the build" in res.stderr
    assert build_refusal(build) is None
    res = run_cli("compare", str(build), "--input", str(spikes), "--backends", "cpu,cpu",
                  "--save-dir", str(tmp_path / "s"))
    assert res.returncode == 1 and "both write" in res.stderr


# ------------------------------------------------------------------ signals and workers
def _descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if _alive(p)}
        if not left:
            return left
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


def _start_long_lava_run(build: Path, tmp_path: Path, workers_wanted: int = 5
                         ) -> tuple[subprocess.Popen, Path, set]:
    steps = 300_000
    long_input = tmp_path / "long.npz"
    np.savez(long_input, **{"inp.spikes": (np.arange(steps)[:, None] % 7 == 0)
                            .repeat(4, 1).astype(np.uint8)})
    # a short TMPDIR: Lava's shared-memory manager binds a unix socket there (108-byte
    # limit), which pytest-xdist's deep per-worker tmp_path would exceed
    tmpdir = Path(tempfile.mkdtemp(prefix="nd-lava-"))
    proc = subprocess.Popen(CLI + ["simulate", str(build), "-b", "lava", "--input",
                                   str(long_input), "--steps", str(steps),
                                   "-o", str(tmp_path / "res.npz")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmpdir)})
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < workers_wanted:         # smm, runtime service, 3 process models
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "Lava workers did not start"
        time.sleep(0.1 if workers_wanted >= 5 else 0.001)
        workers = _descendants(proc.pid)
    if workers_wanted >= 5:
        time.sleep(0.5)
        assert any(tmpdir.iterdir()), "the run's temporary directory should exist by now"
    return proc, tmpdir, _descendants(proc.pid)


@pytest.mark.parametrize("signum,code,phase", [(signal.SIGTERM, 143, "running"),
                                               (signal.SIGHUP, 129, "running"),
                                               (signal.SIGINT, 130, "running"),
                                               (signal.SIGTERM, 143, "starting")])
def test_signal_during_lava_run_cleans_up(build, tmp_path, signum, code, phase):
    """'starting': the signal arrives as the first Lava process appears (inside the
    runtime's start-up, before it knows all its processes)."""
    proc, tmpdir, workers = _start_long_lava_run(build, tmp_path,
                                                 5 if phase == "running" else 1)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    said = "interrupted" if signum == signal.SIGINT else f"received {signal.Signals(signum).name}"
    assert said in err and "Traceback" not in err
    assert _wait_gone(workers | _descendants(proc.pid)) == set()
    assert list(tmpdir.iterdir()) == []
    assert not (tmp_path / "res.npz").exists()


def test_dead_lava_worker_is_reported_within_seconds(build, tmp_path):
    proc, tmpdir, workers = _start_long_lava_run(build, tmp_path)
    victim = max(w for w in workers if "resource_tracker" not in
                 Path(f"/proc/{w}/cmdline").read_text())
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 1, err
    assert f"pid {victim} was killed by SIGKILL" in err and "out-of-memory" in err
    assert len(err.strip().splitlines()) == 1
    assert _wait_gone(workers) == set()
    assert list(tmpdir.iterdir()) == []


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def test_worker_dying_during_lava_start_up_is_reported(build, tmp_path):
    """Lava's own start-up waits forever for a worker that died before reporting; the
    first Lava process with threads running (the shared-memory manager, started first)
    is killed while the rest are still being created."""
    steps = 1000
    spikes = tmp_path / "in.npz"
    np.savez(spikes, **{"inp.spikes": np.ones((steps, 4), np.uint8)})
    proc = subprocess.Popen(CLI + ["simulate", str(build), "-b", "lava", "--input", str(spikes),
                                   "-o", str(tmp_path / "res.npz")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim, seen, deadline = None, set(), time.monotonic() + 120
    while victim is None:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        seen |= _descendants(proc.pid)
        ready = [w for w in seen if _threads(w) >= 2 and
                 "resource_tracker" not in Path(f"/proc/{w}/cmdline").read_text()]
        victim = min(ready) if ready else None
        time.sleep(0.001)
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 1, err
    assert f"pid {victim} was killed by SIGKILL" in err
    assert len(err.strip().splitlines()) == 1
    assert _wait_gone(seen | _descendants(proc.pid)) == set()
    assert not (tmp_path / "res.npz").exists()


def _handler_installed(pid: int) -> bool:
    """SIGTERM is caught by the process (its handler is installed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


BIG = """
neurodeploy: 1
name: big
seed: 1
populations:
  inp: {kind: spike_source, size: 1500}
  a: {kind: lif, size: 1500}
  b: {kind: lif, size: 1500}
projections:
""" + "".join(f"  p{i}: {{pre: {pre}, post: {post}, connectivity: dense}}\n"
              for i, (pre, post) in enumerate([("inp", "a"), ("a", "b"), ("b", "a"),
                                                ("inp", "b"), ("a", "a"), ("b", "b")]))


@pytest.mark.parametrize("when", ["writing", "early"])
def test_sigterm_during_compile_leaves_old_build_and_no_temp(tmp_path, when):
    net = tmp_path / "big.yaml"
    net.write_text(BIG)
    out = tmp_path / "out"
    assert compile_to(net, out).returncode == 0
    old = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for attempt in range(5):
        proc = subprocess.Popen(CLI + ["compile", str(net), "-o", str(out), "-q", "--force"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sent = False
        while proc.poll() is None and not sent:
            if when == "writing":
                sent = any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
            else:
                sent = _handler_installed(proc.pid)
            if sent:
                proc.send_signal(signal.SIGTERM)
            else:
                time.sleep(0.001)
        _, err = proc.communicate(timeout=120)
        if sent:
            break
    assert sent, "the compile finished before the signal could be sent"
    assert proc.returncode == 143, err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == old
