"""Notebook 04's checkers reject the wrong answers they used to accept: a surrogate without gradient, NaN weights
after a PPO update, an answer cached on its inputs' shapes; and no odd return crashes them."""

import pytest
import torch

from rlhf_helpers.checkers import nb04_ppo as ppo_exercises
from rlhf_helpers.course.ppo_math import kl_k1, kl_k3
from rlhf_helpers.solutions.nb04_ppo import my_clipped_surrogate, my_ppo_update


class AlwaysEqual(torch.Tensor):
    def __eq__(self, other):
        return True


def surrogate_detached_ratio(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old).detach()  # the right numbers, no gradient to the policy
    return torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def surrogate_clip_without_gradient(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)  # the clipped branch rebuilt from numbers: right values, wrong gradient
    clipped = torch.tensor(ratio.detach().clamp(1 - clip_eps, 1 + clip_eps).tolist())
    return torch.max(-advantages * ratio, -advantages * clipped).mean()


def test_surrogate_compares_gradients(capsys):
    assert ppo_exercises.check_clipped_surrogate(my_clipped_surrogate) is True
    assert ppo_exercises.check_clipped_surrogate(surrogate_detached_ratio) is False
    assert "carries no gradient" in capsys.readouterr().out
    assert ppo_exercises.check_clipped_surrogate(lambda *a: surrogate_detached_ratio(*a).item()) is False
    assert "no .item()" in capsys.readouterr().out


def test_kl_pair_rejects_nan_cached_and_odd_returns(capsys):
    check = ppo_exercises.check_kl_estimators

    def k3_nan(logp, logp_ref):
        out = kl_k3(logp, logp_ref)
        return torch.where(out > 0.5, torch.nan, out)

    assert check(kl_k1, k3_nan) is False
    memo = {}

    def k1_cached(logp, logp_ref):
        return memo.setdefault(tuple(logp.shape), kl_k1(logp, logp_ref))

    assert check(k1_cached, kl_k3) is False
    for odd in (lambda a, b: None, lambda a, b: "k1", lambda a, b: [0.0], lambda a, b: kl_k1(a, b).as_subclass(AlwaysEqual),
                lambda a, b: kl_k1(a, b).numpy(), lambda a, b: kl_k1(a, b).long()):
        assert check(odd, kl_k3) is False
        assert check(kl_k1, odd) is False
    assert "❌" in capsys.readouterr().out


def _spoil_after(update, spoil):
    def spoiled(model, value_head, optimizer, rollout, adv, config):
        update(model, value_head, optimizer, rollout, adv, config)
        with torch.no_grad():
            spoil(model, value_head)
    return spoiled


def _first_lora(model):
    return next(p for n, p in model.named_parameters() if "lora_A" in n)


@pytest.mark.parametrize("spoil, message", [
    (lambda m, h: _first_lora(m).view(-1)[0].fill_(float("nan")), "NaN or infinite"),
    (lambda m, h: h.net[-1].weight.fill_(float("inf")), "NaN or infinite"),
    (lambda m, h: _first_lora(m).requires_grad_(False), "no longer a trainable weight"),
    (lambda m, h: setattr(_first_lora(m), "data", torch.zeros(3)), "changed shape"),
])
def test_ppo_update_rejects_nan_and_odd_weights(spoil, message, capsys):
    assert ppo_exercises.check_ppo_update(_spoil_after(my_ppo_update, spoil)) is False
    out = capsys.readouterr().out
    assert "❌" in out and message in out, out


def test_ppo_update_judges_weights_whatever_it_returns(capsys):
    def returns_odd(*args):
        my_ppo_update(*args)
        return float("nan")

    assert ppo_exercises.check_ppo_update(returns_odd) is True
    assert ppo_exercises.check_ppo_update(lambda *args: None) is False  # no update at all
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out



def test_ppo_update_check_leaves_the_notebooks_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ppo_exercises.check_ppo_update(my_ppo_update)
    assert torch.equal(torch.rand(3), expected)  # the update that follows the check shuffles as without it
