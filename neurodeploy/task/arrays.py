"""The data-set types every loader shares: the split, its error, the label checks, and the
header read of an ``.npz`` (so a declared bomb is refused before anything is allocated)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arrayfile import npz_shapes
from ..errors import NeurodeployError

KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_LABEL = 1_000_000       # labels index output neurons; larger ones are a broken file


class DatasetError(NeurodeployError):
    """A data set is missing, malformed or does not fit the network."""


@dataclass
class Dataset:
    """Scaled features and labels of a train / test split."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def subset(self, classes: list[int]) -> "Dataset":
        """Only the samples of ``classes``, relabelled 0..len(classes)-1."""
        remap = {c: i for i, c in enumerate(classes)}
        for split, y in (("y_train", self.y_train), ("y_test", self.y_test)):
            absent = [c for c in classes if not np.any(y == c)]
            if absent:
                raise DatasetError(f"{split} has no samples of class(es) "
                                   f"{', '.join(map(str, absent))}; labels present: "
                                   f"{', '.join(map(str, np.unique(y)[:20]))}",
                                   file=self.name, path=("--classes",))
        def pick(x, y):
            keep = np.isin(y, classes)
            return x[keep], np.array([remap[int(v)] for v in y[keep]], np.int64)
        xtr, ytr = pick(self.x_train, self.y_train)
        xte, yte = pick(self.x_test, self.y_test)
        return Dataset(f"{self.name}[{','.join(map(str, classes))}]", xtr, ytr, xte, yte)

NPZ_HINT = "save it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"


def npz_heads(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shapes and dtypes of an ``.npz``'s four arrays from its headers; one line naming the
    missing ones."""
    heads = npz_shapes(path, error=DatasetError, hint=NPZ_HINT)
    missing = [k for k in KEYS if k not in heads]
    if missing:
        raise DatasetError(f"missing array(s) {', '.join(missing)}; the .npz needs "
                           f"{', '.join(KEYS)}", file=path)
    return heads


def check_values(x: np.ndarray, y: np.ndarray, split: str, where: str) -> None:
    """Finite features and integer labels >= 0 (shapes already checked)."""
    if not np.all(np.isfinite(x)):
        raise DatasetError(f"x_{split}: {int(np.size(x) - np.isfinite(x).sum())} NaN/inf "
                           "values; remove or impute them", file=where)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.mod(y, 1) == 0):
            raise DatasetError(f"y_{split}: labels must be integers 0..C-1, got dtype "
                               f"{y.dtype}", file=where)
    if y.max() > MAX_LABEL:
        raise DatasetError(f"y_{split}: label {float(y.max()):g} is not a class index; "
                           f"labels are 0..C-1 (at most {MAX_LABEL})", file=where)
    if y.min() < 0:
        raise DatasetError(f"y_{split}: label {int(y.min())} is negative; labels are 0..C-1",
                           file=where)
