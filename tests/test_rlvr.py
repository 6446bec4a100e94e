"""Notebook 09's verifier and pass@k: the reference functions, their exercise checkers, and real GSM8K answers."""

import json
import math
import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from rlhf_helpers.checkers import nb09_reasoning_rlvr as ex
from rlhf_helpers.course.rlvr_math import mean_pass_at_k, paired_gain, pass_at_k
from rlhf_helpers.course.verifier import final_answer, gsm8k_reference, is_correct, lenient_is_correct, normalise_number

GSM8K = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"


def skipped(*args):
    raise NotImplementedError


@pytest.mark.parametrize("n,c,k", [(5, 2, 2), (6, 1, 3), (4, 4, 2), (7, 0, 3), (8, 3, 1)])
def test_pass_at_k_is_the_share_of_k_subsets_with_a_right_reply(n, c, k):
    replies = [True] * c + [False] * (n - c)
    subsets = list(combinations(replies, k))
    assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_pass_at_k_is_unbiased_where_the_naive_estimate_is_not():
    """Draw n of N replies (true pass@k known from all N): the estimator's mean over draws equals the truth."""
    rng = np.random.default_rng(0)
    N, right, n, k = 40, 6, 10, 4
    truth = pass_at_k(N, right, k)
    draws = [int(rng.permutation(N)[:n].__lt__(right).sum()) for _ in range(20000)]
    unbiased = np.mean([pass_at_k(n, c, k) for c in draws])
    naive = np.mean([1 - (1 - c / n) ** k for c in draws])
    assert abs(unbiased - truth) < 0.005 < abs(naive - truth)


def test_pass_at_k_refuses_impossible_counts():
    for n, c, k in [(4, 5, 1), (4, 2, 0), (4, 2, 5), (4, -1, 1)]:
        with pytest.raises(ValueError, match="need 0 <= c <= n"):
            pass_at_k(n, c, k)


def test_mean_pass_at_k_and_the_paired_gain():
    correct = np.array([[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    assert mean_pass_at_k(correct, 1) == pytest.approx((0.25 + 1 + 0) / 3)
    assert mean_pass_at_k(correct, 4) == pytest.approx(2 / 3)
    gain, se, z = paired_gain([0.0, 0.5, 0.5, 1.0], [0.5, 0.5, 1.0, 1.0])
    diffs = np.array([0.5, 0.0, 0.5, 0.0])
    assert gain == pytest.approx(0.25) and se == pytest.approx(diffs.std(ddof=1) / 2) and z == pytest.approx(gain / se)
    with pytest.raises(ValueError, match="one before and one after"):
        paired_gain([1.0], [0.0])


@pytest.mark.parametrize("text,want", [("1,080", "1080"), ("$1080", "1080"), ("1080.00", "1080"), ("+7", "7"),
                                       ("-0.50", "-0.5"), ("18.", "18"), ("abc", None)])
def test_numbers_are_normalised(text, want):
    assert normalise_number(text) == want


def test_the_strict_verifier_needs_a_final_answer_and_the_lenient_one_does_not():
    reply = "Tom has 5 apples and buys 7 more, so he has 12 apples."
    assert final_answer(reply) is None and not is_correct(reply, 12) and lenient_is_correct(reply, 12)
    assert is_correct(reply + " The answer is 12.", "12") and not is_correct("The answer is 13.", 12)
    assert lenient_is_correct("1 2 3 4 5 6 7 8 9 10 11 12 13", 12)  # the hack: list every number


def test_gsm8k_reference_needs_its_answer_line():
    assert gsm8k_reference("so 3 + 4 = 7\n#### 7") == "7"
    with pytest.raises(ValueError, match="must end with a '#### N' line"):
        gsm8k_reference("so the answer is 7")


@pytest.mark.skipif(not GSM8K.is_dir(), reason="needs ../shared/data/gsm8k (real GSM8K rows), absent here")
def test_every_real_gsm8k_test_answer_verifies_against_itself():
    rows = [json.loads(line) for line in (GSM8K / "test.jsonl").read_text().splitlines()]
    assert len(rows) == 1319
    rejected = [r["answer"][-60:] for r in rows if not is_correct(r["answer"], gsm8k_reference(r["answer"]))]
    assert rejected == []
    # the reference number is the one after ####, as the dataset's own regex reads it (commas stripped)
    official = [re.search(r"#### (\-?[0-9\.\,]+)", r["answer"]).group(1).replace(",", "") for r in rows]
    assert [gsm8k_reference(r["answer"]) for r in rows] == [normalise_number(o) for o in official]
    assert sum("," in o for o in [re.search(r"#### (.*)", r["answer"]).group(1) for r in rows]) == 14


# ---------------------------------------------------------------- the two exercise checkers
def pass_at_k_comb(n, c, k):
    return 1.0 if n - c < k else 1 - math.comb(n - c, k) / math.comb(n, k)


def final_answer_written_differently(reply):
    last = None
    for m in re.finditer(r"(?:####|\\boxed\{|answer is:?)\s*(\$?\s?[-+]?\$?[\d,]+(?:\.\d+)?)", reply, re.IGNORECASE):
        last = m.group(1)
    if last is None:
        return None
    value = float(last.replace(",", "").replace("$", "").replace(" ", ""))
    return str(int(value)) if value.is_integer() else repr(value)


@pytest.mark.parametrize("checker,reference,different,mistakes", [
    (ex.check_pass_at_k, pass_at_k, pass_at_k_comb, ex.PASS_MISTAKES),
    (ex.check_final_answer, final_answer, final_answer_written_differently, ex.ANSWER_MISTAKES),
], ids=["pass@k", "final answer"])
def test_checker(checker, reference, different, mistakes, capsys):
    assert checker(reference) is True
    assert checker(different) is True
    assert checker(skipped) is None
    assert len(mistakes) >= 3
    for hint, wrong in mistakes.items():
        capsys.readouterr()
        assert checker(wrong) is False, hint
        assert f"hint: {hint}" in capsys.readouterr().out
    memo = {}
    assert checker(lambda *a: memo.setdefault(type(a[0]).__name__, reference(*a))) is False  # cached on input types
