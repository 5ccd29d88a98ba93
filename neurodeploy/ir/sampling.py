"""The ``task`` block of kind ``sampling``: a network of stochastic neurons learns to sample a
target Boltzmann distribution (Gierlich et al. 2025, Figs 4/5; Buesing et al. 2011).

No data set: the target ``p*(z) ~ exp(z^T W* z / 2 + b*^T z)`` over the states z of
``population`` is given (``target.weights``, ``target.bias``) or drawn from ``target.seed``
(the authors' draw: ``W* = 2 Beta(alpha, beta) - 1`` symmetric with zero diagonal, then
``b* = 2 Beta(alpha, beta) - 1``). Each of ``iterations`` free-running (sleep) phases lasts
``steps`` steps; the wake phase is the target's own statistics (``wake: target``, the
authors' scheme). Every ``validate_every`` iterations the sleep phase runs
``validation_factor`` times longer and its sampled distribution gives D_KL and asymmetry.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .fields import Finite, Name, Node, PositiveFinite

Count = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


class SamplingTarget(Node):
    """The target Boltzmann distribution: given (``weights`` and ``bias``) or drawn (``seed``)."""

    seed: Annotated[int, Field(ge=0, strict=True)] | None = Field(
        None, description="draw W* and b* from this seed (the authors' draw)")
    alpha: PositiveFinite = Field(1.0, description="alpha of the Beta distribution of the draw")
    beta: PositiveFinite = Field(1.0, description="beta of the Beta distribution of the draw")
    weights: list[list[Finite]] | None = Field(
        None, description="W*, symmetric [size, size] (instead of seed)")
    bias: list[Finite] | None = Field(None, description="b*, [size] (instead of seed)")

    @model_validator(mode="after")
    def _one_source(self) -> "SamplingTarget":
        given = (self.weights is not None, self.bias is not None)
        if self.seed is None and given != (True, True):
            raise ValueError("give either seed (drawn target) or both weights and bias")
        if self.seed is not None and any(given):
            raise ValueError("give either seed or weights and bias, not both")
        return self


class SamplingTask(Node):
    """Learn to sample a target distribution (``neurodeploy train``; see docs/sampling.md)."""

    kind: Literal["sampling"]
    population: Name = Field(description="stochastic population whose states are sampled")
    projection: Name = Field(description="its recurrent projection (pre = post = population)")
    target: SamplingTarget
    wake: Literal["target"] = Field(
        "target", description="the wake phase: the target's own coactivations and marginals "
        "(the authors' scheme) stand for the clamped network's statistics")
    psp: Literal["rectangular", "exponential"] = Field(
        "rectangular", description="postsynaptic potential: 1 for tau_syn steps after a spike "
        "(the authors'), or the stochastic kind's exponential current")
    iterations: Count = Field(2000, description="sleep phases, each followed by one update")
    steps: Count = Field(5000, description="steps of each sleep phase")
    validate_every: Count = Field(100, description="iterations between validation points")
    validation_factor: Annotated[int, Field(ge=1, le=10_000, strict=True)] = Field(
        20, description="a validation sleep phase runs this many times longer")
    sim_seed: Annotated[int, Field(ge=0, strict=True)] = Field(
        0, description="seed of the neurons' random draws")
