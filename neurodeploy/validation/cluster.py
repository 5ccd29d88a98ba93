"""Dask for ``validate``: a checked scheduler address, a handshake with a deadline, a capped
local cluster, workers that can import neurodeploy, and no endless wait on dead workers.

Every way a cluster can fail to do the work becomes one line within a deadline instead of a
frozen progress bar: an address that is not a URL, a port that accepts and never answers (or
an HTTP server), more local workers than the machine can hold, a scheduler without workers,
workers that lack neurodeploy, and workers that all die mid-run. Chips already finished stay
in ``results.jsonl``, so ``--resume`` continues after the cluster is fixed.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from neurodeploy.errors import NeurodeployError

TIMEOUT_ENV = "NEURODEPLOY_DASK_TIMEOUT"
HANDSHAKE_S = 10.0          # a Dask scheduler writes its handshake as soon as it accepts
WORKERS_PER_CORE = 4        # local workers are processes; more than this only thrashes
POLL_S = 1.0


class ClusterError(NeurodeployError):
    """The Dask scheduler or its workers cannot run the chips."""


def deadline_s() -> float:
    """Seconds to wait for workers to appear (or come back): NEURODEPLOY_DASK_TIMEOUT, 60."""
    raw = os.environ.get(TIMEOUT_ENV, "60")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ClusterError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def parse_address(address: str) -> tuple[str, str, int]:
    """``tcp://HOST:PORT`` (or ``tls://``, or ``HOST:PORT``) -> (scheme, host, port)."""
    text = address.strip()
    url = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme not in ("tcp", "tls") or not url.hostname or port is None or \
            url.path not in ("", "/") or url.query:
        raise ClusterError(f"'{address}' is not a Dask scheduler address; write "
                           "tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786", path=("--scheduler",))
    return url.scheme, url.hostname, port


def probe(address: str, timeout: float | None = None) -> None:
    """Connect and wait (at most ``timeout`` s in all: HANDSHAKE_S or the deadline if
    shorter) for the scheduler's first handshake bytes, so a port that never answers or
    speaks HTTP is refused instead of hanging."""
    scheme, host, port = parse_address(address)
    timeout = min(HANDSHAKE_S, deadline_s()) if timeout is None else timeout
    end = time.monotonic() + timeout
    where = dict(path=("--scheduler",))
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({exc.strerror or exc}"
                           "); check the address and that it runs", **where) from None
    try:
        if scheme == "tls":
            return                      # TLS speaks first from the client; Dask checks it
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            first = sock.recv(16)
        except (socket.timeout, TimeoutError):
            first = None
        except OSError as exc:
            raise ClusterError(f"the Dask scheduler at {address} dropped the connection "
                               f"({exc.strerror or exc})", **where) from None
    finally:
        sock.close()
    if first is None:
        raise ClusterError(f"{address} accepts connections but sent no Dask handshake within "
                           f"{timeout:g} s; it is not a Dask scheduler (an HTTP server or "
                           "another service?); a scheduler listens on tcp://HOST:8786 by "
                           "default", **where)
    if not first or first.startswith(b"HTTP") or first[:1] == b"<":
        raise ClusterError(f"{address} answered, but not as a Dask scheduler; give the "
                           "scheduler's tcp:// address (port 8786 by default)", **where)


def check_workers_count(workers: int | None) -> int:
    """The local cluster's size: --workers, at most WORKERS_PER_CORE per core."""
    n = 2 if workers is None else int(workers)
    cores = len(os.sched_getaffinity(0))
    cap = WORKERS_PER_CORE * cores
    if n < 1:
        raise ClusterError(f"must be >= 1; got {n}", path=("--workers",))
    if n > cap:
        raise ClusterError(f"{n} local Dask workers (processes) on {cores} cores is more "
                           f"than {cap} ({WORKERS_PER_CORE} per core); use at most {cap}, or "
                           "--scheduler to use a cluster", path=("--workers",))
    return n


def check_workers(client: Any, address: str) -> None:
    """At least one worker joins within the deadline, and every worker imports neurodeploy."""
    wait = deadline_s()
    try:
        client.wait_for_workers(1, timeout=wait)
    except (TimeoutError, OSError):
        raise ClusterError(f"the Dask scheduler at {address} has no workers (none joined "
                           f"within {wait:g} s, {TIMEOUT_ENV}); start some with `dask worker "
                           f"{address}`", path=("--scheduler",)) from None
    # exec of a constant import (a builtin, so workers without neurodeploy can run it)
    specs = client.run(exec, "import neurodeploy.validation.runner", on_error="return")
    lacking = sorted(w for w, result in specs.items() if isinstance(result, BaseException))
    if lacking:
        raise ClusterError(f"{len(lacking)} of {len(specs)} Dask workers cannot import "
                           f"neurodeploy ({lacking[0]}{', ...' if len(lacking) > 1 else ''});"
                           " install it where the workers run (pip install neurodeploy) with "
                           "access to the build and input paths", path=("--scheduler",))


def _alive(client: Any) -> int:
    try:
        return len(client.scheduler_info().get("workers", {}))
    except (OSError, TimeoutError):
        return 0


def gather(client: Any, futures: list, describe: Callable[[Any], str]) -> Iterator[Any]:
    """Results of the submitted futures as they finish; one line (and a stop) when a task
    killed its workers, failed to load on them, or no worker is left for the deadline."""
    from distributed import wait
    from distributed.scheduler import KilledWorker
    pending = set(futures)
    limit = deadline_s()
    alone_since: float | None = None
    while pending:
        try:
            done, pending = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        for fut in done:
            try:
                yield fut.result()
            except KilledWorker:
                raise ClusterError(f"the task of {describe(fut)} killed the Dask workers that "
                                   "ran it (out of memory, or a crash); finished chips are "
                                   "saved: fix the workers and rerun with --resume") from None
            except (ImportError, AttributeError) as exc:
                raise ClusterError(f"a Dask worker cannot load neurodeploy's task ({exc}); "
                                   "install the same neurodeploy on every worker") from None
        if done:
            alone_since = None
            continue
        if _alive(client):
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > limit:
            raise ClusterError(f"every Dask worker is gone (died or stopped) and none came back "
                               f"within {limit:g} s ({TIMEOUT_ENV}); {len(pending)} tasks "
                               "remain, finished chips are saved: restart the workers and "
                               "rerun with --resume")
