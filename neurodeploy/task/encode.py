"""Features -> input spikes and labels -> label spikes, per the IR's ``task`` block."""
from __future__ import annotations

import numpy as np


def _spikes(p: np.ndarray, steps: int, encoding: str, rng: np.random.Generator) -> np.ndarray:
    """[samples, steps, n] uint8 spikes with per-step probability ``p`` [samples, n]."""
    if encoding == "rate":
        return (rng.random((p.shape[0], steps, p.shape[1])) < p[:, None, :]).astype(np.uint8)
    # regular: a spike whenever the accumulated probability crosses an integer
    cum = np.floor(p[:, None, :] * np.arange(1, steps + 1)[None, :, None] + 1e-9)
    prev = np.floor(p[:, None, :] * np.arange(0, steps)[None, :, None] + 1e-9)
    return (cum > prev).astype(np.uint8)


def encode_samples(x: np.ndarray, steps: int, max_rate: float, encoding: str,
                   seed: int) -> np.ndarray:
    """Input spikes [samples, steps, features] for features x in [0, 1]."""
    rng = np.random.default_rng(seed)
    return _spikes(np.clip(x, 0.0, 1.0) * max_rate, steps, encoding, rng)


def encode_labels(y: np.ndarray, n_classes: int, steps: int, rate: float) -> np.ndarray:
    """Label spikes [samples, steps, classes]: the labelled neuron fires regularly at ``rate``."""
    p = np.zeros((y.shape[0], n_classes))
    p[np.arange(y.shape[0]), y] = rate
    return _spikes(p, steps, "regular", np.random.default_rng(0))
