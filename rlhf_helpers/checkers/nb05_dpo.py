"""Notebook 05 (DPO): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.dpo` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.dpo import autograd_dpo_grad, dpo_loss_value, dpo_margin, sequence_logprobs


def _logprob_cases():
    """Random (logits, labels, loss_mask) batches: varied prompt lengths, right padding, -100 labels."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = []
    for batch, length, vocab in [(1, 4, 5), (3, 9, 11), (4, 12, 7)]:
        logits = torch.randn(batch, length, vocab, generator=g) * 3
        labels = torch.randint(0, vocab, (batch, length), generator=g)
        real = torch.randint(2, length + 1, (batch,), generator=g)  # tokens before the right padding
        prompt = torch.stack([torch.randint(1, int(r), (1,), generator=g)[0] for r in real])  # >= 1 response token
        positions = torch.arange(length)[None, :]
        loss_mask = ((positions >= prompt[:, None]) & (positions < real[:, None])).long()
        cases.append((logits, labels, loss_mask))
    logits, labels, loss_mask = cases[1]
    cases.append((logits, labels.masked_fill(loss_mask == 0, -100), loss_mask))  # HF-style -100 where masked
    return cases


def _logprobs_no_shift(logits, labels, loss_mask):
    import torch

    safe = labels.masked_fill(loss_mask == 0, 0)
    per_token = torch.log_softmax(logits.float(), -1).gather(-1, safe[..., None])[..., 0]  # position t scores t: wrong
    return (per_token * loss_mask).sum(-1)


def _logprobs_mask_not_shifted(logits, labels, loss_mask):
    import torch

    safe = labels[:, 1:].masked_fill(loss_mask[:, 1:] == 0, 0)
    per_token = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, safe[..., None])[..., 0]
    return (per_token * loss_mask[:, :-1]).sum(-1)


def _logprobs_mean(logits, labels, loss_mask):
    mask = loss_mask[:, 1:].float()
    return sequence_logprobs(logits, labels, loss_mask) / mask.sum(-1).clamp(min=1)


def _logprobs_no_mask(logits, labels, loss_mask):
    import torch

    return sequence_logprobs(logits, labels.clamp(min=0), torch.ones_like(loss_mask))


SEQUENCE_LOGPROB_MISTAKES = {
    "no shift: the logits at position t predict the token at t + 1, so logits[:, :-1] score labels[:, 1:]":
        _logprobs_no_shift,
    "the mask must move with the labels: loss_mask[:, 1:], not loss_mask[:, :-1]": _logprobs_mask_not_shifted,
    "that is the mean log-prob per token; DPO uses the SUM over the response (the log-prob of the whole reply)":
        _logprobs_mean,
    "the prompt and the padding are counted: multiply by the (shifted) loss_mask": _logprobs_no_mask,
}


def check_sequence_logprobs(fn) -> bool | None:
    """Exercise 1: the learner's `fn(logits, labels, loss_mask)` against `dpo_math.sequence_logprobs`."""

    return check(fn, sequence_logprobs, _logprob_cases(), name="sequence log-probs",
                 mistakes=SEQUENCE_LOGPROB_MISTAKES,
                 hint="check the one-position shift (of the labels AND the mask), the reduction over time, and "
                      "the -100 labels of the last case (torch.gather cannot take them)")


def _loss_cases():
    """(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta): hand-sized, random and extreme."""
    import torch

    g = torch.Generator().manual_seed(1)
    cases = [(torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0]), 0.5)]
    for batch, beta in [(4, 0.1), (8, 0.3)]:
        logps = [torch.randn(batch, generator=g) * 5 - 30 for _ in range(4)]
        cases.append((*logps, beta))
    # a pair ranked very wrongly: log(sigmoid(z)) underflows, F.logsigmoid does not
    cases.append((torch.tensor([-500.0, -20.0]), torch.tensor([-5.0, -21.0]),
                  torch.tensor([-20.0, -20.0]), torch.tensor([-20.0, -20.0]), 1.0))
    return cases


def _dpo_log_of_sigmoid(pc, pr, rc, rr, beta):
    import torch

    return -torch.log(torch.sigmoid(dpo_margin(pc, pr, rc, rr, beta))).mean()


def _dpo_no_beta(pc, pr, rc, rr, beta):
    return dpo_loss_value(pc, pr, rc, rr, 1.0)


def _dpo_swapped(pc, pr, rc, rr, beta):
    return dpo_loss_value(pr, pc, rr, rc, beta)


def _dpo_no_reference(pc, pr, rc, rr, beta):
    import torch.nn.functional as F

    return -F.logsigmoid(beta * (pc - pr)).mean()


def _dpo_sum(pc, pr, rc, rr, beta):
    import torch.nn.functional as F

    return -F.logsigmoid(dpo_margin(pc, pr, rc, rr, beta)).sum()


DPO_LOSS_MISTAKES = {
    "torch.log(torch.sigmoid(z)) is -inf once sigmoid(z) rounds to 0 (last case): use F.logsigmoid": _dpo_log_of_sigmoid,
    "beta is missing: z = beta * (...)": _dpo_no_beta,
    "chosen and rejected are swapped: the loss must fall when the chosen log-ratio rises": _dpo_swapped,
    "the reference is missing: DPO compares log-RATIOS, policy minus reference, for each reply": _dpo_no_reference,
    "a sum grows with the batch; average over pairs": _dpo_sum,
}


def check_dpo_loss(fn) -> bool | None:
    """Exercise 2: the learner's `fn(pc, pr, rc, rr, beta)` (a scalar loss) against the reference DPO loss."""

    return check(fn, dpo_loss_value, _loss_cases(), name="DPO loss", mistakes=DPO_LOSS_MISTAKES,
                 hint="case 1 is small enough to work by hand; check which log-ratio is subtracted from which, "
                      "beta, the mean, and the very wrong pair of the last case, which must stay finite")


def _grad_sigmoid_of_z(pc, pr, rc, rr, beta):
    import torch

    weight = torch.sigmoid(dpo_margin(pc, pr, rc, rr, beta))
    return -beta * weight, beta * weight


def _grad_no_beta(pc, pr, rc, rr, beta):
    import torch

    weight = torch.sigmoid(-dpo_margin(pc, pr, rc, rr, beta))
    return -weight, weight


def _grad_signs_swapped(pc, pr, rc, rr, beta):
    grad_chosen, grad_rejected = autograd_dpo_grad(pc, pr, rc, rr, beta)
    return grad_rejected, grad_chosen


def _grad_batch_mean(pc, pr, rc, rr, beta):
    grad_chosen, grad_rejected = autograd_dpo_grad(pc, pr, rc, rr, beta)
    return grad_chosen / len(pc), grad_rejected / len(pc)


DPO_GRAD_MISTAKES = {
    "d/dz[-log sigmoid(z)] = -sigmoid(-z), not -sigmoid(z): the weight is large for pairs ranked WRONG":
        _grad_sigmoid_of_z,
    "the chain rule's dz/d log π = ±beta is missing": _grad_no_beta,
    "the signs are swapped: descending the loss must RAISE the chosen log-prob (negative gradient)":
        _grad_signs_swapped,
    "that is the gradient of the batch MEAN; the exercise asks for each pair's own loss": _grad_batch_mean,
}


def check_dpo_gradient(fn) -> bool | None:
    """Exercise 3: the learner's derived `fn(pc, pr, rc, rr, beta)` -> (grad_chosen, grad_rejected) against autograd."""

    return check(fn, autograd_dpo_grad, _loss_cases(), name="DPO gradient vs autograd", mistakes=DPO_GRAD_MISTAKES,
                 hint="apply the chain rule in two steps: d(-log sigmoid(z))/dz, then dz/d log π for each reply")
