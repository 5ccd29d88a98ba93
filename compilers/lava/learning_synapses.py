"""Lava learning synapses that write their weights into a memory-mapped file ([rows, post,
pre], float64) after the learning phase of chosen steps, so the learner reads weights
without a runtime round trip.

``RecLearningDense``
    Lava's ``LearningDense`` (float model, or the fixed-point bit-approximate one).
``RecLearningSparse``
    Lava's ``LearningSparse`` (float model): a plastic projection with explicit
    connectivity (one-to-one, sparse), whose absent synapses never learn. Lava's sparse
    engine drops synapses whose weight is exactly 0, so the learner refuses those.
"""
from __future__ import annotations

import typing as ty

import numpy as np

from neurodeploy import _lava_compat

_lava_compat.install()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.proc.dense.models import (PyLearningDenseModelBitApproximate,  # noqa: E402
                                    PyLearningDenseModelFloat)
from lava.proc.dense.process import LearningDense  # noqa: E402
from lava.proc.sparse.models import PyLearningSparseModelFloat  # noqa: E402
from lava.proc.sparse.process import LearningSparse  # noqa: E402


class RecLearningDense(LearningDense):
    """``LearningDense`` that writes its weights to ``weights_file`` after the learning
    phase of every step in ``record_steps`` (1-based Lava time steps)."""

    def __init__(self, *, weights_file: str = "", record_steps: ty.Sequence[int] = (),
                 **kwargs: ty.Any) -> None:
        super().__init__(weights_file=weights_file,
                         record_steps=tuple(int(s) for s in record_steps), **kwargs)


class _WeightRecorder:
    _wrec: ty.Optional[np.memmap] = None

    def _record_weights(self) -> None:
        steps = self.proc_params["record_steps"]
        if not steps or self.time_step not in self._row_of():
            return
        if self._wrec is None:
            self._wrec = np.memmap(self.proc_params["weights_file"], dtype=np.float64,
                                   mode="r+", shape=(len(steps),) + self.weights.shape)
        w = self.weights
        self._wrec[self._rows[self.time_step]] = w.toarray() if hasattr(w, "toarray") else w

    def _row_of(self) -> dict[int, int]:
        if not hasattr(self, "_rows"):
            self._rows = {s: i for i, s in enumerate(self.proc_params["record_steps"])}
        return self._rows

    def run_lrn(self) -> None:
        super().run_lrn()
        self._record_weights()


@implements(proc=RecLearningDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRecLearningDenseModelFloat(_WeightRecorder, PyLearningDenseModelFloat):
    """Lava's float ``LearningDense`` model plus the weight recorder."""

    implements_process = None


@implements(proc=RecLearningDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_approximate_loihi", "fixed_pt")
class PyRecLearningDenseModelBitApprox(_WeightRecorder, PyLearningDenseModelBitApproximate):
    """Lava's bit-approximate ``LearningDense`` model plus the weight recorder, without the
    weight truncation Lava applies before the first step of a run: the weights it gets are
    the build's (already on the ``num_weight_bits`` grid) or learned in an earlier run,
    whose low bits a chip keeps (Lava would drop them at every new presentation)."""

    implements_process = None

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.weights_set = True


class RecLearningSparse(LearningSparse):
    """``LearningSparse`` with the weight recorder of :class:`RecLearningDense`."""

    def __init__(self, *, weights_file: str = "", record_steps: ty.Sequence[int] = (),
                 **kwargs: ty.Any) -> None:
        super().__init__(weights_file=weights_file,
                         record_steps=tuple(int(s) for s in record_steps), **kwargs)


@implements(proc=RecLearningSparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRecLearningSparseModelFloat(_WeightRecorder, PyLearningSparseModelFloat):
    """Lava's float ``LearningSparse`` model plus the weight recorder."""

    implements_process = None
