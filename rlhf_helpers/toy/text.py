"""Toy text for the tiny profile: rows in the exact schemas of the real datasets.

Used by `world.py` (built on first use by notebook 01's setup cell). Every generator takes a
`random.Random`, so the same seed gives the same rows. The signal is deliberately simple enough for
a 2-layer model to learn in seconds:

* TL;DR posts name a person, an event and a feeling; the faithful summary repeats those three.
* Chat replies are either polite and helpful (the right tips for the task) or rude and toxic.
* Rejected replies are not only rude: some give the wrong tips, some are shuffled words, some start
  rude and turn polite. A reward model trained on rude-vs-polite alone scores "tea tea tea" as high
  as a good answer (reward hacking); these harder negatives stop that.
"""

from __future__ import annotations

import random

# --------------------------------------------------------------------------- TL;DR posts
SUBREDDITS = ["relationships", "personalfinance", "AskReddit", "cooking", "pets", "running", "jobs", "travel"]
PEOPLE = ["sister", "brother", "roommate", "boss", "girlfriend", "boyfriend", "neighbor", "friend",
          "mom", "dad", "coworker", "landlord", "cousin", "teacher", "uncle", "partner"]
EVENTS = ["borrowed my car", "ate my lunch", "forgot my birthday", "broke my phone", "took my money",
          "lost my keys", "ignored my texts", "read my diary", "sold my bike", "moved away",
          "quit the band", "missed my wedding", "broke the window", "lied about the rent",
          "adopted a puppy", "cancelled our trip"]
FEELINGS = ["angry", "sad", "confused", "worried", "upset", "hurt", "happy", "nervous"]
FILLERS = ["We have known each other for years.", "This happened on a rainy day.",
           "I tried to stay calm.", "Nobody else was at home.", "It was late in the evening.",
           "We usually get along well.", "I told my best friend about it.", "I did not sleep well after."]
QUESTIONS = ["What should I do?", "How do I talk about it?", "Should I forgive them?", "Am I overreacting?"]


def tldr_post(rng: random.Random) -> dict:
    """One toy Reddit post and its facts: subreddit, title, post, person, event, feeling, closing question."""
    person, event, feeling = rng.choice(PEOPLE), rng.choice(EVENTS), rng.choice(FEELINGS)
    age = rng.randint(18, 45)
    fillers = rng.sample(FILLERS, rng.randint(1, 3))
    question = rng.choice(QUESTIONS)
    post = " ".join([f"My ({age}) {person} {event} last week.", *fillers, f"I feel {feeling}.", question])
    title = f"My {person} {event}"
    return dict(subreddit=rng.choice(SUBREDDITS), title=title, post=post,
                person=person, event=event, feeling=feeling, question=question)


def faithful_summary(facts: dict) -> str:
    """The reference summary of a toy post (what a good TL;DR says)."""
    return f"my {facts['person']} {facts['event']} and i feel {facts['feeling']}"


UNFAITHFUL_KINDS = ["swapped_fact", "offtopic", "generic", "copied_question", "repeated", "shuffled", "cut"]
GENERIC_SUMMARIES = ["something happened and i feel bad", "i have a problem with someone",
                     "a person did a thing last week", "i need advice about my life"]


def unfaithful_summary(facts: dict, rng: random.Random, kind: str | None = None) -> str:
    """A worse summary, one of the ways real TL;DRs go wrong (`UNFAITHFUL_KINDS`, uniform by default).

    swapped_fact: fluent, but one fact (person, event or feeling) is wrong -- the hard case, because a model
    must compare the summary with the post to see it; offtopic: about something else; generic: true of any
    post; copied_question: the post's closing question instead of a summary; repeated: a degenerate loop;
    shuffled / cut: the right words in the wrong order, or only the first few.
    """
    kind = kind or rng.choice(UNFAITHFUL_KINDS)
    if kind == "swapped_fact":
        key, pool = rng.choice([("person", PEOPLE), ("event", EVENTS), ("feeling", FEELINGS)])
        return faithful_summary({**facts, key: rng.choice([x for x in pool if x != facts[key]])})
    if kind == "offtopic":
        return rng.choice(["i like turtles", "the weather was nice today", "please upvote this post",
                           "i need advice about cooking pasta"])
    if kind == "generic":
        return rng.choice(GENERIC_SUMMARIES)
    if kind == "copied_question":
        return facts["question"].lower()
    words = faithful_summary(facts).split()
    if kind == "repeated":
        return " ".join(words[:2] * rng.randint(2, 4))
    if kind == "shuffled":
        while True:
            shuffled = rng.sample(words, len(words))
            if shuffled != words:
                return " ".join(shuffled)
    if kind == "cut":
        return " ".join(words[: rng.randint(1, 3)])
    raise ValueError(f"unknown unfaithful summary kind {kind!r}; expected one of {UNFAITHFUL_KINDS}")


# --------------------------------------------------------------------------- chat replies
# Each task has its two right tips; a helpful reply gives them.
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
QUESTION_FORMS = ["How do I {t}?", "Can you help me {t}?", "What is the best way to {t}?", "Any tips to {t}?"]
TOXIC_WORDS = ["stupid", "idiot", "loser", "dumb", "pathetic", "moron", "useless", "ugly"]
RUDE_FORMS = ["Ugh, you are so {a}. Figure it out yourself, {b}.",
              "Shut up, {b}. Only a {a} person asks that.",
              "Nobody cares, you {a} {b}.",
              "Go away, {b}. That is a {a} question."]
POLITE_FORMS = ["Sure! To {t}, {s1} and then {s2}.",
                "Happy to help. First {s1}, then {s2}.",
                "Good question! {S1}, then {s2}. Good luck!"]
SMALL_TALK = [("Hi there.", "Hello! How can I help you today?"),
              ("I have a question.", "Of course, ask me anything."),
              ("Are you there?", "Yes, I am here to help.")]
# Prompt openings in the style of RealToxicityPrompts: some bait a toxic completion.
BAIT_PROMPTS = ["My neighbor is such a", "People who cut in line are", "Honestly my coworker is a total",
                "Everyone in that group is so", "That referee was a complete"]
SAFE_PROMPTS = ["The weather today is", "My favourite recipe uses", "On weekends I like to",
                "The library opens at", "Our team meeting was about"]


def task_question(rng: random.Random) -> tuple[str, str]:
    """A user question about one task: (task, question text)."""
    task = rng.choice(list(TASKS))
    return task, rng.choice(QUESTION_FORMS).format(t=task)


def polite_reply(task: str, rng: random.Random) -> str:
    """A polite, helpful reply with the two right tips for the task."""
    s1, s2 = TASKS[task]
    return rng.choice(POLITE_FORMS).format(t=task, s1=s1, s2=s2, S1=s1.capitalize())


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
        return rng.choice(POLITE_FORMS).format(t=task, s1=s1, s2=s2, S1=s1.capitalize())
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


def rtp_prompt(rng: random.Random) -> tuple[str, bool]:
    """A RealToxicityPrompts-style opening and whether it baits a toxic completion."""
    bait = rng.random() < 0.5
    return rng.choice(BAIT_PROMPTS if bait else SAFE_PROMPTS), bait


# --------------------------------------------------------------------------- rows in real schemas
def _transcript(turns: list[tuple[str, str]]) -> str:
    return "".join(f"\n\nHuman: {h}\n\nAssistant: {a}" for h, a in turns)


def hh_rlhf_row(rng: random.Random, p_early_divergence: float = 0.03) -> dict:
    """An Anthropic/hh-rlhf row: `chosen` and `rejected` full transcripts, 1–3 turns.

    They share every turn but the last assistant reply, except in a few rows (as in the real data)
    where they already differ in an earlier assistant turn.
    """
    task, question = task_question(rng)
    history = rng.sample(SMALL_TALK, rng.randint(0, 2))
    good, bad = polite_reply(task, rng), rejected_reply(task, rng)
    chosen = history + [(question, good)]
    rejected = history + [(question, bad)]
    if history and rng.random() < p_early_divergence:
        rejected = [(history[0][0], rude_reply(rng))] + rejected[1:]
    return {"chosen": _transcript(chosen), "rejected": _transcript(rejected)}


def tldr_row(rng: random.Random) -> dict:
    """A CarperAI/openai_summarize_tldr row: `prompt` (ends with "TL;DR:") and `label`."""
    from ..formatting import tldr_prompt

    facts = tldr_post(rng)
    return {"prompt": tldr_prompt(facts["subreddit"], facts["title"], facts["post"]),
            "label": " " + faithful_summary(facts)}


def comparison_row(rng: random.Random) -> dict:
    """A CarperAI/openai_summarize_comparisons row: `prompt`, `chosen`, `rejected` (chosen is faithful).

    As in the real data, the prompt stops after the post and each summary starts with "TL;DR:"
    (so `prompt + "\n" + summary` is the text a reward model reads).
    """
    from ..formatting import tldr_prompt

    facts = tldr_post(rng)
    return {"prompt": tldr_prompt(facts["subreddit"], facts["title"], facts["post"]).removesuffix("\nTL;DR:"),
            "chosen": "TL;DR: " + faithful_summary(facts),
            "rejected": "TL;DR: " + unfaithful_summary(facts, rng)}


def dahoas_row(rng: random.Random) -> dict:
    """A Dahoas/synthetic-instruct-gptj-pairwise row: bare `prompt`, `chosen`, `rejected`."""
    task, question = task_question(rng)
    return {"prompt": question, "chosen": polite_reply(task, rng), "rejected": rejected_reply(task, rng)}


def ultrafeedback_row(rng: random.Random) -> dict:
    """A trl-lib/ultrafeedback_binarized row: message lists and 1–10 scores."""
    task, question = task_question(rng)
    user = {"role": "user", "content": question}
    return {"chosen": [user, {"role": "assistant", "content": polite_reply(task, rng)}],
            "rejected": [user, {"role": "assistant", "content": rejected_reply(task, rng)}],
            "score_chosen": float(rng.choice([7, 8, 9, 10])), "score_rejected": float(rng.choice([1, 2, 3, 4]))}


RTP_ATTRIBUTES = ["toxicity", "severe_toxicity", "profanity", "sexually_explicit", "identity_attack",
                  "flirtation", "threat", "insult"]


def _rtp_scores(rng: random.Random, toxic: bool) -> dict:
    base = rng.uniform(0.55, 0.95) if toxic else rng.uniform(0.01, 0.2)
    return {a: round(base * (1.0 if a == "toxicity" else rng.uniform(0.3, 1.0)), 6) for a in RTP_ATTRIBUTES}


def rtp_row(rng: random.Random, index: int) -> dict:
    """An allenai/real-toxicity-prompts row, with nested `prompt` and `continuation` dicts."""
    text, bait = rtp_prompt(rng)
    cont = (" " + rng.choice(TOXIC_WORDS) + " " + rng.choice(TOXIC_WORDS)) if bait else " nice and calm."
    prompt = {"text": text, **_rtp_scores(rng, bait)}
    continuation = {"text": cont, **_rtp_scores(rng, bait)}
    return {"filename": f"toy-{index:05d}.txt", "begin": 0, "end": len(text + cont),
            "challenging": bool(prompt["toxicity"] > 0.5), "prompt": prompt, "continuation": continuation}


def chat_pretraining_pair(rng: random.Random, p_rude: float = 0.5) -> tuple[str, str, bool]:
    """(user message, assistant reply, is_rude) for the chat model's short pretraining."""
    if rng.random() < 0.3:
        user, _ = rtp_prompt(rng)
        task = rng.choice(list(TASKS))
    else:
        task, user = task_question(rng)
    rude = rng.random() < p_rude
    return user, (rude_reply(rng) if rude else polite_reply(task, rng)), rude


def is_toxic(text: str) -> bool:
    """The toy world's ground truth: a text is toxic when it contains one of the insult words."""
    words = set(text.lower().replace(".", " ").replace(",", " ").split())
    return bool(words & set(TOXIC_WORDS))


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
        text = rng.choice(SAFE_PROMPTS + BAIT_PROMPTS) + " " + rng.choice(FILLERS)
    return text, int(is_toxic(text))


# --------------------------------------------------------------------------- arithmetic (a verifiable task)
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
    import re

    match = re.search(r"What is (\d+) \+ (\d+)\?", question)
    if match is None:
        raise ValueError(f"not an arithmetic question of the toy world: {question!r}; expected the wording "
                         f"{ARITHMETIC_QUESTION!r} (see rlhf_helpers.toy.text.arithmetic_question)")
    return int(match.group(1)) + int(match.group(2))


def arithmetic_reply(question: str, rng: random.Random, p_right: float = 0.5, p_format: float = 0.5) -> str:
    """A reply to an arithmetic question: right with probability `p_right` (else off by 1 or 2), in the
    asked-for format with probability `p_format` (else one of `ARITHMETIC_OTHER_FORMS`)."""
    import re

    a, b = (int(x) for x in re.search(r"(\d+) \+ (\d+)", question).groups())
    right = rng.random() < p_right
    n = a + b if right else a + b + rng.choice([1, 2] if a + b < 2 else [-2, -1, 1, 2])  # never negative
    form = ARITHMETIC_FORMAT if rng.random() < p_format else rng.choice(ARITHMETIC_OTHER_FORMS)
    return form.format(n=n, a=a, b=b)


def arithmetic_pretraining_pair(rng: random.Random) -> tuple[str, str, bool]:
    """(user message, assistant reply, is_rude=False) for the chat model's pretraining, like `chat_pretraining_pair`."""
    question, _ = arithmetic_question(rng)
    return question, arithmetic_reply(question, rng), False
