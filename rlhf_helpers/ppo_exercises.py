"""Exercise checkers of notebook 04 (PPO): GAE, the clipped surrogate, the k1 and k3 KL estimators.

Each checker runs the learner's function and the reference from `ppo_math` on the same random and
edge cases and prints ✅ / ❌ / ⏭ through `exercises.check` (it never raises).
The learner's versions work on full (unmasked) (B, T) tensors: every token is a response token.
"""

from __future__ import annotations

import torch

from .exercises import check
from .ppo_math import clipped_surrogate_loss, compute_gae, kl_k1, kl_k3


def reference_gae(rewards, values, gamma, lam):
    """GAE on unmasked (B, T) rewards and values; returns (advantages, returns), both (B, T)."""
    return compute_gae(rewards, values, torch.ones_like(rewards), gamma, lam)


def reference_clipped_surrogate(logp_new, logp_old, advantages, clip_eps):
    """The clipped surrogate loss (a scalar), averaged over all (B, T) tokens."""
    return clipped_surrogate_loss(logp_new, logp_old, advantages, torch.ones_like(advantages), clip_eps)[0]


def _gae_cases():
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.5]]), 0.5, 0.5),  # worked by hand in ppo_math tests
             (torch.tensor([[2.0]]), torch.tensor([[0.5]]), 0.9, 0.9)]  # a single token: A = r - V
    for shape, gamma, lam in [((2, 5), 1.0, 0.95), ((3, 8), 0.99, 0.0), ((4, 6), 0.9, 1.0)]:
        cases.append((torch.randn(*shape, generator=g), torch.randn(*shape, generator=g), gamma, lam))
    return cases


def _surrogate_cases():
    g = torch.Generator().manual_seed(1)
    eps = 0.2
    ratios = torch.tensor([[1.5, 1.0, 0.5, 1.5, 1.0, 0.5, 1.19, 0.81]])  # both sides of 1 ± ε, both signs of A
    advantages = torch.tensor([[1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 2.0, -2.0]])
    cases = [(ratios.log(), torch.zeros_like(ratios), advantages, eps)]
    for shape in [(2, 5), (4, 7)]:
        logp_old = -torch.rand(*shape, generator=g) * 3
        logp_new = logp_old + torch.randn(*shape, generator=g) * 0.4
        cases.append((logp_new, logp_old, torch.randn(*shape, generator=g), 0.1 if shape[0] == 2 else 0.3))
    return cases


def _kl_cases():
    g = torch.Generator().manual_seed(2)
    cases = [(torch.tensor([[-1.0, -2.0, -0.5]]), torch.tensor([[-1.0, -1.0, -3.0]]))]
    for shape in [(2, 6), (5, 3)]:
        cases.append((-torch.rand(*shape, generator=g) * 4, -torch.rand(*shape, generator=g) * 4))
    return cases


def check_gae(fn) -> bool:
    """Exercise: `fn(rewards, values, gamma, lam) -> (advantages, returns)` against `compute_gae`."""
    return check(fn, reference_gae, _gae_cases(), name="GAE",
                 hint="go backwards: delta_t = r_t + γ·V_{t+1} − V_t (V after the last token is 0), "
                      "A_t = delta_t + γ·λ·A_{t+1}, returns = A + V")


def check_clipped_surrogate(fn) -> bool:
    """Exercise: `fn(logp_new, logp_old, advantages, clip_eps) -> scalar loss` against the reference."""
    return check(fn, reference_clipped_surrogate, _surrogate_cases(), name="clipped surrogate",
                 hint="ratio = exp(logp_new − logp_old); loss = mean(max(−A·ratio, −A·clip(ratio, 1−ε, 1+ε))) "
                      "— max of the losses, i.e. the pessimistic (min) objective")


def check_kl_estimators(k1_fn, k3_fn) -> bool:
    """Exercise: `k1_fn(logp, logp_ref)` and `k3_fn(logp, logp_ref)`, both (B, T), against `kl_k1` / `kl_k3`."""
    ok_k1 = check(k1_fn, kl_k1, _kl_cases(), name="k1 estimator",
                  hint="with log r = logp_ref − logp, k1 = −log r")
    ok_k3 = check(k3_fn, kl_k3, _kl_cases(), name="k3 estimator",
                  hint="with r = exp(logp_ref − logp), k3 = (r − 1) − log r; it is never negative")
    return ok_k1 and ok_k3
