import math

import torch

from rlhf_helpers.course.reward_math import (
    gather_last_token,
    last_token_index,
    pairwise_loss,
    preference_accuracy,
)


def test_pairwise_loss_hand_computed():
    loss = pairwise_loss(torch.tensor([1.0]), torch.tensor([0.0]))
    assert math.isclose(loss.item(), math.log(1 + math.exp(-1)), rel_tol=1e-6)  # 0.3133


def test_pairwise_loss_equal_rewards_is_ln2():
    loss = pairwise_loss(torch.tensor([0.3, -2.0, 5.0]), torch.tensor([0.3, -2.0, 5.0]))
    assert math.isclose(loss.item(), 0.6931, abs_tol=1e-4)


def test_pairwise_loss_only_differences_matter():
    g = torch.Generator().manual_seed(0)
    r_c, r_r = torch.randn(8, generator=g), torch.randn(8, generator=g)
    base = pairwise_loss(r_c, r_r)
    shifted = pairwise_loss(r_c + 7.5, r_r + 7.5)
    assert torch.allclose(base, shifted, atol=1e-6)
    # and it is not a constant: swapping chosen and rejected changes it
    assert not torch.allclose(base, pairwise_loss(r_r, r_c))


def test_pairwise_loss_margin_and_stability():
    # margin is subtracted from the difference: diff 1, margin 1 -> ln 2
    loss = pairwise_loss(torch.tensor([1.0]), torch.tensor([0.0]), margin=1.0)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-6)
    # very wrong pair stays finite (log(sigmoid(-200)) would be -inf in float32)
    loss = pairwise_loss(torch.tensor([-200.0]), torch.tensor([0.0]))
    assert torch.isfinite(loss) and math.isclose(loss.item(), 200.0, rel_tol=1e-5)


def test_last_token_index_padding_sides():
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])
    none = torch.ones(2, 5, dtype=torch.long)
    assert last_token_index(right).tolist() == [2, 3]
    assert last_token_index(left).tolist() == [4, 4]
    assert last_token_index(none).tolist() == [4, 4]
    assert last_token_index(left.bool()).tolist() == [4, 4]


def test_gather_last_token_2d_and_3d():
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1]])
    values = torch.arange(12.0).reshape(3, 4)
    assert gather_last_token(values, mask).tolist() == [1.0, 7.0, 11.0]
    hidden = torch.arange(24.0).reshape(3, 4, 2)  # (B, T, H)
    out = gather_last_token(hidden, mask)
    assert out.shape == (3, 2)
    assert out.tolist() == [[2.0, 3.0], [14.0, 15.0], [22.0, 23.0]]


def test_preference_accuracy_ties_are_wrong():
    r_c = torch.tensor([2.0, 1.0, 0.5, -1.0])
    r_r = torch.tensor([1.0, 1.0, 0.7, -3.0])  # right, tie, wrong, right
    assert math.isclose(preference_accuracy(r_c, r_r).item(), 0.5)
    constant = torch.zeros(4)
    assert preference_accuracy(constant, constant).item() == 0.0
