"""Notebook 02's checkers: dynamic padding must return long ids and a mask built from the lengths (a real token may
have the pad's id); accuracy counts ties as wrong and names a forgotten .mean(); the wrong-post check scores both
summaries next to the same post and counts ties half."""

import copy

import pytest
import torch

from rlhf_helpers.checkers import nb02_reward_bert as nb02
from rlhf_helpers.course.reward_math import preference_accuracy
from rlhf_helpers.course.reward_model import pad_batch
from rlhf_helpers.solutions.nb02_reward_bert import my_pad_batch, my_preference_accuracy, my_wrong_post_win_rate


def skipped(*args):
    raise NotImplementedError


def pad_from_ids(sequences, pad_id):  # the mask read off the ids: wrong where a real token has the pad's id
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(s, dtype=torch.long) for s in sequences], batch_first=True,
                                          padding_value=pad_id)
    return ids, (ids != pad_id).long()


def pad_float(sequences, pad_id):  # torch.zeros without dtype: float ids
    T = max(len(s) for s in sequences)
    ids = torch.zeros(len(sequences), T) + pad_id
    mask = torch.zeros(len(sequences), T, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.float)
        mask[i, :len(s)] = 1
    return ids, mask


def test_padding_checker_accepts_right_answers(capsys):
    for fn in (lambda s, p: pad_batch(s, p), my_pad_batch):
        assert nb02.check_pad_batch(fn) is True
    assert nb02.check_pad_batch(skipped) is None


def test_padding_checker_rejects_float_ids_and_a_mask_from_the_pad_id(capsys):
    assert nb02.check_pad_batch(pad_float) is False
    out = capsys.readouterr().out
    assert "dtype float32" in out and "dtype=torch.long" in out
    assert nb02.check_pad_batch(lambda s, p: (my_pad_batch(s, p)[0].double(), my_pad_batch(s, p)[1])) is False
    assert nb02.check_pad_batch(lambda s, p: (my_pad_batch(s, p)[0], my_pad_batch(s, p)[1].bool())) is False
    capsys.readouterr()
    assert nb02.check_pad_batch(pad_from_ids) is False
    assert "a real token can have the pad's id" in capsys.readouterr().out


def test_padding_cases_hold_a_real_pad_id_token():
    assert any(pad_id in s for seqs, pad_id in nb02._pad_cases() for s in seqs)


def test_accuracy_checker_accepts_a_float_or_a_0d_tensor(capsys):
    assert nb02.check_preference_accuracy(my_preference_accuracy) is True
    assert nb02.check_preference_accuracy(lambda c, r: (c > r).float().mean().item()) is True
    assert nb02.check_preference_accuracy(lambda c, r: (c - r > 0).sum() / len(c)) is True
    assert nb02.check_preference_accuracy(skipped) is None


def test_accuracy_checker_names_a_forgotten_mean(capsys):
    assert nb02.check_preference_accuracy(lambda c, r: (c > r).float()) is False
    out = capsys.readouterr().out
    assert "shape (8,)" in out and ".mean()" in out and "only one element" not in out and "raised" not in out


def test_accuracy_checker_counts_ties_as_wrong(capsys):
    assert nb02.check_preference_accuracy(lambda c, r: (c >= r).float().mean()) is False
    assert "counts a tie as right" in capsys.readouterr().out
    assert nb02.check_preference_accuracy(lambda c, r: ((c > r).float() + 0.5 * (c == r).float()).mean()) is False


@pytest.mark.parametrize("checker, reference", [
    (nb02.check_pad_batch, lambda s, p: pad_batch(s, p)),
    (nb02.check_preference_accuracy, lambda c, r: float(preference_accuracy(c, r)))])
def test_an_answer_remembered_by_input_shape_fails(checker, reference, capsys):
    memo = {}

    def cached(*args):
        key = tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else len(a) if isinstance(a, list) else type(a)
                    for a in args)
        if key not in memo:
            memo[key] = reference(*copy.deepcopy(args))
        return copy.deepcopy(memo[key])

    assert checker(cached) is False


# ---------------------------------------------------------------- the wrong-post check (🐕)
def wrong_post_loop(reward_fn, prompts, summaries):  # correct, written another way: one call, a loop over posts
    n = len(prompts)
    rewards = reward_fn(list(prompts) * 2, list(summaries) + [summaries[(i + 1) % n] for i in range(n)])
    score = 0.0
    for i in range(n):
        own, other = rewards[i].item(), rewards[n + i].item()
        score += 1.0 if own > other else 0.5 if own == other else 0.0
    return score / n


def wrong_post_rotates_the_list(reward_fn, prompts, summaries):  # right number, but the caller's list is rotated
    own = reward_fn(prompts, list(summaries))
    summaries.append(summaries.pop(0))
    other = reward_fn(prompts, summaries)
    return float(((own > other).float() + 0.5 * (own == other).float()).mean())


def test_wrong_post_checker_accepts_right_answers_and_names_each_mistake(capsys):
    for fn in (nb02.reference_wrong_post_win_rate, my_wrong_post_win_rate, wrong_post_loop):
        assert nb02.check_wrong_post_win_rate(fn) is True
    assert nb02.check_wrong_post_win_rate(skipped) is None
    capsys.readouterr()
    for hint, wrong in nb02.WRONG_POST_MISTAKES.items():
        assert nb02.check_wrong_post_win_rate(wrong) is False, hint
        assert f"hint: {hint}" in capsys.readouterr().out


def test_wrong_post_checker_rejects_comparing_two_posts_rewards_and_a_rotated_input(capsys):
    from rlhf_helpers.checkers.core import MUTATION_HINT

    assert nb02.check_wrong_post_win_rate(wrong_post_rotates_the_list) is False
    assert MUTATION_HINT in capsys.readouterr().out
    assert nb02.check_wrong_post_win_rate(lambda f, p, s: float("nan")) is False
    assert nb02.check_wrong_post_win_rate(
        lambda f, p, s: ((f(p, s) > f(p, s[1:] + s[:1])).float() + 0.5 * (f(p, s) == f(p, s[1:] + s[:1])).float())) is False
    assert ".mean()" in capsys.readouterr().out


def test_wrong_post_answer_remembered_by_input_shape_fails():
    memo = {}

    def cached(reward_fn, prompts, summaries):
        key = len(prompts)
        if key not in memo:
            memo[key] = nb02.reference_wrong_post_win_rate(reward_fn, prompts, summaries)
        return memo[key]

    assert nb02.check_wrong_post_win_rate(cached) is False
