"""Turn raw dataset rows into the prompt/response shapes the trainers expect.

Introduced in notebook 01 (SFT); used by 02–08.

Anthropic hh-rlhf stores each conversation as one string, "\\n\\nHuman: ...\\n\\nAssistant: ...",
and each row holds two: `chosen` and `rejected`. These helpers split such strings into chat
messages, find the shared prompt and turn a whole dataset into preference pairs; they also write and read
the Dahoas, TL;DR and RealToxicityPrompts formats. The checks that fail early, with errors that say how to fix
them (`check_columns`, `check_not_empty`, `filter_with_count`), are `dataset_checks.py`; notebooks import them
from here.
"""

import os
import re
from collections.abc import Mapping

from rlhf_helpers.course.dataset_checks import check_columns, check_not_empty, filter_with_count

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}
_SPEAKER = {"user": "Human", "assistant": "Assistant"}
_TLDR = re.compile(r"SUBREDDIT: r/([^\n]*)\nTITLE: (.*?)\nPOST: (.*)\nTL;DR:\s*", re.DOTALL)


def _merge_same_role(messages):
    """Join neighbouring messages from the same speaker into one message."""
    merged = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {**message, "content": merged[-1]["content"] + "\n\n" + message["content"]}
        else:
            merged.append(dict(message))
    return merged


def _turns(text, merge_same_role=False):
    """Split text made of "\\n\\nHuman:"/"\\n\\nAssistant:" turns into messages."""
    parts = _TURN.split(text)  # [text before the first turn, speaker, content, speaker, content, ...]
    messages = [{"role": _ROLE[who], "content": said.strip()} for who, said in zip(parts[1::2], parts[2::2])]
    return _merge_same_role(messages) if merge_same_role else messages


def split_transcript(text, merge_same_role=False):
    """Split an hh-rlhf transcript into chat messages.

    Only "Human:"/"Assistant:" after a blank line start a turn; the same words inside a
    reply stay part of it. An empty last reply ("...\\n\\nAssistant: ") gives content "".

    Args:
        text: a transcript such as "\\n\\nHuman: Hi\\n\\nAssistant: Hello".
        merge_same_role: join neighbouring turns by the same speaker (a few real rows have
            two "Assistant:" turns in a row, and some chat templates reject that).

    Returns:
        A list of {"role": "user" | "assistant", "content": str}, content stripped.
    """
    body = text.lstrip()
    if not body.startswith("Human:"):
        raise ValueError(
            f"Transcript must start with 'Human:' (hh-rlhf format), but it starts with {text[:40]!r}. "
            "Pass a whole hh-rlhf 'chosen' or 'rejected' string, or build one with format_dahoas()."
        )
    return _turns("\n\n" + body, merge_same_role)


def messages_to_transcript(messages):
    """Join chat messages into an hh-rlhf transcript (the inverse of split_transcript).

    Args:
        messages: a list of {"role": "user" | "assistant", "content": str}.

    Returns:
        A string "\\n\\nHuman: ...\\n\\nAssistant: ...".
    """
    if not messages:
        raise ValueError("No messages to join: pass at least one {'role': 'user', 'content': ...}.")
    for message in messages:
        if message.get("role") not in _SPEAKER:
            raise ValueError(
                f"Unknown role {message.get('role')!r}: hh-rlhf has only 'user' and 'assistant'. "
                "Drop system messages or fold them into the first user message."
            )
    return "".join(f"\n\n{_SPEAKER[m['role']]}: {m['content']}" for m in messages)


def extract_prompt(chosen, rejected):
    """Split a chosen/rejected pair into the shared prompt and the two responses.

    The prompt is the longest shared beginning of the two transcripts, cut back to the
    last "\\n\\nAssistant:" inside it, so it always ends with "\\n\\nAssistant:" and each
    response is what follows. Usually the pair differs only in its last assistant turn;
    in a few real rows it differs earlier, and then each response holds several turns.

    Why not `chosen.split("Assistant:")[0]`? That keeps only the first human turn, so in
    a multi-turn dialogue the "response" would hold the rest of the conversation.

    Args:
        chosen: the preferred transcript.
        rejected: the other transcript.

    Returns:
        (prompt, chosen_response, rejected_response), with prompt + chosen_response == chosen
        and prompt + rejected_response == rejected (responses keep their leading space).
    """
    if chosen == rejected:
        raise ValueError(
            "chosen is identical to rejected, so there is no preference to learn from: drop the row "
            "(to_preference_dataset() does this for you and counts the rows it drops)."
        )
    cut = os.path.commonprefix([chosen, rejected]).rfind(ASSISTANT)
    if cut == -1:
        raise ValueError(
            "chosen and rejected share no beginning ending in '\\n\\nAssistant:', so there is no common "
            f"prompt (chosen starts {chosen[:40]!r}, rejected starts {rejected[:40]!r}). Check that both "
            "are hh-rlhf transcripts of the same conversation, or drop the row."
        )
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def hh_to_preference(row):
    """Turn one hh-rlhf row into TRL's standard preference format.

    Args:
        row: a dict with "chosen" and "rejected" transcripts.

    Returns:
        {"prompt": str, "chosen": str, "rejected": str}.
    """
    check_columns(row, ["chosen", "rejected"], name="row")
    prompt, chosen, rejected = extract_prompt(row["chosen"], row["rejected"])
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def hh_to_conversational(row):
    """Turn one hh-rlhf row into TRL's conversational preference format.

    Neighbouring turns by the same speaker are merged, so roles alternate. If the prompt
    would end with an assistant turn, that turn moves to the start of both responses.

    Args:
        row: a dict with "chosen" and "rejected" transcripts.

    Returns:
        {"prompt": [messages ending with a user turn], "chosen": [assistant message, ...],
        "rejected": [...]}; a response holds several messages if the pair differed early.
    """
    pair = hh_to_preference(row)
    prompt = split_transcript(pair["prompt"][: -len(ASSISTANT)], merge_same_role=True)
    carried = []
    while prompt[-1]["role"] == "assistant":  # stops: the first message is always a user turn
        carried.insert(0, prompt.pop())
    chosen = _merge_same_role(carried + _turns(ASSISTANT + pair["chosen"]))
    rejected = _merge_same_role(carried + _turns(ASSISTANT + pair["rejected"]))
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def first_human_turn(transcript):
    """Return what the human said first in an hh-rlhf transcript (e.g. as an evaluation prompt).

    Args:
        transcript: an hh-rlhf transcript.

    Returns:
        The content of the first user message, stripped.
    """
    return split_transcript(transcript)[0]["content"]


def format_dahoas(prompt, response):
    """Put a bare prompt and response (Dahoas/synthetic-instruct-gptj-pairwise) into hh-rlhf form.

    Args:
        prompt: the instruction text, without "Human:".
        response: the reply text, without "Assistant:".

    Returns:
        "\\n\\nHuman: {prompt}\\n\\nAssistant: {response}", both parts stripped.
    """
    if prompt.lstrip().startswith("Human:"):
        raise ValueError("This prompt is already in hh-rlhf form (starts with 'Human:'): use it as it is.")
    return f"{HUMAN} {prompt.strip()}{ASSISTANT} {response.strip()}"


def tldr_prompt(subreddit, title, post):
    """Build a prompt in the CarperAI/openai_summarize_tldr format.

    Args:
        subreddit: the subreddit name, with or without "r/".
        title: the post title.
        post: the post body.

    Returns:
        "SUBREDDIT: r/{subreddit}\\nTITLE: {title}\\nPOST: {post}\\nTL;DR:".
    """
    return f"SUBREDDIT: r/{subreddit.removeprefix('r/')}\nTITLE: {title}\nPOST: {post}\nTL;DR:"


def split_tldr_prompt(prompt):
    """Read the subreddit, title and post out of a TL;DR prompt (the inverse of tldr_prompt).

    Args:
        prompt: a prompt in the CarperAI/openai_summarize_tldr format.

    Returns:
        {"subreddit": str, "title": str, "post": str}.
    """
    match = _TLDR.fullmatch(prompt)
    if match is None:
        raise ValueError(
            f"Not a TL;DR prompt: expected 'SUBREDDIT: r/...\\nTITLE: ...\\nPOST: ...\\nTL;DR:', got "
            f"{prompt[:60]!r}. Use the 'prompt' column of CarperAI/openai_summarize_tldr or tldr_prompt()."
        )
    return dict(zip(("subreddit", "title", "post"), match.groups()))


def rtp_prompt_text(row):
    """Return the prompt text of an allenai/real-toxicity-prompts row.

    Args:
        row: a row whose "prompt" is a dict like {"text": str, "toxicity": float | None, ...}.

    Returns:
        The prompt text.
    """
    prompt = row.get("prompt")
    if not isinstance(prompt, Mapping) or "text" not in prompt:
        raise ValueError(
            f"Expected row['prompt'] to be a dict with a 'text' key, got {prompt!r:.60}. "
            "Load allenai/real-toxicity-prompts without flattening its columns."
        )
    return prompt["text"]


def rtp_is_toxic_prompt(row, threshold=0.5):
    """Say whether a real-toxicity-prompts prompt is itself toxic: its own toxicity score is ≥ 0.5.

    This is the paper's "toxic prompt" (Gehman et al., 2020: toxicity ≥ 0.5). It is not the dataset's
    `challenging` flag, which marks prompts that led the paper's models to toxic continuations, whatever the
    prompt's own score. A missing score (None) counts as not toxic: we cannot call a prompt toxic without evidence.

    Args:
        row: a real-toxicity-prompts row.
        threshold: prompts scoring at or above this are toxic.

    Returns:
        True if row["prompt"]["toxicity"] is a number ≥ threshold.
    """
    rtp_prompt_text(row)  # checks the row's shape
    toxicity = row["prompt"].get("toxicity")
    return toxicity is not None and toxicity >= threshold


def _not_identical(row):
    """Say whether chosen and rejected differ."""
    return row["chosen"] != row["rejected"]


def _has_prompt(row):
    """Say whether extract_prompt can split this row."""
    try:
        return bool(extract_prompt(row["chosen"], row["rejected"]))
    except ValueError:
        return False


def _has_both_responses(row):
    """Say whether both responses have some text after the shared prompt."""
    _, chosen, rejected = extract_prompt(row["chosen"], row["rejected"])
    return bool(chosen.strip() and rejected.strip())


def to_preference_dataset(dataset, conversational=False, drop_empty_responses=True):
    """Turn an hh-rlhf dataset into prompt/chosen/rejected rows, dropping rows it cannot use.

    Rows whose chosen equals rejected, or with no shared prompt, are dropped and counted
    rather than stopping the run; so are rows with a blank response (a few real rows end
    in "Assistant: " with no reply) unless drop_empty_responses=False. It prints a line per
    reason that dropped rows, then one line with the rows kept.

    Args:
        dataset: a datasets.Dataset or a list of dicts with "chosen" and "rejected".
        conversational: give chat messages (hh_to_conversational) instead of strings.
        drop_empty_responses: drop rows where either response is blank.

    Returns:
        The same kind of object, with exactly the columns prompt, chosen and rejected.
    """
    check_columns(dataset, ["chosen", "rejected"], name="hh-rlhf dataset")
    check_not_empty(dataset, "hh-rlhf")
    before = len(dataset)
    dataset = filter_with_count(dataset, _not_identical, "chosen identical to rejected", quiet_if_none=True)
    dataset = filter_with_count(dataset, _has_prompt, "no shared prompt ending in 'Assistant:'", quiet_if_none=True)
    if drop_empty_responses:
        dataset = filter_with_count(dataset, _has_both_responses, "empty chosen or rejected response",
                                    quiet_if_none=True)
    print(f"kept {len(dataset)} of {before} rows" + ("" if len(dataset) < before else ": none dropped"))
    convert = hh_to_conversational if conversational else hh_to_preference
    if hasattr(dataset, "map") and hasattr(dataset, "column_names"):
        return dataset.map(convert, remove_columns=dataset.column_names)
    return [convert(row) for row in dataset]
