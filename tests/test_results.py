import json
import math

import numpy as np
import pytest
import torch

from rlhf_helpers.results import report


def test_writes_flat_json_when_results_dir_is_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLHF_RESULTS_DIR", str(tmp_path))
    out = report("01_sft", {"rougeL_sft": np.float64(0.8), "loss": torch.tensor(1.5), "n": 3})
    assert json.loads((tmp_path / "01_sft.json").read_text()) == {"rougeL_sft": 0.8, "loss": 1.5, "n": 3.0}
    assert out["loss"] == 1.5 and "rougeL_sft" in capsys.readouterr().out


def test_writes_nothing_without_results_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RLHF_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    report("x", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_rejects_non_numbers_and_nan():
    with pytest.raises(ValueError, match="not a number"):
        report("x", {"a": "high"})
    with pytest.raises(ValueError, match="NaN"):
        report("x", {"a": math.nan})
