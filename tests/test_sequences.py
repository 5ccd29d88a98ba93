"""Sequence data: the four generators, .npz validation with one-line errors, and the
step-by-step encoding (elements for item_steps each, label only in the read-out window)."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.task import load_dataset
from neurodeploy.task.datasets import DatasetError
from neurodeploy.task.sequences import (check_task, encode_inputs, encode_targets,
                                        parse_spec)

TASK = {"item_steps": 3, "readout_steps": 4, "max_rate": 1.0, "encoding": "regular",
        "sample_steps": 10 * 3 + 4}


def test_temporal_order_labels_follow_the_marked_symbols():
    d = load_dataset("temporal_order:length=20,train=300,test=50,seed=3")
    assert d.x_train.shape == (300, 20, 6) and d.x_test.shape == (50, 20, 6)
    sym = d.x_train.argmax(-1)
    assert np.all(d.x_train.sum(-1) == 1)
    marked = [np.flatnonzero(s < 2) for s in sym]
    assert all(len(m) == 2 and 2 <= m[0] < 4 and 10 <= m[1] < 12 for m in marked)
    want = np.array([s[m[0]] + 2 * s[m[1]] for s, m in zip(sym, marked)])
    assert np.array_equal(d.y_train, want) and set(want) == {0, 1, 2, 3}
    again = load_dataset("temporal_order:length=20,train=300,test=50,seed=3")
    assert np.array_equal(again.x_train, d.x_train)
    other = load_dataset("temporal_order:length=20,train=300,test=50,seed=4")
    assert not np.array_equal(other.x_train, d.x_train)


def test_other_generators():
    d3 = load_dataset("temporal_order3:length=30,train=200,test=10")
    assert d3.x_train.shape == (200, 30, 6) and set(d3.y_train) == set(range(8))
    perm = load_dataset("random_permutation:length=12,train=100,test=10")
    assert perm.x_train.shape == (100, 12, 100)
    assert np.array_equal(perm.x_train[:, 0].argmax(-1), perm.y_train)
    add = load_dataset("adding:length=20,train=400,test=10,bins=5")
    assert add.x_train.shape == (400, 20, 2) and set(add.y_train) == set(range(5))
    marks = add.x_train[:, :, 1] == 1
    assert np.all(marks.sum(1) == 2)
    mean = (add.x_train[:, :, 0] * marks).sum(1) / 2
    assert np.array_equal(add.y_train, np.minimum((mean * 5).astype(int), 4))


@pytest.mark.parametrize("spec,msg", [
    ("temporal_order:length=5", "length >= 10"),
    ("temporal_order:size=5", "not an option"),
    ("adding:bins=x", "integer"),
    ("adding:bins=1", "bins must be >= 2"),
])
def test_bad_generator_options(spec, msg):
    with pytest.raises(DatasetError, match=msg):
        parse_spec(spec)


def _npz(tmp_path, **over):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.random((8, 5, 3)), "y_train": np.arange(8) % 2,
              "x_test": rng.random((4, 5, 3)), "y_test": np.arange(4) % 2}
    arrays.update(over)
    path = tmp_path / "seq.npz"
    np.savez(path, **arrays)
    return str(path)


def test_npz_sequences_load_and_scale(tmp_path):
    d = load_dataset(_npz(tmp_path))
    assert d.x_train.shape == (8, 5, 3) and d.n_features == 3
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0


@pytest.mark.parametrize("over,msg", [
    ({"y_train": np.zeros(7, int)}, r"y_train: expected shape \[8\]"),
    ({"x_train": np.full((8, 5, 3), np.nan)}, "x_train: 120 NaN/inf"),
    ({"x_test": np.zeros((4, 6, 3))}, "x_test sequences have 6 steps but x_train's have 5"),
    ({"x_test": np.zeros((4, 5, 2))}, "x_test has 2 features but x_train has 3"),
    ({"x_test": np.zeros((4, 5))}, r"x_test: expected \[sequences, steps, features\]"),
    ({"y_test": np.array([0, -1, 0, 1])}, "label -1 is negative"),
    ({"y_test": np.array([0.5, 1, 0, 1])}, "labels must be integers"),
])
def test_npz_sequence_errors_are_one_line(tmp_path, over, msg):
    with pytest.raises(DatasetError, match=msg) as info:
        load_dataset(_npz(tmp_path, **over))
    assert "\n" not in str(info.value) and "seq.npz" in str(info.value)


def test_task_must_fit_the_sequences():
    d = load_dataset("temporal_order:length=10,train=20,test=5")
    check_task(d, TASK, "net.yaml")
    with pytest.raises(DatasetError, match="set sample_steps: 34"):
        check_task(d, {**TASK, "sample_steps": 40}, "net.yaml")
    with pytest.raises(DatasetError, match="need task.item_steps"):
        check_task(d, {**TASK, "item_steps": None}, "net.yaml")
    with pytest.raises(DatasetError, match="readout_steps >= 1"):
        check_task(d, {**TASK, "readout_steps": 0, "sample_steps": 30}, "net.yaml")
    digits = load_dataset("digits")
    with pytest.raises(DatasetError, match="not sequences"):
        check_task(digits, TASK, "net.yaml")


def test_encoding_is_step_by_step_and_labels_only_in_the_readout():
    d = load_dataset("temporal_order:length=10,train=20,test=5")
    spikes = encode_inputs(d.x_train, TASK, seed=1)
    assert spikes.shape == (20, 34, 6)
    # regular coding at rate 1: element t's symbol spikes on each of its 3 steps
    assert np.array_equal(spikes[:, :30].reshape(20, 10, 3, 6).max(2), d.x_train.astype(np.uint8))
    assert np.all(spikes[:, 30:] == 0)
    half = encode_inputs(d.x_train, {**TASK, "max_rate": 0.5}, seed=1)
    assert half[:, :30].sum() == 20 * 10      # floor(0.5 x 3) = 1 spike per element
    rate = encode_inputs(d.x_train, {**TASK, "encoding": "rate", "max_rate": 0.5}, seed=1)
    assert 0.4 < rate[:, :30].sum() / (20 * 30) < 0.6
    labels = encode_targets(d.y_train, 4, TASK, d.x_train, 0.5)
    assert labels.shape == (20, 34, 4) and np.all(labels[:, :30] == 0)
    assert np.array_equal(labels[:, 30:].sum(1).argmax(1), d.y_train)
    assert np.all(labels[:, 30:].sum((1, 2)) == 2)
