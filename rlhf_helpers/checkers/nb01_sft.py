"""Notebook 01 (SFT): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.sft` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.sft import IGNORE_INDEX, completion_only_labels, lcs_length, rouge_l_f1, rouge_tokens


PAD = 50256  # GPT-2's EOS, which doubles as its pad token: a real EOS inside a row has the pad's id


def _label_cases():
    """Right-padded batches filled with PAD, each row ending with a real EOS (= PAD): the mask must come from
    attention_mask and the prompt lengths, never from comparing ids with the pad id."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = []
    for batch, length in [(1, 5), (3, 9), (4, 12)]:
        real = torch.randint(2, length + 1, (batch,), generator=g)
        mask = (torch.arange(length)[None, :] < real[:, None]).long()
        ids = torch.randint(5, 100, (batch, length), generator=g).masked_fill(mask == 0, PAD)
        ids[torch.arange(batch), real - 1] = PAD  # the completion's EOS: a real token with the pad's id
        prompt = [int(torch.randint(1, int(r), (1,), generator=g)) for r in real]
        cases.append((ids, prompt, mask))
    # two batches of one shape with different answers; a real pad-id token inside a row, in the completion and
    # in the prompt (GPT-2's pad id 50256, then the toy GPT-2's 0)
    cases.append((torch.tensor([[11, 12, 13, 14, PAD, PAD], [21, PAD, 23, 24, 25, PAD]]), [2, 1],
                  torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])))
    cases.append((torch.tensor([[31, 32, 0, 0, 0, 0], [0, 42, 43, 0, 45, 0]]), [1, 3],  # the toy GPT-2's EOS = pad = 0
                  torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]])))
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


def _labels_pad_by_id(input_ids, prompt_lengths, attention_mask):
    in_prompt = _positions(input_ids) < _as_column(prompt_lengths, input_ids)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0) | (input_ids == PAD), IGNORE_INDEX)


def _labels_pad_by_id_zero(input_ids, prompt_lengths, attention_mask):
    in_prompt = _positions(input_ids) < _as_column(prompt_lengths, input_ids)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0) | (input_ids == 0), IGNORE_INDEX)


def _labels_float(input_ids, prompt_lengths, attention_mask):
    return completion_only_labels(input_ids, prompt_lengths, attention_mask).float()


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
    "the mask compares ids with the pad id, but GPT-2's pad IS its EOS: the real EOS that ends each summary loses "
    "its label and the model never learns to stop. Find the padding with attention_mask == 0": _labels_pad_by_id,
    "the mask compares ids with the pad id (0 for the toy GPT-2, whose pad is also its EOS): a real token with that id "
    "loses its label. Find the padding with attention_mask == 0": _labels_pad_by_id_zero,
    "labels must stay integers (torch.long): the cross-entropy reads them as token ids (keep input_ids' dtype)":
        _labels_float,
}


def check_completion_only_labels(fn) -> bool | None:
    """Exercise: the learner's `fn(input_ids, prompt_lengths, attention_mask)` against the reference."""

    return check(fn, completion_only_labels, _label_cases(), name="completion-only labels", mistakes=LABEL_MISTAKES,
                 hint="compare each row's positions with ITS prompt length (prompt_lengths is a list: "
                      "torch.as_tensor(prompt_lengths)[:, None]); both the prompt and the padding need -100, and "
                      "the padding is where attention_mask == 0 (a real token may have the pad's id)")


def _lcs_cases():
    """Token lists: two pairs of one length with different answers, words out of order, repeats, empties."""
    return [("my sister took my car".split(), "my sister borrowed my car".split()),
            ("a b c d e".split(), "e d c b a".split()),
            ("a b c".split(), "a b c".split()),
            ("z a b c".split(), "a b c z".split()),
            ("x x".split(), ["x"]), ([], ["a"]), (["a"], []),
            ("the cat sat on the mat".split(), "the mat sat on the cat".split()),
            ("a b a b".split(), "b a b a".split())]


def _lcs_substring(a, b):
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            n = 0
            while i + n < len(a) and j + n < len(b) and a[i + n] == b[j + n]:
                n += 1
            best = max(best, n)
    return best


def _lcs_off_by_one(a, b):
    return lcs_length(a[:-1], b[:-1])


def _lcs_greedy(a, b):
    n, start = 0, 0
    for x in a:
        if x in b[start:]:
            start = b.index(x, start) + 1
            n += 1
    return n


def _lcs_match_plus_max(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            best = max(table[i - 1][j], table[i][j - 1])
            table[i][j] = best + 1 if a[i - 1] == b[j - 1] else best
    return table[-1][-1]


def _lcs_shared_words(a, b):
    return sum(min(a.count(w), b.count(w)) for w in set(a))


LCS_MISTAKES = {
    "that is the longest common SUBSTRING (consecutive words); a subsequence may skip words in both lists":
        _lcs_substring,
    "off by one: the table has len(a) + 1 rows and len(b) + 1 columns, the loops run to len(a) and len(b) "
    "included (range(1, len(a) + 1)), and the answer is table[len(a)][len(b)]": _lcs_off_by_one,
    "a greedy match (take each word at its first place in b) can miss a longer subsequence: keep the best of "
    "both choices for every pair of prefixes (dynamic programming)": _lcs_greedy,
    "on a match, extend the diagonal: table[i-1][j-1] + 1. The max of the neighbours + 1 may use one word twice":
        _lcs_match_plus_max,
    "that counts shared words in any order; a subsequence keeps the order of both lists": _lcs_shared_words,
}


def check_lcs_length(fn) -> bool | None:
    """Exercise: the learner's `fn(a, b)` -> length of the longest common subsequence of two token lists."""

    return check(fn, lcs_length, _lcs_cases(), name="LCS length", mistakes=LCS_MISTAKES,
                 hint="table[i][j] is the LCS of a[:i] and b[:j]: if a[i-1] == b[j-1] it is table[i-1][j-1] + 1, "
                      "else the larger of table[i-1][j] and table[i][j-1]; row 0 and column 0 stay 0")


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


def _rouge_substring(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = _lcs_substring(pred, ref)
    return 0.0 if lcs == 0 else 2 * lcs / (len(pred) + len(ref))


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
    "that is the longest common SUBSTRING (consecutive words); ROUGE-L's subsequence may skip words":
        _rouge_substring,
}


def check_rouge_l(fn) -> bool | None:
    """Exercise: the learner's `fn(prediction, reference)` against the reference ROUGE-L F1 (it may call the
    learner's own LCS)."""

    cases = [("my sister took my car", "my sister borrowed my car"),
             ("the cat sat", "the cat sat"), ("a b c", "x y z"), ("Car my, SISTER!", "my sister's car"),
             ("i feel sad and my dad moved away", "my dad moved away and i feel sad"), ("", "not empty"),
             ("the the cat", "the cat the dog"), ("my sister took my red car yesterday", "sister took car")]
    return check(fn, rouge_l_f1, cases, name="ROUGE-L F1", mistakes=ROUGE_MISTAKES,
                 hint="check the order of words (a subsequence, not a set), the tokens (lower-case, punctuation "
                      "dropped) and the empty prediction (return 0, don't divide by 0)")
