"""Shared fixtures: paths and a helper to write small networks."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def write_yaml(tmp_path: Path):
    """Write YAML text to a file in tmp_path and return its path."""
    def _write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


def two_layer(n_in: int = 20, n_out: int = 10, extra: str = "", conn: str = "dense",
              weights: str = "{init: normal, std: 0.3}", params: str = "{}") -> str:
    """YAML of a spike_source -> lif network used by several tests."""
    return f"""
neurodeploy: 1
name: two-layer
seed: 3
populations:
  inp: {{kind: spike_source, size: {n_in}}}
  out: {{kind: lif, size: {n_out}, params: {params}}}
projections:
  p: {{pre: inp, post: out, connectivity: {conn}, weights: {weights}}}
monitors: [{{population: out, var: spikes}}]
{extra}
"""
