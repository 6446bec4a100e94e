"""Notebook 01 (SFT): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.sft` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.sft import IGNORE_INDEX, completion_only_labels, lcs_length, rouge_l_f1, rouge_tokens


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

    cases = [("my sister took my car", "my sister borrowed my car"),
             ("the cat sat", "the cat sat"), ("a b c", "x y z"), ("Car my, SISTER!", "my sister's car"),
             ("i feel sad and my dad moved away", "my dad moved away and i feel sad"), ("", "not empty"),
             ("the the cat", "the cat the dog"), ("my sister took my red car yesterday", "sister took car")]
    return check(fn, rouge_l_f1, cases, name="ROUGE-L F1", mistakes=ROUGE_MISTAKES,
                 hint="check the order of words (a subsequence, not a set), the tokens (lower-case, punctuation "
                      "dropped) and the empty prediction (return 0, don't divide by 0)")
