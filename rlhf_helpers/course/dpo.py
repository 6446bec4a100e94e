"""Around the DPO math (notebook 05): the metrics TRL's `DPOTrainer` logs, the batch-mean loss and the
autograd gradient the exercises are checked against, the held-out margins of every pair, and the cast that
makes a 4-bit model trained by `DPOTrainer` usable for generation again. The math itself is `dpo_math.py`."""

from __future__ import annotations

from rlhf_helpers.course.dpo_math import dpo_loss, dpo_margin, sequence_logprobs
# DPOTrainer keeps a 4-bit model's trainable weights in bf16; notebook 05 casts them back with this before `generate`
from rlhf_helpers.infra.precision import trainable_params_to_fp32  # noqa: F401

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


def held_out_margins(model, dataloader, beta):
    """The DPO margin z of every pair in `dataloader` (a `DPOTrainer` evaluation dataloader), from `sequence_logprobs`.

    The policy is `model` with its adapters on, the reference the same model with them off. Each batch holds
    prompt + chosen in its first half and prompt + rejected in its second, as `DPOTrainer` builds it.
    Notebook 05 counts its held-out accuracy from these (z > 0) over all pairs: the trainer's `eval_rewards/accuracies`
    averages the per-batch shares, which differs slightly when the last batch is smaller.

    Returns:
        (N,) z per pair, on the CPU.
    """
    import torch

    margins = []
    with torch.no_grad():
        for batch in dataloader:
            ids, attention, mask = (batch[k].to(model.device) for k in ("input_ids", "attention_mask", "completion_mask"))
            policy = sequence_logprobs(model(input_ids=ids, attention_mask=attention).logits, ids, mask)
            with model.disable_adapter():
                reference = sequence_logprobs(model(input_ids=ids, attention_mask=attention).logits, ids, mask)
            margins.append(dpo_margin(*policy.chunk(2), *reference.chunk(2), beta).cpu())
    return torch.cat(margins)
