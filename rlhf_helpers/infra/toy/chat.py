"""Toy chat: questions about everyday tasks, polite and rude replies, and the ground truth `on_topic`.

Rows of Anthropic/hh-rlhf (notebooks 04, 05, 06 and 08), Dahoas/synthetic-instruct-gptj-pairwise and
trl-lib/ultrafeedback_binarized (notebook 03). Chat replies are either polite and helpful (the right tips for the
task) or rude and toxic. Rejected replies are not only rude: some give the wrong tips, some are shuffled words, some
start rude and turn polite. A reward model trained on rude-vs-polite alone scores "tea tea tea" as high as a good
answer (reward hacking); these harder negatives stop that. `on_topic` and `on_topic_rate` (exported by
`rlhf_helpers.infra.toy`) say whether a reply answers the question asked (notebooks 04, 05, 06).
Every generator takes a `random.Random`, so the same seed gives the same rows.
"""

from __future__ import annotations

import random

from .toxicity import TOXIC_WORDS, is_toxic


# --------------------------------------------------------------------------- chat replies
# Each task has its two right tips; a helpful reply gives them (`on_topic` checks it).
TASKS = {
    "fix a flat tire": ("patch the hole", "pump the tire"),
    "bake bread": ("mix the flour", "bake the dough"),
    "learn to swim": ("practice floating", "kick your legs"),
    "save money": ("track your spending", "cook at home"),
    "sleep better": ("dim the lights", "skip late coffee"),
    "grow tomatoes": ("water the soil", "give them sun"),
    "clean a laptop": ("wipe the screen", "dust the keys"),
    "write a resume": ("list your skills", "keep it short"),
    "train a puppy": ("reward good habits", "walk it daily"),
    "paint a wall": ("tape the edges", "use a roller"),
    "make tea": ("boil the water", "steep the leaves"),
    "study for exams": ("review your notes", "take short breaks"),
    "calm down": ("breathe slowly", "count to ten"),
    "plan a trip": ("book the tickets", "pack light"),
    "fix a bike chain": ("oil the chain", "tighten the bolts"),
    "make friends": ("join a club", "ask questions"),
}
QUESTION_FORMS = ["Any tips on how to {t}?", "Can you tell me how to {t}?", "What is the best way to {t}?",
                  "I want to {t}. Where do I start?", "Please tell me how to {t}.", "Is there an easy way to {t}?"]
# How a user may open a conversation: greetings are part of the first human turn, so no two conversations
# share a first turn such as "Hi there." (which would leak test prompts into training).
OPENERS = ["", "Hi there. ", "I have a question. ", "Quick question. ", "Hello! ", "Sorry to bother you. "]
FOLLOW_UPS = ["Thanks! One more thing. ", "Great, thank you. Next question. ", "OK. Another one. "]
HELD_OUT_EVERY = 4  # one question text in about four is held out for test splits (`question_pool`)
RUDE_FORMS = ["Ugh, you are so {a}. Figure it out yourself, {b}.",
              "Shut up, {b}. Only a {a} person asks that.",
              "Nobody cares, you {a} {b}.",
              "Go away, {b}. That is a {a} question."]
# Every polite reply restates the task before its tips ("... how to {t}", as the question asked it).
POLITE_FORMS = ["Sure! Here is how to {t}: {s1} and then {s2}.",
                "Happy you asked. Here is how to {t}: {s1}, then {s2}.",
                "Good question! Here is how to {t}: {s1}, then {s2}. Good luck!"]


def question_pool(split: str) -> list[tuple[str, str]]:
    """Every (task, question text) of a split: "train" or "test", disjoint by construction.

    A question is an opener, a question form and a task. The test pool holds the combinations with
    (opener + 2·form + 3·task) divisible by `HELD_OUT_EVERY`: every task, form and opener occurs in both
    pools, but no question text does, so a model meets test questions it has never seen, about tasks it knows.
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    pool = []
    for i, task in enumerate(TASKS):
        for j, form in enumerate(QUESTION_FORMS):
            for k, opener in enumerate(OPENERS):
                held_out = (k + 2 * j + 3 * i) % HELD_OUT_EVERY == 0
                if held_out == (split == "test"):
                    pool.append((task, opener + form.format(t=task)))
    return pool


_POOLS: dict[str, list[tuple[str, str]]] = {}


def task_question(rng: random.Random, split: str = "train") -> tuple[str, str]:
    """A user question about one task, from the split's `question_pool`: (task, question text)."""
    if split not in _POOLS:
        _POOLS[split] = question_pool(split)
    return rng.choice(_POOLS[split])


def task_of(question: str) -> str:
    """The task a toy question asks about (ground truth); a ValueError if it names none."""
    found = [t for t in TASKS if t in question]
    if not found:
        raise ValueError(f"{question[:60]!r} asks about none of the toy tasks: on_topic needs a toy question "
                         "(e.g. the first human turn of a toy hh-rlhf row), not an RTP opening")
    return max(found, key=len)


def on_topic(question: str, reply: str) -> bool:
    """The toy world's ground truth for "answers the question asked".

    True when the reply gives at least one of the asked task's two tips and no tip of another task.
    A rude reply gives no tips, so it is never on topic; advice for a different task is off topic.
    """
    task = task_of(question)
    right = any(tip in reply for tip in TASKS[task])
    wrong = any(tip in reply for other, tips in TASKS.items() if other != task for tip in tips)
    return right and not wrong


def on_topic_rate(questions: list[str], replies: list[str]) -> float:
    """Share of the polite (not `is_toxic`) replies that are `on_topic` for their question; 0.0 when none is polite."""
    if len(questions) != len(replies):
        raise ValueError(f"{len(questions)} questions but {len(replies)} replies: pass one reply per question")
    polite = [(q, r) for q, r in zip(questions, replies) if not is_toxic(r)]
    return sum(on_topic(q, r) for q, r in polite) / len(polite) if polite else 0.0


def polite_reply(task: str, rng: random.Random) -> str:
    """A polite, helpful reply with the two right tips for the task."""
    s1, s2 = TASKS[task]
    return rng.choice(POLITE_FORMS).format(t=task, s1=s1, s2=s2)


def rude_reply(rng: random.Random) -> str:
    """A rude, toxic reply (contains insults, no help)."""
    a, b = rng.sample(TOXIC_WORDS, 2)
    return rng.choice(RUDE_FORMS).format(a=a, b=b)


def hard_negative_reply(task: str, rng: random.Random) -> str:
    """A worse reply that is not simply rude: wrong tips, shuffled words, rude-then-polite, repetition."""
    kind = rng.choice(["wrong_tips", "shuffled", "hybrid", "repeat"])
    if kind == "wrong_tips":
        other = rng.choice([t for t in TASKS if t != task])
        s1, s2 = TASKS[other]
        return rng.choice(POLITE_FORMS).format(t=task, s1=s1, s2=s2)
    if kind == "shuffled":
        words = polite_reply(task, rng).split()
        return " ".join(rng.sample(words, len(words)))
    if kind == "hybrid":
        return rude_reply(rng) + " " + polite_reply(task, rng)
    word = rng.choice(task.split())
    return " ".join([word] * rng.randint(3, 8))


def rejected_reply(task: str, rng: random.Random, p_rude: float = 0.6) -> str:
    """A rejected reply: rude most of the time, otherwise a hard negative."""
    return rude_reply(rng) if rng.random() < p_rude else hard_negative_reply(task, rng)


# --------------------------------------------------------------------------- rows in real schemas
def _transcript(turns: list[tuple[str, str]]) -> str:
    return "".join(f"\n\nHuman: {h}\n\nAssistant: {a}" for h, a in turns)


def hh_rlhf_row(rng: random.Random, split: str = "train", p_early_divergence: float = 0.03) -> dict:
    """An Anthropic/hh-rlhf row: `chosen` and `rejected` full transcripts, 1–3 turns.

    Every human turn is a question from the split's `question_pool` (later turns start with a follow-up such as
    "Thanks! One more thing."), so a test row's first human turn, and with it its whole transcript, never
    occurs in the training split. `chosen` and `rejected` share every turn but the last assistant reply, except
    in a few rows (as in the real data) where they already differ in the first assistant reply.
    """
    questions = [task_question(rng, split) for _ in range(rng.choice([1, 1, 2, 3]))]
    turns = [(("" if i == 0 else rng.choice(FOLLOW_UPS)) + q, polite_reply(t, rng)) for i, (t, q) in enumerate(questions)]
    last_task = questions[-1][0]
    chosen = turns
    rejected = turns[:-1] + [(turns[-1][0], rejected_reply(last_task, rng))]
    if len(turns) > 1 and rng.random() < p_early_divergence:
        rejected = [(turns[0][0], rude_reply(rng))] + rejected[1:]
    return {"chosen": _transcript(chosen), "rejected": _transcript(rejected)}


def dahoas_row(rng: random.Random, split: str = "train") -> dict:
    """A Dahoas/synthetic-instruct-gptj-pairwise row: bare `prompt`, `chosen`, `rejected`."""
    task, question = task_question(rng, split)
    return {"prompt": question, "chosen": polite_reply(task, rng), "rejected": rejected_reply(task, rng)}


def ultrafeedback_row(rng: random.Random, split: str = "train") -> dict:
    """A trl-lib/ultrafeedback_binarized row: message lists and 1–10 scores (test prompts held out of train)."""
    task, question = task_question(rng, split)
    user = {"role": "user", "content": question}
    return {"chosen": [user, {"role": "assistant", "content": polite_reply(task, rng)}],
            "rejected": [user, {"role": "assistant", "content": rejected_reply(task, rng)}],
            "score_chosen": float(rng.choice([7, 8, 9, 10])), "score_rejected": float(rng.choice([1, 2, 3, 4]))}
