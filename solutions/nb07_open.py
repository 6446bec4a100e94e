"""Reference solutions of notebook 07's open exercises (More exercises): raw rewards, other β, a reward model
from plain GPT-2, and a reward model trained on wrong-post comparisons.
"""

import dataclasses
from collections import Counter

import torch

from rlhf_helpers.reward_model import add_wrong_post_pairs  # noqa: F401  (the wrong-post pairs of notebook 07)


def fresh_ppo_run(sft_path, device, tokenizer, queries, reward_fn, config, iterations, **changes):
    """PPO from a fresh copy of the SFT model (policy and frozen reference), with PPOConfig fields changed.

    Returns (policy, history); score the policy with the notebook's `evaluate(policy)`.
    """
    from transformers import AutoModelForCausalLM

    from rlhf_helpers.ppo import ValueHead, train_ppo

    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    policy = AutoModelForCausalLM.from_pretrained(sft_path, **no_dropout).to(device)
    reference = AutoModelForCausalLM.from_pretrained(sft_path, **no_dropout).to(device).eval().requires_grad_(False)
    config = dataclasses.replace(config, **changes)
    torch.manual_seed(config.seed)
    head = ValueHead(policy.config.hidden_size).to(device)
    history = train_ppo(policy, head, tokenizer, queries, reward_fn, config, iterations=iterations, ref_model=reference,
                        track={"distinct": lambda texts: len(set(texts)) / len(texts)})  # as in section 7
    return policy, history


def raw_reward_fn(reward_model, tokenizer, max_length):
    """🐕 The summary reward without normalisation: raw r(x, y), no reference summary subtracted."""
    from rlhf_helpers.summarize_rlhf import SummaryReward

    return SummaryReward(reward_model, tokenizer, max_length=max_length)


def word_shift(before, after, n=8):
    """🐕 The `n` words that gained and lost most occurrences from `before` to `after` (section 8)."""
    count_before, count_after = Counter(" ".join(before).split()), Counter(" ".join(after).split())
    shift = {w: count_after[w] - count_before[w] for w in count_before | count_after}
    return sorted(shift, key=shift.get, reverse=True)[:n], sorted(shift, key=shift.get)[:n]


def train_reward_model(model_path, tokenizer, rm_config, rm_train, rm_test, device, output_name):
    """🦁 Section 3's reward model from `model_path` (e.g. `P.models["gpt2"]`); returns (model, eval metrics)."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1).to(device)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = dataclasses.replace(rm_config, output_dir=str(rm_config.output_dir) + f"_{output_name}")
    trainer = RewardTrainer(model=model, args=args, train_dataset=rm_train, eval_dataset=rm_test,
                            processing_class=tokenizer)
    trainer.train()
    return trainer.model, trainer.evaluate()
