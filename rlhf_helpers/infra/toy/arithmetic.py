"""Toy arithmetic: the verifiable task of notebook 08 (GRPO with a reward a program can check).

`arithmetic_question` and `arithmetic_answer` (exported by `rlhf_helpers.infra.toy`) write a question and read
back its right answer; `arithmetic_reply` writes the replies the chat model sees in its pretraining
(`pretraining_text.arithmetic_pretraining_pair`).
"""

from __future__ import annotations

import random
import re

# A question with one right answer that a program can check: what GRPO is used for today (maths, code). The chat
# model sees such questions in its pretraining, answered right about half of the time and in the asked-for format
# about half of the time, so reinforcement learning has something to sharpen.
ARITHMETIC_QUESTION = "What is {a} + {b}? Reply with: The answer is N."
ARITHMETIC_FORMAT = "The answer is {n}."
ARITHMETIC_OTHER_FORMS = ["{n}", "It is {n}, I think.", "Hmm, maybe {n}?", "{a} plus {b} makes {n}."]


def arithmetic_question(rng: random.Random, max_first: int = 9, max_second: int = 9) -> tuple[str, int]:
    """A small addition question in the fixed wording, and its right answer: (question, a + b).

    a is 0..`max_first`, b is 0..`max_second`.
    """
    a, b = rng.randint(0, max_first), rng.randint(0, max_second)
    return ARITHMETIC_QUESTION.format(a=a, b=b), a + b


def arithmetic_answer(question: str) -> int:
    """The ground truth of a question written by `arithmetic_question`: its sum."""
    match = re.search(r"What is (\d+) \+ (\d+)\?", question)
    if match is None:
        raise ValueError(f"not an arithmetic question of the toy world: {question!r}; expected the wording "
                         f"{ARITHMETIC_QUESTION!r} (see rlhf_helpers.infra.toy.arithmetic.arithmetic_question)")
    return int(match.group(1)) + int(match.group(2))


def arithmetic_reply(question: str, rng: random.Random, p_right: float = 0.5, p_format: float = 0.5) -> str:
    """A reply to an arithmetic question: right with probability `p_right` (else off by 1 or 2), in the
    asked-for format with probability `p_format` (else one of `ARITHMETIC_OTHER_FORMS`)."""
    a, b = (int(x) for x in re.search(r"(\d+) \+ (\d+)", question).groups())
    right = rng.random() < p_right
    n = a + b if right else a + b + rng.choice([1, 2] if a + b < 2 else [-2, -1, 1, 2])  # never negative
    form = ARITHMETIC_FORMAT if rng.random() < p_format else rng.choice(ARITHMETIC_OTHER_FORMS)
    return form.format(n=n, a=a, b=b)
