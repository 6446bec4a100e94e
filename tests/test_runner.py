import json
import subprocess
import sys

import nbformat

from rlhf_helpers.infra.runner import resolve_notebooks, run


def write(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_runner_reports_metrics_and_the_failing_cell(tmp_path, capsys):
    good = write(tmp_path / "01_good.ipynb", [
        "import os; from rlhf_helpers.infra.results import report",
        "report('01_good', {'answer': 42, 'profile_is_tiny': os.environ['RLHF_PROFILE'] == 'tiny'})"])
    bad = write(tmp_path / "02_bad.ipynb", ["x = 1", "raise RuntimeError('boom')", "y = 2"])
    code = run([str(good), str(bad)], "tiny", tmp_path / "runs", jobs=1)
    out = capsys.readouterr().out
    assert code == 1
    assert "answer=42" in out and "profile_is_tiny=1" in out
    assert "FAILED" in out and "cell 1" in out and "boom" in out
    run_dir = next((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "01_good.json").read_text())["answer"] == 42
    assert (run_dir / "02_bad.ipynb").exists() and (run_dir / "summary.txt").exists()


def test_a_kernel_that_dies_is_reported_in_seconds_and_the_next_notebook_runs(tmp_path, capsys):
    """A segfault in the kernel is a failed notebook, not a runner waiting forever (it once hung past the timeout)."""
    import time

    crash = write(tmp_path / "01_crash.ipynb", ["x = 1", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    after = write(tmp_path / "02_after.ipynb", ["from rlhf_helpers.infra.results import report", "report('02_after', {'ran': 1})"])
    start = time.perf_counter()
    code = run([str(crash), str(after)], "tiny", tmp_path / "runs", jobs=1)
    out = capsys.readouterr().out
    assert time.perf_counter() - start < 60
    assert code == 1
    assert "DeadKernelError" in out and "ran=1" in out


def test_tiny_runs_two_notebooks_at_a_time_on_two_cores_and_full_one(monkeypatch):
    from rlhf_helpers.infra import runner

    for cores, tiny in [(1, 1), (2, 2), (16, 2), (None, 1)]:
        monkeypatch.setattr(runner.os, "cpu_count", lambda: cores)
        assert runner.default_jobs("tiny") == tiny and runner.default_jobs("full") == 1


def test_notebook_names_resolve_in_course_order():
    from rlhf_helpers.infra.runner import RUN_ORDER

    names = [p.stem for p in resolve_notebooks([])]
    assert names == RUN_ORDER  # by number, except 08 before 06 (06 compares 08's policies)
    assert names.index("08_rloo_grpo") < names.index("06_toxicity_eval") and names[:5] == sorted(names)[:5]
    assert [p.stem for p in resolve_notebooks(["01"])] == ["01_sft"]


def test_cli_rejects_an_unknown_profile():
    proc = subprocess.run([sys.executable, "-m", "rlhf_helpers", "run", "--profile", "huge", "01"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "valid profiles are tiny, full" in proc.stderr


def test_side_by_side_runs_overlap_and_wait_for_the_stages_they_load(tmp_path, capsys, monkeypatch):
    """--jobs 2: independent notebooks run at the same time; a notebook starts after the one it loads has finished."""
    import rlhf_helpers.infra.runner as runner

    monkeypatch.setattr(runner, "STAGE_NEEDS", {"03_loader": ["01_stage"]})

    def timed(name, body):
        return write(tmp_path / f"{name}.ipynb", [
            f"import json, time; from pathlib import Path; start = time.time()\n{body}",
            f"Path({str(tmp_path)!r}, '{name}.times').write_text(json.dumps([start, time.time()]))"])
    timed("01_stage", f"time.sleep(5); Path({str(tmp_path)!r}, 'stage.txt').write_text('saved')")
    timed("02_independent", "time.sleep(5)")
    timed("03_loader", f"assert Path({str(tmp_path)!r}, 'stage.txt').read_text() == 'saved'")
    code = run([str(tmp_path / f"{n}.ipynb") for n in ("01_stage", "02_independent", "03_loader")], "tiny",
               tmp_path / "runs", jobs=2)
    out = capsys.readouterr().out
    assert code == 0, out
    times = {n: json.loads((tmp_path / f"{n}.times").read_text()) for n in ("01_stage", "02_independent", "03_loader")}
    assert times["01_stage"][0] < times["02_independent"][1] and times["02_independent"][0] < times["01_stage"][1]
    assert times["03_loader"][0] >= times["01_stage"][1]
    table = out.split("executed notebooks")[-1]
    assert table.index("01_stage") < table.index("02_independent") < table.index("03_loader")  # in run order


def test_side_by_side_refuses_notebooks_that_wait_for_each_other(tmp_path, monkeypatch):
    import pytest

    import rlhf_helpers.infra.runner as runner

    monkeypatch.setattr(runner, "STAGE_NEEDS", {"01_a": ["02_b"], "02_b": ["01_a"]})
    paths = [write(tmp_path / f"{n}.ipynb", ["x = 1"]) for n in ("01_a", "02_b")]
    with pytest.raises(RuntimeError, match="wait for each other"):
        run([str(p) for p in paths], "tiny", tmp_path / "runs", jobs=2)


def test_stage_needs_match_the_notebooks_ensure_stage_calls():
    import re

    from rlhf_helpers.infra.runner import STAGE_NEEDS

    found = {}
    for path in resolve_notebooks([]):
        loads = sorted(set(re.findall(r'ensure_stage\(P, \\"(\d\d_\w+)\\"', path.read_text())))
        if loads:
            found[path.stem] = loads
    assert found == {stem: sorted(needs) for stem, needs in STAGE_NEEDS.items()}
