"""The ``task`` block: how samples of a data set become spikes and how a class is read out.

A sample's features (scaled to [0, 1] by the data set's training range) drive the
``input`` spike_source population for ``sample_steps`` steps: feature f of neuron i makes it
spike with probability ``f * max_rate`` each step (``encoding: rate``), or regularly every
``1 / (f * max_rate)`` steps (``encoding: regular``, deterministic). The predicted class is
the ``output`` neuron with the most spikes in the sample window (ties: the lowest index).
Neuron state is reset between samples, as a host does between presentations on a chip.
Sequence data (``neurodeploy.task.sequences``) present element after element for
``item_steps`` steps each, then ``readout_steps`` silent steps for the label.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag

from .fields import Name, Node
from .sampling import SamplingTask

StepCount = Annotated[int, Field(ge=1, le=10_000, strict=True)]


class Task(Node):
    """A classification task on a data set (``neurodeploy train`` / ``evaluate``)."""

    input: Name = Field(description="spike_source population fed with the encoded features")
    output: Name = Field(description="population whose spike counts give the class")
    encoding: Literal["rate", "regular"] = Field("rate", description="rate: Bernoulli spikes "
                                                 "(seeded); regular: deterministic spike times")
    max_rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        0.5, description="spike probability per step of a feature at its maximum")
    sample_steps: StepCount = Field(20, description="steps each sample is presented")
    item_steps: StepCount | None = Field(None, description="sequence data: steps each element "
                                         "of a sequence is presented (sample_steps = elements x "
                                         "item_steps + readout_steps)")
    readout_steps: Annotated[int, Field(ge=0, le=10_000, strict=True)] = Field(
        0, description="sequence data: silent steps after the sequence, in which the label is "
        "shown and the class is read")


def _task_tag(value: object) -> str:
    """The task union's member: sampling when ``kind`` says so, else classification."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "sampling" if kind == "sampling" else "classification"


#: a classification task (no ``kind``), or ``kind: sampling``
TaskSpec = Annotated[Union[Annotated[Task, Tag("classification")],
                           Annotated[SamplingTask, Tag("sampling")]], Discriminator(_task_tag)]
