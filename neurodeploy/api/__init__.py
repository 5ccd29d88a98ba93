"""The public Python API's modules; use them through ``import neurodeploy`` (docs/api.md)."""
