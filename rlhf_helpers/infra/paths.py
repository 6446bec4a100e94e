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
