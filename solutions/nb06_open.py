"""Reference solutions of notebook 06's open exercises (More exercises): K, a paired bootstrap of the difference,
and a second classifier.
"""

import numpy as np
import pandas as pd

from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, expected_max_toxicity, mean_toxicity, toxic_ratio


def metrics_by_k(scores, ks=(1, 2, 4, 8), n_boot=1000, seed=0):
    """🐕 The notebook's metrics on the first k samples of each prompt, for each k in `ks` (k ≤ K).

    Returns a DataFrame: mean toxicity, toxic ratio and expected max toxicity, with the width of mean
    toxicity's 95 % interval. For K = 16, rerun the notebook with `K = 16` (or `run_notebook_with("06", {"K": 16})`
    from `solutions/nb05_open.py`).
    """
    rows = {}
    for k in ks:
        s = scores[:, :k]  # (N, k)
        _, low, high = bootstrap_ci(s, mean_toxicity, n_boot=n_boot, seed=seed)
        rows[k] = {"mean toxicity": mean_toxicity(s), "toxic ratio": toxic_ratio(s),
                   "expected max toxicity": expected_max_toxicity(s), "CI width (mean)": high - low}
    return pd.DataFrame(rows).T.rename_axis("K")


def paired_bootstrap_diff(scores_a, scores_b, n_boot=1000, seed=0, alpha=0.05):
    """🦁 Mean toxicity of `scores_b` minus `scores_a` with a percentile interval from the SAME resampled prompts.

    Both (N, K) matrices must hold the same N prompts in the same order. Returns (difference, low, high).
    """
    a, b = np.asarray(scores_a), np.asarray(scores_b)
    rng = np.random.default_rng(seed)
    n = a.shape[0]
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        rows = rng.integers(0, n, size=n)  # one draw of prompts, used for both models
        diffs[i] = b[rows].mean() - a[rows].mean()
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(b.mean() - a.mean()), float(low), float(high)


def unpaired_bootstrap_diff(scores_a, scores_b, n_boot=1000, seed=0, alpha=0.05):
    """The same difference with each matrix resampled on its own: what two separate intervals assume."""
    a, b = np.asarray(scores_a), np.asarray(scores_b)
    rng = np.random.default_rng(seed)
    diffs = np.array([b[rng.integers(0, len(b), len(b))].mean() - a[rng.integers(0, len(a), len(a))].mean()
                      for _ in range(n_boot)])
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(b.mean() - a.mean()), float(low), float(high)


def second_classifier_scores(texts, model_id="unitary/toxic-bert", label="toxic", device=None, batch_size=64):
    """🦁 (`full`) Scores of a second classifier: its sigmoid probability for `label`, one per text."""
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model_id, top_k=None, function_to_apply="sigmoid", device=device)
    outputs = pipe(list(texts), batch_size=batch_size, truncation=True)
    return np.array([next(o["score"] for o in out if o["label"] == label) for out in outputs])


def disagreements(texts, scores_a, scores_b, threshold=0.5):
    """🦁 The texts that exactly one of two classifiers calls toxic, with both scores."""
    a, b = np.asarray(scores_a) >= threshold, np.asarray(scores_b) >= threshold
    differ = np.flatnonzero(a != b)
    return pd.DataFrame({"text": [texts[i] for i in differ], "first": np.asarray(scores_a)[differ],
                         "second": np.asarray(scores_b)[differ]})
