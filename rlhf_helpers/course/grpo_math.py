"""The math of RLOO and GRPO (notebook 08) as small pure functions, named after the papers.

* RLOO (Ahmadian et al., 2024, "Back to Basics"): K replies per prompt; each reply's baseline is the mean reward of
  the OTHER K − 1 replies (`leave_one_out_baseline`), so it does not depend on the reply it judges.
* GRPO (Shao et al., 2024, DeepSeekMath): the advantage is the reward standardised within its group
  (`group_advantages`), and the loss is PPO's clipped surrogate per token plus β times the k3 KL estimate to the
  reference, per token (`grpo_loss`), averaged in one of TRL's `loss_type` ways.

Shapes: rewards are (P, K), P prompts by K replies; per-token tensors are (B, T) with B = P·K replies, group-major
(rows i·K … i·K + K − 1 belong to prompt i), as TRL's trainers lay them out.
"""

from __future__ import annotations

import torch

from rlhf_helpers.course.ppo_math import kl_k3

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo")


def leave_one_out_baseline(rewards: torch.Tensor) -> torch.Tensor:
    """RLOO's baseline: for each reply, the mean reward of the other K − 1 replies to the same prompt.

    Args:
        rewards: (P, K) rewards, K ≥ 2.
    Returns:
        (P, K) baselines. Plain form: `b[i, k] = mean(rewards[i, j] for j != k)`.
    """
    K = rewards.shape[-1]
    if K < 2:
        raise ValueError(f"the leave-one-out baseline needs at least 2 replies per prompt, got K = {K}: "
                         "set num_generations ≥ 2")
    return (rewards.sum(dim=-1, keepdim=True) - rewards) / (K - 1)


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """RLOO's advantage r − b_loo, (P, K). It equals K/(K − 1) · (r − mean of the group)."""
    return rewards - leave_one_out_baseline(rewards)


def group_advantages(rewards: torch.Tensor, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantage: (r − mean of the group) / (std of the group + eps), (P, K).

    The std is the unbiased one (as TRL's `nanstd`). A group whose rewards are all equal has std 0 and
    advantage 0 for every reply (no signal), which `eps` keeps from becoming 0/0. `scale=False` is
    Dr. GRPO's choice (TRL `scale_rewards="none"`): no division, so a group whose rewards barely differ (a tiny std)
    no longer gets full-size advantages.
    """
    K = rewards.shape[-1]
    if K < 2:
        raise ValueError(f"a group baseline needs at least 2 replies per prompt, got K = {K} (the std of one reward is "
                         "undefined): set num_generations ≥ 2")
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    if not scale:
        return centred
    return centred / (rewards.std(dim=-1, keepdim=True) + eps)


def clipped_token_objective(logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor,
                            clip_eps: float) -> torch.Tensor:
    """Per-token clipped surrogate LOSS, (B, T): −min(ρ·A, clip(ρ, 1 ± ε)·A), ρ = exp(logp − logp_old).

    `advantages` is (B,): one per reply, the same for all of its tokens.
    """
    ratio = torch.exp(logp - logp_old)  # (B, T)
    A = advantages[:, None]  # (B, 1)
    return -torch.min(ratio * A, ratio.clamp(1 - clip_eps, 1 + clip_eps) * A)


def grpo_loss(logp: torch.Tensor, logp_old: torch.Tensor, logp_ref: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, clip_eps: float = 0.2, beta: float = 0.04, loss_type: str = "grpo",
              max_completion_length: int | None = None) -> torch.Tensor:
    """GRPO's loss: clipped surrogate + β·k3 KL, per token, then averaged as `loss_type` says (TRL 1.16's rules).

    Args:
        logp, logp_old, logp_ref: (B, T) log-probs of the sampled tokens under the policy being updated, the policy
            that sampled them, and the reference.
        advantages: (B,) one advantage per reply (`group_advantages`, flattened).
        mask: (B, T) 1 on reply tokens, 0 on padding.
        loss_type: "grpo": mean over each reply's tokens, then over replies (the paper; a length bias);
            "bnpo": sum over all tokens / number of tokens (TRL's default "dapo" is this over the whole accumulated
            batch); "dr_grpo": sum over all tokens / (B · max_completion_length), a constant (B: the replies of the micro-batch).
    Returns:
        The scalar loss to minimise.
    """
    mask = mask.to(logp.dtype)
    per_token = clipped_token_objective(logp, logp_old, advantages, clip_eps)  # (B, T)
    if beta:
        per_token = per_token + beta * kl_k3(logp, logp_ref)  # the KL is in the loss, not in the reward
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    if loss_type == "bnpo":
        return (per_token * mask).sum() / mask.sum().clamp(min=1)
    if loss_type == "dr_grpo":
        length = max_completion_length or mask.shape[1]
        return (per_token * mask).sum() / (mask.shape[0] * length)
    raise ValueError(f"unknown loss_type {loss_type!r}; expected one of {LOSS_TYPES}")
