"""DPO math: sequence log-probs, the DPO loss, its implicit rewards and its gradient.

Introduced in notebook 05 (Direct Preference Optimization).

DPO (Rafailov et al. 2023) trains on (prompt, chosen, rejected) triples with no
reward model: the policy's log-ratio against a frozen reference acts as the reward.
Shapes: B = batch of pairs, T = sequence length (prompt + response + padding), V = vocab.
"""

import torch
import torch.nn.functional as F

from rlhf_helpers.course.ppo_math import logprobs_from_logits


def sequence_logprobs(logits, labels, loss_mask):
    """Sum of the log-probs of the response tokens of each sequence.

    Formula: logp[b] = sum_{t >= 1} loss_mask[b, t] * log softmax(logits[b, t-1])[labels[b, t]]

    The one-position shift: a causal LM's logits at position t predict the token
    at t + 1. So logits[:, :-1] are scored against labels[:, 1:], and the mask is
    shifted with the labels (loss_mask[:, 1:]). The first label has nothing
    predicting it and the last logits predict past the end; both are dropped.
    loss_mask is aligned with labels (same as input_ids): 1 on response tokens,
    0 on prompt and padding (TRL calls it completion_mask).

    Computed in float32 whatever the logits' dtype: a bf16 model's sum near -1000
    would otherwise be rounded to the nearest 8 nats, more than the log-ratios DPO
    compares (TRL upcasts the same way).

    Plain equivalent (slow):
        total = 0
        for t in range(1, T):
            if loss_mask[b, t]:
                total += logits[b, t - 1].log_softmax(-1)[labels[b, t]]

    Args:
        logits: (B, T, V) model outputs for the full sequence.
        labels: (B, T) token ids (usually input_ids; -100 allowed where masked).
        loss_mask: (B, T) 1 on response tokens.
    Returns:
        (B,) summed log-probs, float32.
    """
    shift_logits = logits[:, :-1].float()  # (B, T-1, V) position t predicts token t+1; fp32 (see above)
    shift_labels = labels[:, 1:]  # (B, T-1)
    shift_mask = loss_mask[:, 1:].float()  # (B, T-1)
    safe_labels = shift_labels.masked_fill(shift_mask == 0, 0)  # -100 would break gather
    per_token = logprobs_from_logits(shift_logits, safe_labels)  # (B, T-1)
    return (per_token * shift_mask).sum(dim=-1)  # (B,)


def dpo_margin(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """The argument z of DPO's sigmoid: implicit reward of chosen minus rejected.

    Formula: z = beta * [(log pi_c - log pi_ref_c) - (log pi_r - log pi_ref_r)]
    (TRL logs the mean of this as rewards/margins.)

    Args:
        policy_chosen_logps, policy_rejected_logps: (B,) sequence log-probs under the policy.
        ref_chosen_logps, ref_rejected_logps: (B,) sequence log-probs under the reference.
        beta: DPO temperature (strength of the implicit KL constraint).
    Returns:
        (B,) z per pair.
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    return beta * (chosen_logratios - rejected_logratios)


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """The DPO (sigmoid) loss and its implicit rewards.

    Formula: chosen_rewards   = beta * (log pi_c - log pi_ref_c)
             rejected_rewards = beta * (log pi_r - log pi_ref_r)
             z    = chosen_rewards - rejected_rewards
             loss = mean_b( -log sigmoid(z) )
    This is the reward model's Bradley-Terry loss (reward_math.pairwise_loss) with
    the implicit rewards in place of a reward head. F.logsigmoid keeps it finite
    for very negative z.

    Args:
        policy_chosen_logps, policy_rejected_logps: (B,) sequence log-probs under the policy.
        ref_chosen_logps, ref_rejected_logps: (B,) sequence log-probs under the reference.
        beta: DPO temperature.
    Returns:
        (loss, chosen_rewards, rejected_rewards): scalar mean loss; (B,) and (B,)
        implicit rewards, detached (they are for logging, as in TRL).
    """
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps)  # (B,)
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps)  # (B,)
    z = chosen_rewards - rejected_rewards  # (B,)
    loss = -F.logsigmoid(z).mean()
    return loss, chosen_rewards.detach(), rejected_rewards.detach()


def dpo_grad_weight(z):
    """How strongly DPO pushes on a pair: sigmoid(-z).

    Formula: w = sigmoid(-z) = 1 - sigmoid(z)
    Near 1 when the implicit rewards rank the pair wrongly (z << 0), near 0 once
    the pair is ranked right with a comfortable margin (z >> 0): DPO weights the
    pairs the model still gets wrong.

    Args:
        z: (B,) margins from dpo_margin.
    Returns:
        (B,) weights in (0, 1).
    """
    return torch.sigmoid(-z)


def dpo_loss_grad_wrt_logps(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """Analytic gradient of the per-pair DPO loss -log sigmoid(z) w.r.t. the policy log-probs.

    Formula: d loss / d log pi_c = -beta * sigmoid(-z)   (raise the chosen log-prob)
             d loss / d log pi_r = +beta * sigmoid(-z)   (lower the rejected log-prob)
    since d/dz[-log sigmoid(z)] = -sigmoid(-z) and dz/d log pi_c = beta, dz/d log pi_r = -beta.
    For the batch-mean loss returned by dpo_loss, divide by B.

    Args:
        policy_chosen_logps, policy_rejected_logps: (B,) sequence log-probs under the policy.
        ref_chosen_logps, ref_rejected_logps: (B,) sequence log-probs under the reference.
        beta: DPO temperature.
    Returns:
        (grad_chosen, grad_rejected): (B,) and (B,).
    """
    z = dpo_margin(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
    weight = dpo_grad_weight(z)  # (B,)
    return -beta * weight, beta * weight
