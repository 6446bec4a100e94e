"""Examples longer than the training window: count them, drop them, say so (notebooks 01–05 and 07).

TRL's trainers handle over-long rows quietly: `SFTTrainer` cuts them (a summary cut short loses its EOS
token, so the model learns not to stop), `RewardTrainer` drops pairs longer than `max_length`, and
`DPOTrainer` truncates. The toy world's texts are short, so none of this happens in the tiny profile;
on real data (Reddit posts, multi-turn hh-rlhf dialogues) a few percent of rows are too long. We measure
each row's length as the trainer will tokenise it, drop the long ones ourselves and print how many.
"""

from __future__ import annotations


def drop_long(dataset, lengths: list[int], max_length: int, what: str = "rows"):
    """Keep the rows whose length is at most `max_length` tokens; print how many were dropped.

    Args:
        dataset: a `datasets.Dataset` (or anything with `select` and `len`).
        lengths: one token count per row, as the trainer will see it.
    Returns:
        The kept rows.
    """
    if len(lengths) != len(dataset):
        raise ValueError(f"{len(lengths)} lengths for {len(dataset)} rows: pass one length per row")
    keep = [i for i, n in enumerate(lengths) if n <= max_length]
    dropped = len(dataset) - len(keep)
    print(f"dropped {dropped} of {len(dataset)} {what} ({dropped / max(len(dataset), 1):.1%}) longer than "
          f"{max_length} tokens; longest {max(lengths, default=0)}")
    return dataset.select(keep)


def sft_lengths(tokenizer, prompts: list[str], completions: list[str]) -> list[int]:
    """Tokens of prompt + completion + EOS, as `SFTTrainer` builds a prompt–completion row."""
    ids = tokenizer([p + c for p, c in zip(prompts, completions)])["input_ids"]
    return [len(row) + 1 for row in ids]


def text_pair_lengths(tokenizer, chosen: list[str], rejected: list[str]) -> list[int]:
    """The longer of chosen and rejected, in tokens with EOS, as `RewardTrainer` tokenises plain texts."""
    a, b = tokenizer(list(chosen))["input_ids"], tokenizer(list(rejected))["input_ids"]
    return [max(len(x), len(y)) + 1 for x, y in zip(a, b)]


def chat_pair_lengths(tokenizer, rows) -> list[int]:
    """The longer of prompt + chosen and prompt + rejected, in tokens, for conversational preference rows
    (lists of messages), rendered with the chat template as `DPOTrainer` does."""
    def length(messages):
        return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])

    return [max(length(r["prompt"] + r["chosen"]), length(r["prompt"] + r["rejected"])) for r in rows]
