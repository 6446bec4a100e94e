"""Reference solutions of notebook 04's open exercises (More exercises): PPO-ptx, the adaptive KL controller
and a reward model trained on polite-vs-rude pairs only.
"""

import dataclasses
import random

import torch

from rlhf_helpers.course.ppo import clip_grad_norms, compute_advantages
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss, clipped_value_loss
from rlhf_helpers.course.ppo_rollout import collect_rollout, forward_logprobs_values


def tokenize_right(tokenizer, texts, max_length):
    """Texts as (input_ids, attention_mask), right-padded: position ids then count real tokens without help."""
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                    padding_side="right")
    return enc.input_ids, enc.attention_mask


def ptx_batches(tokenizer, texts, batch_size, max_length, seed=0):
    """🦁 "Pretraining" batches for PPO-ptx: a function that returns a fresh random batch of `texts` per call."""
    rng, texts = random.Random(seed), list(texts)
    return lambda: tokenize_right(tokenizer, rng.sample(texts, batch_size), max_length)


def ptx_nll(model, input_ids, attention_mask):
    """🦁 Mean next-token negative log-likelihood of real (unpadded) tokens: -mean log π(x_t | x_<t).

    PPO-ptx (Ouyang et al. 2022, InstructGPT, eq. 2) maximises γ·E[log π(x)] on pretraining text, so the
    minimised loss gains + γ · this value (the same as - γ · mean log π).
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()  # (B, T-1, V)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]         # (B, T-1)
    mask = attention_mask[:, 1:].to(logp.dtype)  # position t predicts token t+1; padding is not a target
    return -(logp * mask).sum() / mask.sum()


def ppo_ptx_update(model, value_head, optimizer, rollout, adv, config, next_ptx_batch, gamma):
    """🦁 Exercise 4's PPO update with the pretraining term: loss = pg + vf_coef · vf + γ · NLL(pretraining batch)."""
    B, T = rollout.response_mask.shape
    device = rollout.input_ids.device
    for _ in range(config.ppo_epochs):
        for idx in torch.randperm(B).split(config.mini_batch_size):
            mask = rollout.response_mask[idx]
            logp, values, _ = forward_logprobs_values(model, value_head, rollout.input_ids[idx],
                                                      rollout.attention_mask[idx], T, config.temperature)
            pg_loss, _ = clipped_surrogate_loss(logp, rollout.logprobs[idx], adv["advantages"][idx], mask,
                                                config.clip_eps)
            vf_loss, _ = clipped_value_loss(values, rollout.values[idx], adv["returns"][idx], mask, config.clip_value)
            loss = pg_loss + config.vf_coef * vf_loss
            if gamma:
                ids, att = next_ptx_batch()
                loss = loss + gamma * ptx_nll(model, ids.to(device), att.to(device))  # adapter on: the policy
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norms(model, value_head, config.max_grad_norm)
            optimizer.step()


def train_ppo_ptx(model, value_head, optimizer, tokenizer, queries, reward_fn, config, iterations, next_ptx_batch,
                  gamma, held_out=None):
    """🦁 A few PPO-ptx iterations (fixed β); returns one dict per iteration: score, KL, and the held-out NLL.

    `held_out` is an (input_ids, attention_mask) batch of held-out dialogues; its NLL is logged each iteration.
    """
    rng, history = random.Random(config.seed), []
    for step in range(iterations):
        batch = [queries[i] for i in rng.choices(range(len(queries)), k=config.batch_size)]
        rollout = collect_rollout(model, value_head, tokenizer, batch, reward_fn, config)
        adv = compute_advantages(rollout, config.beta, config)
        ppo_ptx_update(model, value_head, optimizer, rollout, adv, config, next_ptx_batch, gamma)
        row = {"step": step, "score": rollout.scores.mean().item(), "kl": adv["kl"].sum(dim=1).mean().item()}
        if held_out is not None:
            with torch.no_grad():
                row["held_out_nll"] = ptx_nll(model, *(t.to(rollout.input_ids.device) for t in held_out)).item()
        history.append(row)
    return history


def adaptive_kl_config(config, kl_target=2.0, horizon_factor=1.0):
    """🐕 The notebook's PPOConfig with β adapted towards `kl_target` (Ziegler et al. 2019); horizon × factor."""
    return dataclasses.replace(config, adaptive_kl=True, kl_target=kl_target,
                               kl_horizon=max(1, int(config.kl_horizon * horizon_factor)))


def new_policy(P, lora):
    """The 4-bit base with a fresh LoRA adapter, as in section 6 (section 11 deleted the notebook's own)."""
    from peft import get_peft_model

    from rlhf_helpers.course.quantization import load_4bit_causal_lm

    return get_peft_model(load_4bit_causal_lm(P.models["zephyr"], P.device), lora)


def fresh_run(policy, lora, tokenizer, queries, reward_fn, config, iterations, name="exercise", seed=0, keep=False):
    """A run from a fresh adapter and value head, as section 9's `fresh_run`, with any PPOConfig.

    With `keep=True` the trained adapter stays active (to sample from it); otherwise it is deleted afterwards.
    """
    from rlhf_helpers.course.ppo import ValueHead, train_ppo

    torch.manual_seed(seed)
    policy.add_adapter(name, lora)
    policy.set_adapter(name)
    head = ValueHead(policy.config.hidden_size).to(policy.device)
    history = train_ppo(policy, head, tokenizer, queries, reward_fn, config, iterations=iterations)
    if not keep:
        policy.set_adapter("default")
        policy.delete_adapter(name)
    return history


def last_reply(transcript):
    """The text of an hh-rlhf transcript's last assistant turn."""
    return transcript.rsplit("\n\nAssistant:", 1)[-1].strip()


def polite_vs_rude(dataset, is_rude=None):
    """🦁 Keep only the pairs whose rejected reply is rude (in `tiny`, contains an insult word: `rlhf_helpers.infra.toy.is_toxic`).

    In `full`, pass `is_rude=lambda text: toxicity.compute(predictions=[text])["toxicity"][0] >= 0.5`.
    """
    if is_rude is None:
        from rlhf_helpers.infra.toy import is_toxic as is_rude
    return dataset.filter(lambda row: is_rude(last_reply(row["rejected"])))
