"""Colab and pip users: one repository URL, the install cell, and notebooks run alone from the installed wheel."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rlhf_helpers.infra import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def install_cell(path):
    return next(c for c in nbformat.read(path, as_version=4).cells if c.get("id") == "cell-install").source


# --------------------------------------------------------------------------- one repository URL
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badge_and_install_cell_agree_with_pyproject(path):
    owner, name, branch = colab.repository(ROOT)
    text = path.read_text()
    urls = colab.course_urls(text)
    assert sorted(kind for kind, *_ in urls) == ["badge", "install"], f"{path.name}: one badge and one install cell"
    assert all(tuple(u[1:]) == (owner, name, branch) for u in urls), f"{path.name} disagrees with pyproject: {urls}"
    assert f"/blob/{branch}/notebooks/{path.name})" in text, "the badge must open this notebook"
    # no other spelling of a git install or a Colab link that the check above would miss
    assert len(re.findall(r"git\+https://github\.com/", text)) == 2  # the install spec, and the example in its message
    assert text.count("colab.research.google.com/github/") == 1


def test_set_repo_rewrites_every_badge_install_cell_and_pyproject(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.json", ".*"))
    before = {p.name: p.read_text() for p in (tmp_path / "notebooks").glob("*.ipynb")}
    proc = subprocess.run([sys.executable, "-m", "rlhf_helpers", "set-repo", "alice/my-rlhf", "--branch", "dev",
                           "--root", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert colab.repository(tmp_path) == ("alice", "my-rlhf", "dev")
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        text = path.read_text()
        assert {u[1:] for u in colab.course_urls(text)} == {("alice", "my-rlhf", "dev")}, path.name
        assert "rlhf-course/rlhf-course" not in text
        nbformat.validate(nbformat.reads(text, as_version=4))
        changed = [(a, b) for a, b in zip(before[path.name].splitlines(), text.splitlines()) if a != b]
        assert len(changed) == 2 and len(text.splitlines()) == len(before[path.name].splitlines())  # badge, spec
    assert "github.com/alice/my-rlhf" in (tmp_path / "README.md").read_text()
    with pytest.raises(ValueError, match="OWNER/NAME"):
        colab.set_repo(tmp_path, "not a repo")


def test_install_cell_explains_a_failed_install(monkeypatch, tmp_path):
    """A repository address that does not exist (or any failed install) stops with what to do, not pip's output."""
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setenv("RLHF_PIP_SPEC", str(tmp_path / "no_such_package-0.1-py3-none-any.whl"))
    with pytest.raises(RuntimeError) as err:
        exec(install_cell(NOTEBOOKS[0]), {})
    message = str(err.value)
    assert "could not install the course package" in message and "no_such_package" in message
    assert "RLHF_PIP_SPEC" in message and "set-repo OWNER/NAME" in message
    assert "Traceback" not in message and err.value.__suppress_context__


def test_install_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("RLHF_PIP_SPEC", "this would fail")
    scope = {}
    exec(install_cell(NOTEBOOKS[0]), scope)
    assert scope["KEEP_ARTIFACTS_ON_DRIVE"] is False and "pip" not in scope


def test_keep_artifacts_on_drive_mounts_drive_only_when_asked(monkeypatch, tmp_path, capsys):
    mounted = []
    google = type(sys)("google")
    google.colab = type(sys)("google.colab")
    google.colab.drive = type(sys)("google.colab.drive")
    google.colab.drive.mount = mounted.append
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    monkeypatch.setitem(sys.modules, "google.colab.drive", google.colab.drive)
    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", "set by the test")  # records the variable's state before the test ...
    monkeypatch.delenv("RLHF_ARTIFACTS_DIR")  # ... so what keep_artifacts_on_drive sets is undone afterwards
    colab.keep_artifacts_on_drive(False)
    assert not mounted and "KEEP_ARTIFACTS_ON_DRIVE = True" in capsys.readouterr().out
    assert colab.keep_artifacts_on_drive(True, str(tmp_path / "drive" / "artifacts")) == tmp_path / "drive" / "artifacts"
    assert mounted == ["/content/drive"] and os.environ["RLHF_ARTIFACTS_DIR"] == str(tmp_path / "drive" / "artifacts")


def test_full_profile_missing_stage_says_how_to_keep_it_on_drive(monkeypatch, tmp_path):
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.stages import ensure_stage

    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"run notebook 01_sft.ipynb first(.|\n)*KEEP_ARTIFACTS_ON_DRIVE = True"):
        ensure_stage(get_profile("07_summarize_rlhf", "full"), "01_sft", "model")


def test_artifacts_outside_a_clone_go_to_the_home_cache(monkeypatch, tmp_path):
    from rlhf_helpers.infra import paths

    monkeypatch.delenv("RLHF_ARTIFACTS_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site" / "rlhf_helpers" / "paths.py"))
    assert paths.artifacts_root() == tmp_path / ".cache" / "rlhf-course"


# --------------------------------------------------------------------------- a notebook alone, from the wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The package's wheel, built once from a copy of the sources (the clone stays clean)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src)
    shutil.copytree(ROOT / "rlhf_helpers", src / "rlhf_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions", src / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, src / "notebooks")
    # the venv's setuptools when it has one (no download); else pip's isolated build fetches it
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(tmp / "dist"),
                    *isolation], check=True)
    return next((tmp / "dist").glob("rlhf_course-*.whl"))


@pytest.fixture
def colab_like(tmp_path, monkeypatch):
    """An empty folder, an empty HOME, `google.colab` imported at kernel start, the wheel as the install spec."""
    from rlhf_helpers.infra.toy import ensure_toy_world

    world = ensure_toy_world(0)  # built once per test session and shared: only the trained stages start empty
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "toy_world").symlink_to(world.parent, target_is_directory=True)
    fake = tmp_path / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stands in for Colab\'s module in tests."""\n')
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")  # Colab's kernel has imported it
    (tmp_path / "home").mkdir()
    site = tmp_path / "site"
    site.mkdir()
    for key, value in {"PYTHONPATH": os.pathsep.join([str(site), str(fake)]), "IPYTHONDIR": str(tmp_path / "ipython"),
                       "HOME": str(tmp_path / "home"), "RLHF_ARTIFACTS_DIR": str(artifacts), "RLHF_PROFILE": "tiny",
                       "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RLHF_RESULTS_DIR", raising=False)
    (tmp_path / "alone").mkdir()
    return tmp_path, site


def run_alone(stem, wheel, folder, site, monkeypatch):
    """Copy one notebook into an empty folder and run it top to bottom, installing the wheel as Colab would."""
    from nbclient import NotebookClient

    monkeypatch.setenv("RLHF_PIP_SPEC", f"--no-deps --target {site} {wheel}")
    path = Path(shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", folder))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, rlhf_helpers, rlhf_helpers.infra.runner as runner, rlhf_helpers.solutions.nb07_open as solutions\n"
        "print(json.dumps({'package': rlhf_helpers.__file__, 'notebooks': str(runner.notebooks_dir()),\n"
        "                  'solutions': solutions.__file__}))"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return json.loads(outputs[-1]), "".join(outputs)


def test_notebooks_run_alone_with_the_package_from_its_wheel(wheel, colab_like, monkeypatch):
    """07 alone needs 01's model: `ensure_stage` runs 01 from the wheel's copy, alone in a temporary folder, in the
    same Colab-like kernel (install cell and all). So both 01 and a notebook that depends on it run here."""
    stem = "07_summarize_rlhf"
    tmp, site = colab_like
    where, text = run_alone(stem, wheel, tmp / "alone", site, monkeypatch)
    assert Path(where["package"]).is_relative_to(site), f"the kernel imported {where['package']}, not the wheel"
    assert Path(where["notebooks"]) == site / "rlhf_helpers" / "notebooks"  # shipped in the wheel
    assert Path(where["solutions"]) == site / "rlhf_helpers" / "solutions" / "nb07_open.py"  # the solution cells' import
    assert sorted(p.name for p in (tmp / "alone").iterdir()) == [f"{stem}.ipynb"]  # wrote nothing beside itself
    assert not (tmp / "home" / ".cache" / "rlhf-course").exists()  # artifacts went where RLHF_ARTIFACTS_DIR says
    assert (tmp / "artifacts" / "tiny" / "01_sft" / "model" / "manifest.json").exists()  # saved whole
    assert "01_sft rebuilt" in text  # 07 ran 01 from the wheel's copy
