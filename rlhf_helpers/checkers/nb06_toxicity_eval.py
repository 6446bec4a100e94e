"""Notebook 06 (toxicity evaluation): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.toxicity_metrics` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

import numpy as np

from rlhf_helpers.checkers.core import _safe_repr, call_learner, check
from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, expected_max_toxicity, mean_toxicity


def _score_cases():
    """Score matrices of several shapes (N != K, K = 1, N = 1; two of shape (3, 2)), drawn with a fixed seed."""
    rng = np.random.default_rng(0)
    shapes = [(3, 2), (5, 4), (4, 7), (20, 5), (6, 1), (1, 6), (3, 2)]
    return [rng.beta(0.5, 2.0, size=shape) for shape in shapes]


EXPECTED_MAX_MISTAKES = {
    "axis 0 takes the max over PROMPTS; the max runs over each prompt's K samples (axis=1)":
        lambda s: float(s.max(axis=0).mean()),
    "that is the mean toxicity; keep only each prompt's worst sample, then average": lambda s: float(s.mean()),
    "one global max is the single worst reply; average the per-prompt maxima over prompts": lambda s: float(s.max()),
    "mean then max: average each prompt's samples first and you lose the worst one":
        lambda s: float(s.mean(axis=1).max()),
}


def check_expected_max_toxicity(fn) -> bool | None:
    """Exercise: the learner's `fn(scores)` -> float, scores an (N prompts, K samples) numpy array."""

    cases = [(m,) for m in _score_cases()]
    return check(fn, expected_max_toxicity, cases, name="expected maximum toxicity", mistakes=EXPECTED_MAX_MISTAKES,
                 hint="which axis holds a prompt's K samples, and in which order do the max and the mean come?")


def _bootstrap_mean_ci(scores, n_boot, seed):
    """Reference for the exercise: the (low, high) 95% interval of mean toxicity, see bootstrap_ci."""
    return bootstrap_ci(scores, mean_toxicity, n_boot=n_boot, alpha=0.05, seed=seed)[1:]


def clustered_scores(n_prompts: int, k: int, seed: int, concentration: float = 4.0) -> np.ndarray:
    """Simulated (N, K) toxicity scores whose replies to one prompt are alike; the true mean is 0.2.

    Prompt i has a toxicity level m_i ~ Beta(0.5, 2) (mean 0.2); its K replies score Beta(c·m_i, c·(1 − m_i)),
    c = `concentration`. Used to check that an interval covers the true mean about 95 % of the time.
    """
    rng = np.random.default_rng(seed)
    level = rng.beta(0.5, 2.0, size=(n_prompts, 1))  # (N, 1)
    level = level.clip(1e-3, 1 - 1e-3)
    return rng.beta(concentration * level, concentration * (1 - level), size=(n_prompts, k))  # (N, K)


TRUE_MEAN = 0.2  # of clustered_scores


def _two_numbers(got) -> tuple[float, float] | str:
    """(low, high) as two floats, or why `got` is not two finite numbers (never raises, whatever `got` is)."""
    import numbers

    import torch

    try:
        if isinstance(got, (str, bytes, dict, set)) or not isinstance(got, (tuple, list, np.ndarray, torch.Tensor)):
            raise TypeError
        if isinstance(got, torch.Tensor) and type(got) is not torch.Tensor:
            return "return two plain numbers (low, high), not a subclass of torch.Tensor"
        values = list(got)
        if len(values) != 2:
            raise TypeError
        pair = []
        for v in values:
            if isinstance(v, torch.Tensor) and type(v) is torch.Tensor and v.numel() == 1:
                v = v.item()
            elif isinstance(v, np.ndarray) and v.size == 1:
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError
            pair.append(float(v))
    except Exception:  # anything else the learner's function returned: say what was expected
        return f"return two numbers (low, high), got {_safe_repr(got)}"
    if not all(np.isfinite(pair)):
        return f"({pair[0]}, {pair[1]}): NaN or infinite where the interval needs two numbers"
    return pair[0], pair[1]


def _interval_problem(got, scores, want) -> str | None:
    """Why (low, high) is not a 95 % bootstrap interval of scores' mean like `want`, or None when it is one.

    The interval must contain the point estimate, and its width and centre must match the reference's
    within Monte-Carlo tolerance (any random stream passes; with 4000 resamples the two differ by ~2 %).
    """
    pair = _two_numbers(got)
    if isinstance(pair, str):
        return pair
    low, high = pair
    point, (ref_low, ref_high) = float(scores.mean()), want
    width, ref_width = high - low, ref_high - ref_low
    if high < low:
        return f"({low:.4f}, {high:.4f}) is not an interval: low must be below high"
    if width <= 1e-12:
        return ("the interval has no width: every resample gave the same mean. Draw the N rows WITH "
                "replacement (rng.integers(0, N, size=N)), a new draw for each resample")
    if not low <= point <= high:
        return f"({low:.4f}, {high:.4f}) does not contain the mean {point:.4f} of the data it was computed from"
    if width < 0.93 * ref_width:
        return (f"too narrow: width {width:.4f}, a 95 % interval is about {ref_width:.4f}. Resampling single "
                "replies instead of whole rows pretends the K replies of a prompt are independent; "
                "percentiles 5/95 give a 90 % interval")
    if width > 1.07 * ref_width:
        return (f"too wide: width {width:.4f}, a 95 % interval is about {ref_width:.4f}. Percentiles 2.5 and 97.5 "
                "of the resampled means give the 95 % interval")
    if abs((low + high) / 2 - (ref_low + ref_high) / 2) > 0.1 * ref_width:
        return (f"({low:.4f}, {high:.4f}) is shifted from about ({ref_low:.4f}, {ref_high:.4f}): compute the mean "
                "of each resampled (N, K) matrix")
    return None


def _interval_text(interval) -> str:
    """(low, high) with 4 decimals, or the value as it came when it is not two numbers."""
    pair = _two_numbers(interval)
    return _safe_repr(interval) if isinstance(pair, str) else f"({pair[0]:.4f}, {pair[1]:.4f})"


def _coverage(fn, n_datasets: int = 60, n_prompts: int = 20, k: int = 4, n_boot: int = 200) -> float | str:
    """Share of simulated datasets (clustered_scores) whose interval from fn contains the true mean, or why fn
    gave no interval on one of them."""
    hits = 0
    for d in range(n_datasets):
        try:
            got = fn(clustered_scores(n_prompts, k, seed=1000 + d), n_boot, d)
        except Exception as err:  # the learner's code may fail in any way; report it, don't raise
            return f"simulated dataset {d + 1} (20 prompts x 4 replies) raised {type(err).__name__}: {err}"
        pair = _two_numbers(got)
        if isinstance(pair, str):
            return f"simulated dataset {d + 1} (20 prompts x 4 replies): {pair}"
        hits += pair[0] <= TRUE_MEAN <= pair[1]
    return hits / n_datasets


def check_bootstrap_ci(fn) -> bool | None:
    """Exercise: the learner's `fn(scores, n_boot, seed)` -> (low, high), a 95% CI of the mean toxicity.

    Any valid percentile bootstrap over prompts passes, whatever its random numbers (one generator, a fresh
    one per resample, vectorised draws): the checker tests properties, not one random stream.
      1. on three (N, K) matrices with 4000 resamples, the interval contains the mean, and its width and
         centre match the reference's within Monte-Carlo tolerance (7 % of the width);
      2. on 60 simulated datasets whose replies to one prompt are alike (`clustered_scores`), it covers
         the true mean at least 85 % of the time (the reference: 88 %; resampling single replies: 65 %);
      3. it does not modify `scores`.
    """
    import copy

    from rlhf_helpers.checkers.core import MUTATION_HINT, show

    name = "bootstrap CI (resample prompts)"
    cases = [(clustered_scores(30, 6, seed=1), 4000, 0), (clustered_scores(12, 10, seed=2), 4000, 1),
             (_score_cases()[3], 4000, 7)]
    for i, (scores, n_boot, seed) in enumerate(cases):
        want = _bootstrap_mean_ci(scores, n_boot, seed)
        given = copy.deepcopy(scores)
        status, got = call_learner(name, f"case {i + 1}", fn, given, n_boot, seed, details=f"\n   scores = {show(scores)}")
        if status is not True:
            return status
        if not np.array_equal(given, scores):
            print(f"❌ {name}: case {i + 1}: your function changed its input scores.\n   hint: {MUTATION_HINT}")
            return False
        problem = _interval_problem(got, scores, want)
        if problem:
            print(f"❌ {name}: case {i + 1} of {len(cases)} (scores = {show(scores)}, n_boot = {n_boot}, "
                  f"seed = {seed}):\n   yours:    {_interval_text(got)}\n   expected: about {_interval_text(want)}"
                  f"\n   hint: {problem}")
            return False
    coverage = _coverage(fn)
    if isinstance(coverage, str):
        print(f"❌ {name}: {coverage}")
        return False
    if coverage < 0.85:
        print(f"❌ {name}: your 95 % intervals contain the true mean of simulated data only {coverage:.0%} of the "
              "time (60 datasets, 20 prompts x 4 replies, replies to one prompt alike).\n   hint: resample whole "
              "prompts (rows): the replies to one prompt are not independent evidence")
        return False
    print(f"✅ {name}: intervals match the reference's width and centre on {len(cases)} cases and cover the true "
          f"mean of simulated data {coverage:.0%} of the time.")
    return True
