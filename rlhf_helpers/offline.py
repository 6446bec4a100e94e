"""The full profile without internet: fetch once, then run offline (`python -m rlhf_helpers download`).

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

# What each notebook loads in the full profile: keys of profiles.FULL_MODELS / FULL_DATASETS, evaluate modules.
NEEDS = {
    "01_sft": dict(models=["gpt2"], datasets=["tldr"], metrics=["rouge"]),
    "02_reward_bert": dict(models=["bert"], datasets=["comparisons"], metrics=[]),
    "03_reward_gpt2": dict(models=["gpt2"], datasets=["dahoas", "ultrafeedback"], metrics=[]),
    "04_ppo_zephyr": dict(models=["zephyr", "distilroberta", "toxicity"], datasets=["hh_rlhf", "rtp"],
                          metrics=["toxicity"]),
    "05_dpo": dict(models=["zephyr", "toxicity"], datasets=["hh_rlhf"], metrics=["toxicity"]),
    "06_toxicity_eval": dict(models=["zephyr", "distilroberta", "toxicity"], datasets=["hh_rlhf", "rtp"],
                             metrics=["toxicity"]),
    "07_summarize_rlhf": dict(models=["gpt2"], datasets=["comparisons", "tldr"], metrics=["rouge"]),
    "08_rloo_grpo": dict(models=["zephyr", "distilroberta", "toxicity"], datasets=["hh_rlhf", "rtp"],
                         metrics=["toxicity"]),
}
# The Hub repositories (Spaces) that hold the evaluate modules.
METRIC_REPOS = {"rouge": "evaluate-metric/rouge", "toxicity": "evaluate-measurement/toxicity"}
# Files a model needs (skips TensorFlow, Flax, ONNX and duplicate PyTorch .bin weights).
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def offline_dir() -> Path:
    """Where local copies of datasets and evaluate modules live: $RLHF_OFFLINE_DIR, else `<artifacts>/offline`."""
    if os.environ.get("RLHF_OFFLINE_DIR"):
        return Path(os.environ["RLHF_OFFLINE_DIR"]).expanduser().resolve()
    from .paths import artifacts_root

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


def needs(notebooks: list[str]) -> dict[str, list[str]]:
    """The Hub ids of the models, datasets and evaluate modules that `notebooks` (stems) load in full."""
    from .profiles import FULL_DATASETS, FULL_MODELS

    unknown = [n for n in notebooks if n not in NEEDS]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; known: {', '.join(NEEDS)}")
    out: dict[str, list[str]] = {"models": [], "datasets": [], "metrics": []}
    for stem in notebooks:
        for key in NEEDS[stem]["models"]:
            out["models"].append(FULL_MODELS[key])
        for key in NEEDS[stem]["datasets"]:
            out["datasets"].append(FULL_DATASETS[key])
        out["metrics"].extend(NEEDS[stem]["metrics"])
    return {kind: sorted(set(ids)) for kind, ids in out.items()}


def download(notebooks: list[str], dry_run: bool = False) -> dict[str, list[str]]:
    """Fetch everything `notebooks` load in the full profile (needs internet); returns what was fetched.

    Models go to the Hugging Face cache, datasets and evaluate modules to `offline_dir()`. Run it once
    with internet; then `HF_HUB_OFFLINE=1` runs of those notebooks need none.
    """
    wanted = needs(notebooks)
    print(f"models   -> Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')}/hub)")
    print(f"datasets, evaluate modules -> {offline_dir()}")
    for kind, ids in wanted.items():
        print(f"  {kind}: {', '.join(ids) or '-'}")
    if dry_run:
        return wanted
    from huggingface_hub import snapshot_download

    for model_id in wanted["models"]:
        print(f"model {model_id} ...", flush=True)
        snapshot_download(model_id, allow_patterns=MODEL_FILES)
    for hub_id in wanted["datasets"]:
        print(f"dataset {hub_id} ...", flush=True)
        snapshot_download(hub_id, repo_type="dataset", local_dir=local_dataset_dir(hub_id))
    for name in wanted["metrics"]:
        print(f"evaluate module {name} ...", flush=True)
        snapshot_download(METRIC_REPOS[name], repo_type="space", local_dir=local_metric_dir(name))
    print("done: set HF_HUB_OFFLINE=1 and run the notebooks in the full profile")
    return wanted
