"""Reward-model math: the Bradley-Terry pairwise loss and last-token pooling.

Introduced in notebook 02 (training a reward model). Notebook 03 has the learner
write `pairwise_loss` and `gather_last_token` from scratch and falls back on these
when an attempt fails. A decoder reward model is a language model with a scalar
head; its reward is the head's output at the LAST real token.

Shape conventions (nanoGPT style): B = batch, T = sequence length, H = hidden size.
"""

import torch
import torch.nn.functional as F


def pairwise_loss(r_chosen, r_rejected, margin=None):
    """Bradley-Terry loss for a batch of (chosen, rejected) reward pairs.

    Formula: loss = mean_b( -log sigmoid(r_chosen - r_rejected - margin) )
    (margin defaults to 0; Llama 2 subtracts a margin that grows with how much
    better the chosen answer was rated).

    Plain equivalent: -torch.log(torch.sigmoid(r_chosen - r_rejected)).mean().
    We use F.logsigmoid instead: log(sigmoid(x)) underflows to log(0) = -inf for
    x below about -100 (float32), logsigmoid stays finite.

    Only the difference r_chosen - r_rejected enters, so adding the same constant
    to both rewards leaves the loss unchanged: rewards have no absolute scale.

    Args:
        r_chosen: (B,) rewards of the preferred responses.
        r_rejected: (B,) rewards of the rejected responses.
        margin: None, a float, or a (B,) tensor subtracted from the difference.
    Returns:
        Scalar tensor, the mean loss over the batch.
    """
    diff = r_chosen - r_rejected  # (B,)
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff).mean()


def last_token_index(attention_mask):
    """Index of the last real (non-pad) token in each row.

    Formula: idx_b = max{ t : attention_mask[b, t] == 1 }

    Works for both padding sides:
        right padding  [1 1 1 0 0] -> 2
        left padding   [0 0 1 1 1] -> 4  (= T - 1)
        no padding     [1 1 1 1 1] -> 4
    The common shortcut attention_mask.sum(-1) - 1 is only right for right
    padding: on [0 0 1 1 1] it gives 2, which points into the padding.

    A row with no real token at all returns 0.

    Args:
        attention_mask: (B, T) 0/1 or bool mask, 1 on real tokens.
    Returns:
        (B,) long tensor of positions.
    """
    T = attention_mask.shape[-1]
    positions = torch.arange(T, device=attention_mask.device)  # (T,)
    # Position where the mask is 1, -1 elsewhere; the row maximum is the last real token.
    marked = torch.where(attention_mask.bool(), positions, torch.full_like(positions, -1))  # (B, T)
    return marked.amax(dim=-1).clamp(min=0)  # (B,)


def gather_last_token(values, attention_mask):
    """Pick each row's value at its last real token (see last_token_index).

    Formula: out[b] = values[b, last_token_index(attention_mask)[b]]

    Args:
        values: (B, T) per-token scores (a reward head's output), or
            (B, T, H) hidden states.
        attention_mask: (B, T) 0/1 or bool mask, 1 on real tokens.
    Returns:
        (B,) if values is (B, T); (B, H) if values is (B, T, H).
    """
    idx = last_token_index(attention_mask)  # (B,)
    rows = torch.arange(values.shape[0], device=values.device)  # (B,)
    return values[rows, idx]  # (B,) or (B, H)


def preference_accuracy(r_chosen, r_rejected):
    """Share of pairs the reward model ranks correctly.

    Formula: accuracy = mean_b[ r_chosen_b > r_rejected_b ]   (strict >)

    Ties count as WRONG. A tie says the model has no preference, so giving it
    credit (>=) would let a collapsed model that outputs one constant reward for
    everything score 100%. With strict > it scores 0%, which is what it deserves.
    TRL logs DPO's reward accuracy the same way (chosen_rewards > rejected_rewards).

    Args:
        r_chosen: (B,) rewards of the preferred responses.
        r_rejected: (B,) rewards of the rejected responses.
    Returns:
        Scalar float tensor in [0, 1].
    """
    return (r_chosen > r_rejected).float().mean()
