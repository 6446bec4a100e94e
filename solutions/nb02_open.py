"""Reference solutions of notebook 02's open exercises (More exercises): the frozen pooler, the centring term
(the notebook's solution sets `center_rewards_coefficient` in its RewardConfig; the loss it adds is below),
wrong-post pairs.
"""

import dataclasses

import torch
import torch.nn.functional as F

# 🦁 wrong-post pairs: notebook 07 uses them in its main reward model, so they live in the course package
from rlhf_helpers.course.reward_data import add_wrong_post_pairs  # noqa: F401


def trainer_without_pooler(P, S, config, tokenizer, train_ds, lr_factor=3.0):
    """🐕 The notebook's RewardTrainer with BERT's pooler frozen (not in modules_to_save) and lr × `lr_factor`."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from rlhf_helpers.course.reward_model import BERT_LORA_TARGETS, REWARD_HEADS, reward_lora_config

    lora = reward_lora_config(BERT_LORA_TARGETS, head=REWARD_HEADS["bert"], r=S.lora_r, alpha=S.lora_alpha,
                              dropout=S.lora_dropout)  # no extra_modules_to_save: the pooler stays frozen
    model = AutoModelForSequenceClassification.from_pretrained(P.models["bert"], num_labels=1)
    args = dataclasses.replace(config, learning_rate=config.learning_rate * lr_factor,
                               output_dir=str(P.output_dir() / "frozen_pooler"))
    return RewardTrainer(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer, peft_config=lora)


def count_ties(r_chosen, r_rejected):
    """🐕 Held-out pairs whose two rewards are exactly equal, and the share of rewards at the largest value."""
    rewards = torch.cat([r_chosen, r_rejected])
    return int((r_chosen == r_rejected).sum()), (rewards == rewards.max()).float().mean().item()


def centred_pairwise_loss(r_chosen, r_rejected, coefficient):
    """🦁 RewardTrainer's loss with `center_rewards_coefficient` (Eisenstein et al. 2023, eq. 2).

    loss = mean(-log σ(r_c - r_r)) + coefficient · mean((r_c + r_r)²). The first term sees only differences,
    the second only sums: it pulls the rewards' origin towards 0 without changing their order.
    """
    return -F.logsigmoid(r_chosen - r_rejected).mean() + coefficient * ((r_chosen + r_rejected) ** 2).mean()
