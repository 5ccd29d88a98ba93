"""Lava's classes, imported on first use (importing the backend module must stay cheap)."""
from __future__ import annotations

import typing as ty

from neurodeploy import _lava_compat

_lava_compat.install()


def lava() -> dict[str, ty.Any]:
    """The Lava classes the backend and the learner use, by name (imports Lava lazily)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.magma.runtime.runtime import Runtime
    from lava.magma.core.process.message_interface_enum import ActorType
    from lava.magma.runtime.mgmt_token_enums import MGMT_COMMAND, MGMT_RESPONSE, enum_equal
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF, LIFRefractory
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from . import processes
    return dict(RunSteps=RunSteps, Loihi2SimCfg=Loihi2SimCfg, Runtime=Runtime,
                ActorType=ActorType, MGMT_COMMAND=MGMT_COMMAND, MGMT_RESPONSE=MGMT_RESPONSE,
                enum_equal=enum_equal, DelayDense=DelayDense, Dense=Dense, RingBuffer=RingBuffer,
                LIF=LIF, LIFRefractory=LIFRefractory, Monitor=Monitor, Sparse=Sparse,
                SignMode=SignMode, processes=processes)
