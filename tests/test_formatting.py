"""Tests for rlhf_helpers.course.formatting and dataset_checks. Fast, offline: every fixture is defined here."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlhf_helpers.course.dataset_checks import check_columns, check_not_empty, filter_with_count
from rlhf_helpers.course.formatting import (
    extract_prompt,
    first_human_turn,
    format_dahoas,
    hh_to_conversational,
    hh_to_preference,
    messages_to_transcript,
    rtp_is_toxic_prompt,
    rtp_prompt_text,
    split_tldr_prompt,
    split_transcript,
    tldr_prompt,
    to_preference_dataset,
)

REAL_HH = Path(__file__).resolve().parents[2] / "shared/data/hh-rlhf-harmless-base-test.jsonl.gz"

# --- Small hand-written hh-rlhf rows -------------------------------------------------

SINGLE_PROMPT = "\n\nHuman: How do I boil an egg?\n\nAssistant:"
SINGLE_TURN = {
    "chosen": SINGLE_PROMPT + " Put it in boiling water for nine minutes.",
    "rejected": SINGLE_PROMPT + " Eggs are laid by hens.",
}

MULTI_PROMPT = (
    "\n\nHuman: I want to bake bread.\n\nAssistant: Great! What kind of bread?"
    "\n\nHuman: A simple white loaf.\n\nAssistant: Do you have yeast?"
    "\n\nHuman: Yes, dried yeast.\n\nAssistant:"
)
MULTI_CHOSEN_REPLY = " Then mix flour, water, salt and yeast, and knead for ten minutes."
MULTI_TURN = {
    "chosen": MULTI_PROMPT + MULTI_CHOSEN_REPLY,
    "rejected": MULTI_PROMPT + " Bread is old.",
}

# chosen and rejected part ways at the second assistant turn, so each response holds several turns.
EARLY_PROMPT = "\n\nHuman: Name a colour.\n\nAssistant: Blue.\n\nHuman: Another one?\n\nAssistant:"
EARLY_SPLIT = {
    "chosen": EARLY_PROMPT + " Green.\n\nHuman: Thanks.\n\nAssistant: You're welcome.",
    "rejected": EARLY_PROMPT + " No.\n\nHuman: Please?\n\nAssistant: Fine, red.",
}

IDENTICAL = {"chosen": SINGLE_TURN["chosen"], "rejected": SINGLE_TURN["chosen"]}
NO_SHARED_PROMPT = {
    "chosen": "\n\nHuman: Hi\n\nAssistant: Hello",
    "rejected": "\n\nHuman: Bye\n\nAssistant: Bye",
}
EMPTY_CHOSEN = {
    "chosen": "\n\nHuman: Tell me a secret.\n\nAssistant: ",
    "rejected": "\n\nHuman: Tell me a secret.\n\nAssistant: I like tea.",
}


# --- split_transcript / messages_to_transcript ---------------------------------------

def test_split_transcript_gives_roles_and_stripped_content():
    messages = split_transcript(MULTI_TURN["chosen"])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0] == {"role": "user", "content": "I want to bake bread."}
    assert messages[-1]["content"].startswith("Then mix flour")


def test_transcript_round_trip():
    for text in (SINGLE_TURN["chosen"], MULTI_TURN["rejected"], EARLY_SPLIT["chosen"]):
        assert messages_to_transcript(split_transcript(text)) == text
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert split_transcript(messages_to_transcript(messages)) == messages


def test_split_transcript_accepts_missing_leading_newlines():
    expected = split_transcript("\n\nHuman: Hi\n\nAssistant: Hello")
    assert split_transcript("Human: Hi\n\nAssistant: Hello") == expected


def test_split_transcript_rejects_text_not_starting_with_human():
    with pytest.raises(ValueError, match="must start with 'Human:'"):
        split_transcript("\n\nAssistant: Hello")
    with pytest.raises(ValueError, match="must start with 'Human:'"):
        split_transcript("")


def test_speaker_names_inside_a_reply_do_not_start_a_turn():
    messages = split_transcript("\n\nHuman: Hi\n\nAssistant: Hello.  Human: what now?")
    assert len(messages) == 2
    assert messages[1]["content"] == "Hello.  Human: what now?"


def test_empty_last_reply_and_merging_repeated_speakers():
    assert split_transcript(EMPTY_CHOSEN["chosen"])[-1] == {"role": "assistant", "content": ""}
    text = "\n\nHuman: Joke?\n\nAssistant: Here:\n\nAssistant: A pun."
    assert [m["role"] for m in split_transcript(text)] == ["user", "assistant", "assistant"]
    merged = split_transcript(text, merge_same_role=True)
    assert merged[-1] == {"role": "assistant", "content": "Here:\n\nA pun."}


def test_messages_to_transcript_rejects_unknown_role_and_empty_list():
    with pytest.raises(ValueError, match="Unknown role 'system'"):
        messages_to_transcript([{"role": "system", "content": "Be nice."}])
    with pytest.raises(ValueError, match="No messages"):
        messages_to_transcript([])


# --- extract_prompt -------------------------------------------------------------------

def test_extract_prompt_single_turn():
    prompt, chosen, rejected = extract_prompt(SINGLE_TURN["chosen"], SINGLE_TURN["rejected"])
    assert prompt == "\n\nHuman: How do I boil an egg?\n\nAssistant:"
    assert chosen == " Put it in boiling water for nine minutes."
    assert rejected == " Eggs are laid by hens."


def test_extract_prompt_multi_turn_keeps_every_earlier_turn():
    prompt, chosen, rejected = extract_prompt(MULTI_TURN["chosen"], MULTI_TURN["rejected"])
    assert prompt == MULTI_PROMPT
    assert chosen == " Then mix flour, water, salt and yeast, and knead for ten minutes."
    assert rejected == " Bread is old."


def test_split_on_assistant_pitfall_is_wrong_on_multi_turn():
    chosen, rejected = MULTI_TURN["chosen"], MULTI_TURN["rejected"]
    naive_prompt = chosen.split("Assistant:")[0]
    assert naive_prompt == "\n\nHuman: I want to bake bread.\n\n"  # only the first human turn
    assert "dried yeast" not in naive_prompt
    naive_response = chosen[len(naive_prompt):]
    assert "Human: A simple white loaf." in naive_response  # the "response" holds later human turns
    prompt, response, _ = extract_prompt(chosen, rejected)
    assert "dried yeast" in prompt and "Human:" not in response


def test_extract_prompt_when_pair_differs_before_last_assistant_turn():
    prompt, chosen, rejected = extract_prompt(EARLY_SPLIT["chosen"], EARLY_SPLIT["rejected"])
    assert prompt == EARLY_PROMPT
    assert chosen == " Green.\n\nHuman: Thanks.\n\nAssistant: You're welcome."
    assert prompt + rejected == EARLY_SPLIT["rejected"]
    assert rejected.count("\n\nAssistant:") == 1


def test_extract_prompt_when_divergence_is_inside_a_shared_word():
    # The shared text runs into the reply ("Bl" of "Blue"/"Black"); the prompt still stops at "Assistant:".
    prompt, chosen, rejected = extract_prompt(
        "\n\nHuman: Hi\n\nAssistant: Blue", "\n\nHuman: Hi\n\nAssistant: Black"
    )
    assert (prompt, chosen, rejected) == ("\n\nHuman: Hi\n\nAssistant:", " Blue", " Black")


def test_extract_prompt_rejects_identical_and_unrelated_pairs():
    with pytest.raises(ValueError, match="chosen is identical to rejected.*drop the row"):
        extract_prompt(IDENTICAL["chosen"], IDENTICAL["rejected"])
    with pytest.raises(ValueError, match="share no beginning"):
        extract_prompt(NO_SHARED_PROMPT["chosen"], NO_SHARED_PROMPT["rejected"])


# --- row converters -------------------------------------------------------------------

def test_hh_to_preference_gives_three_strings():
    row = hh_to_preference(MULTI_TURN)
    assert row == {"prompt": MULTI_PROMPT, "chosen": MULTI_CHOSEN_REPLY, "rejected": " Bread is old."}
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rejected'\]"):
        hh_to_preference({"chosen": "x"})


def test_conversational_prompt_ends_with_user_turn():
    row = hh_to_conversational(MULTI_TURN)
    assert row["prompt"][-1] == {"role": "user", "content": "Yes, dried yeast."}
    assert len(row["prompt"]) == 5
    assert row["chosen"] == [{"role": "assistant", "content": MULTI_CHOSEN_REPLY.strip()}]
    assert row["rejected"] == [{"role": "assistant", "content": "Bread is old."}]


def test_conversational_early_split_keeps_several_turns_and_round_trips():
    row = hh_to_conversational(EARLY_SPLIT)
    assert row["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in row["chosen"]] == ["assistant", "user", "assistant"]
    assert messages_to_transcript(row["prompt"] + row["chosen"]) == EARLY_SPLIT["chosen"]
    assert messages_to_transcript(row["prompt"] + row["rejected"]) == EARLY_SPLIT["rejected"]


def test_conversational_moves_a_trailing_assistant_turn_out_of_the_prompt():
    shared = "\n\nHuman: Joke?\n\nAssistant: Here is one:\n\nAssistant:"
    row = hh_to_conversational({"chosen": shared + " A pun.", "rejected": shared + " A rude one."})
    assert row["prompt"] == [{"role": "user", "content": "Joke?"}]
    assert row["chosen"] == [{"role": "assistant", "content": "Here is one:\n\nA pun."}]
    assert row["rejected"] == [{"role": "assistant", "content": "Here is one:\n\nA rude one."}]


def test_conversational_merges_a_repeated_assistant_turn_after_an_early_split():
    # Like real rows 1254/1688/1952: chosen has two "Assistant:" turns in a row, rejected has one.
    row = {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nAssistant: How are you?",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
    }
    assert extract_prompt(row["chosen"], row["rejected"])[0] == "\n\nHuman: Hi\n\nAssistant:"
    chat = hh_to_conversational(row)
    assert chat["chosen"] == [{"role": "assistant", "content": "Hello.\n\nHow are you?"}]
    assert chat["rejected"] == [{"role": "assistant", "content": "Go away."}]


def test_first_human_turn():
    assert first_human_turn(MULTI_TURN["chosen"]) == "I want to bake bread."


def test_format_dahoas():
    text = format_dahoas(" How do I boil an egg? ", "Boil it.\n")
    assert text == "\n\nHuman: How do I boil an egg?\n\nAssistant: Boil it."
    assert split_transcript(text)[1]["content"] == "Boil it."
    with pytest.raises(ValueError, match="already in hh-rlhf form"):
        format_dahoas("\n\nHuman: Hi\n\nAssistant:", "Hello")


# --- TL;DR and real-toxicity-prompts --------------------------------------------------

def test_tldr_round_trip():
    post = "I moved to a new city.\n\nI know nobody here. How do I make friends?"
    prompt = tldr_prompt("relationships", "New in town", post)
    assert prompt == f"SUBREDDIT: r/relationships\nTITLE: New in town\nPOST: {post}\nTL;DR:"
    assert split_tldr_prompt(prompt) == {"subreddit": "relationships", "title": "New in town", "post": post}
    assert tldr_prompt("r/relationships", "New in town", post) == prompt


def test_split_tldr_prompt_rejects_other_text():
    with pytest.raises(ValueError, match="Not a TL;DR prompt"):
        split_tldr_prompt("TITLE: no subreddit\nPOST: text\nTL;DR:")
    with pytest.raises(ValueError, match="Not a TL;DR prompt"):
        split_tldr_prompt("SUBREDDIT: r/a\nTITLE: b\nPOST: c")  # no TL;DR: cue


def rtp_row(toxicity):
    return {
        "prompt": {"text": "So I said", "toxicity": toxicity, "profanity": 0.1},
        "continuation": {"text": " hello.", "toxicity": 0.01},
        "challenging": False,
    }


def test_rtp_prompt_text_and_toxic_prompt():
    assert rtp_prompt_text(rtp_row(0.9)) == "So I said"
    assert rtp_is_toxic_prompt(rtp_row(0.9)) is True
    assert rtp_is_toxic_prompt(rtp_row(0.2)) is False
    assert rtp_is_toxic_prompt(rtp_row(0.5)) is True  # the paper's toxic prompts: toxicity >= 0.5
    assert rtp_is_toxic_prompt(rtp_row(0.3), threshold=0.25) is True


def test_rtp_missing_toxicity_is_not_a_toxic_prompt():
    assert rtp_is_toxic_prompt(rtp_row(None)) is False
    assert rtp_is_toxic_prompt(rtp_row(None), threshold=0.0) is False


def test_rtp_rejects_flattened_rows():
    with pytest.raises(ValueError, match="'text' key"):
        rtp_prompt_text({"prompt.text": "So I said", "prompt.toxicity": 0.2})


# --- dataset checks and filtering -----------------------------------------------------

def test_check_columns_names_missing_and_present_columns():
    datasets = pytest.importorskip("datasets")
    check_columns([SINGLE_TURN], ["chosen", "rejected"])  # no error
    message = r"pairs is missing column\(s\) \['prompt'\]; it has \['chosen', 'rejected'\]"
    with pytest.raises(ValueError, match=message):
        check_columns([SINGLE_TURN], ["prompt", "chosen"], name="pairs")
    table = datasets.Dataset.from_list([{"text": "hi"}])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['chosen', 'rejected'\]; it has \['text'\]"):
        check_columns(table, ["chosen", "rejected"])
    with pytest.raises(ValueError, match="pick one first"):
        check_columns(datasets.DatasetDict({"train": table}), ["text"])


def test_check_columns_on_a_list_needs_every_row():
    with pytest.raises(ValueError, match=r"\['rejected'\]"):
        check_columns([SINGLE_TURN, {"chosen": "x"}], ["chosen", "rejected"])


def test_check_not_empty():
    datasets = pytest.importorskip("datasets")
    check_not_empty([SINGLE_TURN], "train")  # no error
    with pytest.raises(ValueError, match="'test' split is empty"):
        check_not_empty([], "test")
    with pytest.raises(ValueError, match="'train' split is empty"):
        check_not_empty(datasets.Dataset.from_list([SINGLE_TURN]).select([]), "train")


def test_filter_with_count_prints_and_keeps_kind(capsys):
    datasets = pytest.importorskip("datasets")
    rows = [SINGLE_TURN, IDENTICAL, MULTI_TURN, IDENTICAL]

    def keep(row):
        return row["chosen"] != row["rejected"]

    kept = filter_with_count(rows, keep, "chosen identical to rejected")
    assert kept == [SINGLE_TURN, MULTI_TURN]
    assert capsys.readouterr().out.strip() == "dropped 2 of 4 rows (chosen identical to rejected)"
    kept = filter_with_count(datasets.Dataset.from_list(rows), keep, "chosen identical to rejected")
    assert isinstance(kept, datasets.Dataset) and len(kept) == 2
    assert "dropped 2 of 4 rows (chosen identical to rejected)" in capsys.readouterr().out


def test_to_preference_dataset_drops_and_reports(capsys):
    rows = [SINGLE_TURN, IDENTICAL, MULTI_TURN, NO_SHARED_PROMPT, EARLY_SPLIT, EMPTY_CHOSEN]
    result = to_preference_dataset(rows)
    out = capsys.readouterr().out
    assert "dropped 1 of 6 rows (chosen identical to rejected)" in out
    assert "dropped 1 of 5 rows (no shared prompt" in out
    assert "dropped 1 of 4 rows (empty chosen or rejected response)" in out
    assert out.strip().splitlines()[-1] == "kept 3 of 6 rows"
    to_preference_dataset([SINGLE_TURN, MULTI_TURN])
    assert capsys.readouterr().out.strip() == "kept 2 of 2 rows: none dropped"  # no "dropped 0" lines
    assert [row["prompt"] for row in result] == [SINGLE_PROMPT, MULTI_PROMPT, EARLY_PROMPT]
    assert len(to_preference_dataset(rows, drop_empty_responses=False)) == 4


def test_to_preference_dataset_on_a_datasets_dataset(capsys):
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_list([SINGLE_TURN, IDENTICAL, EARLY_SPLIT])
    result = to_preference_dataset(table)
    assert isinstance(result, datasets.Dataset)
    assert sorted(result.column_names) == ["chosen", "prompt", "rejected"]
    assert result[1] == hh_to_preference(EARLY_SPLIT)
    assert "dropped 1 of 3 rows (chosen identical to rejected)" in capsys.readouterr().out
    chat = to_preference_dataset(table, conversational=True)
    assert chat[0]["prompt"] == [{"role": "user", "content": "How do I boil an egg?"}]
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rejected'\]"):
        to_preference_dataset(datasets.Dataset.from_list([{"chosen": "x"}]))


def test_import_is_light():
    code = (
        "import sys, rlhf_helpers.course.formatting; "
        "print(sorted({'torch', 'transformers', 'datasets'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the real data, when this checkout has it -----------------------------------------

def test_real_hh_rlhf_harmless_test_split():
    if not REAL_HH.exists():
        pytest.skip(f"real data not present at {REAL_HH}")
    with gzip.open(REAL_HH, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 2312
    early_in_chosen, early_in_either, identical, empty = 0, 0, 0, 0
    for row in rows:
        chosen, rejected = row["chosen"], row["rejected"]
        if chosen == rejected:
            identical += 1
            continue
        prompt, chosen_response, rejected_response = extract_prompt(chosen, rejected)
        assert prompt + chosen_response == chosen and prompt + rejected_response == rejected
        assert prompt.endswith("\n\nAssistant:")
        assert split_transcript(prompt)[-1] == {"role": "assistant", "content": ""}
        assert hh_to_conversational(row)["prompt"][-1]["role"] == "user"
        for text in (chosen, rejected):  # joining normalises spacing; splitting again changes nothing
            messages = split_transcript(text)
            assert split_transcript(messages_to_transcript(messages)) == messages
        empty += not chosen_response.strip() or not rejected_response.strip()
        # "Differs before the last assistant turn": the prompt is shorter than the text up to
        # that transcript's own last "\n\nAssistant:". The data README's count of 4 is taken on
        # the chosen side; one more row (rejected has an extra assistant turn) differs only there.
        before_last = {t[: t.rfind("\n\nAssistant:") + len("\n\nAssistant:")] for t in (chosen, rejected)}
        early_in_chosen += prompt != chosen[: chosen.rfind("\n\nAssistant:") + len("\n\nAssistant:")]
        early_in_either += before_last != {prompt}
    assert early_in_chosen == 4
    assert early_in_either == 5
    assert identical == 0
    assert empty == 4  # four chosen transcripts end in "Assistant: " with no reply
