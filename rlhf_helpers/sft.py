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


# --------------------------------------------------------------------------- exercise checks
def _label_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    cases = []
    for batch, length in [(1, 5), (3, 9), (4, 12)]:
        ids = torch.randint(5, 100, (batch, length), generator=g)
        real = torch.randint(2, length + 1, (batch,), generator=g)
        mask = (torch.arange(length)[None, :] < real[:, None]).long()
        prompt = [int(torch.randint(1, int(r) + 1, (1,), generator=g)) for r in real]
        cases.append((ids, prompt, mask))
    ids = torch.tensor([[7, 8, 9]])
    cases.append((ids, [3], torch.ones_like(ids)))  # all prompt: nothing to learn
    cases.append((ids, [0], torch.ones_like(ids)))  # no prompt
    return cases


def _labels_prompt_off_by_one(input_ids, prompt_lengths, attention_mask):
    positions = _positions(input_ids)
    lengths = _as_column(prompt_lengths, input_ids)
    return input_ids.masked_fill((positions <= lengths) | (attention_mask == 0), IGNORE_INDEX)


def _labels_padding_kept(input_ids, prompt_lengths, attention_mask):
    return input_ids.masked_fill(_positions(input_ids) < _as_column(prompt_lengths, input_ids), IGNORE_INDEX)


def _labels_prompt_kept(input_ids, prompt_lengths, attention_mask):
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)


def _labels_zero_not_ignore(input_ids, prompt_lengths, attention_mask):
    in_prompt = _positions(input_ids) < _as_column(prompt_lengths, input_ids)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), 0)


def _positions(input_ids):
    """(1, T) positions 0 .. T-1 of a (B, T) batch."""
    import torch

    return torch.arange(input_ids.shape[1])[None, :]


def _as_column(prompt_lengths, input_ids):
    """(B, 1) prompt lengths from a list or a tensor."""
    import torch

    return torch.as_tensor(prompt_lengths)[:, None]


LABEL_MISTAKES = {
    "off by one: the first completion token is masked too (use <, not <=, against the prompt length)":
        _labels_prompt_off_by_one,
    "the padding still carries a loss: also mask where attention_mask == 0": _labels_padding_kept,
    "the prompt still carries a loss: mask the positions before each row's prompt length": _labels_prompt_kept,
    "masked labels must be -100 (the cross-entropy's ignore_index), not 0: 0 is a real token id": _labels_zero_not_ignore,
}


def check_completion_only_labels(fn) -> bool | None:
    """Exercise: the learner's `fn(input_ids, prompt_lengths, attention_mask)` against the reference."""
    from .exercises import check

    return check(fn, completion_only_labels, _label_cases(), name="completion-only labels", mistakes=LABEL_MISTAKES,
                 hint="compare each row's positions with ITS prompt length (prompt_lengths is a list: "
                      "torch.as_tensor(prompt_lengths)[:, None]); both the prompt and the padding need -100")


def _rouge_whitespace_split(prediction, reference):
    pred, ref = prediction.split(), reference.split()
    lcs = lcs_length(pred, ref)
    return 0.0 if lcs == 0 else 2 * lcs / (len(pred) + len(ref))


def _rouge_unigram_overlap(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    common = sum(min(pred.count(w), ref.count(w)) for w in set(pred))
    return 0.0 if common == 0 else 2 * common / (len(pred) + len(ref))


def _rouge_recall_only(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    return lcs_length(pred, ref) / len(ref) if ref else 0.0


def _rouge_over_longer(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    return 0.0 if lcs == 0 else lcs / max(len(pred), len(ref))


ROUGE_MISTAKES = {
    "split on spaces keeps case and punctuation ('Car' != 'car', 'car,' != 'car'): tokenise with rouge_tokens":
        _rouge_whitespace_split,
    "that counts shared words in any order (ROUGE-1); ROUGE-L needs the longest common SUBSEQUENCE, in order":
        _rouge_unigram_overlap,
    "that is the recall alone; F1 combines precision (LCS / prediction length) and recall": _rouge_recall_only,
    "dividing the LCS by the longer text is neither precision, recall nor their F1": _rouge_over_longer,
}


def check_rouge_l(fn) -> bool | None:
    """Exercise: the learner's `fn(prediction, reference)` against the reference ROUGE-L F1."""
    from .exercises import check

    cases = [("my sister took my car", "my sister borrowed my car"),
             ("the cat sat", "the cat sat"), ("a b c", "x y z"), ("Car my, SISTER!", "my sister's car"),
             ("i feel sad and my dad moved away", "my dad moved away and i feel sad"), ("", "not empty"),
             ("the the cat", "the cat the dog"), ("my sister took my red car yesterday", "sister took car")]
    return check(fn, rouge_l_f1, cases, name="ROUGE-L F1", mistakes=ROUGE_MISTAKES,
                 hint="check the order of words (a subsequence, not a set), the tokens (lower-case, punctuation "
                      "dropped) and the empty prediction (return 0, don't divide by 0)")
