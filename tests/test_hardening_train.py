"""Issue 16, first steps with train: a new 2-layer classifier without a learning_rate
learns (the default scales with fan-in), --learning-rate sets it, and a run that stays at
chance says why."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurodeploy.cli import main

from .test_learning_cli import SMALL

# test_learning_cli's small classifier, with no learning_rate in its plasticity block
NET = SMALL.replace("rule: RULE, projections: [in_hid, hid_out], learning_rate: 0.0001",
                    "rule: feedback_alignment, projections: [in_hid, hid_out]")
assert "learning_rate" not in NET
ARGS = ["--profile", "cpu", "--classes", "0,1,2", "--train-samples", "240",
        "--test-samples", "90"]


def _train(tmp_path: Path, *extra: str) -> tuple[int, str, dict | None]:
    (tmp_path / "net.yaml").write_text(NET)
    out = tmp_path / "b"
    code = main(["train", str(tmp_path / "net.yaml"), *ARGS, "-o", str(out), *extra])
    summary = out / "training" / "summary.json"
    return code, str(out), json.loads(summary.read_text()) if summary.exists() else None


def test_default_learning_rate_learns_a_new_classifier(tmp_path, capsys):
    """0.01 for every fan-in stayed at 0.50 here (chance 0.33); 0.01 / fan-in learns."""
    code, _, summary = _train(tmp_path, "--epochs", "2")
    err = capsys.readouterr().err
    assert code == 0 and "learning_rate not set: using 0.01 / fan-in 64" in err
    assert summary["float_test_accuracy"] > 0.8 and "near chance" not in err


def test_a_rate_too_small_is_reported(tmp_path, capsys):
    code, _, summary = _train(tmp_path, "--epochs", "1", "--learning-rate", "1e-7")
    err = capsys.readouterr().err
    assert code == 0 and summary["float_test_accuracy"] < 0.45
    assert "stayed near chance" in err and "barely moved" in err and "raise it" in err


@pytest.mark.parametrize("rate", ["0", "-1", "11"])
def test_learning_rate_out_of_range_is_one_line(tmp_path, capsys, rate):
    code, out, _ = _train(tmp_path, "--epochs", "1", "--learning-rate", rate)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "--learning-rate must be in (0, 10]" in err[0]
    assert not Path(out).exists()
