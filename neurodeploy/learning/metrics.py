"""Figures of a learning run: alignment angle, rate loss, accuracy."""
from __future__ import annotations

import math

import numpy as np


def angle_deg(b: np.ndarray, w: np.ndarray) -> float:
    """angle(B, W^T) = arccos(<vec W^T, vec B> / (|W| |B|)) in degrees; B is [pre-side of W
    x post-side of W] i.e. W transposed's shape. 90 when either matrix is zero."""
    wt = np.asarray(w).T
    if wt.shape != np.shape(b):
        raise ValueError(f"feedback shape {np.shape(b)} is not the transpose of {np.shape(w)}")
    nb, nw = float(np.linalg.norm(b)), float(np.linalg.norm(wt))
    if nb == 0 or nw == 0:
        return 90.0
    c = float(np.sum(wt * b)) / (nb * nw)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def pair_angle(layout, w: np.ndarray, w_proj: str, *b_chain: str) -> float:
    """angle(B, W^T) in degrees of one forward / feedback pair in a learner's flat weight row
    ``w``; a feedback path of several projections (low-rank FA's U and V) counts as their
    product B = U V."""
    b = layout.dense(w, b_chain[0])
    for name in b_chain[1:]:
        b = b @ layout.dense(w, name)
    return angle_deg(b, layout.dense(w, w_proj))


def rate_loss(counts: np.ndarray, labels: np.ndarray, steps: int, target_rate: float) -> float:
    """Mean squared error between output rates (spikes per step) and the trained targets."""
    target = np.zeros(counts.shape)
    target[np.arange(labels.size), labels] = target_rate
    return float(np.mean((counts / steps - target) ** 2))


def predictions(counts: np.ndarray) -> np.ndarray:
    """Class with the most spikes (ties: the lowest index)."""
    return np.argmax(counts, axis=1)


def accuracy(counts: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose most active output neuron is the label."""
    return float(np.mean(predictions(counts) == labels))
