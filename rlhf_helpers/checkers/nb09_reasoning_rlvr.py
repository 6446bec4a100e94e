"""Notebook 09 (RL with verifiable rewards): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `course/rlvr_math.py` or `course/verifier.py`
on fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

import math

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.rlvr_math import pass_at_k
from rlhf_helpers.course.verifier import final_answer


# --------------------------------------------------------------------------- pass@k
def _pass_cases():
    # (n, c, k): c = 0, c = n, fewer wrong replies than k, k = 1, k = n, and many (n, k) pairs with several c
    return [(8, 0, 1), (8, 8, 8), (8, 2, 1), (8, 2, 4), (8, 5, 4), (8, 3, 8), (16, 1, 8), (16, 4, 8), (16, 9, 8),
            (200, 3, 16), (200, 37, 16), (5, 4, 2)]


def _pass_naive(n, c, k):
    return 1 - (1 - c / n) ** k


def _pass_share(n, c, k):
    return c / n


def _pass_all_right(n, c, k):
    return math.comb(c, k) / math.comb(n, k)


def _pass_no_one_minus(n, c, k):
    return math.comb(n - c, k) / math.comb(n, k)


def _pass_k_times_share(n, c, k):
    return min(1.0, k * c / n)


PASS_MISTAKES = {
    "1 - (1 - c/n)^k is the estimate for replies drawn WITH replacement, and it is biased: count k-subsets of the n "
    "replies, 1 - C(n-c, k) / C(n, k)": _pass_naive,
    "c/n is pass@1: pass@k asks whether at least one of k replies is right": _pass_share,
    "C(c, k)/C(n, k) is the chance that ALL k replies are right; pass@k needs at least one": _pass_all_right,
    "C(n-c, k)/C(n, k) is the chance that NO reply of the k is right: pass@k is one minus it": _pass_no_one_minus,
    "k·c/n counts a problem twice when two of the k replies are right: use 1 - C(n-c, k)/C(n, k)": _pass_k_times_share,
}


def check_pass_at_k(fn) -> bool | None:
    """Check `fn(n, c, k) -> float`, the unbiased pass@k of one problem (Chen et al. 2021)."""
    return check(fn, pass_at_k, _pass_cases(), name="pass@k", mistakes=PASS_MISTAKES,
                 hint="pass@k = 1 - C(n-c, k) / C(n, k): one minus the share of k-subsets of the n replies with no "
                      "right reply (math.comb; when n - c < k every subset holds a right one)", atol=1e-9, rtol=1e-7)


# --------------------------------------------------------------------------- reading the final answer
ADVERSARIAL_REPLIES = [
    "16 - 3 - 4 = 9 eggs. 9 * 2 = 18 dollars.\n#### 18",
    "She sells 1,080 cups.\n#### 1,080",
    "The answer is 12.",
    "7 + 5 = 12 . 12 - 3 = 9 . The answer is 9 .",
    "First I thought the answer is 3. Checking again, the answer is 4.",
    "It costs $1,250.00 in total, so the answer is $1,250.00.",
    "The temperature fell to -3 degrees. The answer is -3.",
    "Tom has 5 apples and buys 7 more, so he has 12 apples.",    # the right number, but no final answer
    "I am not sure.",
    "So the total is \\boxed{42}.",
    "The answer is: 0.5",
    "#### 7\nWait, that is wrong: 3 + 5 = 8. The answer is 8.",
]


def _answer_first_number(reply):
    import re

    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", reply)
    return m.group(0).replace(",", "") if m else None


def _answer_last_number(reply):
    import re

    found = re.findall(r"-?\d[\d,]*(?:\.\d+)?", reply)
    return found[-1].replace(",", "") if found else None


def _answer_first_statement(reply):
    import re

    m = re.search(r"(?:####|answer is:?)\s*\$?(-?\d[\d,]*(?:\.\d+)?)", reply, re.IGNORECASE)
    return final_answer(m.group(0)) if m else None


def _answer_keeps_commas(reply):
    answer = final_answer(reply)
    import re

    m = list(re.finditer(r"(?:####|answer is:?)\s*\$?(-?\d[\d,]*(?:\.\d+)?)", reply, re.IGNORECASE))
    return m[-1].group(1) if m and answer is not None else answer


ANSWER_MISTAKES = {
    "the first number of a reply is usually part of the working, not the answer: read the LAST final-answer statement":
        _answer_first_number,
    "the last number anywhere is a lenient verifier: a reply with no final-answer statement has no answer (None)":
        _answer_last_number,
    "a reply may correct itself: take the last final-answer statement, not the first": _answer_first_statement,
    "numbers must be compared as numbers: strip thousands separators and '$', and write 1080.00 as 1080 "
    "(normalise_number)": _answer_keeps_commas,
}


def check_final_answer(fn) -> bool | None:
    """Check `fn(reply) -> str | None`: the reply's final answer as a normalised number, or None when it states none."""
    return check(fn, final_answer, [(r,) for r in ADVERSARIAL_REPLIES], name="final answer", mistakes=ANSWER_MISTAKES,
                 hint="find every '#### N', '\\boxed{N}' and 'answer is N'; keep the last; return "
                      "normalise_number(N); return None when there is none")
