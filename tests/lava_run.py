"""Run a hand-built Lava network in a test: fixed-point simulation, a timeout, and the
runtime always stopped (killed when it did not stop cleanly)."""
from __future__ import annotations

import time
from typing import Any

from neurodeploy.compilers.lava.backend import LavaBackend, _kill_runtime


def run_fixed(L: dict, proc: Any, steps: int, timeout: float) -> None:
    """Compile ``proc``'s network for ``Loihi2SimCfg(fixed_pt)`` and run ``steps`` steps."""
    exe = proc.compile(L["Loihi2SimCfg"](select_tag="fixed_pt"))
    rt = L["Runtime"](exe, L["ActorType"].MultiProcessing)
    exe.assign_runtime_to_all_processes(rt)
    clean = False
    try:
        rt.initialize()
        rt.start(L["RunSteps"](num_steps=steps, blocking=False))
        LavaBackend._await(L, rt, time.monotonic() + timeout, timeout, "test run")
        LavaBackend._stop(L, rt, time.monotonic() + 20)
        clean = True
    finally:
        if not clean:
            _kill_runtime(rt)
