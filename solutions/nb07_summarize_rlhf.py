"""Solutions of notebook 07 (summarisation RLHF): the normalised reward and PPO's per-token rewards."""

import torch


def my_normalised_rewards(reward_fn, prompts, summaries, references):
    return reward_fn(prompts, summaries) - reward_fn(prompts, references)  # each post against its own reference


def my_token_rewards(scores, kl, response_ids, eos_token_id, beta):
    is_eos = (response_ids == eos_token_id).long()  # (B, T)
    real = (is_eos.cumsum(dim=1) - is_eos) == 0  # (B, T) no EOS before t: the summary, its first EOS included
    last = real.sum(dim=1) - 1  # (B,) its last token: the first EOS, or T - 1 when it was cut off
    rewards = -beta * kl * real  # (B, T) a new tensor: kl is unchanged
    rewards[torch.arange(len(scores)), last] += scores
    return rewards
