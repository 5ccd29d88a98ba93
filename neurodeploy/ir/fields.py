"""The IR's building blocks shared by every element module (:mod:`.models`,
:mod:`.plasticity`, :mod:`.task`, :mod:`.sampling`): constrained value types, the
:class:`Node` base and the weight initialisers, so those modules import this one and not
each other."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, model_validator

from ..errors import did_you_mean

PositiveInt = Annotated[int, Field(gt=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", max_length=64)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
PerNeuron = Union[Finite, list[Finite]]
PerNeuronNonNegative = Union[NonNegativeFinite, list[NonNegativeFinite]]


def _check_low_high(node: "Node") -> "Node":
    """Shared validator of ranges written as {low, high}."""
    if node.high < node.low:  # type: ignore[attr-defined]
        raise ValueError(f"high ({node.high}) must be >= low ({node.low}); swap them")  # type: ignore[attr-defined]
    return node


class Node(BaseModel):
    """Base of all IR elements: unknown fields are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


# --------------------------------------------------------------------------- weights
class ConstantInit(Node):
    """Every synapse gets ``value``."""

    init: Literal["constant"]
    value: Finite


class NormalInit(Node):
    """Weights drawn from N(mean, std^2) with the network seed."""

    init: Literal["normal"]
    mean: Finite = 0.0
    std: NonNegativeFinite = 0.1


class UniformInit(Node):
    """Weights drawn uniformly from [low, high) with the network seed."""

    init: Literal["uniform"]
    low: Finite
    high: Finite

    _ordered = model_validator(mode="after")(lambda self: _check_low_high(self))


class FileWeights(Node):
    """Weights read from a ``.npy`` or ``.npz`` file (path relative to the YAML file).

    Shape ``[post, pre]`` (Lava's layout) for dense, ``[size]`` for one_to_one; zeros are
    absent synapses. ``key`` picks the array inside an ``.npz`` holding several.
    """

    file: str
    key: str | None = None


def _weights_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "file" if "file" in value and "init" not in value else str(value.get("init"))
    return getattr(value, "init", "file")


WeightInit = Annotated[Union[Annotated[ConstantInit, Tag("constant")],
                             Annotated[NormalInit, Tag("normal")],
                             Annotated[UniformInit, Tag("uniform")]],
                       Discriminator(lambda v: v.get("init") if isinstance(v, dict)
                                     else getattr(v, "init", None))]
WeightSpec = Annotated[Union[Annotated[ConstantInit, Tag("constant")],
                             Annotated[NormalInit, Tag("normal")],
                             Annotated[UniformInit, Tag("uniform")],
                             Annotated[FileWeights, Tag("file")]],
                       Discriminator(_weights_tag)]


def check_init_spec(value: Any, allow_file: bool) -> Any:
    """Readable errors for a weight spec before pydantic picks a union member."""
    inits = ("constant", "normal", "uniform")
    alternative = " or {file: path.npy}" if allow_file else ""
    if value is None or isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping like {{init: normal, std: 0.1}}{alternative}, "
                         f"got {value!r}")
    if "init" in value and value["init"] not in inits:
        raise ValueError(f"unknown weight init '{value['init']}'"
                         f"{did_you_mean(value['init'], inits)}; use one of {', '.join(inits)}"
                         f"{alternative}")
    if "init" not in value:
        if "file" in value and not allow_file:
            raise ValueError("feedback weights are drawn, not read from a file; use "
                             "{init: normal, std: ...}")
        if "file" not in value:
            raise ValueError(f"needs 'init' (constant, normal, uniform){' or file' if allow_file else ''}")
    return value
