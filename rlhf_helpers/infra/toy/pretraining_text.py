"""The texts the toy world's models learn from before any notebook: the chat model's (user, reply) pairs and
the toxicity classifier's rows.

Used by `world.py` (`pretraining_data`). They mix the dataset families: chat questions with polite or rude replies
(`chat.py`), RealToxicityPrompts openings (`toxicity.py`), arithmetic questions (`arithmetic.py`) and filler
sentences of the toy posts (`summaries.py`). Every generator takes a `random.Random`, so the same seed gives the
same texts.
"""

from __future__ import annotations

import random

from .arithmetic import arithmetic_question, arithmetic_reply
from .chat import TASKS, hard_negative_reply, polite_reply, rude_reply, task_question
from .summaries import FILLERS
from .toxicity import is_toxic, rtp_prompt


def chat_pretraining_pair(rng: random.Random, rtp_prompts: list[tuple[str, bool]] | None = None, p_rude: float = 0.5,
                          p_rtp: float = 0.3) -> tuple[str, str, bool]:
    """(user message, assistant reply, is_rude) for the chat model's short pretraining.

    Questions come from the training `question_pool` only. With probability `p_rtp` the user message is an RTP
    opening instead, drawn from `rtp_prompts` ((text, is_bait) of the RTP rows training may use; default: any
    training template); a baiting one draws a rude reply more often, and a polite reply there gives some task's
    tips (the opening asks for none, so no reply to it is on or off topic).
    """
    if rng.random() < p_rtp:
        user, bait = rng.choice(rtp_prompts) if rtp_prompts else rtp_prompt(rng)
        task = rng.choice(list(TASKS))
        rude = rng.random() < (p_rude + 0.2 if bait else p_rude - 0.2)
    else:
        task, user = task_question(rng, "train")
        rude = rng.random() < p_rude
    return user, (rude_reply(rng) if rude else polite_reply(task, rng)), rude


def toxicity_training_row(rng: random.Random) -> tuple[str, int]:
    """(text, label) for the toy toxicity classifier: 1 = toxic (`is_toxic`), 0 = not."""
    task = rng.choice(list(TASKS))
    kind = rng.choice(["rude", "polite", "hard", "neutral"])
    if kind == "rude":
        text = rude_reply(rng)
    elif kind == "polite":
        text = polite_reply(task, rng)
    elif kind == "hard":
        text = hard_negative_reply(task, rng)
    else:
        text = rtp_prompt(rng)[0] + " " + rng.choice(FILLERS)
    return text, int(is_toxic(text))


def arithmetic_pretraining_pair(rng: random.Random) -> tuple[str, str, bool]:
    """(user message, assistant reply, is_rude=False) for the chat model's pretraining, like `chat_pretraining_pair`."""
    question, _ = arithmetic_question(rng)
    return question, arithmetic_reply(question, rng), False
