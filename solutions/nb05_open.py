"""Reference solutions of notebook 05's open exercises (More exercises): precomputed reference log-probs,
a sweep over β, and the IPO loss.
"""

import dataclasses
import json
from pathlib import Path


def precomputed_ref_config(config):
    """🐕 The notebook's DPOConfig with the reference log-probs computed once, before training."""
    return dataclasses.replace(config, precompute_ref_log_probs=True, output_dir=str(config.output_dir) + "_precomputed")


def run_notebook_with(stem, parameters, out="runs", profile="tiny"):
    """🐕 Run a notebook headless in a fresh kernel with some parameters changed; returns its key metrics.

    The same as `python -m rlhf_helpers run --profile tiny 05 -p BETA 0.02` on the command line. The trained
    model and `trainer_state.json` overwrite the notebook's own in `artifacts/`: read what you need (e.g.
    `margins_of`) before the next run.
    """
    from rlhf_helpers.infra.runner import notebooks_dir, run_notebook

    path = next(notebooks_dir().glob(f"{stem}*.ipynb"))
    out_dir = Path(out).resolve() / f"{path.stem}-{'-'.join(f'{k}{v}' for k, v in parameters.items())}"
    out_dir.mkdir(parents=True, exist_ok=True)
    row = run_notebook(path, out_dir, profile, parameters)
    if not row["ok"]:
        raise RuntimeError(row["error"])
    return row["metrics"]


def margins_of(trainer_state_path):
    """🐕 (steps, rewards/margins) from a DPO run's trainer_state.json."""
    logs = [e for e in json.loads(Path(trainer_state_path).read_text())["log_history"] if "rewards/margins" in e]
    return [e["step"] for e in logs], [e["rewards/margins"] for e in logs]


def ipo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta,
             chosen_lengths=None, rejected_lengths=None):
    """🦁 The IPO loss: the mean over pairs of (h - 1/(2β))², h the log-ratio margin.

    Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences".

    h = log π(y_w|x)/π_ref(y_w|x) - log π(y_l|x)/π_ref(y_l|x). TRL's `loss_type="ipo"` divides each log-ratio by
    its reply's number of tokens first (pass the lengths to do the same).
    """
    chosen = policy_chosen_logps - ref_chosen_logps
    rejected = policy_rejected_logps - ref_rejected_logps
    if chosen_lengths is not None:
        chosen, rejected = chosen / chosen_lengths, rejected / rejected_lengths
    return ((chosen - rejected - 1 / (2 * beta)) ** 2).mean()


def ipo_config(config):
    """🦁 The notebook's DPOConfig with the IPO loss."""
    return dataclasses.replace(config, loss_type=["ipo"], output_dir=str(config.output_dir) + "_ipo")
