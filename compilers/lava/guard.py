"""Watch Lava's worker processes while the backend waits on them.

Lava's runtime waits on its service ports forever; when a worker dies (the out-of-memory
killer, a segfault) nobody answers and only the backend's run timeout would end the wait.
:func:`failure` is cheap (a non-blocking ``waitpid`` per worker) and is polled with every
wait, so a dead or failing worker is reported within one poll, with what happened to it.
"""
from __future__ import annotations

import signal
import time
import typing as ty


def _actors(rt: ty.Any) -> list[ty.Any]:
    mi = getattr(rt, "_messaging_infrastructure", None)
    return list(getattr(mi, "actors", []) or []) if mi is not None else []


def actor_errors(rt: ty.Any) -> str:
    """Tracebacks reported by Lava actors that raised (each sends one before exiting)."""
    msgs = []
    for actor in _actors(rt):
        try:
            exc = actor.exception
        except (OSError, EOFError, ValueError):
            continue
        if exc:
            err, tb = exc
            msgs.append(f"{type(err).__name__}: {err}\n{tb}")
    return "\n".join(msgs)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = (" (the kernel's out-of-memory killer sends SIGKILL; check `dmesg` and use "
                "fewer steps or a smaller network)" if -code == signal.SIGKILL else "")
        return f"was killed by {name}{hint}"
    return f"exited with code {code} without reporting an error"


def manager_process(rt: ty.Any) -> ty.Any:
    """The process of Lava's shared-memory manager (Lava wraps multiprocessing's), or None."""
    smm = getattr(getattr(rt, "_messaging_infrastructure", None), "_smm", None)
    manager = getattr(smm, "_manager", smm)
    return getattr(manager, "_process", None)


def dead_workers(rt: ty.Any, clean_exits: bool = False) -> str | None:
    """A sentence naming the Lava workers that died (killed by a signal or a non-zero exit
    code; with ``clean_exits`` also those that exited with 0), or None.

    Workers exit cleanly when another one fails and the run winds down, so a clean exit is
    not a reason by itself: the failing worker's traceback is usually still on its way.
    """
    dead = []
    for actor in _actors(rt):
        try:
            code = actor.exitcode
        except (ValueError, AttributeError):     # already joined and closed by us
            continue
        if code is not None and (code != 0 or clean_exits):
            dead.append(f"Lava worker pid {actor.pid} {_describe_exit(code)}")
    proc = manager_process(rt)
    if proc is not None:
        try:
            code = proc.exitcode
        except (ValueError, AttributeError):
            code = None
        if code is not None and (code != 0 or clean_exits):
            dead.append(f"Lava's shared-memory manager pid {proc.pid} {_describe_exit(code)}")
    return "; ".join(dead) or None


def dead_worker_cause(rt: ty.Any, timeout: float = 1.0) -> str | None:
    """After Lava raised (EOFError, a reset connection): the worker whose death caused it,
    waiting briefly, since a dying process closes its pipes before its exit is visible."""
    deadline = time.monotonic() + timeout
    while True:
        dead = dead_workers(rt)
        if dead or time.monotonic() > deadline:
            return dead
        time.sleep(0.01)


def failure(rt: ty.Any, clean_exits: bool = False) -> str | None:
    """Why the run cannot finish: a worker's traceback, or a dead worker; None if healthy."""
    errors = actor_errors(rt)
    if errors:
        return "Lava process model raised: " + errors
    dead = dead_workers(rt, clean_exits)
    if dead:
        return dead + "; the run was stopped"
    return None


def wait_for_failure(rt: ty.Any, timeout: float) -> str | None:
    """After a service reported an error: wait (up to ``timeout`` s) until the failing worker
    has delivered its traceback or is gone, instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        reason = failure(rt)
        if reason:
            return reason
        if time.monotonic() > deadline:
            return failure(rt, clean_exits=True)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def children() -> set[ty.Any]:
    """The multiprocessing children alive now (snapshot taken before a run starts)."""
    import multiprocessing as mp
    return set(mp.active_children())


def kill_new_children(before: set[ty.Any]) -> None:
    """Kill and reap every multiprocessing child started since ``before``: the safety net
    for processes Lava had started but not yet registered when the run was interrupted
    (e.g. its shared-memory manager while SIGTERM arrived inside ``Runtime.initialize``)."""
    import multiprocessing as mp
    new = [p for p in mp.active_children() if p not in before]
    for proc in new:
        try:
            proc.kill()
        except (OSError, ValueError, AttributeError):
            pass
    for proc in new:
        try:
            mp.Process.join(proc, 5)
        except (OSError, ValueError, AssertionError):
            pass


def initialize(rt: ty.Any, deadline: float, timeout: float) -> None:
    """``Runtime.initialize()`` of Lava 0.10, made interruptible and watched.

    Lava's version blocks in ``Queue.get()`` per worker until each reports it was built, so
    a worker killed while building hangs it forever. Here the steps that create processes
    (shared-memory manager, workers) run as one deferred section: a signal cannot split a
    fork from its registration (which would leave an unregistered worker nobody kills);
    it is raised right after. The wait for the build reports is polled like a run.
    """
    import queue

    from neurodeploy import signals
    from neurodeploy.errors import BackendError
    rt._build_watchdog_manager()
    with signals.deferred():
        rt._build_message_infrastructure()
    rt._build_channels()
    rt._build_sync_channels()
    with signals.deferred():
        rt._build_processes()
        rt._build_runtime_services()
    rt._start_ports()
    for q in rt.exception_q:
        while True:
            try:
                exc = q.get(timeout=0.02)
                break
            except queue.Empty:
                reason = failure(rt)
                if reason:
                    raise BackendError(reason) from None
                signals.raise_pending()
                if time.monotonic() > deadline:
                    raise BackendError(f"Lava start-up did not finish within {timeout:.0f} s; "
                                       "raise the backend's timeout option") from None
        if exc:
            raise BackendError(f"Lava could not build a process: {type(exc).__name__}: {exc}\n"
                               f"{getattr(exc, 'trace', '')}")
    del rt.exception_q
    rt._is_initialized = True


def unlink_segments(handles: list[ty.Any]) -> None:
    """Remove the shared-memory segments of a manager that died (it would have removed
    them), so none is left in /dev/shm and the resource tracker has nothing to warn about."""
    for handle in handles:
        try:
            handle.unlink()
        except (OSError, ValueError, AttributeError):
            pass
