"""What a plasticity block adds to a network (populations, projections, engine rules and
the roles the learning session reads), shared by every rule family's expansion."""
from __future__ import annotations

from dataclasses import dataclass, field

from .engine_rule import EngineRule


@dataclass
class Expansion:
    """What a plasticity block adds to a network, and how its projections learn."""

    populations: dict = field(default_factory=dict)
    projections: dict = field(default_factory=dict)
    rules: dict[str, EngineRule] = field(default_factory=dict)
    label: str | None = None
    output: str | None = None
    hidden: list[str] = field(default_factory=list)
    gated: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    noise: str | None = None
    drive: str | None = None
    align: dict | None = None
