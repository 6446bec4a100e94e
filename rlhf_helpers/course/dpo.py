"""Around the DPO math (notebook 05): the metrics TRL's `DPOTrainer` logs, the batch-mean loss and the autograd
gradient w.r.t. the logits that the exercises are checked against, the held-out margins of every pair, and the cast
that makes a 4-bit model trained by `DPOTrainer` usable for generation again. The math itself is `dpo_math.py`."""

from __future__ import annotations

from rlhf_helpers.course.dpo_math import dpo_loss, dpo_margin, sequence_logprobs
# DPOTrainer keeps a 4-bit model's trainable weights in bf16; notebook 05 casts them back with this before `generate`
from rlhf_helpers.infra.precision import trainable_params_to_fp32  # noqa: F401

# What DPOTrainer logs (TRL 1.16), in the order the notebook plots them; evaluation adds the prefix "eval_".
DPO_METRICS = ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"]


def dpo_loss_value(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """The batch-mean DPO loss only (the first value of `dpo_math.dpo_loss`): the answer to exercise 2."""
    return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)[0]


def autograd_dpo_logits_grad(logits, labels, loss_mask, ref_logps, beta):
    """Gradient of the batch-mean DPO loss w.r.t. the policy's logits, by autograd: exercise 3's answer.

    The batch is laid out as `DPOTrainer` builds it: rows 0..B-1 are prompt + chosen, rows B..2B-1 prompt +
    rejected of the same pairs. The reference log-probs are constants.

    Args:
        logits: (2B, T, V) the policy's logits. labels, loss_mask: (2B, T), as for `sequence_logprobs`.
        ref_logps: (2B,) the reference's sequence log-probs, same row order. beta: DPO temperature.
    Returns:
        (2B, T, V) d loss / d logits, in the logits' dtype.
    """
    import torch

    leaf = logits.detach().clone().requires_grad_(True)
    policy_chosen, policy_rejected = sequence_logprobs(leaf, labels, loss_mask).chunk(2)
    ref_chosen, ref_rejected = ref_logps.detach().chunk(2)
    loss = dpo_loss_value(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)
    (grad,) = torch.autograd.grad(loss, leaf)
    return grad


def held_out_margins(model, dataloader, beta, logprobs=sequence_logprobs):
    """The DPO margin z of every pair in `dataloader` (a `DPOTrainer` evaluation dataloader), from `sequence_logprobs`.

    The policy is `model` with its adapters on, the reference the same model with them off. `logprobs` is the
    sequence log-prob function (the notebook passes the learner's when it passed its check). Each batch holds
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
            policy = logprobs(model(input_ids=ids, attention_mask=attention).logits, ids, mask)
            with model.disable_adapter():
                reference = logprobs(model(input_ids=ids, attention_mask=attention).logits, ids, mask)
            margins.append(dpo_margin(*policy.chunk(2), *reference.chunk(2), beta).cpu())
    return torch.cat(margins)
