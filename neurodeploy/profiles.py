"""Hardware profiles: a target's numerics, bit widths, limits, learning engine and mismatch.

Built-in profiles live in ``hw_profiles/*.yaml`` (installed as ``neurodeploy.hw_profiles``);
users may pass a path to their own file. ``extends: <name or path>`` inherits from another
profile, with mappings merged key by key (at most :data:`MAX_EXTENDS` levels).

Every value is range-checked when the profile loads (``levels: 1``, 64-bit weights, ``.inf``
are refused with the field path); which fixed-point widths the simulators can honour is
checked at compile time (``neurodeploy.compiling``). The field classes are in
:mod:`neurodeploy.profile_spec`; ``docs/profiles.md`` documents each field;
``profile_schema()`` exports the JSON Schema (``neurodeploy schema --profile``).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ProfileError, did_you_mean
from .profile_spec import HardwareProfile, VariabilitySpec
from .yamlio import LoadedYAML, load_yaml

MAX_EXTENDS = 16


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped in ``neurodeploy.hw_profiles``."""
    folder = resources.files("neurodeploy.hw_profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _locate(ref: str, relative_to: Path | None) -> tuple[str, Any]:
    """Resolve a profile reference (built-in name or path) to (display name, file)."""
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if looks_like_path:
        path = Path(ref)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.exists():
            raise ProfileError("profile file not found; check the path or use a built-in "
                               f"profile ({', '.join(builtin_profiles())})", file=path)
        return str(path), path
    names = builtin_profiles()
    if ref not in names:
        base = relative_to or Path(".")
        if (base / ref).is_file():
            return str(base / ref), base / ref
        near = [p for p in (base / f"{ref}.yaml", base / f"{ref}.yml") if p.is_file()]
        hint = (f"; a file {near[0]} exists: pass it as a path, with its extension"
                if near else did_you_mean(ref, names))
        raise ProfileError(f"unknown profile '{ref}'{hint}; built-in profiles: "
                           f"{', '.join(names)}; your own profile is a YAML file passed by "
                           "path (e.g. ./my_chip.yaml)")
    return ref, resources.files("neurodeploy.hw_profiles").joinpath(f"{ref}.yaml")


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parent_error(child: LoadedYAML, exc: ProfileError) -> ProfileError:
    """An error in a parent profile, reported at the child's ``extends`` line."""
    where = dict(file=child.file, path=("extends",), line=child.line_of(("extends",)))
    if exc.file and exc.file != child.file and "circular" not in exc.message:
        return ProfileError(f"cannot load parent profile: {exc}", **where)
    if not exc.file:
        return ProfileError(exc.message, **where)
    return exc


def _load_one(name: str, file: Any, ref: str) -> tuple[LoadedYAML, Path]:
    """One profile file, parsed (no inheritance), and the folder its ``extends`` resolve in."""
    with resources.as_file(file) as real:
        loaded = load_yaml(real, ProfileError, what="profile file")
        loaded.file = str(file) if isinstance(file, Path) else f"{ref} (built-in)"
        base_dir = Path(real).parent
    if not isinstance(loaded.data, dict):
        raise ProfileError("expected a mapping (name: ..., numerics: ...)", file=loaded.file)
    parent = loaded.data.get("extends")
    if parent is not None and not isinstance(parent, str):
        raise ProfileError("must be a profile name or path", file=loaded.file,
                           path=("extends",), line=loaded.line_of(("extends",)))
    return loaded, base_dir


def _raw_profile(ref: str, relative_to: Path | None) -> tuple[dict, LoadedYAML]:
    """Merged data of ``ref`` and its ``extends`` chain (iterative, at most MAX_EXTENDS)."""
    levels: list[LoadedYAML] = []
    chain: tuple[str, ...] = ()
    while True:
        try:
            name, file = _locate(ref, relative_to)
            if name in chain:
                raise ProfileError(f"extends: circular inheritance {' -> '.join(chain + (name,))}; "
                                   "remove one 'extends'", file=chain[-1])
        except ProfileError as exc:
            raise _parent_error(levels[-1], exc) if levels else exc from None
        if len(levels) == MAX_EXTENDS:
            top = levels[0]
            raise ProfileError(f"the extends chain is deeper than {MAX_EXTENDS} profiles "
                               f"({chain[0]} -> {chain[1]} -> ... -> {name}); extend a "
                               "profile closer to the root", file=top.file,
                               path=("extends",), line=top.line_of(("extends",)))
        try:
            loaded, base_dir = _load_one(name, file, ref)
        except ProfileError as exc:
            raise _parent_error(levels[-1], exc) if levels else exc from None
        levels.append(loaded)
        chain += (name,)
        parent = loaded.data.get("extends")
        if parent is None:
            break
        ref, relative_to = parent, base_dir
    data: dict = {}
    for depth, loaded in enumerate(reversed(levels)):
        layer = dict(loaded.data)
        if depth < len(levels) - 1:
            layer.pop("name", None)
            layer.pop("description", None)
        data = _merge(data, layer) if data else layer
        if depth < len(levels) - 1:
            data.pop("name", None)
            data.pop("description", None)
    return data, levels[0]


def load_profile(ref: str | Path) -> HardwareProfile:
    """Load a built-in profile by name, or a user profile by path, resolving ``extends``."""
    data, loaded = _raw_profile(str(ref), None)
    merged = LoadedYAML(data=data, file=loaded.file, lines=loaded.lines,
                        bool_words=loaded.bool_words)
    try:
        profile = HardwareProfile.model_validate(data)
    except ValidationError as exc:
        from .ir.pydantic_errors import pydantic_to_error  # only on errors
        raise pydantic_to_error(exc, merged, HardwareProfile, ProfileError) from None
    profile._file = loaded.file
    profile._lines = loaded.lines
    return profile


def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a hardware profile file."""
    schema = HardwareProfile.model_json_schema()
    # A profile that extends another inherits numerics, so only name is required per file.
    schema["required"] = ["name"]
    schema["properties"]["numerics"]["description"] = ("fixed or float; required unless "
                                                       "inherited through extends")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "neurodeploy hardware profile"
    return schema


def describe_profile(profile: HardwareProfile) -> str:
    """Readable summary for ``neurodeploy profiles show``."""
    c = profile.cores
    lim = lambda v: "unlimited" if v is None else f"{v:,}"  # noqa: E731
    n = profile.neuron
    lines = [f"{profile.name}: {profile.description}".rstrip(": "),
             f"  numerics         {profile.numerics}"]
    if profile.numerics == "fixed":
        lines += [f"  neuron state     {n.state_bits}-bit u/v, {n.decay_bits}-bit decays, "
                  f"{n.threshold_bits}-bit threshold (<<{n.threshold_shift}), "
                  f"{n.activation_bits}-bit input (<<{n.activation_shift})",
                  f"  bias             {n.bias_mant_bits}-bit mantissa, exp {list(n.bias_exp_range)}",
                  f"  weights          {profile.weights.bits}-bit, exp {list(profile.weights.exp_range)}"]
    elif profile.weights.levels:
        lines.append(f"  weights          {profile.weights.levels} analog levels")
    lines += [f"  refractory       {'yes' if n.refractory else 'no'}",
              f"  max delay        {profile.delays.max} steps",
              f"  cores            {lim(c.cores_per_chip)} per chip x {c.max_chips} chip(s)",
              f"  per core         {lim(c.neurons_per_core)} neurons, {lim(c.synapses_per_core)} "
              f"synapses, fan-in {lim(c.fanin_per_core)}, memory {lim(c.memory_per_core_bytes)} B",
              f"  learning         {', '.join(profile.learning.rules) if profile.learning.supported else 'none'}",
              f"  noise sources    {', '.join(profile.noise.sources) or 'none'}",
              "  mismatch         " + ", ".join(
                  f"{k}={v}" for k, v in profile.variability.model_dump().items()
                  if v != VariabilitySpec.model_fields[k].default)]
    return "\n".join(lines)
