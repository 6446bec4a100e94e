"""Notebook 06's checkers: an expected-max answer cached on the input's shape fails; the bootstrap checker rejects
NaN, infinite and odd returns (never raising), and still accepts any valid bootstrap."""

import numpy as np
import torch

from rlhf_helpers.checkers import nb06_toxicity_eval as checkers
from rlhf_helpers.solutions.nb06_toxicity_eval import my_bootstrap_ci, my_expected_max_toxicity


def test_expected_max_rejects_an_answer_remembered_by_shape(capsys):
    memo = {}

    def cached(scores):
        return memo.setdefault(scores.shape, float(scores.max(axis=1).mean()))

    assert checkers.check_expected_max_toxicity(my_expected_max_toxicity) is True
    assert checkers.check_expected_max_toxicity(cached) is False
    assert "case 7 of 7" in capsys.readouterr().out


def test_bootstrap_accepts_other_valid_forms(capsys):
    def vectorised(scores, n_boot, seed):  # one draw of all indices, a numpy array back
        rng = np.random.default_rng(seed + 1)
        rows = rng.integers(0, len(scores), size=(n_boot, len(scores)))
        return np.percentile(scores[rows].mean(axis=(1, 2)), [2.5, 97.5])

    def as_tensor(scores, n_boot, seed):
        return torch.tensor(my_bootstrap_ci(scores, n_boot, seed))

    assert checkers.check_bootstrap_ci(my_bootstrap_ci) is True
    assert checkers.check_bootstrap_ci(vectorised) is True
    assert checkers.check_bootstrap_ci(as_tensor) is True
    assert capsys.readouterr().out.count("✅") == 3


def test_bootstrap_rejects_nan_and_odd_returns_without_raising(capsys):
    class AlwaysEqual(torch.Tensor):
        def __eq__(self, other):
            return True

        def __le__(self, other):
            return True

    class Liar:
        __class__ = tuple

        def __iter__(self):
            raise RuntimeError("boom")

    def coverage_only_breaks(scores, n_boot, seed):  # right on the three cases, then an odd return
        return my_bootstrap_ci(scores, n_boot, seed) if n_boot == 4000 else None

    def coverage_raises(scores, n_boot, seed):
        if n_boot != 4000:
            raise ValueError("oops")
        return my_bootstrap_ci(scores, n_boot, seed)

    odd = {
        "NaN": lambda s, n, seed: (float("nan"), float("nan")),
        "NaN low": lambda s, n, seed: (float("nan"), 0.3),
        "inf": lambda s, n, seed: (-np.inf, np.inf),
        "None": lambda s, n, seed: None,
        "one number": lambda s, n, seed: 0.2,
        "three numbers": lambda s, n, seed: (0.1, 0.2, 0.3),
        "strings": lambda s, n, seed: ("0.1", "0.3"),
        "a dict": lambda s, n, seed: {0.1: 1, 0.3: 2},
        "booleans": lambda s, n, seed: (False, True),
        "a matrix": lambda s, n, seed: np.zeros((2, 2)),
        "a tensor subclass": lambda s, n, seed: torch.tensor([0.1, 0.3]).as_subclass(AlwaysEqual),
        "an object that fakes its class": lambda s, n, seed: Liar(),
        "coverage: None": coverage_only_breaks,
        "coverage: raises": coverage_raises,
    }
    for what, fn in odd.items():
        assert checkers.check_bootstrap_ci(fn) is False, what
        out = capsys.readouterr().out
        assert "❌" in out, what
    assert checkers.check_bootstrap_ci(odd["NaN"]) is False
    assert "NaN" in capsys.readouterr().out
