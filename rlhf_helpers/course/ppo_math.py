"""PPO math for language models: log-probs, KL estimators, rewards, GAE, PPO losses.

Introduced in notebook 04 (PPO on a language model) and reused in notebook 07.
Names follow cleanrl's ppo.py (pg_loss1, pg_loss2, clipfrac, approx_kl).

One response token is one action. Shapes: B = batch, T = response length,
V = vocabulary size. `mask` / `response_mask` is (B, T), 1 on real response tokens,
0 on prompt or padding; masked positions never contribute.
"""

import torch
import torch.nn.functional as F

from rlhf_helpers.course.reward_math import last_token_index


def logprobs_from_logits(logits, labels):
    """Log-probability of each label token under the logits.

    Formula: logp[b, t] = log_softmax(logits[b, t])[labels[b, t]]

    This materialises the full (B, T, V) log_softmax. TRL's
    trl.trainer.utils.selective_log_softmax is the optimised form: it computes
    logits[label] - logsumexp(logits) row by row, never holding all log-probs.

    Args:
        logits: (B, T, V) logits already aligned with labels (position t scores labels[:, t]).
        labels: (B, T) token ids.
    Returns:
        (B, T) log-probabilities.
    """
    logp_all = F.log_softmax(logits, dim=-1)  # (B, T, V)
    return torch.gather(logp_all, dim=-1, index=labels.unsqueeze(-1)).squeeze(-1)  # (B, T)


# Schulman's per-token estimators of KL(pi || pi_ref) (http://joschu.net/blog/kl-approx.html).
# The tokens were sampled from pi. All three take
#     logp:     (B, T) log pi(token) of the sampled tokens
#     logp_ref: (B, T) log pi_ref(token) of the same tokens
# and return (B, T) per-token estimates, with log r = logp_ref - logp.


def kl_k1(logp, logp_ref):
    """k1 estimator of KL(pi || pi_ref): unbiased, high variance, can be negative.

    Formula: k1 = -log r = logp - logp_ref
    """
    return logp - logp_ref


def kl_k2(logp, logp_ref):
    """k2 estimator of KL(pi || pi_ref): biased, low variance, always >= 0.

    Formula: k2 = 0.5 * (log r)^2. Close to the true KL only when pi and pi_ref are close.
    """
    return 0.5 * (logp_ref - logp) ** 2


def kl_k3(logp, logp_ref):
    """k3 estimator of KL(pi || pi_ref): unbiased, low variance, always >= 0.

    Formula: k3 = (r - 1) - log r
    Computed as expm1(log r) - log r: equal to (exp(log r) - 1) - log r, but it
    keeps precision (and k3 >= 0) when log r is tiny.
    """
    log_r = logp_ref - logp
    return torch.expm1(log_r) - log_r


def per_token_rewards(score, kl, response_mask, beta):
    """Per-token PPO reward: a KL penalty on every token, the score on the last one.

    Formula: rewards[b, t] = -beta * kl[b, t]                       for response tokens
             rewards[b, t_last(b)] += score[b]                      t_last = last response token
             rewards[b, t] = 0                                      outside the response

    Args:
        score: (B,) reward-model score of each full response.
        kl: (B, T) per-token KL estimate against the reference (e.g. kl_k1).
        response_mask: (B, T) 1 on real response tokens.
        beta: KL coefficient (float, or AdaptiveKLController.value).
    Returns:
        (B, T) rewards.
    """
    mask = response_mask.to(kl.dtype)
    rewards = -beta * kl * mask  # (B, T)
    last = last_token_index(response_mask)  # (B,)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    has_response = mask.sum(dim=-1) > 0  # (B,) no score for an empty response
    rewards[rows, last] += score.to(rewards.dtype) * has_response
    return rewards


def compute_gae(rewards, values, response_mask, gamma, lam):
    """Generalized advantage estimation (Schulman et al. 2016), backwards over time.

    Formula: delta_t = r_t + gamma * V_{t+1} - V_t
             A_t     = delta_t + gamma * lam * A_{t+1}
             R_t     = A_t + V_t      (the value-function target, "returns")
    After the last response token the episode is over: V_{t+1} = 0 and A_{t+1} = 0.
    Positions outside the mask get A = R = 0 and do not leak into earlier tokens.

    Args:
        rewards: (B, T) per-token rewards (see per_token_rewards).
        values: (B, T) value-head estimates V_t.
        response_mask: (B, T) 1 on real response tokens (contiguous per row).
        gamma: discount factor.
        lam: GAE lambda.
    Returns:
        (advantages, returns), both (B, T).
    """
    mask = response_mask.to(values.dtype)  # (B, T)
    zero_col = torch.zeros_like(values[:, :1])  # (B, 1) nothing after the last position
    next_values = torch.cat([values[:, 1:], zero_col], dim=1)  # (B, T) V_{t+1}
    next_is_real = torch.cat([mask[:, 1:], zero_col], dim=1)  # (B, T) 0 once the response ends
    advantages = torch.zeros_like(values)
    next_advantage = zero_col[:, 0]  # (B,) A_{t+1}
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_values[:, t] * next_is_real[:, t] - values[:, t]  # (B,)
        advantage = delta + gamma * lam * next_is_real[:, t] * next_advantage  # (B,)
        advantages[:, t] = advantage * mask[:, t]  # masked positions carry nothing backwards
        next_advantage = advantages[:, t]
    returns = (advantages + values) * mask
    return advantages, returns


def masked_mean(x, mask, dim=None):
    """Mean of x over positions where mask is 1.

    Formula: sum(x * mask) / sum(mask)   (over `dim`, or over everything if None).
    An all-zero mask gives 0 instead of NaN.

    Args:
        x: (B, T) values.
        mask: (B, T) 0/1 or bool mask.
        dim: None for a scalar, or the dimension to reduce.
    Returns:
        Scalar tensor, or x reduced over `dim`.
    """
    mask = mask.to(x.dtype)
    return (x * mask).sum(dim=dim) / mask.sum(dim=dim).clamp(min=1)


def masked_var(x, mask, unbiased=True):
    """Variance of x over positions where mask is 1 (used by whiten).

    Formula: sum(mask * (x - mean)^2) / (n - 1), n = sum(mask); divide by n if not unbiased
    (Bessel's correction is TRL's masked_var default). x, mask: (B, T) -> scalar tensor.
    """
    mask = mask.to(x.dtype)
    centred = (x - masked_mean(x, mask)) * mask
    n = mask.sum()
    denom = (n - 1) if unbiased else n
    return (centred**2).sum() / denom.clamp(min=1)


def whiten(x, mask, shift_mean=True):
    """Normalise x to mean 0, std 1 over the masked positions (e.g. advantages).

    Formula: (x - mean) / sqrt(var + 1e-8), mean and (unbiased) var over the mask;
    with shift_mean=False the mean is added back (only the scale changes).
    Positions outside the mask are set to 0.

    Args:
        x: (B, T) values.
        mask: (B, T) 0/1 or bool mask.
        shift_mean: whether to leave the result centred at 0.
    Returns:
        (B, T) whitened values.
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(x.dtype)


def clipped_surrogate_loss(logp_new, logp_old, advantages, mask, clip_eps):
    """PPO clipped policy loss (cleanrl names).

    Formula: ratio    = exp(logp_new - logp_old)
             pg_loss1 = -A * ratio
             pg_loss2 = -A * clip(ratio, 1 - eps, 1 + eps)
             loss     = masked_mean(max(pg_loss1, pg_loss2))
             clipfrac = masked_mean(pg_loss2 > pg_loss1)
    The max is the pessimistic bound: once the ratio has moved past 1 +/- eps in
    the direction the advantage rewards, the clipped term wins and its gradient is 0.

    Args:
        logp_new, logp_old: (B, T) log-probs now (with grad) and at rollout time.
        advantages: (B, T) advantages (usually whitened).
        mask: (B, T) 1 on response tokens.
        clip_eps: clip range eps (e.g. 0.2).
    Returns:
        (loss, clipfrac): scalar tensors.
    """
    ratio = torch.exp(logp_new - logp_old)  # (B, T)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    loss = masked_mean(torch.max(pg_loss1, pg_loss2), mask)
    clipfrac = masked_mean((pg_loss2 > pg_loss1).float(), mask)
    return loss, clipfrac


def clipped_value_loss(values_new, values_old, returns, mask, clip_value):
    """PPO clipped value loss.

    Formula: v_clipped = v_old + clip(v - v_old, -c, c)
             loss      = 0.5 * masked_mean(max((v - R)^2, (v_clipped - R)^2))
             value_clipfrac = masked_mean((v_clipped - R)^2 > (v - R)^2)

    Args:
        values_new, values_old: (B, T) value-head outputs now (with grad) and at rollout time.
        returns: (B, T) targets R from compute_gae.
        mask: (B, T) 1 on response tokens.
        clip_value: clip range c for the value change.
    Returns:
        (loss, value_clipfrac): scalar tensors.
    """
    v_clipped = values_old + torch.clamp(values_new - values_old, -clip_value, clip_value)
    vf_losses1 = (values_new - returns) ** 2
    vf_losses2 = (v_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), mask)
    value_clipfrac = masked_mean((vf_losses2 > vf_losses1).float(), mask)
    return loss, value_clipfrac


def entropy_from_logits(logits):
    """Entropy of the next-token distribution at each position.

    Formula: H = -sum_v p_v log p_v = logsumexp(logits) - sum_v p_v * logits_v
    (the second form needs no separate log p; both are equal).

    Args:
        logits: (B, T, V). Returns (B, T) entropies in nats.
    """
    p = F.softmax(logits, dim=-1)  # (B, T, V)
    return torch.logsumexp(logits, dim=-1) - (p * logits).sum(dim=-1)


def approx_kl(logp_new, logp_old, mask):
    """PPO diagnostic: how far the policy moved since the rollout (cleanrl's approx_kl).

    Formula: logratio = logp_new - logp_old; approx_kl = masked_mean((ratio - 1) - logratio)
    This is kl_k3(logp_old, logp_new): the tokens were sampled from pi_old, so it
    estimates KL(pi_old || pi_new).

    Args:
        logp_new, logp_old: (B, T) log-probs now and at rollout time.
        mask: (B, T) 1 on response tokens.
    Returns:
        Scalar tensor.
    """
    return masked_mean(kl_k3(logp_old, logp_new), mask)


class AdaptiveKLController:
    """Adaptive KL coefficient beta (Ziegler et al. 2019, "Fine-Tuning LMs from Human Preferences").

    Formula: error = clip(current_kl / target - 1, -0.2, 0.2)
             beta <- beta * (1 + error * n_steps / horizon)
    beta rises when the policy drifts further from the reference than `target`,
    and falls when it stays closer. A fixed controller is just a float: pass
    beta=0.05 directly wherever `controller.value` would go.

    Args:
        init_kl_coef: starting beta.
        target: KL (nats per response) to steer towards.
        horizon: how many rollouts (the unit of `n_steps`: sampled responses) it takes beta to change
            by about 20% at the largest error.
    """

    def __init__(self, init_kl_coef, target, horizon):
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl, n_steps):
        """Move beta towards keeping current_kl near target after n_steps more rollouts; returns the new beta."""
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon
        return self.value


def apply_missing_eos_penalty(scores, response_ids, eos_token_id: int, penalty: float):
    """Subtract `penalty` from the score of every response that never produced EOS (cut off by max_new_tokens).

    Formula: scores[b] − penalty · 1[no EOS in response_ids[b]]
    Args:
        scores: (B,) rewards. response_ids: (B, T) generated tokens (after EOS: padding).
    Returns:
        (B,) penalised scores (a new tensor).
    """
    finished = (response_ids == eos_token_id).any(dim=1)  # (B,)
    return scores - penalty * (~finished).to(scores.dtype)
