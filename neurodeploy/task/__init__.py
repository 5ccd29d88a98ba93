"""Data sets, spike encoding and class read-out for ``train`` / ``evaluate``."""
from .datasets import Dataset, load_dataset
from .encode import encode_labels, encode_samples

__all__ = ["Dataset", "load_dataset", "encode_samples", "encode_labels"]
