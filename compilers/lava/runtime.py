"""A compiled Lava network run with a deadline, then stopped cleanly or killed.

The run is started non-blocking and polled against a deadline and against its workers'
health (:mod:`.guard`: a worker that raised or died, e.g. killed by the out-of-memory killer,
ends the run within one poll). On timeout, error, KeyboardInterrupt, or SIGTERM/SIGHUP
(raised as ``KeyboardInterrupt`` by :mod:`neurodeploy.signals` in the CLI) all Lava child
processes are killed and joined; otherwise the runtime is stopped normally.
"""
from __future__ import annotations

import multiprocessing as mp
import time
import typing as ty
import warnings

from neurodeploy import signals
from neurodeploy.errors import BackendError

from . import guard

ERROR_REPORT_TIMEOUT = 10.0   # s a failing worker gets to deliver its traceback
T = ty.TypeVar("T")


def execute(L: dict, root: ty.Any, cfg: ty.Any, steps: int, timeout: float,
            stop_timeout: float, read: ty.Callable[[], T], live: bool,
            timings: dict[str, float], t0: float) -> T:
    """Compile ``root``'s network for ``cfg``, run ``steps`` steps within ``timeout`` s and
    return ``read()``, called before the stop when ``live`` (Monitors need the runtime) and
    after it otherwise; ``timings`` gets build, run and read-out seconds (build from ``t0``)."""
    try:
        with warnings.catch_warnings():
            # Lava execs every sibling module of a process's file while searching
            # models; modules with relative imports cannot run that way: harmless.
            warnings.filterwarnings("ignore", message="Cannot import module")
            exe = root.compile(cfg)
    except Exception as exc:
        raise BackendError(f"Lava could not compile the network: "
                           f"{type(exc).__name__}: {exc}") from exc
    rt = L["Runtime"](exe, L["ActorType"].MultiProcessing)
    exe.assign_runtime_to_all_processes(rt)
    deadline = time.monotonic() + timeout
    clean = False
    try:
        guard.initialize(rt, deadline, timeout)
        timings["build_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        rt.start(L["RunSteps"](num_steps=steps, blocking=False))
        await_done(L, rt, deadline, timeout, "run")
        timings["run_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        if live:
            data = read()
        stop(L, rt, time.monotonic() + stop_timeout)
        clean = True
        if not live:
            data = read()
        timings["readout_s"] = time.perf_counter() - t2
        return data
    except BackendError:
        raise
    except Exception as exc:
        dead = guard.dead_worker_cause(rt)   # the cause, when a worker died under Lava
        raise BackendError(f"{dead}; the run was stopped" if dead else
                           f"Lava run failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if not clean:
            kill(rt)


def await_done(L: dict, rt: ty.Any, deadline: float, timeout: float, what: str) -> None:
    """Poll the runtime services until all answered; raise on error, on a dead worker
    (see :mod:`.guard`) or on timeout."""
    ports = list(rt.service_to_runtime)
    answers: dict[int, ty.Any] = {}
    delay = 0.0005
    while len(answers) < len(ports):
        for i, port in enumerate(ports):
            if i not in answers and port.probe():
                answers[i] = port.recv()
        if len(answers) == len(ports):
            break
        if time.monotonic() > deadline:
            raise BackendError(f"Lava {what} did not finish within {timeout:.0f} s "
                               "(a miswired port blocks forever); raise the backend's "
                               "timeout option if the network is just slow")
        reason = guard.failure(rt)
        if reason:
            raise BackendError(reason)
        signals.raise_pending()
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    bad = [a for a in answers.values() if not L["enum_equal"](a, L["MGMT_RESPONSE"].DONE)]
    if bad:
        reason = guard.wait_for_failure(rt, ERROR_REPORT_TIMEOUT)
        raise BackendError(reason or f"Lava process model failed: response {bad[0]}")
    rt._is_running = False


def stop(L: dict, rt: ty.Any, deadline: float) -> None:
    """``Runtime.stop()`` with a deadline (the original blocks forever on a dead actor)."""
    for port in rt.runtime_to_service:
        port.send(L["MGMT_COMMAND"].STOP)
    for port in rt.service_to_runtime:
        while not port.probe():
            if time.monotonic() > deadline:
                raise BackendError("Lava runtime did not stop in time")
            reason = guard.dead_workers(rt)
            if reason:
                raise BackendError(reason + "; the run was stopped")
            time.sleep(0.001)
        port.recv()
    rt.join()
    rt._is_running = False
    rt._is_started = False
    mi = rt._messaging_infrastructure
    for actor in mi.actors:
        mp.Process.join(actor, max(0.1, deadline - time.monotonic()))
        if actor.is_alive():
            raise BackendError("Lava process did not exit after stop")
        actor.join()
    mi._smm.shutdown()
    rt._watchdog_manager.stop()


def kill(rt: ty.Any) -> None:
    """Kill and join every child process of a Lava runtime (best effort, never raises)."""
    try:
        rt._is_running = False
        rt._is_started = False       # Runtime.__del__ must not try a blocking stop()
        mi = rt._messaging_infrastructure
        actors = list(getattr(mi, "actors", []) or []) if mi is not None else []
        for actor in actors:
            try:
                if actor._popen is not None and actor.is_alive():
                    actor.kill()
            except (ValueError, AttributeError, OSError):
                pass
        for actor in actors:
            try:
                if actor._popen is not None:
                    mp.Process.join(actor, 5)
            except (ValueError, AttributeError, OSError, AssertionError):
                pass
        try:
            rt.join()                  # release the main process's port threads
        except Exception:
            pass
        smm = getattr(mi, "_smm", None) if mi is not None else None
        if smm is not None:
            handles = list(getattr(smm, "_shared_memory_handles", []) or [])
            try:
                smm.shutdown()
            except Exception:
                proc = guard.manager_process(rt)
                if proc is not None and proc.is_alive():
                    proc.kill()
                    proc.join(5)
            guard.unlink_segments(handles)     # a manager that died could not remove them
        wd = getattr(rt, "_watchdog_manager", None)
        if wd is not None:
            try:
                wd.stop()
            except Exception:
                pass
    except Exception:
        pass
