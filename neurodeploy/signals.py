"""SIGTERM and SIGHUP handled like Ctrl-C: unwind, clean up, exit ``128 + signal``.

Python turns SIGINT into ``KeyboardInterrupt``, so every ``finally``/``except BaseException``
on the way out (Lava runtime teardown, temporary build and run directories) runs. SIGTERM
(``kill``, systemd, batch schedulers, ``timeout``) and SIGHUP (closed terminal or SSH
session) would kill the interpreter on the spot instead. :func:`handle_termination` makes
them raise :class:`Terminated`, a ``KeyboardInterrupt``, so the same clean-up runs; the CLI
then exits 143 (SIGTERM) or 129 (SIGHUP), the shell's convention for "killed by signal N".

SIGINT goes through the same handler (still raising a plain ``KeyboardInterrupt``, exit
130), so Ctrl-C gets the same protections. Forked children (Lava's workers) inherit the
handler; there it restores the default action and re-sends the signal, so a child dies of
it without a traceback of its own. Repeated
signals during clean-up are ignored, and :func:`deferred` holds a signal back until a short
critical section (a directory swap) is complete. An exception Python drops (a handler that
ran inside an at-fork hook) is raised again by :func:`raise_pending` in polling loops, and
the CLI still exits with the signal's code when a command finishes after one.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"received {self.name}")

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process killed by that signal."""
        return 128 + self.signum


def _interrupt(signum: int) -> KeyboardInterrupt:
    """What a signal raises: Ctrl-C stays a plain KeyboardInterrupt."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


class _State:
    """Process-wide state of the installed handler."""

    main_pid: int | None = None
    received: int | None = None
    pending: int | None = None
    defer_depth: int = 0
    raised: bool = False


def _handler(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _State.main_pid:
        signal.signal(signum, signal.SIG_DFL)   # a forked worker: die of it as usual
        os.kill(os.getpid(), signum)
        return
    if _State.received is not None:
        return                                    # already unwinding: let clean-up finish
    _State.received = signum
    if _State.defer_depth:
        _State.pending = signum
        return
    _State.raised = True
    raise _interrupt(signum)


def _fork_before() -> None:
    if _State.main_pid == os.getpid():
        _State.defer_depth += 1


def _fork_after_in_parent() -> None:
    """Leave the fork section; a signal that came in stays pending for
    :func:`raise_pending`, since an exception raised inside a fork hook would be dropped."""
    if _State.main_pid == os.getpid() and _State.defer_depth:
        _State.defer_depth -= 1


_FORK_HOOKS: list[bool] = []


def _register_fork_hooks() -> None:
    """Registered last, so these run before all other before-fork hooks and after all
    other after-fork hooks: the whole fork is a deferred section."""
    if not _FORK_HOOKS:
        os.register_at_fork(before=_fork_before, after_in_parent=_fork_after_in_parent)
        _FORK_HOOKS.append(True)


@contextmanager
def handle_termination() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Terminated` (SIGINT a
    ``KeyboardInterrupt``) in the main thread, at most once; re-entrant (an inner block,
    e.g. a Lava run inside the CLI, keeps the outer one's state)."""
    if threading.current_thread() is not threading.main_thread() or \
            _State.main_pid == os.getpid():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _State.main_pid, _State.received, _State.pending, _State.defer_depth = \
        os.getpid(), None, None, 0
    _State.raised = False
    _register_fork_hooks()
    for s in SIGNALS:
        signal.signal(s, _handler)
    completed = False
    try:
        yield
        completed = True
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        signum, raised = _State.received, _State.raised
        _State.main_pid, _State.received, _State.pending, _State.defer_depth = None, None, None, 0
        if completed and signum is not None and not raised:
            raise _interrupt(signum)     # deferred inside a fork and never raised since


def raise_pending() -> None:
    """Raise :class:`Terminated` if a signal was received but its exception was lost.

    Python prints and drops an exception raised by a signal handler that happens to run
    inside an at-fork hook, a ``__del__`` or a weakref callback (Lava forks its workers, so
    a SIGTERM during start-up can land there). Polling loops call this so such a signal
    still stops the run.
    """
    if _State.received is not None and _State.main_pid == os.getpid():
        _State.raised = True
        raise _interrupt(_State.received)


def received() -> int | None:
    """The termination signal received so far (None if none)."""
    return _State.received


@contextmanager
def deferred() -> Iterator[None]:
    """A critical section: a termination signal arriving inside is raised when it ends."""
    _State.defer_depth += 1
    try:
        yield
    finally:
        _State.defer_depth -= 1
        if _State.defer_depth == 0 and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            _State.raised = True
            raise _interrupt(signum)
