"""Supervised fine-tuning pieces for notebook 01: the completion-only label mask and ROUGE-L by hand.

The notebook trains with TRL's `SFTTrainer`; these small references back its exercises and show
what the trainer does under the hood.
"""

from __future__ import annotations

import re

IGNORE_INDEX = -100  # labels with this value are skipped by PyTorch's cross-entropy


def completion_only_labels(input_ids, prompt_lengths, attention_mask):
    """Labels for SFT on the completion only: copy the ids, mask the prompt and the padding.

    Args:
        input_ids: (B, T) right-padded token ids of prompt + completion.
        prompt_lengths: (B,) number of prompt tokens at the start of each row.
        attention_mask: (B, T) 1 for real tokens, 0 for padding.
    Returns:
        labels: (B, T), equal to input_ids except IGNORE_INDEX on prompt and padding positions.
    """
    import torch

    positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (T,)
    in_prompt = positions[None, :] < torch.as_tensor(prompt_lengths, device=input_ids.device)[:, None]  # (B, T)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), IGNORE_INDEX)


def rouge_tokens(text: str) -> list[str]:
    """Tokens as `rouge_score` sees them: lower-case, runs of letters and digits."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of one pair: P = LCS/len(prediction), R = LCS/len(reference), F = 2PR/(P+R)."""
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(pred), lcs / len(ref)
    return 2 * p * r / (p + r)


def show_label_mask(tokenizer, input_ids, labels, max_tokens: int = 80) -> str:
    """One row as text, with the tokens that carry no loss (label -100) in [brackets]; printed and returned."""
    parts = []
    for tok_id, label in list(zip(input_ids.tolist(), labels.tolist()))[:max_tokens]:
        piece = tokenizer.decode([tok_id])
        parts.append(piece if label != IGNORE_INDEX else f"[{piece}]")
    text = "".join(parts)
    print(text)
    return text
