"""Solutions of notebook 05 (DPO): sequence log-probs, the DPO loss and its gradient."""

import torch
import torch.nn.functional as F


def my_sequence_logprobs(logits, labels, loss_mask):
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V) position t predicts token t+1
    mask = loss_mask[:, 1:]  # the mask moves with the labels
    labels = labels[:, 1:].masked_fill(mask == 0, 0)  # -100 cannot be gathered
    per_token = logp.gather(-1, labels[..., None])[..., 0]  # (B, T-1)
    return (per_token * mask).sum(dim=-1)


def my_dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    z = beta * ((policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))
    return -F.logsigmoid(z).mean()


def my_dpo_grad(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    z = beta * ((policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))
    weight = torch.sigmoid(-z)  # d(-log sigmoid(z))/dz = -sigmoid(-z)
    return -beta * weight, beta * weight
