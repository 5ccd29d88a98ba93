"""Hardware profiles as objects: load a built-in or a file, override fields, compile to it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ProfileError


def _nested(key: str, value: Any) -> dict:
    """``"cores.max_chips", 2`` -> ``{"cores": {"max_chips": 2}}``."""
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


class Profile:
    """A compile target (``loihi2``, ``loihi1``, ``mixed_signal``, ``memristive``, ``cpu``
    or a profile YAML). Units as in the profile files: bits, steps, neurons, bytes."""

    def __init__(self, hardware: Any) -> None:
        """Wrap a validated :class:`neurodeploy.profiles.HardwareProfile`."""
        self._hw = hardware

    @classmethod
    def load(cls, ref: str | Path) -> "Profile":
        """A built-in profile by name or a profile YAML by path (``extends`` resolved)."""
        from ..profiles import load_profile
        return cls(load_profile(ref))

    @staticmethod
    def builtin() -> list[str]:
        """Names of the built-in profiles."""
        from ..profiles import builtin_profiles
        return builtin_profiles()

    @staticmethod
    def schema() -> dict:
        """The JSON Schema of a profile file (what ``neurodeploy schema --profile`` prints)."""
        from ..profiles import profile_schema
        return profile_schema()

    def override(self, fields: dict[str, Any] | None = None, **nested: Any) -> "Profile":
        """A copy with fields replaced: dotted paths (``{"cores.max_chips": 2}``) or nested
        mappings (``cores={"max_chips": 2}``), validated like a profile file."""
        from pydantic import ValidationError

        from ..ir.pydantic_errors import pydantic_to_error
        from ..profiles import HardwareProfile, _merge
        from ..yamlio import LoadedYAML
        data = self._hw.model_dump(mode="json")
        for key, value in {**(fields or {}), **nested}.items():
            data = _merge(data, _nested(key, value))
        source = f"{self.name} (overridden)"
        try:
            hw = HardwareProfile.model_validate(data)
        except ValidationError as exc:
            raise pydantic_to_error(exc, LoadedYAML(data=data, file=source), HardwareProfile,
                                    ProfileError) from None
        hw._file = source
        return Profile(hw)

    @property
    def hardware(self) -> Any:
        """The typed profile (a pydantic model)."""
        return self._hw

    @property
    def name(self) -> str:
        """The profile's name."""
        return self._hw.name

    @property
    def numerics(self) -> str:
        """``fixed`` (integer, Lava's fixed point) or ``float``."""
        return self._hw.numerics

    @property
    def description(self) -> str:
        """The profile's one-line description."""
        return self._hw.description

    def to_dict(self) -> dict:
        """Every field (what ``neurodeploy profiles show NAME --json`` prints)."""
        return self._hw.model_dump(mode="json")

    def describe(self) -> str:
        """The summary ``neurodeploy profiles show NAME`` prints."""
        from ..profiles import describe_profile
        return describe_profile(self._hw)

    def __repr__(self) -> str:
        return f"<Profile '{self.name}' ({self.numerics})>"


def as_profile(profile: "Profile | str | Path") -> Profile:
    """A :class:`Profile` from a Profile, a built-in name or a path."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, (str, Path)):
        return Profile.load(profile)
    raise ProfileError(f"expected a neurodeploy.Profile, a profile name or a path, got "
                       f"{type(profile).__name__}")


def hardware_or_name(profile: "Profile | str | Path") -> Any:
    """The typed profile of a :class:`Profile`, or a name/path left unread (the callee loads
    it as the command line does)."""
    return profile if isinstance(profile, (str, Path)) else as_profile(profile).hardware
