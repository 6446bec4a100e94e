"""Repository rules: notebooks committed clean and in the skeleton, README table and env file in sync."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    dirty = [i for i, c in enumerate(code_cells(path)) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_skeleton(path):
    cells = code_cells(path)
    source = lambda c: "".join(c["source"])  # noqa: E731
    assert "parameters" in cells[0].get("metadata", {}).get("tags", []), "first code cell must be tagged parameters"
    assert "PROFILE = None" in source(cells[0])
    assert 'if "google.colab" in sys.modules' in source(cells[1]), "second code cell must be the Colab install cell"
    assert "setup(" not in source(cells[1])
    assert f'setup("{path.stem}"' in source(cells[2]), "third code cell must call setup() with the notebook's stem"
    assert f'report("{path.stem}"' in source(cells[-1]), "last code cell must report the notebook's results"
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    for heading in ("## Summary", "## Questions", "## What you should see", "<details>"):
        assert heading in text, f"{path.name} lacks {heading!r}"


def test_readme_table_lists_exactly_the_notebooks_and_real_modules():
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if re.match(r"\| \d\d \|", line)]
    linked = {re.search(r"\(notebooks/([^)]+)\.ipynb\)", row).group(1) for row in rows}
    assert linked == {p.stem for p in NOTEBOOKS}
    for row in rows:
        for module in re.findall(r"`(\w+)`", row.split("|")[4]):
            assert any((ROOT / "rlhf_helpers" / part / f"{module}.py").exists() for part in ("course", "infra")), \
                f"README names a missing module {module}"


def test_environment_yml_installs_the_package_and_agrees_with_pyproject():
    tomllib = pytest.importorskip("tomllib")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ['-e ".[dev]"'] or pip == ["-e .[dev]"], "environment.yml must install the package, nothing else"
    assert "dev" in project["optional-dependencies"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    python = next(d for d in conda if d.startswith("python"))
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))
    assert set(conda) == {python, "pip"}, "declare dependencies in pyproject.toml, not environment.yml"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    test_cmd = next(line.split("#")[0].strip() for line in block.splitlines() if "tests" in line)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert any(line.strip().startswith(test_cmd) for line in ci), f"{test_cmd!r} not run by .ci/run"
    assert any("torch==2.13.0" in line for line in ci) and any("HF_HUB_OFFLINE=1" in line for line in ci)


def test_readme_tiny_column_has_no_hand_written_numbers():
    """Tiny-profile numbers live in rlhf_helpers/infra/expected.py and are checked live; the README describes directions."""
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if re.match(r"\| \d\d \|", line)]
    for row in rows:
        tiny = row.split("|")[6]
        assert not re.search(r"\d", tiny), f"README's tiny column has a number: {tiny.strip()[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_never_speak_of_the_projects_process(path):
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]).lower()
    for word in ("issue", "done when"):
        assert word not in text, f"{path.name} speaks of {word!r}: speak to the learner instead"


def test_the_test_suite_runs_every_notebook_after_the_stages_it_needs():
    """runner.RUN_ORDER orders the notebooks (runner and nbval); every notebook is in it, after what it reads."""
    import re

    from rlhf_helpers.infra.runner import RUN_ORDER, resolve_notebooks

    stems = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(RUN_ORDER) == stems
    pairs = 0
    for stem in stems:
        source = (ROOT / "notebooks" / f"{stem}.ipynb").read_text()
        for needed in set(re.findall(r'ensure_stage\([^)]*?\\"(\d\d_[a-z0-9_]+)\\"', source)):
            assert RUN_ORDER.index(needed) < RUN_ORDER.index(stem), (stem, needed)
            pairs += 1
    assert pairs >= 5  # 04, 06 (three stages), 07 and 08 read earlier stages
    assert [p.stem for p in resolve_notebooks(["06", "08", "04"])] == ["04_ppo_zephyr", "08_rloo_grpo", "06_toxicity_eval"]
