"""The network IR: typed models, YAML loading with field-path errors, JSON Schema export."""
from .load import describe, load_network, parse_network, weight_arrays
from .models import IR_CLASSES, IR_VERSION, Network
from .schema import network_schema

__all__ = ["Network", "IR_VERSION", "IR_CLASSES", "load_network", "parse_network",
           "describe", "weight_arrays", "network_schema"]
