import math
import types
from collections import defaultdict

import pytest
import torch

from rlhf_helpers.course.dpo_math import (
    dpo_grad_weight,
    dpo_loss,
    dpo_loss_grad_wrt_logps,
    dpo_margin,
    sequence_logprobs,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _batch(seed=0):
    """3 rows: different prompt lengths, right padding on two rows; mask is 1 on the response."""
    g = gen(seed)
    B, T, V = 3, 8, 11
    logits = torch.randn(B, T, V, generator=g)
    labels = torch.randint(1, V, (B, T), generator=g)
    prompt_len, total_len = [2, 3, 1], [8, 6, 5]
    loss_mask = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        loss_mask[b, prompt_len[b] : total_len[b]] = 1
        labels[b, total_len[b] :] = 0  # pad id
    return logits, labels, loss_mask


def test_sequence_logprobs_matches_naive_loop():
    logits, labels, loss_mask = _batch()
    out = sequence_logprobs(logits, labels, loss_mask)
    assert out.shape == (3,)
    for b in range(3):
        total = 0.0
        for t in range(1, labels.shape[1]):
            if loss_mask[b, t]:
                total += torch.log_softmax(logits[b, t - 1], -1)[labels[b, t]].item()
        assert math.isclose(out[b].item(), total, abs_tol=1e-5)


def test_sequence_logprobs_shift_and_masking():
    logits, labels, loss_mask = _batch(1)
    base = sequence_logprobs(logits, labels, loss_mask)
    changed = logits.clone()
    changed[:, -1] += 100 * torch.randn_like(changed[:, -1])  # last position predicts past the end
    changed[0, 0] += 100 * torch.randn_like(changed[0, 0])  # predicts a prompt token of row 0 (prompt_len 2)
    assert torch.allclose(base, sequence_logprobs(changed, labels, loss_mask))
    # the position predicting row 0's first response token does matter
    changed[0, 1] += 100 * torch.randn_like(changed[0, 1])
    assert not torch.isclose(base[0], sequence_logprobs(changed, labels, loss_mask)[0])
    # -100 labels where masked (HF convention) are accepted
    hf_labels = labels.masked_fill(loss_mask == 0, -100)
    assert torch.allclose(base, sequence_logprobs(logits, hf_labels, loss_mask))


def test_dpo_loss_hand_computed():
    beta = 0.5
    pc, pr = torch.tensor([-10.0]), torch.tensor([-12.0])
    rc, rr = torch.tensor([-11.0]), torch.tensor([-11.0])
    loss, chosen_r, rejected_r = dpo_loss(pc, pr, rc, rr, beta)
    # chosen reward 0.5*(1) = 0.5, rejected 0.5*(-1) = -0.5, z = 1, loss = log(1 + e^-1)
    assert math.isclose(chosen_r.item(), 0.5) and math.isclose(rejected_r.item(), -0.5)
    assert math.isclose(loss.item(), math.log(1 + math.exp(-1)), rel_tol=1e-6)
    assert math.isclose(dpo_margin(pc, pr, rc, rr, beta).item(), 1.0)
    # policy == reference -> z = 0 -> ln 2
    same = torch.tensor([-5.0, -7.0])
    assert math.isclose(dpo_loss(same, same + 1, same, same + 1, 0.1)[0].item(), math.log(2), rel_tol=1e-6)


def test_grad_weight_favours_wrong_pairs():
    w = dpo_grad_weight(torch.tensor([-5.0, 0.0, 5.0]))
    assert w[0] > 0.99 and math.isclose(w[1].item(), 0.5) and w[2] < 0.01


def test_analytic_gradient_equals_autograd():
    g = gen(2)
    B, beta = 6, 0.3
    pc = (torch.randn(B, generator=g) * 3 - 20).requires_grad_()
    pr = (torch.randn(B, generator=g) * 3 - 20).requires_grad_()
    rc, rr = torch.randn(B, generator=g) * 3 - 20, torch.randn(B, generator=g) * 3 - 20
    loss, _, _ = dpo_loss(pc, pr, rc, rr, beta)
    (loss * B).backward()  # per-pair losses summed: each pair's gradient lands in its own slot
    grad_c, grad_r = dpo_loss_grad_wrt_logps(pc.detach(), pr.detach(), rc, rr, beta)
    assert torch.allclose(pc.grad, grad_c, atol=1e-6)
    assert torch.allclose(pr.grad, grad_r, atol=1e-6)
    assert (grad_c < 0).all() and (grad_r > 0).all()


def test_dpo_matches_trl_dpo_trainer():
    """Run TRL 1.16's own DPOTrainer._compute_loss with a stand-in `self` and a tiny random model.

    TRL 1.16 has no standalone dpo_loss: the sigmoid loss is computed inline in
    DPOTrainer._compute_loss(self, model, inputs, return_outputs). We call that
    unbound method with a SimpleNamespace holding only the attributes it reads
    (precomputed reference log-probs, sigmoid loss, reverse KL), so TRL's own code
    does the shift, the completion masking (through its fused LM head), the sum
    and the loss.
    """
    pytest.importorskip("trl")
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.dpo_trainer import DPOTrainer
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
    )
    model = LlamaForCausalLM(cfg).eval()
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))

    # batch is [chosen_0, chosen_1, rejected_0, rejected_1]; prompt = first 3 tokens, right padding
    g = gen(3)
    attention_mask = torch.ones(4, 8, dtype=torch.long)
    attention_mask[1, 6:] = 0
    attention_mask[3, 5:] = 0
    input_ids = torch.randint(1, 32, (4, 8), generator=g) * attention_mask
    completion_mask = torch.zeros(4, 8, dtype=torch.long)
    completion_mask[:, 3:] = 1
    completion_mask = completion_mask * attention_mask
    ref_chosen, ref_rejected = torch.tensor([-20.0, -21.0]), torch.tensor([-19.0, -22.0])
    beta = 0.1

    accelerator = types.SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x, gather=lambda x: x)
    fake_self = types.SimpleNamespace(
        accelerator=accelerator, model=model, beta=beta, precompute_ref_logps=True,
        loss_types=["sigmoid"], loss_weights=[1.0], f_divergence_type="reverse_kl", ld_alpha=None,
        use_weighting=False, aux_loss_enabled=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1,
    )
    inputs = dict(
        input_ids=input_ids, attention_mask=attention_mask, completion_mask=completion_mask,
        ref_chosen_logps=ref_chosen, ref_rejected_logps=ref_rejected,
    )
    trl_loss = DPOTrainer._compute_loss(fake_self, model, inputs, False)
    trl_loss.backward()
    trl_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    # TRL's per-sequence log-probs straight from its fused head
    labels = input_ids.masked_fill(completion_mask == 0, -100)
    trl_logps = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    trl_logps = trl_logps.log_probs.sum(dim=1).detach()

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # plain forward
    logps = sequence_logprobs(logits, input_ids, completion_mask)  # (4,)
    assert torch.allclose(logps.detach(), trl_logps, atol=1e-5)
    policy_chosen, policy_rejected = logps.chunk(2)
    loss, chosen_r, rejected_r = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)
    assert torch.allclose(loss, trl_loss, atol=1e-6)
    metrics = fake_self._metrics["eval"]
    assert math.isclose(chosen_r.mean().item(), metrics["rewards/chosen"][0], abs_tol=1e-5)
    assert math.isclose(rejected_r.mean().item(), metrics["rewards/rejected"][0], abs_tol=1e-5)
    loss.backward()
    for ours, theirs in zip((p.grad for p in model.parameters()), trl_grads):
        assert torch.allclose(ours, theirs, atol=1e-6)


def _long_bf16_pairs(seed=0, B=4, T=250, V=64):
    """Policy and reference logits of B chosen and B rejected sequences, rounded to bf16 (as a bf16 model gives them).

    Each sequence log-prob is several hundred nats; policy and reference differ by about one nat per sequence."""
    g = gen(seed)
    labels = torch.randint(0, V, (2 * B, T), generator=g)
    mask = torch.ones(2 * B, T, dtype=torch.long)
    mask[:, :5] = 0  # a short prompt
    ref = (torch.randn(2 * B, T, V, generator=g) * 2).to(torch.bfloat16)
    policy = (ref.float() + 0.1 * torch.randn(2 * B, T, V, generator=g)).to(torch.bfloat16)
    return policy, ref, labels, mask


def test_sequence_logprobs_of_bf16_logits_are_computed_in_fp32():
    """bf16 holds a number near -1000 only to the nearest 8: the log-softmax and the sum must run in fp32."""
    policy, ref, labels, mask = _long_bf16_pairs()
    got = sequence_logprobs(policy, labels, mask)
    want = sequence_logprobs(policy.float(), labels, mask)  # the same bf16 values, upcast first
    assert want.abs().min() > 500  # long sequences: a bf16 sum would be rounded to multiples of 2-4 nats
    assert got.dtype == torch.float32
    assert torch.allclose(got, want, atol=1e-3), (got - want).abs().max()
    B = labels.shape[0] // 2
    pol, rf = got, sequence_logprobs(ref, labels, mask)
    pol32, rf32 = want, sequence_logprobs(ref.float(), labels, mask)
    loss = dpo_loss(pol[:B], pol[B:], rf[:B], rf[B:], 0.1)[0]
    loss32 = dpo_loss(pol32[:B], pol32[B:], rf32[:B], rf32[B:], 0.1)[0]
    assert math.isclose(loss.item(), loss32.item(), abs_tol=1e-4), (loss.item(), loss32.item())
