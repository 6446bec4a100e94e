"""Notebook 05 (DPO): exercise checkers for the from-scratch DPO pieces, and two small training helpers.

The math itself (sequence log-probs, the DPO loss, its gradient) lives in `dpo_math.py`; this module
holds what the notebook needs around it: the checkers of its three exercises, the autograd gradient the
third exercise is checked against, the metrics TRL's `DPOTrainer` logs, and the cast that makes a
4-bit model trained by `DPOTrainer` usable for generation again.
"""

from __future__ import annotations

from .dpo_math import dpo_loss, dpo_margin, sequence_logprobs
# DPOTrainer keeps a 4-bit model's trainable weights in bf16; notebook 05 casts them back with this before `generate`
from .precision import trainable_params_to_fp32  # noqa: F401

# What DPOTrainer logs (TRL 1.16), in the order the notebook plots them; evaluation adds the prefix "eval_".
DPO_METRICS = ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"]


def dpo_loss_value(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """The batch-mean DPO loss only (the first value of `dpo_math.dpo_loss`): the answer to exercise 2."""
    return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)[0]


def autograd_dpo_grad(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """Gradient of each pair's loss -log sigmoid(z) w.r.t. its two policy log-probs, by autograd.

    The loss is summed over pairs (not averaged), so pair b's gradient is d loss_b / d log pi(y|x_b).
    Exercise 3 checks the derived formula against this.

    Args:
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps: (B,) log-probs.
        beta: DPO temperature.
    Returns:
        (grad_chosen, grad_rejected): (B,) and (B,).
    """
    import torch
    import torch.nn.functional as F

    chosen = policy_chosen_logps.detach().clone().requires_grad_(True)
    rejected = policy_rejected_logps.detach().clone().requires_grad_(True)
    z = dpo_margin(chosen, rejected, ref_chosen_logps.detach(), ref_rejected_logps.detach(), beta)  # (B,)
    grad_chosen, grad_rejected = torch.autograd.grad(-F.logsigmoid(z).sum(), [chosen, rejected])
    return grad_chosen, grad_rejected


# --------------------------------------------------------------------------- exercise checks
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


def check_sequence_logprobs(fn) -> bool:
    """Exercise 1: the learner's `fn(logits, labels, loss_mask)` against `dpo_math.sequence_logprobs`."""
    from .exercises import check

    return check(fn, sequence_logprobs, _logprob_cases(), name="sequence log-probs",
                 hint="logits[:, :-1] predict labels[:, 1:]: log_softmax, gather the label's log-prob, "
                      "multiply by loss_mask[:, 1:] (0 on prompt and padding), sum over time. Replace -100 "
                      "labels before gather.")


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


def check_dpo_loss(fn) -> bool:
    """Exercise 2: the learner's `fn(pc, pr, rc, rr, beta)` (a scalar loss) against the reference DPO loss."""
    from .exercises import check

    return check(fn, dpo_loss_value, _loss_cases(), name="DPO loss",
                 hint="z = beta * ((pc - rc) - (pr - rr)); loss = mean of -log sigmoid(z). Use "
                      "torch.nn.functional.logsigmoid: torch.log(torch.sigmoid(z)) gives -inf for very negative z.")


def check_dpo_gradient(fn) -> bool:
    """Exercise 3: the learner's derived `fn(pc, pr, rc, rr, beta)` -> (grad_chosen, grad_rejected) against autograd."""
    from .exercises import check

    return check(fn, autograd_dpo_grad, _loss_cases(), name="DPO gradient vs autograd",
                 hint="d(-log sigmoid(z))/dz = -sigmoid(-z); dz/d log pi_c = beta, dz/d log pi_r = -beta. "
                      "So grad_chosen = -beta * sigmoid(-z), grad_rejected = +beta * sigmoid(-z).")
