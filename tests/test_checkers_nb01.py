"""Notebook 01's checkers: the label mask and the LCS / ROUGE-L exercises catch the mistakes real data and the
dynamic programme bring (a real token with the pad's id, float labels, substring for subsequence, off-by-one)."""

import copy

import pytest
import torch

from rlhf_helpers.checkers import nb01_sft as sft
from rlhf_helpers.checkers.core import MUTATION_HINT
from rlhf_helpers.solutions.nb01_sft import my_completion_only_labels, my_lcs_length, my_rouge_l_f1


def skipped(*args):
    raise NotImplementedError


def labels_where(input_ids, prompt_lengths, attention_mask):  # correct, written another way
    positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
    keep = (positions >= torch.tensor(prompt_lengths).unsqueeze(1)) & attention_mask.bool()
    return torch.where(keep, input_ids, torch.full_like(input_ids, -100))


def labels_from_pad_id(input_ids, prompt_lengths, attention_mask):  # padding found by its id (GPT-2: pad = EOS)
    labels = my_completion_only_labels(input_ids, prompt_lengths, attention_mask)
    return labels.masked_fill(input_ids == 50256, -100)


def labels_from_pad_id_after_mask(input_ids, prompt_lengths, attention_mask):
    in_prompt = torch.arange(input_ids.shape[1])[None, :] < torch.as_tensor(prompt_lengths)[:, None]
    return input_ids.masked_fill(in_prompt | (input_ids == sft.PAD), -100)


def labels_in_place(input_ids, prompt_lengths, attention_mask):
    in_prompt = torch.arange(input_ids.shape[1])[None, :] < torch.as_tensor(prompt_lengths)[:, None]
    return input_ids.masked_fill_(in_prompt | (attention_mask == 0), -100)


def test_label_checker_accepts_right_answers(capsys):
    for fn in (sft.completion_only_labels, my_completion_only_labels, labels_where):
        assert sft.check_completion_only_labels(fn) is True
    assert sft.check_completion_only_labels(skipped) is None


@pytest.mark.parametrize("wrong", [lambda i, p, m: my_completion_only_labels(i, p, m).float(),
                                   lambda i, p, m: my_completion_only_labels(i, p, m).double(),
                                   lambda i, p, m: my_completion_only_labels(i, p, m).int()])
def test_label_checker_rejects_labels_that_are_not_long_integers(wrong, capsys):
    assert sft.check_completion_only_labels(wrong) is False
    assert "dtype" in capsys.readouterr().out


def labels_from_tiny_pad_id(input_ids, prompt_lengths, attention_mask):  # tokenizer.pad_token_id in tiny: 0
    return my_completion_only_labels(input_ids, prompt_lengths, attention_mask).masked_fill(input_ids == 0, -100)


@pytest.mark.parametrize("wrong", [labels_from_pad_id, labels_from_pad_id_after_mask, labels_from_tiny_pad_id])
def test_label_checker_rejects_a_mask_built_from_the_pad_id(wrong, capsys):
    assert sft.check_completion_only_labels(wrong) is False
    out = capsys.readouterr().out
    assert "pad" in out and "id" in out and "attention_mask == 0" in out


def test_label_cases_hold_a_real_pad_id_token_and_two_batches_of_one_shape():
    cases = sft._label_cases()
    assert any(((ids == sft.PAD) & (mask == 1)).any() for ids, _, mask in cases)
    assert any(((ids == 0) & (mask == 1)).any() for ids, _, mask in cases)
    shapes = {}
    for ids, prompt, mask in cases:
        shapes.setdefault(tuple(ids.shape), []).append(sft.completion_only_labels(ids, prompt, mask))
    assert any(len(v) > 1 and not torch.equal(v[0], v[1]) for v in shapes.values())


def test_label_checker_rejects_in_place_changes(capsys):
    assert sft.check_completion_only_labels(labels_in_place) is False
    assert MUTATION_HINT in capsys.readouterr().out


def lcs_recursive(a, b):
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def go(i, j):
        if i == len(a) or j == len(b):
            return 0
        return 1 + go(i + 1, j + 1) if a[i] == b[j] else max(go(i + 1, j), go(i, j + 1))

    return go(0, 0)


def test_lcs_checker_accepts_right_answers_and_names_each_mistake(capsys):
    for fn in (sft.lcs_length, my_lcs_length, lcs_recursive):
        assert sft.check_lcs_length(fn) is True
    assert sft.check_lcs_length(skipped) is None
    capsys.readouterr()
    assert len(sft.LCS_MISTAKES) >= 4
    for hint, wrong in sft.LCS_MISTAKES.items():
        assert sft.check_lcs_length(wrong) is False, hint
        assert f"hint: {hint}" in capsys.readouterr().out


def test_lcs_checker_catches_the_typical_slips(capsys):
    def off_by_one_table(a, b):  # an n x m table: the first word of each list is never compared
        table = [[0] * len(b) for _ in range(len(a))]
        for i in range(1, len(a)):
            for j in range(1, len(b)):
                table[i][j] = table[i - 1][j - 1] + 1 if a[i] == b[j] else max(table[i - 1][j], table[i][j - 1])
        return table[-1][-1] if a and b else 0

    def sorts_its_input(a, b):
        a.sort()
        return lcs_recursive(tuple(a), tuple(b))

    for wrong in (off_by_one_table, lambda a, b: float(len(set(a) & set(b))), lambda a, b: min(len(a), len(b))):
        assert sft.check_lcs_length(wrong) is False
    assert sft.check_lcs_length(sorts_its_input) is False
    assert MUTATION_HINT in capsys.readouterr().out


def test_rouge_checker_with_the_learners_own_lcs(capsys):
    assert sft.check_rouge_l(my_rouge_l_f1) is True
    assert sft.check_rouge_l(sft._rouge_substring) is False
    assert "SUBSTRING" in capsys.readouterr().out


@pytest.mark.parametrize("checker, reference", [(sft.check_lcs_length, sft.lcs_length),
                                                (sft.check_completion_only_labels, sft.completion_only_labels)])
def test_an_answer_remembered_by_input_shape_fails(checker, reference, capsys):
    memo = {}

    def cached(*args):
        key = tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else len(a) for a in args)
        if key not in memo:
            memo[key] = reference(*copy.deepcopy(args))
        return copy.deepcopy(memo[key])

    assert checker(cached) is False
