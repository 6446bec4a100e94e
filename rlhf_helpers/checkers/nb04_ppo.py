"""Exercise checkers of notebook 04 (PPO): GAE, the clipped surrogate, the k1 and k3 KL estimators.

Each checker runs the learner's function and the reference from `ppo_math` on copies of the same random
and edge cases and prints ✅ / ❌ / ⏭ through `core.check` (it never raises); a wrong answer that
matches a common mistake gets that mistake's hint.
The learner's versions work on full (unmasked) (B, T) tensors: every token is a response token.
"""

from __future__ import annotations

import torch

from rlhf_helpers.checkers.core import check, combine
# the 🦁 PPO update loop: its checker runs a small policy through a whole update
from rlhf_helpers.checkers.ppo_update_check import UPDATE_MISTAKES, check_ppo_update  # noqa: F401
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss, compute_gae, kl_k1, kl_k3, whiten


def reference_gae(rewards, values, gamma, lam):
    """GAE on unmasked (B, T) rewards and values; returns (advantages, returns), both (B, T)."""
    return compute_gae(rewards, values, torch.ones_like(rewards), gamma, lam)


def reference_clipped_surrogate(logp_new, logp_old, advantages, clip_eps):
    """The clipped surrogate loss (a scalar), averaged over all (B, T) tokens."""
    return clipped_surrogate_loss(logp_new, logp_old, advantages, torch.ones_like(advantages), clip_eps)[0]


def _gae_cases():
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.5]]), 0.5, 0.5),  # worked by hand in ppo_math tests
             (torch.tensor([[1.0, 0.0, -2.0]]), torch.tensor([[-0.5, 0.3, 0.1]]), 0.8, 0.6),  # same shapes, other answer
             (torch.tensor([[2.0]]), torch.tensor([[0.5]]), 0.9, 0.9)]  # a single token: A = r - V
    for shape, gamma, lam in [((2, 5), 1.0, 0.95), ((3, 8), 0.99, 0.0), ((4, 6), 0.9, 1.0)]:
        cases.append((torch.randn(*shape, generator=g), torch.randn(*shape, generator=g), gamma, lam))
    return cases


def _surrogate_cases():
    g = torch.Generator().manual_seed(1)
    eps = 0.2
    ratios = torch.tensor([[1.5, 1.0, 0.5, 1.5, 1.0, 0.5, 1.19, 0.81]])  # both sides of 1 ± ε, both signs of A
    advantages = torch.tensor([[1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 2.0, -2.0]])
    cases = [(ratios.log(), torch.zeros_like(ratios), advantages, eps),
             (ratios.log() - 1, torch.full_like(ratios, -1.0), -advantages.flip(-1), 0.1)]  # same shapes, other answer
    for shape in [(2, 5), (2, 5), (4, 7)]:
        logp_old = -torch.rand(*shape, generator=g) * 3
        logp_new = logp_old + torch.randn(*shape, generator=g) * 0.4
        cases.append((logp_new, logp_old, torch.randn(*shape, generator=g), 0.1 if shape[0] == 2 else 0.3))
    return cases


def _kl_cases():
    g = torch.Generator().manual_seed(2)
    cases = [(torch.tensor([[-1.0, -2.0, -0.5]]), torch.tensor([[-1.0, -1.0, -3.0]])),
             (torch.tensor([[-0.2, -4.0, -1.5]]), torch.tensor([[-2.0, -0.1, -1.5]]))]  # same shapes, other answer
    for shape in [(2, 6), (2, 6), (5, 3)]:
        cases.append((-torch.rand(*shape, generator=g) * 4, -torch.rand(*shape, generator=g) * 4))
    return cases


def _gae_no_bootstrap(rewards, values, gamma, lam):
    advantages, last = torch.zeros_like(rewards), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        last = rewards[:, t] - values[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


def _gae_no_lambda(rewards, values, gamma, lam):
    return reference_gae(rewards, values, gamma, 1.0)


def _gae_returns_without_values(rewards, values, gamma, lam):
    advantages, _ = reference_gae(rewards, values, gamma, lam)
    return advantages, advantages


def _gae_wraps_around(rewards, values, gamma, lam):
    next_values = values.roll(-1, dims=1)  # V after the last token taken from the first: wrong
    deltas = rewards + gamma * next_values - values
    advantages, last = torch.zeros_like(rewards), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        last = deltas[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


def _gae_whitened(rewards, values, gamma, lam):
    advantages, returns = reference_gae(rewards, values, gamma, lam)
    return whiten(advantages, torch.ones_like(advantages)), returns  # compute_advantages's job, not GAE's


GAE_MISTAKES = {
    "the bootstrap term γ·V(s_{t+1}) is missing from δ_t": _gae_no_bootstrap,
    "λ is missing: A_t = δ_t + γ·λ·A_{t+1} (your answer is right only for λ = 1)": _gae_no_lambda,
    "the returns (the critic's targets) are A + V, not A alone": _gae_returns_without_values,
    "after the last token there is no next state: V = 0 there (roll wraps the first value around)":
        _gae_wraps_around,
    "the advantages are whitened: my_gae returns the raw ones (compute_advantages whitens them afterwards)":
        _gae_whitened,
}


def _surrogate_min(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def _surrogate_unclipped(logp_new, logp_old, advantages, clip_eps):
    return (-advantages * torch.exp(logp_new - logp_old)).mean()


def _surrogate_sign(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.max(advantages * ratio, advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def _surrogate_log_ratio(logp_new, logp_old, advantages, clip_eps):
    ratio = logp_new - logp_old  # a log-ratio is not the ratio
    return torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


SURROGATE_MISTAKES = {
    "min of the LOSSES is the optimistic bound; PPO takes the max of the losses (the min of the objectives)":
        _surrogate_min,
    "no clipping: the loss must stop rewarding ratios beyond 1 ± ε": _surrogate_unclipped,
    "the sign: a LOSS to minimise is minus the objective A·ratio": _surrogate_sign,
    "the ratio is exp(logp_new − logp_old); the difference of log-probs is its logarithm": _surrogate_log_ratio,
}


def check_gae(fn) -> bool | None:
    """Exercise: `fn(rewards, values, gamma, lam) -> (advantages, returns)` against `compute_gae`."""
    return check(fn, reference_gae, _gae_cases(), name="GAE", mistakes=GAE_MISTAKES,
                 hint="case 1 is small enough to work by hand; check the direction of the loop (backwards), "
                      "the value after the last token (0), what the returns are, and that the advantages stay raw "
                      "(not whitened)")


def check_clipped_surrogate(fn) -> bool | None:
    """Exercise: `fn(logp_new, logp_old, advantages, clip_eps) -> scalar loss` against the reference."""
    return check(fn, reference_clipped_surrogate, _surrogate_cases(), name="clipped surrogate",
                 mistakes=SURROGATE_MISTAKES, grad_args=(0,),  # the update trains through logp_new
                 hint="case 1 has ratios on both sides of 1 ± ε with both signs of A: check which of the two "
                      "losses wins in each, and the average over all tokens")


K1_MISTAKES = {"the sign: k1 = log π − log π_ref, positive where the policy likes a token more":
               lambda logp, logp_ref: logp_ref - logp,
               "k1 is a log-ratio, not a ratio": lambda logp, logp_ref: torch.exp(logp - logp_ref)}
K3_MISTAKES = {"r is upside down: r = π_ref / π = exp(logp_ref − logp)":
               lambda logp, logp_ref: torch.expm1(logp - logp_ref) - (logp - logp_ref),
               "the − 1 is missing: k3 = (r − 1) − log r": lambda logp, logp_ref: torch.exp(logp_ref - logp) - (logp_ref - logp),
               "that is k2 = ½(log r)²; k3 = (r − 1) − log r": lambda logp, logp_ref: 0.5 * (logp_ref - logp) ** 2}


def check_kl_estimators(k1_fn, k3_fn) -> bool | None:
    """Exercise: `k1_fn(logp, logp_ref)` and `k3_fn(logp, logp_ref)`, both (B, T), against `kl_k1` / `kl_k3`."""
    ok_k1 = check(k1_fn, kl_k1, _kl_cases(), name="k1 estimator", mistakes=K1_MISTAKES,
                  hint="k1 can be negative; check which log-prob comes first")
    ok_k3 = check(k3_fn, kl_k3, _kl_cases(), name="k3 estimator", mistakes=K3_MISTAKES,
                  hint="k3 is never negative and is 0 when the two log-probs are equal; check r's direction")
    return combine(ok_k1, ok_k3)
