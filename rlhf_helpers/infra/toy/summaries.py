"""Toy Reddit posts and their summaries (the TL;DR datasets), with the ground truth of a summary's facts.

Rows of CarperAI/openai_summarize_tldr (notebook 01's SFT, notebook 07's policy) and
CarperAI/openai_summarize_comparisons (the reward models of notebooks 02 and 07). A post names a person, an event
and a feeling; the faithful summary repeats those three. Worse summaries go wrong in the ways real TL;DRs do
(`unfaithful_summary`). The ground truth (`fact_accuracy`, `fact_accuracy_by_kind`, `post_facts`,
`swapped_fact_summary`, exported by `rlhf_helpers.infra.toy`) is what notebooks 01 and 07 check a summary against
in the tiny profile. Every generator takes a `random.Random`, so the same seed gives the same rows.
"""

from __future__ import annotations

import random
import re


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


def tldr_post(rng: random.Random, avoid: set | frozenset = frozenset()) -> dict:
    """One toy Reddit post and its facts: subreddit, title, post, person, event, feeling, closing question.

    A post whose text is in `avoid` is drawn again (how the world keeps its evaluation posts out of training).
    """
    while True:
        person, event, feeling = rng.choice(PEOPLE), rng.choice(EVENTS), rng.choice(FEELINGS)
        age = rng.randint(18, 45)
        fillers = rng.sample(FILLERS, rng.randint(1, 3))
        question = rng.choice(QUESTIONS)
        post = " ".join([f"My ({age}) {person} {event} last week.", *fillers, f"I feel {feeling}.", question])
        title = f"My {person} {event}"
        subreddit = rng.choice(SUBREDDITS)
        if post not in avoid:
            return dict(subreddit=subreddit, title=title, post=post,
                        person=person, event=event, feeling=feeling, question=question)


def faithful_summary(facts: dict) -> str:
    """The reference summary of a toy post (what a good TL;DR says)."""
    return f"my {facts['person']} {facts['event']} and i feel {facts['feeling']}"


WORDY_TAIL = " and i do not know what to do about it at all"


def wordy_summary(facts: dict) -> str:
    """A faithful but padded summary: the right facts, then filler. Some real TL;DRs ramble like this; a model that
    learns from them sometimes runs past its token budget (the no-EOS penalty of notebook 07 acts on that)."""
    return f"my {facts['person']} {facts['event']} last week and i feel {facts['feeling']}{WORDY_TAIL}"


def without_padding(text: str) -> str:
    """`text` with the filler of a `wordy_summary` taken out: the faithful summary it pads (other texts unchanged)."""
    if not text.endswith(WORDY_TAIL):
        return text
    return text.removesuffix(WORDY_TAIL).replace(" last week and i feel ", " and i feel ")


# --------------------------------------------------------------------------- ground truth: faithfulness
FACT_KINDS = {"person": PEOPLE, "event": EVENTS, "feeling": FEELINGS}


def _mentions(text: str, pool: list[str]) -> set[str]:
    """The items of `pool` that occur in `text` as whole words (lower case)."""
    words = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    return {item for item in pool if f" {item} " in words}


def post_facts(prompt: str) -> dict:
    """The facts of a toy post, read back from its prompt (or its post): person, event and feeling.

    Raises a ValueError for text that is not a whole toy TL;DR post (real posts have no known facts).
    """
    first = re.search(r"My \(\d+\) (.+?) last week\.", prompt)
    feeling = re.search(r"I feel (\w+)\.", prompt)
    person_event = first.group(1) if first else ""
    facts = {"person": next((p for p in PEOPLE if person_event.startswith(p + " ")), None),
             "event": next((e for e in EVENTS if person_event.endswith(" " + e)), None),
             "feeling": feeling.group(1) if feeling and feeling.group(1) in FEELINGS else None}
    if None in facts.values():
        raise ValueError(f"not a whole toy TL;DR post, so its facts are unknown: {prompt[:80]!r}. Fact accuracy "
                         "needs the tiny profile's toy posts, before any truncation; real posts have no ground truth")
    return facts


def summary_is_faithful(prompt: str, summary: str) -> bool:
    """The toy world's ground truth: the summary states the post's person, event and feeling, and no other.

    Only the facts count, not the wording: "i feel sad because my dad sold my bike" is faithful to a post whose
    reference is "my dad sold my bike and i feel sad"; "my mom sold my bike and i feel sad" is not.
    """
    facts = post_facts(prompt)
    return all(_mentions(summary, pool) == {facts[key]} for key, pool in FACT_KINDS.items())


def fact_accuracy(prompts, summaries) -> float:
    """Share of summaries whose facts match their post (`summary_is_faithful`); tiny profile only.

    Args:
        prompts: N toy TL;DR prompts (or posts), whole (not truncated).
        summaries: N summaries, one per prompt.
    Returns:
        A float in [0, 1].
    """
    prompts, summaries = _summary_pairs(prompts, summaries, "fact_accuracy")
    return sum(summary_is_faithful(p, s) for p, s in zip(prompts, summaries)) / len(prompts)


def fact_accuracy_by_kind(prompts, summaries) -> dict[str, float]:
    """Per kind of fact (person, event, feeling): the share of summaries that state their post's one and no other.

    `fact_accuracy` asks for all three at once; this shows which of them a model gets right. Tiny profile only;
    arguments as for `fact_accuracy`. Returns {"person": float, "event": float, "feeling": float}.
    """
    prompts, summaries = _summary_pairs(prompts, summaries, "fact_accuracy_by_kind")
    facts = [post_facts(p) for p in prompts]
    return {key: sum(_mentions(s, pool) == {f[key]} for f, s in zip(facts, summaries)) / len(prompts)
            for key, pool in FACT_KINDS.items()}


def _summary_pairs(prompts, summaries, name: str) -> tuple[list, list]:
    prompts, summaries = list(prompts), list(summaries)
    if len(prompts) != len(summaries):
        raise ValueError(f"{len(prompts)} prompts but {len(summaries)} summaries: pass one summary per prompt")
    if not prompts:
        raise ValueError(f"{name} got no summaries: pass at least one (prompt, summary) pair")
    return prompts, summaries


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


# --------------------------------------------------------------------------- rows in real schemas
def tldr_row(rng: random.Random, avoid: set | frozenset = frozenset(), wordy: bool = False) -> dict:
    """A CarperAI/openai_summarize_tldr row: `prompt` (ends with "TL;DR:") and `label`; its post is not in `avoid`.

    The label is the faithful summary, padded with filler when `wordy` (`wordy_summary`).
    """
    from rlhf_helpers.course.formatting import tldr_prompt

    facts = tldr_post(rng, avoid)
    return {"prompt": tldr_prompt(facts["subreddit"], facts["title"], facts["post"]),
            "label": " " + (wordy_summary(facts) if wordy else faithful_summary(facts))}


def comparison_row(rng: random.Random, avoid: set | frozenset = frozenset()) -> dict:
    """A CarperAI/openai_summarize_comparisons row: `prompt`, `chosen`, `rejected` (chosen is faithful).

    As in the real data, the prompt stops after the post and each summary starts with "TL;DR:"
    (so `prompt + "\n" + summary` is the text a reward model reads). Its post is not in `avoid`.
    """
    from rlhf_helpers.course.formatting import tldr_prompt

    facts = tldr_post(rng, avoid)
    return {"prompt": tldr_prompt(facts["subreddit"], facts["title"], facts["post"]).removesuffix("\nTL;DR:"),
            "chosen": "TL;DR: " + faithful_summary(facts),
            "rejected": "TL;DR: " + unfaithful_summary(facts, rng)}


def swapped_fact_summary(prompt: str, rng: random.Random) -> str:
    """The faithful summary of a toy post with one fact (person, event or feeling, chosen at random) made wrong.

    Fluent and about the right kind of thing, so only a comparison with the post shows the error: the hard probe
    of a summary reward model. Raises a ValueError for text that is not a whole toy post (see `post_facts`).
    """
    return unfaithful_summary(post_facts(prompt), rng, "swapped_fact")
