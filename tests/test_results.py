import json
import math

import numpy as np
import pytest
import torch

from rlhf_helpers.infra.results import report


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


def test_a_results_file_that_is_not_json_is_named_with_the_fix(tmp_path):
    from rlhf_helpers.infra.results import read_report

    bad = tmp_path / "01_sft.json"
    bad.write_text('{"rougeL": 0.3')  # a write that stopped halfway
    with pytest.raises(ValueError, match=r"01_sft\.json is not JSON .* run the notebook again"):
        read_report(bad)
    bad.write_text('["rougeL", 0.3]')
    with pytest.raises(ValueError, match="not a metric -> number table"):
        read_report(bad)


def test_the_runner_reports_a_results_file_that_is_not_json_as_a_failed_notebook(tmp_path):
    import nbformat

    from rlhf_helpers.infra.runner import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"open({str(tmp_path / '09_x.json')!r}, 'w').write('not json')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "09_x.ipynb")
    row = run_notebook(tmp_path / "09_x.ipynb", tmp_path, "tiny")
    assert not row["ok"] and "09_x.json is not JSON" in row["error"]


def test_rejects_non_numbers_and_nan():
    with pytest.raises(ValueError, match="not a number"):
        report("x", {"a": "high"})
    with pytest.raises(ValueError, match="NaN"):
        report("x", {"a": math.nan})


# --- expect: the live "what you should see" check -------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from rlhf_helpers.infra.expected import EXPECTED, Expected  # noqa: E402
from rlhf_helpers.infra.profiles import SETTINGS, get_profile  # noqa: E402
from rlhf_helpers.infra.results import STRICT_ENV, expect, format_range, in_range  # noqa: E402

RANGES = {"acc": Expected("accuracy", (0.8, 1.0), "≈ 0.6"), "loss": Expected("loss", (None, 0.5), "≈ 2")}


def fake_profile(name="tiny", notebook="01_sft", seed=0, **changes):
    settings = {**SETTINGS[notebook][name], **changes}
    return SimpleNamespace(name=name, notebook=notebook, seed=seed, settings=SimpleNamespace(**settings))


def test_in_range_and_format_treat_none_as_an_open_end():
    assert in_range(0.8, (0.8, 1.0)) and not in_range(0.79, (0.8, 1.0)) and in_range(-5, (None, 0.5))
    assert format_range((0.9, None)) == "≥ 0.9" and format_range((None, 0.05)) == "≤ 0.05"


def test_expect_prints_expected_value_and_mark(capsys, monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    ok = expect(fake_profile(), {"acc": 0.9, "loss": 0.7}, RANGES)
    out = capsys.readouterr().out
    assert ok == {"acc": True, "loss": False}
    assert "0.8 to 1" in out and "0.9" in out and "✅" in out and "⚠️" in out


def test_expect_only_warns_in_a_learners_run(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    expect(fake_profile(), {"acc": 0.1, "loss": 9.0}, RANGES)  # no exception


def test_expect_fails_under_the_test_suite_when_a_tiny_value_leaves_its_range(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")
    expect(fake_profile(), {"acc": 0.85, "loss": 0.1}, RANGES)  # in range: passes
    with pytest.raises(AssertionError, match=r"acc = 0.5 \(expected 0.8 to 1\)"):
        expect(fake_profile(), {"acc": 0.5, "loss": 0.1}, RANGES)


def test_expect_never_fails_in_full_or_with_changed_settings(monkeypatch, capsys):
    monkeypatch.setenv(STRICT_ENV, "1")
    expect(fake_profile("full"), {"acc": 0.1, "loss": 9.0}, RANGES)
    assert "expected, not measured" in capsys.readouterr().out
    expect(fake_profile(max_steps=3), {"acc": 0.1, "loss": 9.0}, RANGES)
    assert "You changed max_steps" in capsys.readouterr().out
    expect(fake_profile(seed=7), {"acc": 0.1, "loss": 9.0}, RANGES)


def test_expect_refuses_results_without_an_expected_key():
    with pytest.raises(KeyError, match="loss"):
        expect(fake_profile(), {"acc": 0.9}, RANGES)


def test_every_notebook_has_expected_values_with_sane_ranges():
    assert set(EXPECTED) == set(SETTINGS)
    for notebook, table in EXPECTED.items():
        assert table, notebook
        for key, e in table.items():
            low, high = e.tiny
            assert low is not None or high is not None, (notebook, key)
            assert low is None or high is None or low < high, (notebook, key)
            assert e.what and e.full, (notebook, key)


def test_real_profile_with_defaults_is_unchanged():
    from rlhf_helpers.infra.expected import changed_settings

    assert changed_settings(get_profile("04_ppo_zephyr", "tiny", seed=1)) == []
    assert changed_settings(get_profile("04_ppo_zephyr", "tiny", seed=1, settings={"batch_size": 8})) == ["batch_size"]


def test_ground_truth_values_are_required_in_tiny_only(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    ranges = {**RANGES, "on_topic": Expected("on-topic rate", (0.8, 1.0), "no ground truth", tiny_only=True)}
    assert set(expect(fake_profile("full"), {"acc": 0.9, "loss": 0.1}, ranges)) == {"acc", "loss"}
    with pytest.raises(KeyError, match="on_topic"):
        expect(fake_profile(), {"acc": 0.9, "loss": 0.1}, ranges)
    assert expect(fake_profile(), {"acc": 0.9, "loss": 0.1, "on_topic": 0.85}, ranges)["on_topic"]
