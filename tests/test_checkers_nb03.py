"""Notebook 03's checkers catch what they used to accept: a loss without gradient, a forgotten .mean() (named, not
an error from the checker), and a last-token rule that searches for the pad id (GPT-2's pad is its EOS)."""

import torch
import torch.nn.functional as F

from rlhf_helpers.checkers import nb03_reward_gpt2 as nb03
from rlhf_helpers.course.reward_math import pairwise_loss
from rlhf_helpers.solutions import nb03_reward_gpt2 as solutions


def test_pairwise_loss_right_answers_pass(capsys):
    assert nb03.check_pairwise_loss(pairwise_loss) is True
    assert nb03.check_pairwise_loss(solutions.my_pairwise_loss) is True
    assert nb03.check_pairwise_loss(lambda c, r: F.softplus(r - c).sum() / len(c)) is True  # -log σ(x) = softplus(-x)
    assert "values and gradients" in capsys.readouterr().out


def test_pairwise_loss_as_a_python_float_fails(capsys):
    assert nb03.check_pairwise_loss(lambda c, r: float(pairwise_loss(c, r))) is False
    assert "keep the result a tensor" in capsys.readouterr().out
    assert nb03.check_pairwise_loss(lambda c, r: pairwise_loss(c, r).item()) is False


def test_pairwise_loss_with_a_detached_term_fails(capsys):
    def detached(r_chosen, r_rejected):
        return -F.logsigmoid(r_chosen - r_rejected.detach()).mean()
    assert nb03.check_pairwise_loss(detached) is False
    assert "gradient with respect to r_rejected" in capsys.readouterr().out
    assert nb03.check_pairwise_loss(lambda c, r: pairwise_loss(c, r).detach()) is False
    assert "carries no gradient" in capsys.readouterr().out
    assert nb03.check_pairwise_loss(lambda c, r: torch.tensor(pairwise_loss(c, r).item())) is False  # rebuilt


def test_pairwise_loss_without_mean_is_named(capsys):
    assert nb03.check_pairwise_loss(lambda c, r: -F.logsigmoid(c - r)) is False
    out = capsys.readouterr().out
    assert "did you forget .mean()" in out and "only one element tensors" not in out


def test_pairwise_loss_in_place_fails(capsys):
    def in_place(c, r):
        return -F.logsigmoid(c.sub_(r)).mean()
    assert nb03.check_pairwise_loss(in_place) is False
    assert "must not modify its inputs" in capsys.readouterr().out


def last_by_flip(values, input_ids, attention_mask, pad_token_id):
    T = attention_mask.shape[1]
    last = T - 1 - attention_mask.flip(-1).argmax(-1)  # the first 1 from the right
    return values.gather(1, last[:, None]).squeeze(1)


def test_last_token_right_answers_pass(capsys):
    assert nb03.check_last_token_reward(nb03.reference_last_token_reward) is True
    assert nb03.check_last_token_reward(solutions.my_last_token_reward) is True
    assert nb03.check_last_token_reward(last_by_flip) is True
    assert capsys.readouterr().out.count("✅") == 3


def test_last_token_from_the_pad_id_fails(capsys):
    """GPT-2's pad is its EOS, a real token at the end of every text: only the attention mask tells padding apart."""
    for hint, wrong in [(h, f) for h, f in nb03.LAST_TOKEN_MISTAKES.items() if "pad" in f.__name__]:
        assert nb03.check_last_token_reward(wrong) is False
        assert hint in capsys.readouterr().out

    def mask_from_ids(values, input_ids, attention_mask, pad_token_id):
        return last_by_flip(values, input_ids, (input_ids != pad_token_id).long(), pad_token_id)
    assert nb03.check_last_token_reward(mask_from_ids) is False


def test_last_token_cases_hold_a_real_pad_id_inside_and_at_the_end():
    cases = nb03._last_token_cases()
    inside = [(ids == pad)[mask.bool()].any() for _, ids, mask, pad in cases]
    assert sum(map(bool, inside)) >= 3
    first, second = cases[0], cases[1]
    assert first[0].shape == second[0].shape and first[2].shape == second[2].shape
    assert not torch.equal(nb03.reference_last_token_reward(*first), nb03.reference_last_token_reward(*second))


def test_last_token_rebuilt_from_numbers_fails(capsys):
    def from_numbers(values, input_ids, attention_mask, pad_token_id):
        return torch.tensor(nb03.reference_last_token_reward(values, input_ids, attention_mask, pad_token_id).tolist())
    assert nb03.check_last_token_reward(from_numbers) is False
    assert "carries no gradient" in capsys.readouterr().out


def test_last_token_in_place_fails(capsys):
    def in_place(values, input_ids, attention_mask, pad_token_id):
        attention_mask.mul_(torch.arange(attention_mask.shape[1]))  # positions written into the caller's mask
        return values.gather(1, attention_mask.argmax(-1, keepdim=True)).squeeze(1)
    assert nb03.check_last_token_reward(in_place) is False
    assert "must not modify its inputs" in capsys.readouterr().out
