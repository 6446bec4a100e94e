import math

import pytest
import torch

from rlhf_helpers.course.ppo_math import (
    AdaptiveKLController,
    approx_kl,
    clipped_surrogate_loss,
    clipped_value_loss,
    compute_gae,
    entropy_from_logits,
    kl_k1,
    kl_k2,
    kl_k3,
    logprobs_from_logits,
    masked_mean,
    per_token_rewards,
    whiten,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_logprobs_from_logits_matches_naive_loop():
    g = gen()
    B, T, V = 3, 5, 7
    logits = torch.randn(B, T, V, generator=g)
    labels = torch.randint(0, V, (B, T), generator=g)
    out = logprobs_from_logits(logits, labels)
    assert out.shape == (B, T)
    for b in range(B):
        for t in range(T):
            p = torch.exp(logits[b, t]) / torch.exp(logits[b, t]).sum()
            assert math.isclose(out[b, t].item(), math.log(p[labels[b, t]].item()), abs_tol=1e-5)


def _sample_logps(p, q, n, seed):
    """Sample n tokens from p; return log p and log q of the samples, and the exact KL(p||q)."""
    x = torch.multinomial(p, n, replacement=True, generator=gen(seed))
    exact = (p * (p.log() - q.log())).sum().item()
    return p.log()[x].double(), q.log()[x].double(), exact


def test_k1_and_k3_unbiased_against_exact_kl():
    p = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.2, 0.2, 0.2], dtype=torch.float64)
    logp, logq, exact = _sample_logps(p, q, 200_000, seed=1)
    assert exact > 0.3  # the distributions are genuinely different
    for k in (kl_k1, kl_k3):
        est = k(logp, logq)
        stderr = est.std().item() / math.sqrt(est.numel())
        assert abs(est.mean().item() - exact) < 5 * stderr + 1e-4, k.__name__
    # k2 is biased for far-apart distributions: its mean is clearly off here
    assert abs(kl_k2(logp, logq).mean().item() - exact) > 0.05


def test_k2_close_to_kl_for_close_distributions():
    p = torch.tensor([0.3, 0.25, 0.2, 0.15, 0.1], dtype=torch.float64)
    q = torch.tensor([0.29, 0.26, 0.2, 0.14, 0.11], dtype=torch.float64)
    logp, logq, exact = _sample_logps(p, q, 200_000, seed=2)
    assert math.isclose(kl_k2(logp, logq).mean().item(), exact, rel_tol=0.1)


def test_k3_nonnegative_k1_not():
    g = gen(3)
    logp, logp_ref = torch.randn(1000, generator=g) * 3, torch.randn(1000, generator=g) * 3
    assert (kl_k3(logp, logp_ref) >= 0).all()
    assert (kl_k1(logp, logp_ref) < 0).any()
    tiny = torch.tensor([1e-8, -1e-8, 1e-12, 0.0])
    assert (kl_k3(torch.zeros(4), tiny) >= 0).all()


def test_per_token_rewards_score_on_last_real_token():
    kl = torch.full((3, 5), 2.0)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    score = torch.tensor([10.0, 20.0, 30.0])
    r = per_token_rewards(score, kl, mask, beta=0.1)
    expected = torch.tensor(
        [[-0.2, -0.2, 9.8, 0.0, 0.0], [-0.2, -0.2, -0.2, -0.2, 19.8], [0.0, 0.0, -0.2, 29.8, 0.0]]
    )
    assert torch.allclose(r, expected)


def slow_gae(rewards, values, mask, gamma, lam):
    """Reference: plain Python GAE on each row's (contiguous) response segment."""
    B, T = len(rewards), len(rewards[0])
    adv = [[0.0] * T for _ in range(B)]
    for b in range(B):
        idx = [t for t in range(T) if mask[b][t]]
        last = 0.0
        for k in reversed(range(len(idx))):
            t = idx[k]
            next_v = values[b][idx[k + 1]] if k + 1 < len(idx) else 0.0
            delta = rewards[b][t] + gamma * next_v - values[b][t]
            last = delta + gamma * lam * last
            adv[b][t] = last
    ret = [[adv[b][t] + values[b][t] if mask[b][t] else 0.0 for t in range(T)] for b in range(B)]
    return adv, ret


def test_gae_matches_slow_reference_with_ragged_mask():
    g = gen(4)
    B, T = 5, 9
    rewards, values = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    starts, lengths = [0, 0, 2, 1, 0], [9, 4, 5, 1, 6]  # some rows start late (prompt), some end early (padding)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, (s, n) in enumerate(zip(starts, lengths)):
        mask[b, s : s + n] = 1
    adv, ret = compute_gae(rewards, values, mask, gamma=0.97, lam=0.9)
    ref_adv, ref_ret = slow_gae(rewards.tolist(), values.tolist(), mask.tolist(), 0.97, 0.9)
    assert torch.allclose(adv, torch.tensor(ref_adv), atol=1e-5)
    assert torch.allclose(ret, torch.tensor(ref_ret), atol=1e-5)


def test_gae_hand_computed_three_steps_and_padding_ignored():
    # gamma = lam = 0.5; padding slot has junk reward/value that must not leak
    rewards = torch.tensor([[0.0, 0.0, 1.0, 9.0]])
    values = torch.tensor([[0.5, 0.5, 0.5, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    adv, ret = compute_gae(rewards, values, mask, gamma=0.5, lam=0.5)
    # t=2: d=1-0.5=0.5, A=0.5 ; t=1: d=0.25-0.5=-0.25, A=-0.25+0.25*0.5=-0.125
    # t=0: d=-0.25, A=-0.25+0.25*(-0.125)=-0.28125
    assert torch.allclose(adv, torch.tensor([[-0.28125, -0.125, 0.5, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[0.21875, 0.375, 1.0, 0.0]]))


def _surrogate_grad(ratio, advantage, eps=0.2):
    logp_old = torch.zeros(1, 1)
    logp_new = torch.tensor([[math.log(ratio)]], requires_grad=True)
    loss, clipfrac = clipped_surrogate_loss(logp_new, logp_old, torch.tensor([[advantage]]), torch.ones(1, 1), eps)
    loss.backward()
    return loss.item(), logp_new.grad.item(), clipfrac.item()


@pytest.mark.parametrize(
    "advantage, ratio, clipped",
    [
        (1.0, 1.5, True),  # A > 0: clipped above 1 + eps
        (1.0, 1.0, False),
        (1.0, 0.5, False),  # A > 0, ratio below 1 - eps: pessimistic side, not clipped
        (-1.0, 0.5, True),  # A < 0: clipped below 1 - eps
        (-1.0, 1.0, False),
        (-1.0, 1.5, False),
    ],
)
def test_clipped_surrogate_gradient(advantage, ratio, clipped):
    loss, grad, clipfrac = _surrogate_grad(ratio, advantage)
    if clipped:
        assert grad == 0.0 and clipfrac == 1.0
        assert math.isclose(loss, -advantage * (1.2 if advantage > 0 else 0.8), rel_tol=1e-6)
    else:
        assert abs(grad) > 0.1 and clipfrac == 0.0
        assert math.isclose(loss, -advantage * ratio, rel_tol=1e-6)
        assert math.isclose(grad, -advantage * ratio, rel_tol=1e-5)  # d(-A r)/dlogp = -A r


def test_clipped_surrogate_ignores_masked_tokens():
    logp_new = torch.tensor([[0.0, 5.0]])
    adv = torch.tensor([[1.0, 100.0]])
    loss, clipfrac = clipped_surrogate_loss(logp_new, torch.zeros(1, 2), adv, torch.tensor([[1, 0]]), 0.2)
    assert math.isclose(loss.item(), -1.0) and clipfrac.item() == 0.0


def test_clipped_value_loss():
    v_old, c = torch.zeros(1, 2), 0.2
    v_new = torch.tensor([[1.0, 1.0]], requires_grad=True)
    returns = torch.tensor([[1.0, 0.0]])
    # token 0: unclipped 0, clipped (0.2-1)^2=0.64 -> 0.64, clipped; token 1: 1 vs 0.04 -> 1
    loss, clipfrac = clipped_value_loss(v_new, v_old, returns, torch.ones(1, 2), c)
    assert math.isclose(loss.item(), 0.5 * (0.64 + 1.0) / 2, rel_tol=1e-6)
    assert math.isclose(clipfrac.item(), 0.5)
    loss.backward()
    assert v_new.grad[0, 0].item() == 0.0 and v_new.grad[0, 1].item() > 0


def test_whiten_mean0_std1_under_mask():
    g = gen(5)
    x = torch.randn(4, 6, generator=g) * 3 + 2
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [0] * 2 + [1] * 4, [1] * 5 + [0]])
    x = x.masked_fill(mask == 0, 1000.0)  # padding junk must not affect the statistics
    w = whiten(x, mask)
    vals = w[mask.bool()]
    assert math.isclose(vals.mean().item(), 0.0, abs_tol=1e-5)
    assert math.isclose(vals.std().item(), 1.0, rel_tol=1e-4)
    assert (w[~mask.bool()] == 0).all()
    kept = whiten(x, mask, shift_mean=False)[mask.bool()]
    assert math.isclose(kept.mean().item(), x[mask.bool()].mean().item(), rel_tol=1e-5)


def test_masked_mean():
    x = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert math.isclose(masked_mean(x, mask).item(), 2.0)
    assert masked_mean(x, mask, dim=1).tolist() == [1.5, 3.0]


def test_entropy():
    V = 13
    assert torch.allclose(entropy_from_logits(torch.zeros(2, 3, V)), torch.full((2, 3), math.log(V)))
    logits = torch.randn(2, 3, V, generator=gen(6)) * 4
    p = logits.softmax(-1)
    assert torch.allclose(entropy_from_logits(logits), -(p * p.log()).sum(-1), atol=1e-5)


def test_approx_kl_is_cleanrl_formula():
    g = gen(7)
    new, old = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    logratio = new - old
    expected = ((logratio.exp() - 1) - logratio).mean()
    assert torch.allclose(approx_kl(new, old, torch.ones(2, 4)), expected, atol=1e-6)
    assert approx_kl(old, old, torch.ones(2, 4)).item() == 0.0


def test_adaptive_kl_controller():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert ctl.update(current_kl=12.0, n_steps=256) > 0.1  # KL too high -> stronger penalty
    assert math.isclose(ctl.value, 0.1 * (1 + 0.2 * 256 / 10_000))  # error clipped at +20%
    low = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert low.update(current_kl=3.0, n_steps=256) < 0.1
    same = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert math.isclose(same.update(current_kl=6.0, n_steps=256), 0.1)
