"""Solutions of notebook 04 (PPO): the KL estimators, GAE, the clipped surrogate and the 🦁 PPO update loop."""

import torch

from rlhf_helpers.course.ppo import clip_grad_norms
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss, clipped_value_loss
from rlhf_helpers.course.ppo_rollout import forward_logprobs_values


def my_kl_k1(logp, logp_ref):
    return logp - logp_ref


def my_kl_k3(logp, logp_ref):
    log_r = logp_ref - logp
    return torch.exp(log_r) - 1 - log_r


def my_gae(rewards, values, gamma, lam):
    B, T = rewards.shape
    advantages = torch.zeros_like(rewards)
    next_value, next_advantage = torch.zeros(B), torch.zeros(B)  # nothing after the last token
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    return advantages, advantages + values


def my_clipped_surrogate(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.max(pg_loss1, pg_loss2).mean()


def my_ppo_update(model, value_head, optimizer, rollout, adv, config):
    B, T = rollout.response_mask.shape
    for _ in range(config.ppo_epochs):
        for idx in torch.randperm(B).split(config.mini_batch_size):  # shuffled mini-batches
            mask = rollout.response_mask[idx]
            logp, values, _ = forward_logprobs_values(model, value_head, rollout.input_ids[idx],
                                                      rollout.attention_mask[idx], T, config.temperature)
            pg_loss, _ = clipped_surrogate_loss(logp, rollout.logprobs[idx], adv["advantages"][idx], mask,
                                                config.clip_eps)
            vf_loss, _ = clipped_value_loss(values, rollout.values[idx], adv["returns"][idx], mask, config.clip_value)
            optimizer.zero_grad()
            (pg_loss + config.vf_coef * vf_loss).backward()
            clip_grad_norms(model, value_head, config.max_grad_norm)  # the policy and the value head separately
            optimizer.step()
