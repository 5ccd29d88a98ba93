"""Rate-code scikit-learn's 8x8 digits as spikes for the `input` population of digits_fa.yaml.

Each image is shown for --steps-per-image steps; a pixel of intensity x (0..16) fires with
probability x/16 * --max-prob per step. Writes <out> with `input.spikes` [steps, 64] and the
shown labels as `labels` (per step), loaded later with allow_pickle=False.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits


def encode(images: np.ndarray, steps_per_image: int, max_prob: float, seed: int) -> np.ndarray:
    """[n_images * steps_per_image, 64] uint8 spikes, Bernoulli per pixel and step."""
    rng = np.random.default_rng(seed)
    probs = np.repeat(images / 16.0 * max_prob, steps_per_image, axis=0)
    return (rng.random(probs.shape) < probs).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="output .npz, e.g. build/digits_input.npz")
    parser.add_argument("--images", type=int, default=10, help="number of digits to show")
    parser.add_argument("--steps-per-image", type=int, default=50)
    parser.add_argument("--max-prob", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    digits = load_digits()
    spikes = encode(digits.data[: args.images], args.steps_per_image, args.max_prob, args.seed)
    labels = np.repeat(digits.target[: args.images], args.steps_per_image)
    np.savez(args.out, **{"input.spikes": spikes, "labels": labels})
    print(f"wrote {args.out}: {spikes.shape[0]} steps, {int(spikes.sum())} input spikes")


if __name__ == "__main__":
    main()
