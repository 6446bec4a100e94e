"""Where the course writes what it builds and trains (shared by the profiles and the toy world)."""

from __future__ import annotations

import os
from pathlib import Path


def artifacts_root() -> Path:
    """Where trained models and the toy world are written: $RLHF_ARTIFACTS_DIR, else `artifacts/`
    at the repository root (editable install), else ~/.cache/rlhf-course."""
    if os.environ.get("RLHF_ARTIFACTS_DIR"):
        return Path(os.environ["RLHF_ARTIFACTS_DIR"]).expanduser().resolve()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / "artifacts"
    return Path.home() / ".cache" / "rlhf-course"


def writable_folder(path: Path) -> Path:
    """Create `path` (and its parents) and check that files can be written in it; returns it.

    Raises an OSError that names the folder, why it cannot be written, and how to choose another.
    """
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        raise OSError(f"cannot write to {path} ({type(err).__name__}: {err.strerror or err}). The course saves its "
                      f"models and the toy world under {artifacts_root()}: set the environment variable "
                      "RLHF_ARTIFACTS_DIR to a folder you can write (in a notebook, os.environ[\"RLHF_ARTIFACTS_DIR\"] "
                      "= \"/path\" before `setup`), or make that folder writable.") from err
    return path
