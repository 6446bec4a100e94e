"""Solutions of notebook 08 (RLOO and GRPO): the leave-one-out baseline, the group-normalised advantage, GRPO's loss,
the 🦁 reward function GRPOTrainer calls."""

import torch


def my_leave_one_out_baseline(rewards):
    K = rewards.shape[-1]
    return (rewards.sum(dim=-1, keepdim=True) - rewards) / (K - 1)  # (P, K): the mean of the other K − 1


def my_group_advantages(rewards):
    mean = rewards.mean(dim=-1, keepdim=True)
    std = rewards.std(dim=-1, keepdim=True)  # unbiased, as TRL
    return (rewards - mean) / (std + 1e-4)  # a group of equal rewards: 0 / 1e-4 = 0


def my_grpo_loss(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    ratio = torch.exp(logp - logp_old)  # (B, T)
    A = advantages[:, None]  # (B, 1): one advantage per reply, for all its tokens
    pg_loss = -torch.min(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A)
    log_r = logp_ref - logp
    kl = torch.exp(log_r) - 1 - log_r  # k3, per token
    per_token = (pg_loss + beta * kl) * mask
    return (per_token.sum(dim=1) / mask.sum(dim=1)).mean()  # each reply's token mean, then the mean over replies


def my_reward_function(scorer):
    def reward_model(prompts, completions, query, **kwargs):  # TRL passes every dataset column by name (query)
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]  # a conversation: its last message
        return scorer(list(query), texts).tolist()  # one Python float per completion, in order
    return reward_model
