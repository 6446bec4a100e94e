"""The headless course runner: `python -m rlhf_helpers run [--profile tiny] [NOTEBOOK ...]`.

Teachers use it to pre-run the course. Each notebook runs top to bottom in a fresh kernel (in file order) through papermill, which
sets its parameters (`-p NAME VALUE`); its executed copy and its results JSON go to a run folder, and one
summary table is printed at the end.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def notebooks_dir() -> Path:
    """The course's notebooks: `notebooks/` beside the package in a clone, else the copies installed with it."""
    package = Path(__file__).resolve().parents[1]
    clone = package.parent
    folder = clone / "notebooks" if (clone / "pyproject.toml").exists() else package / "notebooks"
    if not any(folder.glob("[0-9][0-9]_*.ipynb")):
        raise FileNotFoundError(f"no course notebooks in {folder}: reinstall the package (pip install rlhf-course from "
                                "the course's repository) or run from a clone of it")
    return folder


def declared_parameters(path: Path) -> set[str]:
    """The names the notebook's `parameters` cell defines (papermill's reading of it)."""
    import papermill as pm

    return set(pm.inspect_notebook(str(path)))


def notebook_parameters(path: Path, parameters: dict) -> dict:
    """The part of `parameters` that `path` takes: its declared names, and only its own OVERRIDES keys."""
    from rlhf_helpers.infra.profiles import SETTINGS

    declared = declared_parameters(path)
    chosen = {k: v for k, v in parameters.items() if k in declared}
    if isinstance(chosen.get("OVERRIDES"), dict):
        known = set(SETTINGS.get(path.stem, {}).get("tiny", {}))
        skipped = sorted(set(chosen["OVERRIDES"]) - known)
        if skipped:
            print(f"  {path.stem}: OVERRIDES {skipped} are not settings of this notebook, left out")
        chosen["OVERRIDES"] = {k: v for k, v in chosen["OVERRIDES"].items() if k in known}
    return chosen


def run_notebook(path: Path, out_dir: Path, profile: str, parameters: dict | None = None,
                 timeout: int = 1800) -> dict:
    """Execute one notebook with papermill in a fresh kernel; returns {notebook, seconds, ok, error, metrics}.

    `parameters` (name -> value) replace the defaults of the notebook's `parameters` cell; papermill
    injects them in a cell right after it. The executed copy goes to `out_dir/<name>`.
    """
    import tempfile

    import papermill as pm
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from papermill.exceptions import PapermillExecutionError

    env_before = dict(os.environ)
    os.environ.update(RLHF_PROFILE=profile, RLHF_RESULTS_DIR=str(out_dir))  # the kernel inherits these
    start = time.perf_counter()
    error = ""
    with tempfile.TemporaryDirectory() as sockets:
        # IPC sockets in a private folder: a local kernel needs no network ports (and then says nothing about them)
        # The async manager: papermill notices a kernel that dies (a segfault) within seconds; with the blocking
        # `KernelManager` it waited forever, past `execution_timeout`.
        kernel = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        try:
            pm.execute_notebook(str(path), str(out_dir / path.name), parameters=parameters or {}, kernel_name="python3",
                                cwd=str(path.parent), progress_bar=False, execution_timeout=timeout, km=kernel)
        except PapermillExecutionError as err:
            first = err.source.strip().splitlines()[0] if err.source.strip() else ""
            error = f"cell {err.cell_index} ({first[:60]}): {err.ename}: {str(err.evalue).strip()[:200]}"
        except Exception as err:  # a dead kernel, a timeout: report it and go on with the next notebook
            error = f"{type(err).__name__}: {err}"[:300]
        finally:
            if kernel.has_kernel:
                run_sync(kernel.shutdown_kernel)(now=True)
            os.environ.clear()
            os.environ.update(env_before)
    seconds = time.perf_counter() - start
    results_file = out_dir / f"{path.stem}.json"
    metrics = {}
    if results_file.exists() and not error:
        from rlhf_helpers.infra.results import read_report

        try:
            metrics = read_report(results_file)
        except ValueError as err:
            error = str(err)
    return {"notebook": path.stem, "seconds": seconds, "ok": not error, "error": error, "metrics": metrics}


def summary_table(rows: list[dict]) -> str:
    """The run's summary as a plain-text table: notebook, status, wall time, key metrics."""
    lines = [f"{'notebook':<24} {'status':<6} {'time':>7}  metrics"]
    for r in rows:
        metrics = "  ".join(f"{k}={v:.3g}" for k, v in r["metrics"].items()) if r["ok"] else r["error"]
        lines.append(f"{r['notebook']:<24} {'ok' if r['ok'] else 'FAILED':<6} {r['seconds']:>6.1f}s  {metrics}")
    return "\n".join(lines)


# The order the notebooks run in: each after the stages it reads. 06 compares the policies of 04, 05 and 08, so 08
# runs before it (run after it, 06 would first rebuild 08 headless and 08 would then be trained twice).
RUN_ORDER = ["01_sft", "02_reward_bert", "03_reward_gpt2", "04_ppo_zephyr", "05_dpo", "08_rloo_grpo",
             "06_toxicity_eval", "07_summarize_rlhf"]


# The earlier notebooks whose saved models a notebook loads (its `stages.ensure_stage` calls; a test reads them from the
# notebooks). With `jobs` > 1 a notebook starts only after those of them in the same run have finished.
STAGE_NEEDS = {"06_toxicity_eval": ["04_ppo_zephyr", "05_dpo", "08_rloo_grpo"], "07_summarize_rlhf": ["01_sft"],
               "08_rloo_grpo": ["04_ppo_zephyr"]}


def run_order_key(path: Path) -> tuple[int, str]:
    """Sort key: the course's notebooks in RUN_ORDER, any other notebook after them by name."""
    stem = Path(path).stem
    return (RUN_ORDER.index(stem) if stem in RUN_ORDER else len(RUN_ORDER), Path(path).name)


def resolve_notebooks(names: list[str]) -> list[Path]:
    """Notebook paths from names such as `01`, `01_sft`, `01_sft.ipynb` or a path; all when empty, in RUN_ORDER."""
    folder = notebooks_dir()
    available = sorted(folder.glob("[0-9][0-9]_*.ipynb"), key=run_order_key)
    if not names:
        return available
    chosen = []
    for name in names:
        if Path(name).is_file():
            chosen.append(Path(name).resolve())
            continue
        matches = [p for p in available if p.stem == name or p.name == name or p.stem.split("_")[0] == name]
        if not matches:
            raise SystemExit(f"no notebook matches {name!r}; available: {', '.join(p.stem for p in available)}")
        chosen.extend(matches)
    return sorted(set(chosen), key=run_order_key)


def default_jobs(profile: str) -> int:
    """Notebooks run at once when none is asked for: in `tiny` one per core, at most 2; in `full` 1.

    A tiny notebook computes on one thread (`profiles.setup`), so a second notebook beside it uses a core that would
    otherwise idle, with the same results. In `full` the notebooks would share one GPU and its memory.
    """
    return min(2, os.cpu_count() or 1) if profile == "tiny" else 1


def run(names: list[str], profile: str, out_root: Path, parameters: dict | None = None, jobs: int | None = None) -> int:
    """Run the notebooks, print the summary table, return the process exit code (1 if any failed).

    `parameters` (name -> value, e.g. {"PPO_ITERATIONS": 2, "OVERRIDES": {"batch_size": 4}}) go to every
    notebook whose parameters cell defines that name; OVERRIDES keys go to the notebooks that have them.
    `jobs`: how many notebooks run at once, each in its own process and kernel, each after the notebooks of
    this run it loads (`STAGE_NEEDS`); None: `default_jobs(profile)`.
    """
    from rlhf_helpers.infra.profiles import check_profile

    profile = check_profile(profile)
    jobs = default_jobs(profile) if jobs is None else jobs
    if jobs < 1:
        raise SystemExit(f"--jobs {jobs}: run at least one notebook at a time")
    paths = resolve_notebooks(names)
    jobs = max(1, min(jobs, len(paths)))  # one notebook: no worker process
    parameters = dict(parameters or {})
    if "PROFILE" in parameters:
        raise SystemExit("set the profile with --profile, not -p PROFILE")
    unused = set(parameters) - set().union(*(declared_parameters(p) for p in paths))
    if unused:
        raise SystemExit(f"no chosen notebook has the parameter(s) {sorted(unused)}: "
                         "see the parameters cell at the top of each notebook")
    # absolute: each kernel runs in notebooks/, so a relative folder would land in notebooks/runs/
    out_dir = Path(out_root).resolve() / time.strftime(f"%Y%m%d-%H%M%S-{profile}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if jobs == 1:
        rows = []
        for path in paths:
            print(f"running {path.name} ({profile}) ...", flush=True)
            rows.append(run_notebook(path, out_dir, profile, notebook_parameters(path, parameters)))
            _print_finished(path, rows[-1])
    else:
        rows = _run_side_by_side(paths, out_dir, profile, parameters, jobs)
    table = summary_table(rows)
    (out_dir / "summary.txt").write_text(table + "\n")
    print(f"\nexecuted notebooks and results in {out_dir}\n\n{table}")
    return 0 if all(r["ok"] for r in rows) else 1


def _run_side_by_side(paths: list[Path], out_dir: Path, profile: str, parameters: dict, jobs: int) -> list[dict]:
    """`run_notebook` for each of `paths`, up to `jobs` at a time in worker processes; rows in the order of `paths`.

    A notebook is started once the notebooks of this run that it loads (`STAGE_NEEDS`) have finished, ok or not.
    Processes, not threads: `run_notebook` sets environment variables for its kernel.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    in_run = {p.stem for p in paths}
    pending, running, finished, rows = list(paths), {}, set(), {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while pending or running:
            ready = [p for p in pending if all(n in finished or n not in in_run for n in STAGE_NEEDS.get(p.stem, []))]
            for path in ready[:jobs - len(running)]:
                pending.remove(path)
                print(f"running {path.name} ({profile}) ...", flush=True)
                running[pool.submit(run_notebook, path, out_dir, profile, notebook_parameters(path, parameters))] = path
            if not running:
                raise RuntimeError(f"{', '.join(p.stem for p in pending)} wait for each other in STAGE_NEEDS: "
                                   "a notebook cannot need a notebook that needs it")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                path = running.pop(future)
                rows[path] = future.result()
                finished.add(path.stem)
                _print_finished(path, rows[path])
    return [rows[p] for p in paths]


def _print_finished(path: Path, row: dict) -> None:
    print(f"  {path.stem}: {'ok' if row['ok'] else 'FAILED'} in {row['seconds']:.1f} s", flush=True)

