"""Notebook 05 (DPO): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.dpo` (or its math module) on
fixed cases and names a known mistake when the output matches one. The notebook computes its DPO loss with the
learner's log-probs and loss, so those two are checked on their gradients too.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.dpo import autograd_dpo_logits_grad, dpo_loss_value, dpo_margin, sequence_logprobs


def _logprob_cases():
    """Random (logits, labels, loss_mask) batches: varied prompt lengths, right padding, -100 labels."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = []
    for batch, length, vocab in [(1, 4, 5), (3, 9, 11), (4, 12, 7), (3, 9, 11)]:  # two of one shape
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
                 mistakes=SEQUENCE_LOGPROB_MISTAKES, grad_args=(0,),
                 hint="check the one-position shift (of the labels AND the mask), the reduction over time, and "
                      "the -100 labels of the last case (torch.gather cannot take them)")


def _loss_cases():
    """(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta): hand-sized, random and extreme."""
    import torch

    g = torch.Generator().manual_seed(1)
    cases = [(torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0]), 0.5)]
    for batch, beta in [(4, 0.1), (8, 0.3), (4, 0.1)]:  # two of one shape
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

    return check(fn, dpo_loss_value, _loss_cases(), name="DPO loss", mistakes=DPO_LOSS_MISTAKES, grad_args=(0, 1),
                 hint="case 1 is small enough to work by hand; check which log-ratio is subtracted from which, "
                      "beta, the mean, and the very wrong pair of the last case, which must stay finite")


def _logits_grad_cases():
    """(logits, labels, loss_mask, ref_logps, beta) batches as DPOTrainer lays them out: B chosen rows, then the B
    rejected rows of the same pairs; the reference's log-probs near the policy's; one pair ranked very wrongly."""
    import torch

    g = torch.Generator().manual_seed(3)
    cases = []
    for pairs, length, vocab, beta in [(1, 5, 6, 0.5), (2, 8, 7, 0.1), (2, 8, 7, 0.1), (3, 10, 5, 0.3)]:
        logits = torch.randn(2 * pairs, length, vocab, generator=g) * 2
        labels = torch.randint(0, vocab, (2 * pairs, length), generator=g)
        real = torch.randint(3, length + 1, (2 * pairs,), generator=g)
        prompt = torch.randint(1, 3, (2 * pairs,), generator=g)
        positions = torch.arange(length)[None, :]
        loss_mask = ((positions >= prompt[:, None]) & (positions < real[:, None])).long()
        ref_logps = sequence_logprobs(logits + torch.randn(logits.shape, generator=g), labels, loss_mask)
        cases.append((logits, labels, loss_mask, ref_logps, beta))
    logits, labels, loss_mask, ref_logps, beta = cases[-1]
    cases.append((logits, labels.masked_fill(loss_mask == 0, -100), loss_mask, ref_logps, beta))  # HF-style -100
    wrong = ref_logps.clone()
    wrong[0] += 200.0  # the reference liked the first chosen reply far more: z << 0, weight sigma(-z) ~ 1
    cases.append((logits, labels, loss_mask, wrong, 1.0))
    return cases


def _derived_logits_grad(logits, labels, loss_mask, ref_logps, beta, *, weight_of_minus_z=True, mean=True,
                         onehot_minus_p=True, shift=True, reference=True, masked=True):
    """The chain rule by hand, with switches that reproduce the common slips."""
    import torch
    import torch.nn.functional as F

    B = logits.shape[0] // 2
    mask = loss_mask if masked else torch.ones_like(loss_mask)
    labels = labels.masked_fill(loss_mask == 0, 0) if masked else labels.clamp(min=0)
    if shift:
        logp = sequence_logprobs(logits, labels, mask)
        probs, targets, m = torch.softmax(logits[:, :-1].float(), -1), labels[:, 1:], mask[:, 1:]
    else:
        per_token = torch.log_softmax(logits.float(), -1).gather(-1, labels[..., None])[..., 0]
        logp = (per_token * mask).sum(-1)
        probs, targets, m = torch.softmax(logits.float(), -1), labels, mask
    ref = ref_logps if reference else torch.zeros_like(ref_logps)
    z = dpo_margin(logp[:B], logp[B:], ref[:B], ref[B:], beta)
    weight = torch.sigmoid(-z) if weight_of_minus_z else torch.sigmoid(z)
    coef = torch.cat([-beta * weight, beta * weight]) / (B if mean else 1)  # d loss / d log pi(y), per row
    direction = F.one_hot(targets, logits.shape[-1]).float() - probs  # d log pi(y) / d logits
    if not onehot_minus_p:
        direction = -direction
    grad = torch.zeros(logits.shape, dtype=torch.float32)
    grad[:, :probs.shape[1]] = coef[:, None, None] * m[..., None].float() * direction
    return grad.to(logits.dtype)


def _lg_sigmoid_of_z(*args):
    return _derived_logits_grad(*args, weight_of_minus_z=False)


def _lg_sum_over_pairs(*args):
    return _derived_logits_grad(*args, mean=False)


def _lg_p_minus_onehot(*args):
    return _derived_logits_grad(*args, onehot_minus_p=False)


def _lg_no_shift(*args):
    return _derived_logits_grad(*args, shift=False)


def _lg_no_reference(*args):
    return _derived_logits_grad(*args, reference=False)


def _lg_no_mask(*args):
    return _derived_logits_grad(*args, masked=False)


DPO_GRAD_MISTAKES = {
    "d/dz[-log sigmoid(z)] = -sigmoid(-z), not -sigmoid(z): the weight is large for pairs ranked WRONG":
        _lg_sigmoid_of_z,
    "the loss is the MEAN over the B pairs: each row's factor is ±beta·sigmoid(-z) / B": _lg_sum_over_pairs,
    "the sign of the second step: d log softmax(l)[y] / dl = onehot(y) - softmax(l)": _lg_p_minus_onehot,
    "the shift: logits[:, t] predict labels[:, t + 1], so the last position gets no gradient": _lg_no_shift,
    "the reference is missing from z: it enters only through the weight sigmoid(-z), never the direction":
        _lg_no_reference,
    "prompt and padding positions get gradient: multiply by the (shifted) loss_mask": _lg_no_mask,
}


def check_dpo_logits_grad(fn) -> bool | None:
    """Exercise 3: the learner's derived `fn(logits, labels, loss_mask, ref_logps, beta)` -> (2B, T, V) gradient of
    the batch-mean DPO loss w.r.t. the logits, against autograd."""

    return check(fn, autograd_dpo_logits_grad, _logits_grad_cases(), name="DPO gradient w.r.t. the logits vs autograd",
                 mistakes=DPO_GRAD_MISTAKES,
                 hint="two chain-rule steps: d loss / d log pi(y) for each row (section 5's formula, divided by B "
                      "for the mean; chosen rows first), then d log pi(y) / d logits[:, t] = loss_mask[:, t + 1] · "
                      "(onehot(labels[:, t + 1]) - softmax(logits[:, t])); the last position gets 0")
