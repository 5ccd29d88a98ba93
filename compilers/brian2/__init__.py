"""The brian2 backend."""
