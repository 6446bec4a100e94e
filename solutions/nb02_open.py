"""Reference solutions of notebook 02's open exercises (More exercises): the frozen pooler, the centring term
(the notebook's solution sets `center_rewards_coefficient` in its RewardConfig; the loss it adds is below),
wrong-post pairs.
"""

import dataclasses

import torch
import torch.nn.functional as F

# 🦁 wrong-post pairs: notebook 07 uses them in its main reward model, so they live in the course package
from rlhf_helpers.course.reward_data import add_wrong_post_pairs  # noqa: F401
from rlhf_helpers.course.reward_model import score


def trainer_without_pooler(P, S, config, tokenizer, train_ds, lr_factor=3.0):
    """🐕 The notebook's RewardTrainer with BERT's pooler frozen (not in modules_to_save) and lr × `lr_factor`."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from rlhf_helpers.course.reward_model import BERT_LORA_TARGETS, REWARD_HEADS, reward_lora_config
    from rlhf_helpers.infra.quiet import load_report_off

    lora = reward_lora_config(BERT_LORA_TARGETS, head=REWARD_HEADS["bert"], r=S.lora_r, alpha=S.lora_alpha,
                              dropout=S.lora_dropout)  # no extra_modules_to_save: the pooler stays frozen
    with load_report_off():  # the notebook showed this report in section 2
        model = AutoModelForSequenceClassification.from_pretrained(P.models["bert"], num_labels=1)
    args = dataclasses.replace(config, learning_rate=config.learning_rate * lr_factor,
                               output_dir=str(P.output_dir() / "frozen_pooler"))
    return RewardTrainer(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer, peft_config=lora)


@torch.no_grad()
def pooler_saturation(model, tokenizer, prompts, summaries, max_length, threshold=0.99):
    """🐕 The share of the pooler's outputs (tanh) with |value| > `threshold`: where tanh is flat, over these texts."""
    pooler = next(module for name, module in model.named_modules() if name.endswith("pooler"))  # the outermost
    outputs = []
    hook = pooler.register_forward_hook(lambda module, inputs, output: outputs.append(output.float().cpu()))
    try:
        score(model, tokenizer, prompts, summaries, max_length=max_length)
    finally:
        hook.remove()
    return (torch.cat(outputs).abs() > threshold).float().mean().item()


def centred_pairwise_loss(r_chosen, r_rejected, coefficient):
    """🦁 RewardTrainer's loss with `center_rewards_coefficient` (Eisenstein et al. 2023, eq. 2).

    loss = mean(-log σ(r_c - r_r)) + coefficient · mean((r_c + r_r)²). The first term sees only differences,
    the second only sums: it pulls the rewards' origin towards 0 without changing their order.
    """
    return -F.logsigmoid(r_chosen - r_rejected).mean() + coefficient * ((r_chosen + r_rejected) ** 2).mean()
