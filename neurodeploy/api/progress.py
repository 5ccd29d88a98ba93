"""Progress reports that suit where the code runs: a terminal, a notebook, or neither."""
from __future__ import annotations

import sys
from typing import Callable


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell else None
    ip = get() if get else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def enabled(progress: bool | None) -> bool:
    """``progress`` when given; by default on in a terminal or a notebook, off otherwise
    (scripts, CI logs, pipes)."""
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) or in_notebook()


def reporter(progress: bool | None) -> Callable[[str], None]:
    """A callback printing one progress line to stderr, or doing nothing when disabled."""
    if not enabled(progress):
        return lambda line: None
    return lambda line: print(line, file=sys.stderr, flush=True)
