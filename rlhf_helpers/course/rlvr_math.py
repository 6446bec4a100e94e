"""The arithmetic of evaluating RL with verifiable rewards (notebook 09): pass@k and a paired gain.

pass@k is the chance that at least one of k replies to a problem is right. Sampling exactly k replies and checking
gives a noisy 0/1; Chen et al. (2021, "Evaluating Large Language Models Trained on Code", eq. 1) sample n ≥ k replies,
count the c right ones, and average over all k-subsets of the n:

    pass@k = 1 - C(n - c, k) / C(n, k)

which is unbiased. The naive 1 - (1 - c/n)^k is not (it assumes replies drawn with replacement).
"""

from __future__ import annotations

import math

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem from n sampled replies of which c are right (Chen et al. 2021).

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k / i), equal to 1 - C(n-c, k) / C(n, k) without huge binomials.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0  # every k-subset holds a right reply
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(correct, k: int) -> float:
    """pass@k averaged over problems; `correct` is (problems, n) of 0/1 (each problem's n replies checked)."""
    correct = np.asarray(correct, dtype=bool)
    n = correct.shape[1]
    return float(np.mean([pass_at_k(n, int(c), k) for c in correct.sum(axis=1)]))


def paired_gain(before, after) -> tuple[float, float, float]:
    """(gain, standard error, gain in standard errors) of per-problem scores measured before and after on the
    same problems: the SE of the mean of the per-problem differences (a paired test)."""
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if diff.ndim != 1 or len(diff) < 2:
        raise ValueError(f"need one before and one after score per problem for at least 2 problems, got {diff.shape}")
    gain = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(len(diff)))
    return gain, se, (gain / se if se > 0 else (0.0 if gain == 0 else math.copysign(math.inf, gain)))
