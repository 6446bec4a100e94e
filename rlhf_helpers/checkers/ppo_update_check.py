"""Notebook 04's 🦁 exercise, the PPO update loop: its checker runs the learner's loop and the course's `ppo_update`
on a small random policy, from the same rollout, weights and seed, and compares the weights after the update.
(Imported by `nb04_ppo`, the notebook's checker module.)
"""

from __future__ import annotations

import math

import torch

from rlhf_helpers.checkers.core import call_learner
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss


def _tiny_policy(seed: int):
    """A small random Mistral-architecture causal LM with a LoRA adapter (its B random, so it acts) and a value head."""
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    from rlhf_helpers.course.ppo import ValueHead

    torch.manual_seed(seed)
    config = MistralConfig(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = get_peft_model(MistralForCausalLM(config), LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                                 target_modules="all-linear", init_lora_weights=False))
    head = ValueHead(config.hidden_size, inner_size=16)
    torch.nn.init.normal_(head.net[-1].weight, std=0.1)
    return model, head


def _synthetic_rollout(model, head, seed: int, B: int = 8, L: int = 4, T: int = 6):
    """A rollout of B random replies (left-padded prompts, replies of different lengths) scored by `model`."""
    from rlhf_helpers.course.ppo_rollout import Rollout, forward_logprobs_values

    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 48, (B, L + T), generator=g)
    prompt_mask = (torch.arange(L)[None, :] >= torch.randint(0, L - 1, (B, 1), generator=g)).long()  # left padding
    response_mask = (torch.arange(T)[None, :] < torch.randint(1, T + 1, (B, 1), generator=g)).long()  # (B, T)
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    with torch.no_grad():
        logprobs, values, _ = forward_logprobs_values(model, head, input_ids, attention_mask, T)
    ref = logprobs - 0.3 * torch.rand(B, T, generator=g)
    scores = 2 * torch.randn(B, generator=g)
    return Rollout([""] * B, [""] * B, input_ids, attention_mask, response_mask, logprobs, ref, values,
                   torch.zeros(B, T), scores)


def _update_cases():
    """(seed, PPOConfig) pairs: several epochs and mini-batches; a tight ε and gradient norm so clipping bites."""
    from rlhf_helpers.course.ppo import PPOConfig

    return [(0, PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=2, learning_rate=3e-2, value_learning_rate=3e-2)),
            (1, PPOConfig(batch_size=8, mini_batch_size=2, ppo_epochs=3, learning_rate=3e-2, value_learning_rate=1e-1,
                          clip_eps=0.05, clip_value=0.1, max_grad_norm=0.05))]


def _weights_after(update_fn, seed: int, config) -> dict:
    """The trainable weights (adapter and value head) after `update_fn` on a fresh copy of case `seed`."""
    from rlhf_helpers.course.ppo import compute_advantages, make_optimizer

    model, head = _tiny_policy(seed)
    rollout = _synthetic_rollout(model, head, seed)
    adv = compute_advantages(rollout, 0.1, config)
    optimizer = make_optimizer(model, head, config)
    torch.manual_seed(seed)  # the same shuffling for every update function
    update_fn(model, head, optimizer, rollout, adv, config)
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    weights.update({f"value_head.{n}": p.detach().clone() for n, p in head.named_parameters()})
    return weights


def _largest_difference(got: dict, want: dict) -> tuple[str, float]:
    """The weight that differs most between two runs, and by how much: inf where a weight is missing, changed shape
    or holds NaN or inf (a NaN difference would compare False with any tolerance)."""
    diffs = {}
    for n, w in want.items():
        g = got.get(n)
        if g is None or g.shape != w.shape or not torch.isfinite(g).all():
            diffs[n] = math.inf
        else:
            diffs[n] = (g.double() - w.double()).abs().max().item() if w.numel() else 0.0
    name = max(diffs, key=diffs.get)
    return name, diffs[name]


def _weights_problem(got: dict, want: dict) -> str | None:
    """What is wrong with the learner's weights beyond a difference of values: missing, reshaped, NaN or inf."""
    for n, w in want.items():
        g = got.get(n)
        if g is None:
            return f"{n} is no longer a trainable weight: don't freeze or replace the model's weights"
        if g.shape != w.shape:
            return f"{n} changed shape from {tuple(w.shape)} to {tuple(g.shape)}"
        if not torch.isfinite(g).all():
            return (f"{n} holds NaN or infinite values after your update: a loss that became NaN (0/0, log of 0) "
                    f"or a step without gradient clipping")
    return None


def _update_variant(shuffle=True, zero_grad=True, value_loss=True, clip_ratio=True, clip_grads="separate"):
    """A PPO update loop with one ingredient switched off: the common mistakes of the 🦁 exercise.

    clip_grads: "separate" (right: policy and value head each to max_grad_norm), "global" (one norm over
    both, so the value head can shrink the policy's step) or None (no clipping).
    """
    def update(model, value_head, optimizer, rollout, adv, config):
        from rlhf_helpers.course.ppo import clip_grad_norms
        from rlhf_helpers.course.ppo_math import clipped_value_loss
        from rlhf_helpers.course.ppo_rollout import forward_logprobs_values

        B, T = rollout.response_mask.shape
        for _ in range(config.ppo_epochs):
            order = torch.randperm(B) if shuffle else torch.arange(B)
            for idx in order.split(config.mini_batch_size):
                mask = rollout.response_mask[idx]
                logp, values, _ = forward_logprobs_values(model, value_head, rollout.input_ids[idx],
                                                          rollout.attention_mask[idx], T, config.temperature)
                eps = config.clip_eps if clip_ratio else 1e9
                pg_loss, _ = clipped_surrogate_loss(logp, rollout.logprobs[idx], adv["advantages"][idx], mask, eps)
                vf_loss, _ = clipped_value_loss(values, rollout.values[idx], adv["returns"][idx], mask,
                                                config.clip_value)
                loss = pg_loss + config.vf_coef * vf_loss if value_loss else pg_loss
                if zero_grad:
                    optimizer.zero_grad()
                loss.backward()
                if clip_grads == "separate":
                    clip_grad_norms(model, value_head, config.max_grad_norm)
                elif clip_grads == "global":
                    params = [p for group in optimizer.param_groups for p in group["params"]]
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
    return update


UPDATE_MISTAKES = {
    "the mini-batches must be shuffled each epoch: order = torch.randperm(B), then order.split(mini_batch_size)":
        _update_variant(shuffle=False),
    "optimizer.zero_grad() before each backward: otherwise gradients pile up across mini-batches":
        _update_variant(zero_grad=False),
    "the value head did not learn: add config.vf_coef * value loss to the loss": _update_variant(value_loss=False),
    "the policy ratio is not clipped: pass config.clip_eps to clipped_surrogate_loss": _update_variant(clip_ratio=False),
    "the gradients are not clipped: clip_grad_norms(model, value_head, config.max_grad_norm) before the step":
        _update_variant(clip_grads=None),
    "one global gradient norm lets the value head shrink the policy's step: clip the two separately (clip_grad_norms)":
        _update_variant(clip_grads="global"),
}


def check_ppo_update(fn) -> bool | None:
    """Exercise 🦁: `fn(model, value_head, optimizer, rollout, adv, config)` against the course's `ppo.ppo_update`.

    Both run from the same rollout, the same initial weights and the same seed (torch.manual_seed just
    before the call, so `torch.randperm` shuffles alike) on a small random policy; the adapter and
    value-head weights after the update must agree.
    """
    with torch.random.fork_rng(devices=[]):  # the cases seed torch: the notebook's own random stream stays as it was
        return _check_ppo_update(fn)


def _check_ppo_update(fn) -> bool | None:
    from rlhf_helpers.course.ppo import ppo_update

    name = "PPO update loop"
    for i, (seed, config) in enumerate(_update_cases()):
        want = _weights_after(ppo_update, seed, config)
        status, got = call_learner(name, f"case {i + 1}", _weights_after, fn, seed, config)
        if status is not True:
            return status
        try:
            problem = _weights_problem(got, want)
            weight, diff = _largest_difference(got, want)
        except Exception as err:  # weights the learner's code left in an odd state: report, don't raise
            problem, weight, diff = f"its weights could not be read ({type(err).__name__}: {err})", "", math.inf
        if problem:
            print(f"❌ {name}: case {i + 1} of {len(_update_cases())}: {problem}.")
            return False
        if not diff <= 1e-5:
            likely = next((hint for hint, wrong in UPDATE_MISTAKES.items()
                           if _largest_difference(_weights_after(wrong, seed, config), got)[1] <= 1e-5), None)
            hint = likely or ("compare your loop with the text: shuffled mini-batches each epoch, the two losses "
                              "summed, gradients zeroed then clipped (policy and critic separately), one step")
            print(f"❌ {name}: case {i + 1} of {len(_update_cases())} (ppo_epochs={config.ppo_epochs}, "
                  f"mini_batch_size={config.mini_batch_size}, clip_eps={config.clip_eps}, "
                  f"max_grad_norm={config.max_grad_norm}): after the update {weight} differs from the course's by "
                  f"up to {diff:.3g}.\n   hint: {hint}")
            return False
    print(f"✅ {name}: the same weights as the course's ppo_update on {len(_update_cases())} cases.")
    return True
