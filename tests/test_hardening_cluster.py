"""Issue 16, hangs and bombs of validate: --chips 10^9, --workers 10^5, --scheduler that is
not a URL, accepts and never answers, is an HTTP server, has no workers or workers without
neurodeploy. Each ends in one line and exit 1 within seconds, with nothing written."""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.validation.cluster import TIMEOUT_ENV

NET = """
neurodeploy: 1
name: small
seed: 1
populations:
  inp: {kind: spike_source, size: 4}
  out: {kind: lif, size: 4}
projections:
  p: {pre: inp, post: out, connectivity: dense, weights: {init: normal, mean: 0.5, std: 0.5}}
run: {steps: 20}
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cluster")
    (tmp / "net.yaml").write_text(NET)
    assert main(["compile", str(tmp / "net.yaml"), "-o", str(tmp / "b"), "-q"]) == 0
    spikes = tmp / "in.npz"
    np.savez(spikes, **{"inp.spikes": (np.random.default_rng(0).random((20, 4)) < 0.3
                                       ).astype(np.uint8)})
    return tmp / "b", spikes


def _refused(capsys, *words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def _validate(build, out: Path, *args: str) -> int:
    b, spikes = build
    return main(["validate", str(b), "--input", str(spikes), "-q", "-o", str(out), *args])


@pytest.mark.parametrize("args, says", [
    (["--chips", "1000000000"], "more than 100,000"),
    (["--dask", "--workers", "100000"], "local Dask workers"),
    (["--scheduler", "not a url"], "not a Dask scheduler address"),
    (["--scheduler", "tcp://127.0.0.1:notaport"], "not a Dask scheduler address"),
    (["--scheduler", "http://127.0.0.1:8786"], "not a Dask scheduler address"),
])
def test_refused_before_anything_runs(build, tmp_path, capsys, args, says):
    t0 = time.monotonic()
    assert _validate(build, tmp_path / "v", *args) == 1
    _refused(capsys, says)
    assert time.monotonic() - t0 < 20 and not (tmp_path / "v").exists()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield srv.getsockname()[1]
    srv.close()


@pytest.fixture
def http_port():
    """A tiny HTTP server."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("server", ["silent_port", "http_port"])
def test_scheduler_that_never_answers_is_refused_within_the_deadline(
        build, tmp_path, capsys, monkeypatch, request, server):
    port = request.getfixturevalue(server)
    monkeypatch.setenv(TIMEOUT_ENV, "1")
    t0 = time.monotonic()
    assert _validate(build, tmp_path / "v", "--scheduler", f"tcp://127.0.0.1:{port}") == 1
    _refused(capsys, "sent no Dask handshake", "not a Dask scheduler")
    assert time.monotonic() - t0 < 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the Dask scheduler did not start")


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A real Dask scheduler (no workers yet) in its own process."""
    port = _free_port()
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                             "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield f"tcp://127.0.0.1:{port}", tmp_path_factory.mktemp("shadow")
    finally:
        proc.terminate()
        proc.wait(30)


def test_scheduler_without_workers_stops_with_a_deadline(build, tmp_path, capsys,
                                                         monkeypatch, scheduler):
    address, _ = scheduler
    monkeypatch.setenv(TIMEOUT_ENV, "2")
    t0 = time.monotonic()
    assert _validate(build, tmp_path / "v", "--scheduler", address) == 1
    _refused(capsys, "has no workers", "dask worker")
    assert time.monotonic() - t0 < 30
    assert not list((tmp_path / "v").glob("report.*"))


def test_workers_without_neurodeploy_are_named(build, tmp_path, capsys, monkeypatch,
                                               scheduler):
    """A worker whose Python finds a broken 'neurodeploy' first (as one without it would
    fail to import it) is detected before any chip is submitted."""
    address, shadow = scheduler
    (shadow / "neurodeploy").mkdir(exist_ok=True)
    (shadow / "neurodeploy" / "__init__.py").write_text("raise ImportError('not here')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nthreads", "1", "--no-dashboard", "--nworkers", "1"],
                              env=env, cwd=shadow, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        monkeypatch.setenv(TIMEOUT_ENV, "60")
        assert _validate(build, tmp_path / "v", "--scheduler", address) == 1
        _refused(capsys, "cannot import neurodeploy", "install it")
    finally:
        worker.terminate()
        worker.wait(30)


class _Gone:
    """A client whose scheduler has lost every worker."""

    def scheduler_info(self) -> dict:
        return {"workers": {}}


def test_all_workers_gone_stops_with_a_deadline(monkeypatch):
    """gather() waits for workers to come back at most the deadline, then stops in one line
    (the futures never finish: every worker died)."""
    import distributed

    from neurodeploy.validation.cluster import ClusterError, gather

    def never(pending, timeout, return_when):
        time.sleep(timeout)
        raise TimeoutError
    monkeypatch.setattr(distributed, "wait", never)
    monkeypatch.setattr("neurodeploy.validation.cluster.POLL_S", 0.05)
    monkeypatch.setenv(TIMEOUT_ENV, "0.3")
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="every Dask worker is gone.*--resume"):
        list(gather(_Gone(), [object(), object()], str))
    assert 0.3 < time.monotonic() - t0 < 5
