"""Stages: what one notebook saves for a later one, written whole or not at all, and checked before it is loaded.

A stage is a folder inside a notebook's artifacts, e.g. `artifacts/tiny/01_sft/model/` (notebook 07 loads it).
`save_stage` writes it to a temporary folder beside its place, writes a manifest last, and then moves the folder
into place in one rename: a notebook interrupted while saving (a kernel restart, Colab disconnecting, a full disk)
leaves the previous copy or nothing, never half a model.

    with save_stage(P, "model") as folder:      # in notebook 01
        trainer.save_model(str(folder))
    sft_path = ensure_stage(P, "01_sft", "model")   # in notebook 07

The manifest (`manifest.json`, inside the stage) records the notebook, profile and seed, the model ids, the
notebook's settings, the toy world (tiny) and every file with its size. `ensure_stage` trusts it only: a stage
without one, or with a listed file missing or of another size, is rebuilt in tiny (the notebook runs headless) and
named as missing in full; a stage of another profile, seed or set of model ids is refused, naming both.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MANIFEST = "manifest.json"


class StageMismatchError(RuntimeError):
    """A saved stage was trained under other conditions (profile, seed, model ids) than the notebook loading it."""


# --------------------------------------------------------------------------- saving
@contextmanager
def save_stage(profile, name: str) -> Iterator[Path]:
    """Save a stage of this notebook atomically: write into the folder this yields; it is moved into place at the end.

    Args:
        profile: the notebook's `Profile` (from `setup`).
        name: the stage's folder inside the notebook's artifacts, e.g. "adapter" -> `P.output_dir() / "adapter"`.
    Yields:
        An empty temporary folder beside the stage's place. When the block ends without an error, the manifest is
        written into it, last, and it replaces the stage's folder (an old copy is moved aside first, then removed).
        When the block raises, the temporary folder is removed and an old copy stays as it was.
    Not for two processes saving the same stage at once.
    """
    target = profile.output_dir() / name
    for debris in target.parent.glob(f".{name}.partial-*"):  # left by a save that was killed
        shutil.rmtree(debris, ignore_errors=True)
    tmp = target.with_name(f".{name}.partial-{os.getpid()}-{time.time_ns()}")
    tmp.mkdir()  # not tempfile.mkdtemp: its folder is private to its owner, and this one is the stage
    try:
        yield tmp
        write_manifest(tmp, profile)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _move_into_place(tmp, target)


def write_manifest(folder: Path, profile) -> dict:
    """Write `folder / MANIFEST`, describing what produced the folder and every file in it; returns it."""
    from rlhf_helpers.infra.expected import changed_settings

    files = {p.relative_to(folder).as_posix(): p.stat().st_size
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    if not files:
        raise RuntimeError(f"nothing was saved in {folder}: save the model inside the `with save_stage(...)` block")
    manifest = {
        "notebook": profile.notebook, "profile": profile.name, "seed": profile.seed,
        "models": model_ids(profile), "settings": vars(profile.settings), "changed_settings": changed_settings(profile),
        "toy_world": _toy_world(profile), "written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "files": files,
    }
    with open(folder / MANIFEST, "w") as f:
        json.dump(manifest, f, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())  # on disk before the folder is moved into place
    return manifest


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`; an existing `target` is renamed aside first and removed afterwards."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def model_ids(profile) -> dict[str, str]:
    """The profile's model ids; a local folder inside the artifacts (the toy world) relative to them, so that
    moving the artifacts folder (to Google Drive, say) changes nothing."""
    from rlhf_helpers.infra.paths import artifacts_root

    root = artifacts_root()
    ids = {}
    for key, source in profile.models.items():
        path = Path(source)
        ids[key] = path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else source
    return ids


def _toy_world(profile) -> str | None:
    from rlhf_helpers.infra.profiles import toy_world_name

    return toy_world_name(profile.seed) if profile.name == "tiny" else None


# --------------------------------------------------------------------------- loading
def stage_problem(profile, stem: str, folder: Path) -> tuple[str, str] | None:
    """What stops `folder` (stage of notebook `stem`) from being loaded by `profile`'s notebook, or None.

    Returns (kind, message): kind "missing" (no manifest, a listed file missing or of another size, another toy
    world: rebuilt in tiny) or "mismatch" (another profile, seed or model ids: never loaded).
    """
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        why = "was never saved" if not folder.exists() else f"has no {MANIFEST} (its save did not finish)"
        return "missing", f"{folder} {why}"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as err:
        return "missing", f"{manifest_path} is unreadable ({type(err).__name__}: {err})"
    for rel, size in files.items():
        path = folder / rel
        if not path.is_file():
            return "missing", f"{folder} is incomplete: {rel} is missing"
        if path.stat().st_size != size:
            return "missing", f"{folder} is incomplete: {rel} has {path.stat().st_size} bytes, its manifest says {size}"
    saved = f"{stem}/{folder.name} was saved"
    if (manifest.get("profile"), manifest.get("seed")) != (profile.name, profile.seed):
        return "mismatch", (f"{saved} in profile {manifest.get('profile')} with SEED = {manifest.get('seed')}; this "
                            f"notebook runs in profile {profile.name} with SEED = {profile.seed}. Run {stem}.ipynb "
                            f"again with PROFILE = \"{profile.name}\" and SEED = {profile.seed}, or set this "
                            f"notebook's PROFILE and SEED to match.")
    if profile.name == "tiny" and manifest.get("toy_world") != _toy_world(profile):
        return "missing", f"{saved} with toy world {manifest.get('toy_world')}, not {_toy_world(profile)} (in use now)"
    ours = model_ids(profile)
    theirs = manifest.get("models") or {}
    differ = sorted(k for k in theirs if k in ours and theirs[k] != ours[k])
    if differ:
        pairs = "; ".join(f"{k}: saved from {theirs[k]!r}, this notebook uses {ours[k]!r}" for k in differ)
        return "mismatch", (f"{saved} from other models than this notebook uses ({pairs}). Run {stem}.ipynb again "
                            f"with the models of this notebook, or point RLHF_ARTIFACTS_DIR at the artifacts made "
                            f"with those models.")
    return None


def ensure_stage(profile, stem: str, name: str) -> Path:
    """The folder of stage `name` of an earlier notebook `stem`, checked; e.g. `ensure_stage(P, "01_sft", "model")`.

    A stage whose manifest is missing or does not match its files, or (tiny) that was trained on another version
    of the toy world: in the tiny profile notebook `stem` is executed headless first (a fresh kernel, its own code, a
    minute or two); in the full profile a FileNotFoundError says which notebook to run. A stage saved in another
    profile, with another seed or from other model ids raises a StageMismatchError that names both.
    Notebooks never rely on another notebook's kernel state, only on these folders.
    """
    folder = profile.output_dir(stem) / name
    problem = stage_problem(profile, stem, folder)
    if problem is None:
        return folder
    kind, why = problem
    if kind == "mismatch":
        raise StageMismatchError(why)
    if profile.name != "tiny":
        raise FileNotFoundError(
            f"{why}: run notebook {stem}.ipynb first (profile {profile.name}), or point RLHF_ARTIFACTS_DIR at the "
            f"folder that holds its artifacts. In Colab, whose disk is wiped between sessions, set "
            f"KEEP_ARTIFACTS_ON_DRIVE = True in the cell after the parameters, in both notebooks: {stem} then saves "
            f"to your Google Drive and this notebook finds it there.")
    from filelock import FileLock

    # Two notebooks that need the same stage at once (parallel runs) rebuild it once: the second waits.
    with FileLock(str(profile.output_dir(stem)) + ".lock"):
        if stage_problem(profile, stem, folder) is not None:
            print(f"{why}: running notebook {stem} now, headless, in the tiny profile (seed {profile.seed}) ...",
                  flush=True)
            _rebuild_tiny_stage(stem, profile.seed)
    problem = stage_problem(profile, stem, folder)
    if problem is not None:
        raise RuntimeError(f"rebuilding {stem} did not save its stage {name!r}: {problem[1]}")
    return folder


def _rebuild_tiny_stage(stem: str, seed: int) -> None:
    """Run notebook `stem` headless in the tiny profile with `seed` (it saves its stages as it goes)."""
    from rlhf_helpers.infra import runner

    with tempfile.TemporaryDirectory() as tmp:
        # run a copy: the installed notebooks' folder may be read-only, and the kernel works in its folder
        (Path(tmp) / "source").mkdir()
        source = Path(shutil.copy(runner.notebooks_dir() / f"{stem}.ipynb", Path(tmp) / "source"))
        row = runner.run_notebook(source, Path(tmp), "tiny", parameters={"SEED": seed} if seed else None)
    if not row["ok"]:
        raise RuntimeError(f"rebuilding {stem} failed: {row['error']}")
    print(f"{stem} rebuilt in {row['seconds']:.0f} s")
