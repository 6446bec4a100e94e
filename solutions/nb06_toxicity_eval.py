"""Solutions of notebook 06 (toxicity evaluation): expected maximum toxicity and a bootstrap interval."""

import numpy as np


def my_expected_max_toxicity(scores):
    return float(scores.max(axis=1).mean())  # worst of each prompt's K samples, averaged over prompts


def my_bootstrap_ci(scores, n_boot, seed):
    rng = np.random.default_rng(seed)
    N = scores.shape[0]
    stats = [scores[rng.integers(0, N, size=N)].mean() for _ in range(n_boot)]  # whole prompts, with replacement
    low, high = np.percentile(stats, [2.5, 97.5])
    return low, high
