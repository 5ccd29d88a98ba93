"""Typed IR v1: one small class per network element, each with its meaning in the docstring.

The float model every element describes (one time step of length ``dt``)::

    u[t] = u[t-1] * (1 - dt/tau_syn) + sum_j w_ij * s_j[t-1-delay_ij]   # synaptic current
    v[t] = v[t-1] * (1 - dt/tau_mem) + u[t] + bias                       # membrane voltage
    s[t] = v[t] > v_th ;  v[t] = 0 where s[t]                             # spike and reset

This is exactly Lava's LIF/Dense discrete-time update, so a compiled artifact means the same
thing on every backend.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (Field, PrivateAttr, create_model, field_validator, model_validator)

from ..errors import did_you_mean
from ..noise_models import MODELS as NOISE_MODELS
from .fields import (ConstantInit, FileWeights, Name, NonNegativeFinite, NonNegativeInt,
                     Node, NormalInit, PerNeuron, PerNeuronNonNegative, PositiveFinite,
                     PositiveInt, Probability, UniformInit, WeightSpec,
                     _check_low_high, check_init_spec)
from .plasticity import PLASTICITY_CLASSES, Plasticity
from .sampling import SamplingTarget, SamplingTask
from .task import Task, TaskSpec

IR_VERSION = 1
MAX_POPULATION_SIZE = 10_000_000


LEARNING_RULES = ("feedback_alignment", "direct_feedback_alignment", "dfa", "kolen_pollack",
                  "weight_mirror",
                  "low_rank_fa", "sal", "stdp", "lra")
MONITOR_VARS = {"lif": ("spikes", "v", "u"), "stochastic": ("spikes", "v", "u"),
                "spike_source": ("spikes",),
                "poisson": ("spikes",), "graded": ("spikes",)}


# --------------------------------------------------------------------------- populations
class LIFParams(Node):
    """LIF constants in float units: time constants in ms, voltages relative to ``v_th``."""

    tau_syn: PositiveFinite = Field(5.0, description="synaptic current time constant (ms)")
    tau_mem: PositiveFinite = Field(20.0, description="membrane time constant (ms)")
    v_th: Union[PositiveFinite, list[PositiveFinite]] = Field(
        1.0, description="spike threshold; scalar or one value per neuron")
    bias: PerNeuron = Field(0.0, description="constant input added to v every step")
    refractory: NonNegativeInt = Field(0, description="steps a neuron stays silent after a spike")


class LIFPopulation(Node):
    """Leaky integrate-and-fire neurons with current-based synapses (see module docstring)."""

    kind: Literal["lif"]
    size: PositiveInt = Field(le=MAX_POPULATION_SIZE)
    params: LIFParams = Field(default_factory=LIFParams)


class StochasticParams(LIFParams):
    """The LIF constants plus the width of the escape noise."""

    beta: PositiveFinite = Field(0.1, description=(
        "escape-noise width in units of v: the spike probability rises from 27 % to 73 % "
        "over vth ± beta"))


class StochasticPopulation(Node):
    """LIF neurons with escape noise (float profiles only): the float LIF's u and v, but a
    neuron spikes when a uniform draw r < 1 / (1 + exp(-(v - v_th) / beta)) (docs/neurons.md)."""

    kind: Literal["stochastic"]
    size: PositiveInt = Field(le=MAX_POPULATION_SIZE)
    params: StochasticParams = Field(default_factory=StochasticParams)


class SpikeSourcePopulation(Node):
    """Spikes supplied at run time (an ``.npz`` with ``<name>.spikes`` of shape [steps, size])."""

    kind: Literal["spike_source"]
    size: PositiveInt = Field(le=MAX_POPULATION_SIZE)


class PoissonPopulation(Node):
    """Independent Bernoulli spikes each step with probability ``rate * dt / 1000``."""

    kind: Literal["poisson"]
    size: PositiveInt = Field(le=MAX_POPULATION_SIZE)
    rate: PerNeuronNonNegative = Field(description="firing rate in Hz; scalar or per neuron")


class GradedPopulation(Node):
    """Graded relays (Loihi 2 graded spikes): each step a neuron emits its summed input as
    a graded spike when it is non-zero, and keeps no state. The error and bottleneck
    populations of the feedback-alignment family are graded relays."""

    kind: Literal["graded"]
    size: PositiveInt = Field(le=MAX_POPULATION_SIZE)


Population = Annotated[Union[LIFPopulation, StochasticPopulation, SpikeSourcePopulation,
                             PoissonPopulation, GradedPopulation], Field(discriminator="kind")]


# --------------------------------------------------------------------------- projections
class SparseConnectivity(Node):
    """Each possible synapse exists independently with probability ``sparse``."""

    sparse: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


CONNECTIVITY_NAMES = ("dense", "one_to_one")


class DelayRange(Node):
    """Per-synapse integer delays drawn uniformly from [low, high] (in steps)."""

    low: NonNegativeInt = 0
    high: NonNegativeInt

    _ordered = model_validator(mode="after")(lambda self: _check_low_high(self))


class Projection(Node):
    """Synapses from ``pre`` to ``post``.

    A spike of pre neuron j at step t reaches post neuron i's current ``u`` at step
    ``t + 1 + delay`` with weight ``w_ij``. Without ``weights``, weights are drawn from
    N(0, 1/fan_in).
    """

    pre: Name
    post: Name
    connectivity: Union[Literal["dense", "one_to_one"], SparseConnectivity] = "dense"
    weights: WeightSpec | None = None
    delay: Union[NonNegativeInt, DelayRange] = 0
    port: Literal["current", "third_factor"] = Field(
        "current", description="current: the post neuron's synaptic current; third_factor: "
        "its learning input (error or reward), kept apart from the membrane")

    @field_validator("connectivity", mode="before")
    @classmethod
    def _known_connectivity(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in CONNECTIVITY_NAMES:
            raise ValueError(f"unknown connectivity '{value}'{did_you_mean(value, CONNECTIVITY_NAMES)}"
                             "; use dense, one_to_one or {sparse: p}")
        if not isinstance(value, (str, dict, SparseConnectivity)):
            raise ValueError("connectivity must be dense, one_to_one or {sparse: p}")
        return value

    @field_validator("weights", mode="before")
    @classmethod
    def _known_init(cls, value: Any) -> Any:
        return check_init_spec(value, allow_file=True)


# --------------------------------------------------------------------------- plasticity


# --------------------------------------------------------------------------- noise, variability
_NOISE_CONSTRAINTS = {"nonnegative": NonNegativeFinite, "probability": Probability}


def _noise_class(model: Any) -> type[Node]:
    """The IR class of a registered noise model: its fields and ``populations``."""
    fields: dict[str, Any] = {
        name: (_NOISE_CONSTRAINTS[kind], Field(description=text))
        for name, (kind, text) in model.ir_fields.items()}
    fields["populations"] = (list[Name] | None, None)
    return create_model(model.ir_class, __base__=Node, __doc__=model.doc,
                        __module__=__name__, **fields)


#: one IR class per registered noise model (:mod:`neurodeploy.noise_models`)
NOISE_CLASSES: dict[str, type[Node]] = {n: _noise_class(m) for n, m in NOISE_MODELS.items()}
MembraneNoise = NOISE_CLASSES["membrane"]
CurrentNoise = NOISE_CLASSES["current"]
SpikeDrop = NOISE_CLASSES["spike_drop"]
Noise = create_model("Noise", __base__=Node, __module__=__name__,
                     __doc__="Temporal noise, drawn anew every step.",
                     **{n: (c | None, None) for n, c in NOISE_CLASSES.items()})


class CV(Node):
    """Relative spread: a parameter x becomes x * (1 + cv * N(0, 1)), sampled once per chip."""

    cv: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Sigma(Node):
    """Absolute spread: x becomes x + sigma * N(0, 1), sampled once per chip."""

    sigma: NonNegativeFinite


class Variability(Node):
    """Fixed-pattern mismatch, sampled once per Monte Carlo chip."""

    v_th: CV | None = None
    tau_mem: CV | None = None
    tau_syn: CV | None = None
    bias: Sigma | None = None
    weights: CV | None = None
    gain: CV | None = None
    dead_fraction: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    stuck_fraction: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0


# --------------------------------------------------------------------------- monitors, run
class Monitor(Node):
    """Record ``var`` of ``population`` every step (spikes as 0/1, v and u as state)."""

    population: Name
    var: Literal["spikes", "v", "u"] = "spikes"


class Run(Node):
    """Default run length."""

    steps: PositiveInt = 100


class Network(Node):
    """A whole network: the root of the IR."""

    neurodeploy: Annotated[int, Field(strict=True)] = Field(description=f"IR version; this release reads {IR_VERSION}")
    name: Name
    seed: NonNegativeInt = 0
    dt: PositiveFinite = Field(1.0, description="ms per time step")
    populations: dict[Name, Population] = Field(min_length=1)
    projections: dict[Name, Projection] = Field(default_factory=dict)
    plasticity: dict[Name, Plasticity] = Field(default_factory=dict)
    task: "TaskSpec | None" = Field(None, description="data set encoding and read-out "
                                    "(train/evaluate), or kind: sampling (docs/sampling.md)")
    noise: Noise = Field(default_factory=Noise)
    variability: Variability = Field(default_factory=Variability)
    monitors: list[Monitor] = Field(default_factory=list)
    run: Run = Field(default_factory=Run)

    _base_dir: str = PrivateAttr(default=".")
    _file: str = PrivateAttr(default="<network>")
    _weights_from_files: dict = PrivateAttr(default_factory=dict)
    _lines: dict = PrivateAttr(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """YAML line of the deepest known prefix of a field path (for error messages)."""
        for end in range(len(path), -1, -1):
            if tuple(path[:end]) in self._lines:
                return self._lines[tuple(path[:end])]
        return None

    @field_validator("neurodeploy")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != IR_VERSION:
            raise ValueError(f"unsupported IR version {value}; this neurodeploy reads "
                             f"version {IR_VERSION} (set 'neurodeploy: {IR_VERSION}')")
        return value



Network.model_rebuild()

IR_CLASSES: tuple[type[Node], ...] = (
    LIFParams, LIFPopulation, StochasticParams, StochasticPopulation, SpikeSourcePopulation,
    PoissonPopulation, GradedPopulation,
    ConstantInit,
    NormalInit, UniformInit, FileWeights, SparseConnectivity, DelayRange, Projection,
    *PLASTICITY_CLASSES, Task, SamplingTarget, SamplingTask, *NOISE_CLASSES.values(), Noise, CV,
    Sigma, Variability, Monitor, Run, Network)
