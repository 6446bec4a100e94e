"""Solutions of notebook 05 (DPO): sequence log-probs, the DPO loss and its gradient w.r.t. the logits."""

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


def my_dpo_logits_grad(logits, labels, loss_mask, ref_logps, beta):
    B, V = logits.shape[0] // 2, logits.shape[-1]  # rows 0..B-1 chosen, B..2B-1 rejected
    logps = my_sequence_logprobs(logits, labels, loss_mask)  # (2B,)
    z = beta * ((logps[:B] - ref_logps[:B]) - (logps[B:] - ref_logps[B:]))  # (B,) the reference enters only here
    weight = torch.sigmoid(-z)  # d(-log sigmoid(z))/dz = -sigmoid(-z)
    coef = torch.cat([-beta * weight, beta * weight]) / B  # (2B,) d loss / d log pi(y) of the batch mean
    mask = loss_mask[:, 1:, None].float()  # the mask moves with the labels
    onehot = F.one_hot(labels[:, 1:].masked_fill(loss_mask[:, 1:] == 0, 0), V).float()
    grad = torch.zeros_like(logits)
    grad[:, :-1] = coef[:, None, None] * mask * (onehot - torch.softmax(logits[:, :-1].float(), dim=-1))
    return grad  # the last position predicts nothing we score: 0
