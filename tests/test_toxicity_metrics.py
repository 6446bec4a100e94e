import numpy as np
import pytest

from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, expected_max_toxicity, intervals_overlap, mean_toxicity, toxic_ratio, toxicity_probability, win_outcomes, win_rate, win_rate_ci
from rlhf_helpers.checkers.nb06_toxicity_eval import check_bootstrap_ci, check_expected_max_toxicity

# 3 prompts x 2 samples. Row maxima 0.6, 0.5, 0.3; column maxima 0.5, 0.6.
S = [[0.1, 0.6],
     [0.5, 0.2],
     [0.0, 0.3]]


def test_metrics_on_a_hand_computed_matrix():
    assert mean_toxicity(S) == pytest.approx(1.7 / 6)
    assert toxic_ratio(S) == pytest.approx(2 / 6)  # 0.6 and 0.5: a score equal to the threshold counts
    assert expected_max_toxicity(S) == pytest.approx((0.6 + 0.5 + 0.3) / 3)  # not (0.5 + 0.6) / 2 = 0.55
    assert toxicity_probability(S) == pytest.approx(2 / 3)
    assert toxicity_probability(S, threshold=0.55) == pytest.approx(1 / 3)
    assert toxic_ratio(S, threshold=0.3) == pytest.approx(3 / 6)


def test_flat_list_works_for_per_generation_metrics():
    flat = np.ravel(S).tolist()
    assert mean_toxicity(flat) == pytest.approx(mean_toxicity(S))
    assert toxic_ratio(flat) == pytest.approx(toxic_ratio(S))


def test_toxic_ratio_uses_the_same_rule_as_evaluate():
    scores = [0.0, 0.49, 0.5, 0.51, 1.0, 0.2, 0.7]
    evaluate_ratio = sum(s >= 0.5 for s in scores) / len(scores)  # evaluate's "ratio" aggregation
    assert toxic_ratio(scores) == pytest.approx(evaluate_ratio) == pytest.approx(4 / 7)


def test_expected_max_is_at_least_the_mean_and_grows_with_k():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = rng.beta(0.5, 2.0, size=(rng.integers(1, 30), rng.integers(1, 10)))
        assert expected_max_toxicity(m) >= mean_toxicity(m) - 1e-12
        assert toxicity_probability(m) >= toxic_ratio(m) - 1e-12
    m = rng.beta(0.5, 2.0, size=(200, 25))
    assert expected_max_toxicity(m[:, :1]) == pytest.approx(mean_toxicity(m[:, :1]))  # K = 1: max = mean
    assert expected_max_toxicity(m[:, :5]) < expected_max_toxicity(m)


@pytest.mark.parametrize("fn", [expected_max_toxicity, toxicity_probability])
def test_prompt_metrics_reject_a_flat_list(fn):
    with pytest.raises(ValueError, match=r"got shape \(6,\).*reshape"):
        fn(np.ravel(S))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3)))


def test_bootstrap_ci_contains_the_point_and_is_deterministic():
    rng = np.random.default_rng(1)
    m = rng.beta(0.5, 2.0, size=(40, 5))
    for stat in [mean_toxicity, expected_max_toxicity, toxicity_probability, lambda x: toxic_ratio(x, 0.3)]:
        point, low, high = bootstrap_ci(m, stat, n_boot=300, seed=0)
        assert point == pytest.approx(stat(m))
        assert low <= point <= high and low < high
        assert bootstrap_ci(m, stat, n_boot=300, seed=0) == (point, low, high)
    assert bootstrap_ci(m, mean_toxicity, n_boot=300, seed=1) != bootstrap_ci(m, mean_toxicity, n_boot=300, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        bootstrap_ci(np.ravel(m), mean_toxicity)


def test_bootstrap_resamples_whole_prompts():
    # Every row has mean 0.5, so any resample of rows has mean 0.5: a zero-width interval.
    # Resampling single generations or columns (means 0 and 1) would give a wide one.
    m = [[0.0, 1.0]] * 5
    assert bootstrap_ci(m, mean_toxicity, n_boot=200) == (0.5, 0.5, 0.5)
    assert bootstrap_ci([[0.2, 0.4]], expected_max_toxicity, n_boot=50) == pytest.approx((0.4, 0.4, 0.4))


def test_bootstrap_ci_narrows_as_n_grows():
    rng = np.random.default_rng(2)
    widths = []
    for n in [20, 80, 320]:
        _, low, high = bootstrap_ci(rng.beta(2, 5, size=(n, 4)), mean_toxicity, n_boot=300)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4, rel=0.35)  # width ~ 1/sqrt(N): 16x the data, 1/4 the width


def _correlated_scores(rng, n, k, concentration=10.0):
    """Each prompt i has its own toxicity p_i ~ Beta(2, 5); its K samples scatter around p_i."""
    p = rng.beta(2, 5, size=(n, 1))  # (N, 1)
    return rng.beta(p * concentration, (1 - p) * concentration, size=(n, k))  # (N, K), mean 2/7


def test_bootstrap_coverage_is_about_95_percent():
    rng = np.random.default_rng(3)
    true_mean = 2 / 7
    covered = 0
    for trial in range(200):
        _, low, high = bootstrap_ci(_correlated_scores(rng, 30, 4), mean_toxicity, n_boot=300, seed=trial)
        covered += low <= true_mean <= high
    assert 0.85 <= covered / 200 <= 0.99


def test_resampling_generations_instead_of_prompts_is_too_narrow():
    rng = np.random.default_rng(4)
    m = _correlated_scores(rng, 50, 10)
    _, low, high = bootstrap_ci(m, mean_toxicity, n_boot=500)
    flat = m.ravel()
    flat_stats = [flat[rng.integers(0, flat.size, size=flat.size)].mean() for _ in range(500)]
    flat_low, flat_high = np.percentile(flat_stats, [2.5, 97.5])
    assert (high - low) > 1.5 * (flat_high - flat_low)


def test_win_rate_with_ties():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 5.0, 1.0]  # win, tie, loss, win
    assert win_outcomes(a, b).tolist() == [1.0, 0.5, 0.0, 1.0]
    assert win_rate(a, b) == pytest.approx(2.5 / 4)
    assert win_rate(b, a) == pytest.approx(1.5 / 4)  # the two sides add up to 1
    assert win_rate(a, a) == 0.5
    with pytest.raises(ValueError, match="same prompts"):
        win_rate(a, b[:3])


def test_win_rate_ci():
    rng = np.random.default_rng(5)
    base = rng.normal(size=200)
    a, b = base + 0.5, base + rng.normal(scale=0.3, size=200)  # A is better on most prompts
    point, low, high = win_rate_ci(a, b, n_boot=300)
    assert point == win_rate(a, b)
    assert 0.5 < low <= point <= high  # A is clearly better: the interval excludes 0.5
    assert win_rate_ci([2.0, 3.0], [1.0, 1.0], n_boot=50) == (1.0, 1.0, 1.0)


def test_intervals_overlap():
    assert intervals_overlap((0.0, 1.0), (0.5, 2.0))
    assert intervals_overlap((0.5, 2.0), (0.0, 1.0))
    assert intervals_overlap((0.0, 1.0), (1.0, 2.0))  # touching ends
    assert intervals_overlap((0.0, 3.0), (1.0, 2.0))  # one inside the other
    assert not intervals_overlap((0.0, 1.0), (1.1, 2.0))
    assert not intervals_overlap((1.1, 2.0), (0.0, 1.0))
    with pytest.raises(ValueError, match=r"\[1:\]"):
        intervals_overlap((0.5, 0.0, 1.0), (0.0, 1.0))


# --------------------------------------------------------------------------- exercise checkers
def test_expected_max_checker_accepts_reference_and_rejects_wrong(capsys):
    assert check_expected_max_toxicity(expected_max_toxicity)
    assert check_expected_max_toxicity(lambda s: float(np.mean([max(row) for row in s])))  # a loop answer
    assert not check_expected_max_toxicity(lambda s: float(s.max(axis=0).mean()))  # max over prompts
    assert not check_expected_max_toxicity(lambda s: float(s.mean()))  # mean instead of max
    assert not check_expected_max_toxicity(lambda s: float(s.max()))  # one global max
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and out.count("❌") == 3


def _learner_bootstrap(scores, n_boot, seed, resample="rows", q=(2.5, 97.5)):
    """A learner's answer written from check_bootstrap_ci's recipe, with switches for typical mistakes."""
    rng = np.random.default_rng(seed)
    n, k = scores.shape
    stats = []
    for _ in range(n_boot):
        if resample == "rows":
            stats.append(scores[rng.integers(0, n, size=n)].mean())
        elif resample == "columns":
            stats.append(scores[:, rng.integers(0, k, size=k)].mean())
        else:  # single generations
            flat = scores.ravel()
            stats.append(flat[rng.integers(0, flat.size, size=flat.size)].mean())
    low, high = np.percentile(stats, q)
    return low, high


def test_bootstrap_checker_accepts_reference_and_rejects_wrong(capsys):
    assert check_bootstrap_ci(lambda s, n_boot, seed: bootstrap_ci(s, mean_toxicity, n_boot, seed=seed)[1:])
    assert check_bootstrap_ci(_learner_bootstrap)  # the docstring's recipe

    def vectorised(s, n_boot, seed):
        rows = np.random.default_rng(seed).integers(0, s.shape[0], size=(n_boot, s.shape[0]))  # (n_boot, N)
        return tuple(np.percentile(s[rows].mean(axis=(1, 2)), [2.5, 97.5]))

    def fresh_generator_per_resample(s, n_boot, seed):  # statistically valid, another random stream
        n = s.shape[0]
        stats = [s[np.random.default_rng([seed, b]).integers(0, n, size=n)].mean() for b in range(n_boot)]
        return tuple(np.percentile(stats, [2.5, 97.5]))

    assert check_bootstrap_ci(vectorised)
    assert check_bootstrap_ci(fresh_generator_per_resample)
    assert check_bootstrap_ci(lambda s, n, seed: _learner_bootstrap(s, n, seed + 1))  # another seed is as valid
    assert not check_bootstrap_ci(lambda s, n, seed: _learner_bootstrap(s, n, seed, resample="columns"))
    assert not check_bootstrap_ci(lambda s, n, seed: _learner_bootstrap(s, n, seed, resample="generations"))
    assert not check_bootstrap_ci(lambda s, n, seed: _learner_bootstrap(s, n, seed, q=(5, 95)))  # a 90 % interval
    assert not check_bootstrap_ci(lambda s, n, seed: _learner_bootstrap(s, n, seed, q=(0.5, 99.5)))  # a 99 % interval
    assert not check_bootstrap_ci(lambda s, n, seed: tuple(np.percentile(  # without replacement: zero width
        [s[np.random.default_rng(seed).permutation(len(s))].mean()] * n, [2.5, 97.5])))
    out = capsys.readouterr().out
    assert out.count("✅") == 5 and out.count("❌") == 5
    assert "too narrow" in out and "too wide" in out and "no width" in out


def test_bootstrap_checker_rejects_a_change_to_its_input(capsys):
    def sorts_in_place(s, n_boot, seed):
        s.sort(axis=1)
        return _learner_bootstrap(s, n_boot, seed)

    assert check_bootstrap_ci(sorts_in_place) is False
    assert "must not modify its inputs" in capsys.readouterr().out


def test_skipped_exercises_do_not_fail(capsys):
    def todo(*args):
        raise NotImplementedError

    assert check_expected_max_toxicity(todo) is None  # None: the cell shows no bare False
    assert check_bootstrap_ci(todo) is None
    assert capsys.readouterr().out.count("⏭") == 2
