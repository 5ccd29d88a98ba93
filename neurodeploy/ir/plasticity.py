"""Typed plasticity blocks: one class per learning rule, so a misspelt or out-of-range
parameter is an error with its field path, never silently ignored.

Every rule trains ``projections`` (listed from the input side to the output side). The
feedback-alignment family compares the spikes of ``error_from`` (default: the post
population of the last projection) with label spikes at ``target_rate`` and sends the error
back through feedback projections that the compiler adds to the network (see
:mod:`neurodeploy.learning.expand`).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from .fields import Finite, Name, Node, PositiveFinite, WeightInit, check_init_spec

Rate = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Steps = Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]
OpenRate = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
Decay = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
Tau = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
PhaseSteps = Annotated[int, Field(ge=1, le=100_000, strict=True)]


class _RuleBase(Node):
    """Fields every rule has."""

    projections: list[Name] = Field(min_length=1, description="trained projections, input side first")
    learning_rate: PositiveFinite = Field(0.01, le=10, description="eta of dw = eta * ...")


class _ErrorDriven(_RuleBase):
    """Fields of the rules driven by an output error (the feedback-alignment family)."""

    error_from: Name | None = Field(None, description="population compared with the labels "
                                    "(default: post of the last projection)")
    target_rate: Rate = Field(0.5, description="spikes per step of the labelled class's "
                              "error_from neuron that training asks for")
    trace_tau: Steps | None = Field(None, description="presynaptic trace x1 time constant "
                                    "(steps); 0 = no decay; default: the learning epoch")
    lr_decay: Rate = Field(
        1.0, description="learning-rate multiplier per training epoch (the host rewrites the "
        "rule's coefficients between epochs)")
    learning_epoch: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None = Field(
        None, description="steps between weight updates; the third factor is summed over "
        "them (default: task.sample_steps, 1 without a task; Kolen-Pollack and weight mirror "
        "use 1)")
    gate: bool = Field(True, description="hidden neurons take the error only while they are "
                       "active (a local surrogate derivative)")
    gate_window: Annotated[int, Field(ge=1, le=1000, strict=True)] = Field(
        8, description="steps after its last spike during which a hidden neuron is active")
    feedback: WeightInit | None = Field(None, description="initial feedback weights (default "
                                        "normal, std 1/sqrt(size of the error population))")

    @field_validator("feedback", mode="before")
    @classmethod
    def _feedback_init(cls, value: Any) -> Any:
        return check_init_spec(value, allow_file=False)


class FeedbackAlignment(_ErrorDriven):
    """Lillicrap et al. 2016: the error reaches each hidden layer through fixed random B,
    layer by layer, instead of through W transposed."""

    rule: Literal["feedback_alignment"]


class DirectFeedbackAlignment(_ErrorDriven):
    """Nøkland 2016: every hidden layer receives the output error through its own fixed
    random matrix straight from the error population."""

    rule: Literal["direct_feedback_alignment", "dfa"]


class KolenPollack(_ErrorDriven):
    """Akrout et al. 2019: B learns with the transpose of W's update, and both decay by
    ``decay`` per update, so W - B^T shrinks by (1 - decay) each update."""

    rule: Literal["kolen_pollack"]
    decay: Decay = Field(1e-4, description="weight decay lambda per update, identical on W and B")


class WeightMirror(_ErrorDriven):
    """Akrout et al. 2019: B learns from noise-driven mirror phases, dB = eta_m y x^T
    - decay B with both sides centred (every step of a phase), while W learns through B."""

    rule: Literal["weight_mirror"]
    decay: Decay = 1e-4
    mirror_rate: PositiveFinite = Field(0.01, le=10, description="eta of the mirror update")
    mirror_steps: PhaseSteps = Field(
        200, description="noise-driven mirror steps after each training epoch")
    mirror_rate_hz: Rate = Field(
        0.2, description="spike probability per step of the mirror noise")
    mirror_drive: Weight = Field(
        0.3, description="initial weight of the drive that keeps output neurons at a "
        "baseline rate in mirror phases (spikes every other step; adapted by a homeostat)")
    mirror_target_rate: OpenRate = Field(
        0.2, description="spikes per step the drive homeostat holds each output neuron at "
        "in mirror phases")
    mirror_tau: Tau = Field(
        4.0, description="time constant (steps) of the hidden trace the mirror update "
        "pairs with the output's spikes")


class LowRankFA(_ErrorDriven):
    """Hanut & Kadmon: feedback through a rank-``rank`` bottleneck, B = U V, fixed random."""

    rule: Literal["low_rank_fa"]
    rank: Annotated[int, Field(ge=1, strict=True)] = Field(description="rank r of B, 1 <= r <= "
                                                           "the smaller of the two layers")


class SpikeAlignment(_ErrorDriven):
    """Gierlich et al. 2025 (SAL): B learns in alignment phases from spike timing alone.
    Noise spikes keep the hidden layer firing irregularly, W carries its spikes to the
    outputs, and the feedback reaches the hidden soma (``coupling``); B then learns by
    pair STDP with both signs flipped, ``dB = -eta_s x1 y0 + eta_s y1 x0``: the
    anti-causal pairs W causes potentiate B, the causal pairs B itself causes depress it,
    so B settles where its effect on the hidden layer matches W's on the outputs."""

    rule: Literal["sal"]
    sal_rate: PositiveFinite = Field(0.0005, le=10, description="eta_s of the SAL update")
    sal_tau: Tau = Field(
        4.0, description="STDP window (steps) of both traces")
    decay: Decay = Field(
        0.0, description="B's decay per alignment step (SAL needs none; it bounds B when "
        "coupling is 0)")
    coupling: Weight = Field(
        1.0, description="gain of the feedback onto the hidden soma in alignment phases (0: "
        "B never acts on the hidden spikes, and only decay bounds it)")
    align_steps: PhaseSteps = Field(
        10000, description="noise-driven alignment steps after each training epoch")
    align_rate_hz: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.1, description="spike probability per step of the hidden layer's noise (0: none, "
        "stochastic hidden neurons fire by their own noise)")
    align_noise_weight: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = Field(
        0.6, description="weight of a noise spike onto a hidden neuron, in units of its "
        "threshold (below 1: the membrane fluctuates and B's input changes its firing)")
    align_drive: Weight = Field(
        0.3, description="initial weight of the drive that holds the outputs at a baseline "
        "rate in alignment phases (adapted by a homeostat)")
    align_target_rate: OpenRate = Field(
        0.2, description="spikes per step the drive homeostat holds each output at")


class LocalRepresentationAlignment(_ErrorDriven):
    """Manchev & Garcia-Peraza-Herrera (LRA-RNN): one recurrent layer whose target each step
    is its activity moved by ``beta`` B e (B fixed random, e the output error); input,
    recurrent and read-out projections learn locally from their pre trace, the post
    neuron's activity (gate) and its local error (target - activity = beta B e), no
    backpropagation through time. See docs/lra.md."""

    rule: Literal["lra"]
    beta: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = Field(
        1.0, description="target step: the recurrent layer's target is its activity plus "
        "beta B e (scales the default feedback's std, beta / sqrt(outputs))")
    decay: Decay = Field(0.0, description="weight decay per update on every trained "
                         "projection (dw = ... - decay w)")
    recurrent_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = Field(
        0.01, description="learning rate of the recurrent projections (h -> h) as a multiple "
        "of learning_rate: their pre trace is the whole layer's activity, so their update "
        "is ~size times an input synapse's")
    readout_trace_tau: Steps | None = Field(
        None, description="pre trace time constant (steps) of the read-out projection h -> out "
        "(default: trace_tau): short, so it credits the hidden activity of the read-out window "
        "where the error arrives, while the input and recurrent traces carry the sequence")


class STDP(_RuleBase):
    """Pair-based STDP: dw = a_plus * x1 * y0 - a_minus * y1 * x0 (every step).

    The amplitudes are signed: a_plus < 0 depresses on pre-before-post pairs, a_minus < 0
    potentiates on post-before-pre pairs (SAL on a recurrent projection is a_plus = a_minus
    = -1; symmetric Hebbian coincidence learning a_plus = 1, a_minus = -1). ``phase``,
    ``window: triangular``, ``pairing: nearest`` and ``amplitude_cv`` are run by the
    sampling task's simulator (docs/sampling.md) and refused elsewhere."""

    rule: Literal["stdp"]
    a_plus: Finite = Field(1.0, description="weight change per pre-before-post pair (signed)")
    a_minus: Finite = Field(1.0, description="weight change per post-before-pre pair is "
                            "-a_minus (signed: negative potentiates)")
    tau_plus: Steps = Field(10.0, description="presynaptic trace time constant (steps)")
    tau_minus: Steps = Field(10.0, description="postsynaptic trace time constant (steps)")
    w_min: Finite | None = Field(None, description="lower weight bound (float builds)")
    w_max: Finite | None = Field(None, description="upper weight bound (float builds)")
    phase: Literal["wake", "sleep"] | None = Field(
        None, description="sampling tasks: the phase the rule learns in (default: always)")
    window: Literal["exponential", "triangular"] = Field(
        "exponential", description="pair window: exp(-dt/tau), or max(0, 1 - dt/tau) (the "
        "authors' sampling kernel)")
    pairing: Literal["all", "nearest"] = Field(
        "all", description="all pairs, or each spike with the other neuron's latest spike")
    amplitude_cv: Annotated[float, Field(ge=0, le=0.5, allow_inf_nan=False)] = Field(
        0.0, description="per-synapse amplitude noise: each synapse's amplitudes are scaled by "
        "1 + cv n, n a normal truncated at +-1.5, drawn once from the network seed")

    @model_validator(mode="after")
    def _bounds(self) -> "STDP":
        if self.w_min is not None and self.w_max is not None and self.w_max < self.w_min:
            raise ValueError(f"w_max ({self.w_max}) must be >= w_min ({self.w_min})")
        return self

    def engine_only(self) -> bool:
        """True when the learning engine can run the block (no sampling-task option set)."""
        return (self.phase is None and self.window == "exponential" and self.pairing == "all"
                and self.amplitude_cv == 0)


class BiasLearning(Node):
    """Bias plasticity of a sampling task: each neuron's bias changes by ``learning_rate *
    amplitude * r`` per iteration, r its time active (spikes x tau_ref / steps) in ``phase``
    (the target's marginal in a ``wake: target`` phase)."""

    rule: Literal["bias"]
    populations: list[Name] = Field(min_length=1, description="populations whose biases learn")
    learning_rate: PositiveFinite = Field(0.001, le=10, description="eta of db = eta * ...")
    amplitude: Finite = Field(1.0, description="signed: +1 in wake, -1 in sleep")
    phase: Literal["wake", "sleep"] = Field(description="the phase the rule learns in")
    b_min: Finite | None = Field(None, description="lower bias bound")
    b_max: Finite | None = Field(None, description="upper bias bound")


RULE_CLASSES: dict[str, type[_RuleBase]] = {
    "feedback_alignment": FeedbackAlignment, "direct_feedback_alignment": DirectFeedbackAlignment,
    "dfa": DirectFeedbackAlignment, "kolen_pollack": KolenPollack, "weight_mirror": WeightMirror,
    "low_rank_fa": LowRankFA, "sal": SpikeAlignment, "stdp": STDP,
    "lra": LocalRepresentationAlignment, "bias": BiasLearning,
}

Plasticity = Annotated[Union[FeedbackAlignment, DirectFeedbackAlignment, KolenPollack,
                             WeightMirror, LowRankFA, SpikeAlignment, STDP,
                             LocalRepresentationAlignment, BiasLearning],
                       Field(discriminator="rule")]

PLASTICITY_CLASSES = (FeedbackAlignment, DirectFeedbackAlignment, KolenPollack, WeightMirror,
                      LowRankFA, SpikeAlignment, STDP, LocalRepresentationAlignment, BiasLearning)
