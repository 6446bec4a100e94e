"""Notebook 05 (DPO): its exercise checkers, the gradient formula at the parameter level, padding, and a
short DPOTrainer + LoRA run checking what the notebook relies on (logged metrics, reference = adapters off).

The pure math (sequence_logprobs, dpo_loss against a hand-computed case and against TRL's _compute_loss)
is tested in test_dpo_math.py.
"""

import random

import pytest
import torch
import torch.nn.functional as F

from rlhf_helpers.course.dpo import DPO_METRICS, autograd_dpo_logits_grad, dpo_loss_value, trainable_params_to_fp32
from rlhf_helpers.checkers.nb05_dpo import check_dpo_logits_grad, check_dpo_loss, check_sequence_logprobs
from rlhf_helpers.course.dpo_math import dpo_loss, dpo_loss_grad_wrt_logps, dpo_margin, sequence_logprobs


# --------------------------------------------------------------------------- checker: sequence log-probs
def _no_shift(logits, labels, loss_mask):  # scores logits[t] against labels[t]
    logps = logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return (logps * loss_mask).sum(-1)


def _no_prompt_mask(logits, labels, loss_mask):  # counts the prompt too (only padding masked)
    real = torch.ones_like(loss_mask)
    for b in range(loss_mask.shape[0]):
        last = int(loss_mask[b].nonzero().max()) if loss_mask[b].any() else -1
        real[b, last + 1:] = 0
    return sequence_logprobs(logits, labels, real)


def _mean_not_sum(logits, labels, loss_mask):
    return sequence_logprobs(logits, labels, loss_mask) / loss_mask[:, 1:].sum(-1).clamp(min=1)


def _crash_on_minus_100(logits, labels, loss_mask):
    logps = logits[:, :-1].log_softmax(-1).gather(-1, labels[:, 1:, None])[..., 0]
    return (logps * loss_mask[:, 1:]).sum(-1)


def test_check_sequence_logprobs_accepts_reference(capsys):
    assert check_sequence_logprobs(sequence_logprobs) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [_no_shift, _no_prompt_mask, _mean_not_sum, _crash_on_minus_100])
def test_check_sequence_logprobs_rejects_wrong(wrong, capsys):
    assert check_sequence_logprobs(wrong) is False
    assert "❌" in capsys.readouterr().out


def test_check_skipped_exercise_returns_none(capsys):
    def not_done(*args):
        raise NotImplementedError

    assert check_sequence_logprobs(not_done) is None  # None: the cell shows no bare False
    assert check_dpo_loss(not_done) is None
    assert check_dpo_logits_grad(not_done) is None
    assert capsys.readouterr().out.count("⏭") == 3


# --------------------------------------------------------------------------- checker: DPO loss
def _log_of_sigmoid(pc, pr, rc, rr, beta):  # underflows to -inf for very negative z
    return -torch.log(torch.sigmoid(dpo_margin(pc, pr, rc, rr, beta))).mean()


def _no_reference(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * (pc - pr)).mean()


def _swapped(pc, pr, rc, rr, beta):
    return -F.logsigmoid(-dpo_margin(pc, pr, rc, rr, beta)).mean()


def _no_beta(pc, pr, rc, rr, beta):
    return -F.logsigmoid(dpo_margin(pc, pr, rc, rr, 1.0)).mean()


def test_check_dpo_loss_accepts_reference_and_plain_version(capsys):
    assert check_dpo_loss(dpo_loss_value) is True

    def plain(pc, pr, rc, rr, beta):
        z = beta * ((pc - rc) - (pr - rr))
        return F.softplus(-z).mean()  # -log sigmoid(z) = log(1 + e^-z)

    assert check_dpo_loss(plain) is True
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong", [_log_of_sigmoid, _no_reference, _swapped, _no_beta])
def test_check_dpo_loss_rejects_wrong(wrong, capsys):
    assert check_dpo_loss(wrong) is False
    assert "❌" in capsys.readouterr().out


# --------------------------------------------------------------------------- checker: gradient w.r.t. the logits
def test_autograd_logits_gradient_chains_the_logp_formula():
    """d loss/d logits = dpo_loss_grad_wrt_logps / B · loss_mask[t+1] · (onehot(label[t+1]) - softmax(logits[t]))."""
    g = torch.Generator().manual_seed(5)
    logits, labels = torch.randn(4, 6, 5, generator=g), torch.randint(0, 5, (4, 6), generator=g)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [0, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 0]])
    ref = torch.randn(4, generator=g) - 8
    got = autograd_dpo_logits_grad(logits, labels, mask, ref, 0.2)
    logps = sequence_logprobs(logits, labels, mask)
    coef = torch.cat(dpo_loss_grad_wrt_logps(logps[:2], logps[2:], ref[:2], ref[2:], 0.2)) / 2
    want = torch.zeros_like(logits)
    want[:, :-1] = coef[:, None, None] * mask[:, 1:, None] * (F.one_hot(labels[:, 1:], 5) - logits[:, :-1].softmax(-1))
    assert torch.allclose(got, want, atol=1e-6)
    assert not logits.requires_grad and got[:, -1].abs().sum() == 0  # inputs left alone; the last position: no score


def test_check_dpo_logits_grad_accepts_the_derived_formula(capsys):
    from rlhf_helpers.solutions.nb05_dpo import my_dpo_logits_grad

    assert check_dpo_logits_grad(autograd_dpo_logits_grad) is True
    assert check_dpo_logits_grad(my_dpo_logits_grad) is True
    assert capsys.readouterr().out.count("✅") == 2


def _old_exercise_per_logp(logits, labels, loss_mask, ref_logps, beta):  # stops at d loss / d log pi: wrong shape
    logps = sequence_logprobs(logits, labels, loss_mask)
    B = len(logps) // 2
    return torch.cat(dpo_loss_grad_wrt_logps(logps[:B], logps[B:], ref_logps[:B], ref_logps[B:], beta))


@pytest.mark.parametrize("wrong", [_old_exercise_per_logp])
def test_check_dpo_logits_grad_rejects_wrong(wrong, capsys):
    assert check_dpo_logits_grad(wrong) is False
    assert "❌" in capsys.readouterr().out


# --------------------------------------------------------------------------- a tiny causal LM
def _tiny_lm(seed=0, vocab=40):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


def test_parameter_gradient_formula_equals_autograd():
    """grad_theta L = -beta sigma(-z) (grad log pi(y_w|x) - grad log pi(y_l|x)), per pair, through a real model."""
    model = _tiny_lm()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 40, (2, 9), generator=g)  # row 0 = prompt + chosen, row 1 = prompt + rejected
    ids[1, :4] = ids[0, :4]  # shared 4-token prompt
    mask = torch.zeros(2, 9, dtype=torch.long)
    mask[:, 4:] = 1
    ref_c, ref_r, beta = torch.tensor([-30.0]), torch.tensor([-28.0]), 0.7
    params = list(model.parameters())

    def logps():
        return sequence_logprobs(model(input_ids=ids).logits, ids, mask)  # (2,)

    loss, _, _ = dpo_loss(logps()[:1], logps()[1:], ref_c, ref_r, beta)
    autograd = torch.autograd.grad(loss, params)

    lp = logps()
    grad_chosen = torch.autograd.grad(lp[0], params, retain_graph=True)
    grad_rejected = torch.autograd.grad(lp[1], params)
    z = dpo_margin(lp[:1].detach(), lp[1:].detach(), ref_c, ref_r, beta)
    weight = torch.sigmoid(-z).item()
    assert 0.05 < weight < 0.95  # a pair where the weight is neither ~0 nor ~1, so it is really tested
    for a, gc, gr in zip(autograd, grad_chosen, grad_rejected):
        assert torch.allclose(a, -beta * weight * (gc - gr), atol=1e-6)


def test_sequence_logprobs_of_a_padded_row_equal_the_unpadded_row():
    """Right padding (attention_mask 0, loss_mask 0) must not change a reply's log-prob through a real model."""
    model = _tiny_lm(2)
    g = torch.Generator().manual_seed(3)
    short = torch.randint(1, 40, (1, 6), generator=g)
    long = torch.randint(1, 40, (1, 10), generator=g)
    prompt_len = 3
    alone = sequence_logprobs(model(input_ids=short).logits, short,
                              (torch.arange(6) >= prompt_len).long()[None])
    pad_id = 0
    batch = torch.cat([torch.cat([short, torch.full((1, 4), pad_id)], 1), long])  # (2, 10)
    attention = torch.ones_like(batch)
    attention[0, 6:] = 0
    loss_mask = (torch.arange(10) >= prompt_len).long()[None].repeat(2, 1) * attention
    padded = sequence_logprobs(model(input_ids=batch, attention_mask=attention).logits, batch, loss_mask)
    assert torch.allclose(padded[0], alone[0], atol=1e-5)
    # and the mask matters: counting the padding as reply changes the number
    counted = sequence_logprobs(model(input_ids=batch, attention_mask=attention).logits, batch,
                                (torch.arange(10) >= prompt_len).long()[None].repeat(2, 1))
    assert not torch.isclose(counted[0], alone[0], atol=1e-3)


def test_trainable_params_to_fp32_casts_only_trainable():
    model = _tiny_lm().to(torch.bfloat16)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("lm_head"))
    assert trainable_params_to_fp32(model) == 1
    assert model.lm_head.weight.dtype == torch.float32
    assert model.model.embed_tokens.weight.dtype == torch.bfloat16
    assert trainable_params_to_fp32(model) == 0  # nothing left to cast


# --------------------------------------------------------------------------- DPOTrainer + LoRA, as in the notebook
@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory):
    """3 DPO steps on toy hh-rlhf pairs: a tiny Mistral + its chat template, LoRA + modules_to_save=["lm_head"]."""
    pytest.importorskip("trl")
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from rlhf_helpers.infra.toy.chat import hh_rlhf_row
    from rlhf_helpers.infra.toy.checkpoints import tiny_model, train_bpe, wrap_tokenizer
    from rlhf_helpers.course.formatting import hh_to_conversational

    rng = random.Random(0)
    rows = [hh_to_conversational(hh_rlhf_row(rng, p_early_divergence=0.0)) for _ in range(24)]
    texts = [m["content"] for r in rows for part in ("prompt", "chosen", "rejected") for m in r[part]]
    tokenizer = wrap_tokenizer(train_bpe(texts, vocab_size=300), "zephyr")
    model = tiny_model("mistral", tokenizer, seed=0).eval()
    base = tiny_model("mistral", tokenizer, seed=0).eval()  # an untouched copy of the starting model
    config = DPOConfig(output_dir=str(tmp_path_factory.mktemp("dpo")), max_steps=3, per_device_train_batch_size=8,
                       per_device_eval_batch_size=8, learning_rate=1e-2, beta=0.3, max_length=96, logging_steps=1,
                       save_strategy="no", report_to="none", use_cpu=True, bf16=False, activation_checkpointing=False,
                       disable_tqdm=True, seed=0)
    peft_config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", modules_to_save=["lm_head"],
                             task_type="CAUSAL_LM")
    data = Dataset.from_list(rows)
    trainer = DPOTrainer(model=model, args=config, train_dataset=data, eval_dataset=data.select(range(8)),
                         processing_class=tokenizer, peft_config=peft_config)
    trainer.train()
    return trainer, base


def test_dpo_trainer_logs_the_metrics_the_notebook_plots(dpo_run):
    trainer, _ = dpo_run
    logged = {key for entry in trainer.state.log_history for key in entry}
    assert set(DPO_METRICS) <= logged, set(DPO_METRICS) - logged


def test_reference_is_the_base_model_with_adapters_and_lm_head_copy_off(dpo_run):
    trainer, base = dpo_run
    policy = trainer.model.eval()
    ids = torch.tensor([[5, 9, 17, 23, 42, 7]])
    with torch.no_grad():
        trained = policy(input_ids=ids).logits
        with policy.disable_adapter():
            reference = policy(input_ids=ids).logits
        original = base(input_ids=ids).logits
    assert torch.allclose(reference, original, atol=1e-5)  # disabling restores the starting model exactly
    assert not torch.allclose(trained, original, atol=1e-3)  # and training did change the policy


def policy_and_reference_logps(policy, batch):
    """Per-sequence log-probs of a DPOTrainer batch under the policy and under the reference (adapters off)."""
    def logps():
        logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"])

    with torch.no_grad():
        policy_logps = logps()
        with policy.disable_adapter():
            return policy_logps, logps()


def test_our_dpo_loss_equals_the_trainers_on_one_batch(dpo_run):
    """The notebook's 'build it, then check it' cell: sequence_logprobs + dpo_loss vs trainer.compute_loss."""
    trainer, _ = dpo_run
    policy = trainer.model.eval()
    batch = next(iter(trainer.get_eval_dataloader()))
    logps, ref = policy_and_reference_logps(policy, batch)
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, batch)
    ours, chosen_r, rejected_r = dpo_loss(*logps.chunk(2), *ref.chunk(2), trainer.beta)
    assert torch.allclose(ours, trl_loss, atol=1e-5)
    assert (chosen_r - rejected_r).abs().max() > 1e-3  # the policy has moved: a non-trivial comparison


def test_held_out_margins_give_one_margin_per_pair_and_the_trainers_accuracy(dpo_run):
    """Notebook 05 counts held-out accuracy over all pairs from held_out_margins; with one batch it is the trainer's."""
    from rlhf_helpers.course.dpo import held_out_margins

    trainer, _ = dpo_run
    policy = trainer.model.eval()
    batches = list(trainer.get_eval_dataloader())
    assert len(batches) == 1  # one batch: the trainer's per-batch mean is then the share over all pairs
    margins = held_out_margins(policy, batches, trainer.beta)
    batch = batches[0]
    assert margins.shape == (len(batch["input_ids"]) // 2,) and len(margins) >= 2
    logps, ref = policy_and_reference_logps(policy, batch)
    _, chosen_r, rejected_r = dpo_loss(*logps.chunk(2), *ref.chunk(2), trainer.beta)
    assert torch.allclose(margins, chosen_r - rejected_r, atol=1e-5)
    accuracy = trainer.evaluate()["eval_rewards/accuracies"]
    assert (margins > 0).float().mean().item() == pytest.approx(accuracy)
