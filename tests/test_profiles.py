from pathlib import Path

import pytest
import torch

from rlhf_helpers.infra import profiles
from rlhf_helpers.infra.profiles import get_profile, setup


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid profiles are tiny, full"):
        get_profile("01_sft", "medium")


def test_env_var_chooses_and_argument_overrides(monkeypatch):
    monkeypatch.setenv("RLHF_PROFILE", "full")
    assert get_profile("01_sft").name == "full"
    assert get_profile("01_sft", "tiny").name == "tiny"
    monkeypatch.setenv("RLHF_PROFILE", "Tiny ")
    assert get_profile("01_sft").name == "tiny"


def test_default_is_full_only_with_a_gpu(monkeypatch):
    monkeypatch.delenv("RLHF_PROFILE", raising=False)
    assert profiles.default_profile() == ("full" if torch.cuda.is_available() else "tiny")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.default_profile() == "full"


def test_full_uses_real_hub_ids_and_tiny_local_folders():
    full, tiny = get_profile("01_sft", "full"), get_profile("01_sft", "tiny")
    assert full.models["zephyr"] == "HuggingFaceH4/zephyr-7b-alpha"
    assert full.datasets["hh_rlhf"] == "Anthropic/hh-rlhf"
    assert full.settings.max_steps > tiny.settings.max_steps
    assert set(full.models) == set(tiny.models) and set(full.datasets) == set(tiny.datasets)
    for path in list(tiny.models.values()) + list(tiny.datasets.values()):
        assert Path(path).is_absolute() and "toy_world" in Path(path).parts


def test_overrides_none_keeps_default_and_unknown_is_an_error():
    p = get_profile("01_sft", "tiny", max_steps=None, learning_rate=0.5)
    assert p.settings.max_steps == profiles.SETTINGS["01_sft"]["tiny"]["max_steps"]
    assert p.settings.learning_rate == 0.5
    with pytest.raises(ValueError, match="unknown setting"):
        get_profile("01_sft", "tiny", max_stepz=3)


def test_setup_prints_profile_device_and_how_to_switch(capsys):
    p = setup("01_sft", "tiny")
    out = capsys.readouterr().out
    assert "profile: tiny" in out and f"device: {p.device}" in out
    assert 'PROFILE = "full"' in out and "RLHF_PROFILE=full" in out


def test_artifacts_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", str(tmp_path))
    assert profiles.artifacts_root() == tmp_path.resolve()
    assert get_profile("01_sft", "tiny").output_dir().parent == tmp_path.resolve() / "tiny"


def test_an_unknown_or_mistyped_setting_names_the_fix():
    with pytest.raises(ValueError, match=r"did you mean 'max_steps'\?.*Fix the name in OVERRIDES"):
        get_profile("01_sft", "tiny", settings={"max_step": 3})
    with pytest.raises(ValueError, match=r"batch_size = '8' should be a number \(written without quotes\)"):
        get_profile("01_sft", "tiny", settings={"batch_size": "8"})
    with pytest.raises(ValueError, match="activation_checkpointing = 1 should be True or False"):
        get_profile("08_rloo_grpo", "tiny", settings={"activation_checkpointing": 1})
    assert get_profile("01_sft", "tiny", settings={"learning_rate": 1}).settings.learning_rate == 1  # an int is a number


def test_an_artifacts_folder_that_cannot_be_written_says_so_and_how_to_choose_another(monkeypatch, tmp_path):
    (tmp_path / "a_file").write_text("")  # a folder under a file cannot be made, not even by root
    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", str(tmp_path / "a_file" / "artifacts"))
    with pytest.raises(OSError, match=r"cannot write to .*a_file/artifacts \(NotADirectoryError.*set the environment "
                                      r"variable RLHF_ARTIFACTS_DIR to a folder you can write"):
        setup("01_sft", "tiny")
    with pytest.raises(OSError, match="RLHF_ARTIFACTS_DIR"):
        get_profile("01_sft", "full").output_dir()
