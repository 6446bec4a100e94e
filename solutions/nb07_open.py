"""Reference solutions of notebook 07's open exercises (More exercises): PPO on raw rewards, PPO without the
no-EOS penalty (`fresh_ppo_run(..., missing_eos_penalty=0.0)`), and a reward model trained on the comparisons alone
(no wrong-post pairs), probed and then used for PPO.
"""

import dataclasses
from collections import Counter

from rlhf_helpers.course.reward_data import add_wrong_post_pairs  # noqa: F401  (the wrong-post pairs of notebook 07)
from rlhf_helpers.course.summarize_rlhf import fresh_ppo_run  # noqa: F401  (PPO from a fresh SFT copy, as in section 9)


def raw_reward_fn(reward_model, tokenizer, max_length):
    """🐕 The summary reward without normalisation: raw r(x, y), no reference summary subtracted."""
    from rlhf_helpers.course.summarize_rlhf import SummaryReward

    return SummaryReward(reward_model, tokenizer, max_length=max_length)


def word_shift(before, after, n=8):
    """🐕 The `n` words that gained and lost most occurrences from `before` to `after` (section 8)."""
    count_before, count_after = Counter(" ".join(before).split()), Counter(" ".join(after).split())
    shift = {w: count_after[w] - count_before[w] for w in count_before | count_after}
    return sorted(shift, key=shift.get, reverse=True)[:n], sorted(shift, key=shift.get)[:n]


def train_reward_model(model_path, tokenizer, rm_config, rm_train, rm_test, device, output_name):
    """🦁 Section 3's reward model from `model_path` (the notebook passes the SFT model) on `rm_train`; returns
    (model, eval metrics)."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1).to(device)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = dataclasses.replace(rm_config, output_dir=str(rm_config.output_dir) + f"_{output_name}")
    trainer = RewardTrainer(model=model, args=args, train_dataset=rm_train, eval_dataset=rm_test,
                            processing_class=tokenizer)
    trainer.train()
    return trainer.model, trainer.evaluate()
