"""Fetch once, with internet, what each notebook loads in the full profile: `python -m rlhf_helpers download`.

Where the copies go and how the notebooks find them again offline is `offline.py`.
"""

from __future__ import annotations

import os

from rlhf_helpers.infra.offline import local_dataset_dir, local_metric_dir, offline_dir
from rlhf_helpers.infra.profiles import FULL_DATASETS, FULL_MODELS

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



def needs(notebooks: list[str]) -> dict[str, list[str]]:
    """The Hub ids of the models, datasets and evaluate modules that `notebooks` (stems) load in full."""
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
