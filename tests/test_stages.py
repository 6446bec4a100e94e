"""Stages a later notebook loads: saved whole or not at all, with a manifest that `ensure_stage` trusts and nothing else.

Most tests replace the headless rebuild by a function that saves the stage (no kernel); two run a real notebook."""

import json

import nbformat
import pytest

from rlhf_helpers.infra import stages
from rlhf_helpers.infra.profiles import get_profile
from rlhf_helpers.infra.stages import MANIFEST, StageMismatchError, ensure_stage, save_stage


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def save_fake(profile, weights="weights", config="{}"):
    """What a notebook's save cell does: a model of two files, saved as the stage `model` of `profile`'s notebook."""
    with save_stage(profile, "model") as folder:
        (folder / "config.json").write_text(config)
        (folder / "model.safetensors").write_text(weights)
    return profile.output_dir() / "model"


@pytest.fixture
def rebuilds(monkeypatch):
    """Replaces running the notebook headless: records the call and saves a fresh stage, as the notebook would."""
    calls = []

    def rebuild(stem, seed):
        calls.append((stem, seed))
        save_fake(get_profile(stem, "tiny", seed=seed), weights="rebuilt")

    monkeypatch.setattr(stages, "_rebuild_tiny_stage", rebuild)
    return calls


def test_a_saved_stage_has_a_manifest_of_its_files_and_what_made_it(artifacts):
    p = get_profile("01_sft", "tiny", max_steps=7)
    folder = save_fake(p)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["files"] == {"config.json": 2, "model.safetensors": 7}
    assert (manifest["notebook"], manifest["profile"], manifest["seed"]) == ("01_sft", "tiny", 0)
    assert manifest["settings"]["max_steps"] == 7 and manifest["changed_settings"] == ["max_steps"]
    assert manifest["toy_world"].endswith("-seed0")  # the toy world's version and seed
    assert manifest["models"]["gpt2"].startswith("toy_world/")  # relative: the artifacts folder may move
    assert sorted(p.name for p in folder.parent.iterdir()) == ["model"]  # no temporary folder left beside it
    assert folder.stat().st_mode & 0o777 == folder.parent.stat().st_mode & 0o777  # not private, as mkdtemp's are


def test_a_good_stage_is_returned_without_rebuilding(artifacts, rebuilds):
    save_fake(get_profile("01_sft", "tiny"))
    folder = ensure_stage(get_profile("07_summarize_rlhf", "tiny"), "01_sft", "model")
    assert (folder / "model.safetensors").read_text() == "weights" and rebuilds == []
    full = save_fake(get_profile("01_sft", "full"))
    assert ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model") == full


def test_an_error_inside_the_save_leaves_the_old_copy_and_no_manifest(artifacts):
    p = get_profile("01_sft", "tiny")
    folder = save_fake(p, weights="old")
    with pytest.raises(OSError, match="disk full"):
        with save_stage(p, "model") as tmp:
            (tmp / "model.safetensors").write_text("half")
            raise OSError("disk full")  # the weights written, the manifest not yet
    assert (folder / "model.safetensors").read_text() == "old"
    assert sorted(x.name for x in folder.parent.iterdir()) == ["model"]


def test_a_process_killed_between_the_weights_and_the_manifest_leaves_no_stage(artifacts, rebuilds):
    """The kernel dies mid-save (no exception, no cleanup): the next notebook sees no stage, and the next save clears
    what the dead one left."""
    import subprocess
    import sys

    code = ("import os\nfrom rlhf_helpers.infra.profiles import get_profile\n"
            "from rlhf_helpers.infra.stages import save_stage\n"
            "with save_stage(get_profile('01_sft', 'full'), 'model') as folder:\n"
            "    (folder / 'model.safetensors').write_text('weights')\n"
            "    os._exit(9)  # killed before the manifest")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    notebook = artifacts / "full" / "01_sft"
    assert [p.name.startswith(".model.partial-") for p in notebook.iterdir()] == [True]
    with pytest.raises(FileNotFoundError, match=r"model was never saved: run notebook 01_sft\.ipynb first"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")
    save_fake(get_profile("01_sft", "full"))
    assert [p.name for p in notebook.iterdir()] == ["model"]


# Three ways a save can stop between the weights and the manifest, seen from the next notebook.
def interrupted_inside_the_with(p):
    with pytest.raises(KeyboardInterrupt):
        with save_stage(p, "model") as tmp:
            (tmp / "config.json").write_text("{}")
            raise KeyboardInterrupt  # a kernel interrupted while saving


def manifest_removed(p):
    (save_fake(p) / MANIFEST).unlink()


def file_truncated(p):
    path = save_fake(p) / "model.safetensors"
    path.write_text(path.read_text()[:3])


def file_missing(p):
    (save_fake(p) / "model.safetensors").unlink()


BROKEN = [interrupted_inside_the_with, manifest_removed, file_truncated, file_missing]


@pytest.mark.parametrize("break_it", BROKEN)
def test_a_half_written_stage_is_rebuilt_in_tiny(artifacts, rebuilds, break_it):
    break_it(get_profile("01_sft", "tiny"))
    folder = ensure_stage(get_profile("07_summarize_rlhf", "tiny"), "01_sft", "model")
    assert rebuilds == [("01_sft", 0)]
    assert (folder / "model.safetensors").read_text() == "rebuilt"


@pytest.mark.parametrize("break_it", BROKEN)
def test_a_half_written_stage_is_refused_in_full_naming_the_notebook_to_run(artifacts, rebuilds, break_it):
    break_it(get_profile("01_sft", "full"))
    with pytest.raises(FileNotFoundError, match=r"run notebook 01_sft\.ipynb first"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")
    assert rebuilds == []


def test_a_stage_from_another_model_id_is_refused_naming_both(artifacts, rebuilds):
    other = get_profile("01_sft", "full")
    other.models["gpt2"] = "gpt2-medium"
    save_fake(other)
    with pytest.raises(StageMismatchError, match=r"gpt2: saved from 'gpt2-medium', this notebook uses 'gpt2'"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")
    tiny = get_profile("01_sft", "tiny")
    tiny.models["zephyr"] = "HuggingFaceH4/zephyr-7b-beta"
    save_fake(tiny)
    with pytest.raises(StageMismatchError, match=r"zephyr-7b-beta.*toy_world/.*zephyr-7b-alpha"):
        ensure_stage(get_profile("07_summarize_rlhf", "tiny"), "01_sft", "model")
    assert rebuilds == []  # another base model is never replaced behind the learner's back


def test_a_stage_of_another_seed_or_profile_is_refused_naming_both(artifacts):
    save_fake(get_profile("01_sft", "full", seed=1))  # in full every seed saves to the same folder
    with pytest.raises(StageMismatchError, match=r"profile full with SEED = 1; this notebook runs in profile full "
                                                 r"with SEED = 0"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")
    import shutil

    shutil.rmtree(get_profile("01_sft", "full").output_dir() / "model")
    shutil.copytree(save_fake(get_profile("01_sft", "tiny")), get_profile("01_sft", "full").output_dir() / "model")
    with pytest.raises(StageMismatchError, match=r"in profile tiny .* runs in profile full"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")


def test_a_tiny_stage_of_another_toy_world_is_rebuilt(artifacts, rebuilds):
    folder = save_fake(get_profile("01_sft", "tiny"), weights="old world")
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "toy_world": "v0-seed0"}))
    assert (ensure_stage(get_profile("07_summarize_rlhf", "tiny"), "01_sft", "model") / "model.safetensors"
            ).read_text() == "rebuilt"
    assert rebuilds == [("01_sft", 0)]


def test_a_rebuild_that_saves_nothing_is_an_error(artifacts, monkeypatch):
    monkeypatch.setattr(stages, "_rebuild_tiny_stage", lambda stem, seed: None)
    with pytest.raises(RuntimeError, match="rebuilding 01_sft did not save its stage 'model'"):
        ensure_stage(get_profile("07_summarize_rlhf", "tiny"), "01_sft", "model")


def test_an_empty_save_is_an_error(artifacts):
    with pytest.raises(RuntimeError, match="nothing was saved"):
        with save_stage(get_profile("01_sft", "tiny"), "model"):
            pass
    assert not (artifacts / "tiny" / "01_sft" / "model").exists()


# --------------------------------------------------------------------------- the real rebuild: a notebook, headless
def fake_notebook(tmp_path, monkeypatch):
    """A notebook 09_fake (the only one) with a SEED parameter, that saves the stage `model` as a notebook does."""
    from rlhf_helpers.infra import runner

    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("SEED = 0"), nbformat.v4.new_code_cell(
        "from rlhf_helpers.infra.profiles import get_profile\n"
        "from rlhf_helpers.infra.stages import save_stage\n"
        "with save_stage(get_profile('09_fake', seed=SEED), 'model') as folder:\n"
        "    (folder / 'model.bin').write_text(f'seed {SEED}')")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nb_dir / "09_fake.ipynb")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: nb_dir)


def test_tiny_runs_the_notebook_of_a_missing_stage_for_the_same_seed_in_its_own_folder(artifacts, tmp_path,
                                                                                       monkeypatch, capsys):
    """Each toy-world seed has its own tokenizer: a stage rebuilt for a seed-1 notebook is trained on seed 1, and does
    not overwrite (or pass for) seed 0's."""
    fake_notebook(tmp_path, monkeypatch)
    seed0 = ensure_stage(get_profile("10_later", "tiny", seed=0), "09_fake", "model")
    seed1 = ensure_stage(get_profile("10_later", "tiny", seed=1), "09_fake", "model")
    assert seed0 != seed1
    assert (seed0 / "model.bin").read_text() == "seed 0" and (seed1 / "model.bin").read_text() == "seed 1"
    assert json.loads((seed1 / MANIFEST).read_text())["files"] == {"model.bin": 6}
    assert "09_fake rebuilt" in capsys.readouterr().out
