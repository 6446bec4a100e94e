"""The full profile without internet: fetch once, then run offline (`python -m rlhf_helpers download`, in `download.py`).

Models go to the standard Hugging Face cache (`$HF_HOME/hub`, the `models--org--name/snapshots/<rev>`
layout), from which `from_pretrained("gpt2")` loads them with `HF_HUB_OFFLINE=1`. Datasets and `evaluate`
modules go to one folder, `offline_dir()`, one sub-folder per Hub repository:

    <offline_dir>/datasets/<org>/<name>/   a copy of the dataset repository (its data files and card)
    <offline_dir>/evaluate/<name>/         an evaluate module (e.g. rouge/rouge.py)

(`datasets` refuses its own Hub cache when offline, but loads a local copy of a repository exactly as the
repository.) `get_profile` and `scorers` use these local copies whenever they exist, online or not.
"""

from __future__ import annotations

import os
from pathlib import Path

def offline_dir() -> Path:
    """Where local copies of datasets and evaluate modules live: $RLHF_OFFLINE_DIR, else `<artifacts>/offline`."""
    if os.environ.get("RLHF_OFFLINE_DIR"):
        return Path(os.environ["RLHF_OFFLINE_DIR"]).expanduser().resolve()
    from rlhf_helpers.infra.paths import artifacts_root

    return artifacts_root() / "offline"


def local_dataset_dir(hub_id: str, root: Path | None = None) -> Path:
    """The folder of the local copy of dataset repository `hub_id` (it may not exist)."""
    return (root or offline_dir()) / "datasets" / hub_id


def local_metric_dir(name: str, root: Path | None = None) -> Path:
    """The folder of the local copy of evaluate module `name` (it may not exist)."""
    return (root or offline_dir()) / "evaluate" / name


def dataset_source(hub_id: str) -> str:
    """What to pass to `load_dataset`: the local copy of `hub_id` when there is one, else `hub_id`."""
    local = local_dataset_dir(hub_id)
    return str(local) if local.is_dir() else hub_id


def metric_source(name: str) -> str:
    """What to pass to `evaluate.load`: the local copy of module `name` when there is one, else `name`."""
    local = local_metric_dir(name)
    return str(local) if (local / f"{name}.py").is_file() else name
