"""JSON Schema of the IR, for editor completion and validation outside Python."""
from __future__ import annotations

from typing import Any

from .models import IR_VERSION, Network


def network_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a network YAML file."""
    schema = Network.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"neurodeploy network IR v{IR_VERSION}"
    return schema
