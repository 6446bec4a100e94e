"""A verifiable reward for math word problems (notebook 09): read a reply's final answer and compare it with the truth.

A reply's final answer is the last of: GSM8K's `#### N` line, a LaTeX `\\boxed{N}`, or "the answer is N" (any case,
an optional colon or `$`). Numbers are compared as numbers: `1,080`, `$1080` and `1080.00` are the same answer.
A reply with none of these has no answer, even when the right number appears somewhere in it: that is what the
lenient verifier gets wrong, and what a policy learns to exploit.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

NUMBER = r"[-+]?\$?\s?\d[\d,]*(?:\.\d+)?"
FINAL_ANSWER = re.compile(rf"####\s*(?P<a>{NUMBER})|\\boxed\{{\s*(?P<b>{NUMBER})\s*\}}|"
                          rf"answer\s+is\s*:?\s*(?P<c>{NUMBER})", re.IGNORECASE)
ANY_NUMBER = re.compile(NUMBER)


def normalise_number(text: str) -> str | None:
    """One spelling per number: "1,080" / "$1080" / "1080.00" / "+1080" -> "1080"; "-0.50" -> "-0.5"; else None."""
    cleaned = re.sub(r"[\s$,+]", "", str(text)).rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def final_answer(reply: str) -> str | None:
    """The number of the reply's last final-answer statement (`#### N`, `\\boxed{N}`, "the answer is N"), or None."""
    matches = list(FINAL_ANSWER.finditer(reply))
    if not matches:
        return None
    last = matches[-1]
    return normalise_number(next(g for g in last.groups() if g is not None))


def is_correct(reply: str, truth) -> bool:
    """The strict verifier: the reply states a final answer and it equals `truth` (a number or its text)."""
    answer = final_answer(reply)
    return answer is not None and answer == normalise_number(str(truth))


def lenient_is_correct(reply: str, truth) -> bool:
    """A lenient verifier (the pitfall): right if the true number appears anywhere in the reply."""
    want = normalise_number(str(truth))
    return any(normalise_number(m.group(0)) == want for m in ANY_NUMBER.finditer(reply))


def gsm8k_reference(answer_field: str) -> str:
    """The reference number of a GSM8K `answer` field: what follows its `#### ` line, normalised."""
    match = re.search(rf"####\s*({NUMBER})\s*$", answer_field.strip())
    if not match:
        raise ValueError(f"a GSM8K answer must end with a '#### N' line; this one ends with {answer_field[-40:]!r}")
    return normalise_number(match.group(1))
