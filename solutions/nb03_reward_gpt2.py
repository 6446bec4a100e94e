"""Solutions of notebook 03 (GPT-2 reward model): the pairwise loss and the reward at the last real token."""

import torch
import torch.nn.functional as F


def my_pairwise_loss(r_chosen, r_rejected):
    return -F.logsigmoid(r_chosen - r_rejected).mean()  # logsigmoid stays finite where log(sigmoid(x)) is -inf


def my_last_token_reward(values, input_ids, attention_mask, pad_token_id):
    T = attention_mask.shape[1]  # only the mask says what is padding: GPT-2's pad id is also its (real) EOS
    last = (attention_mask * torch.arange(T, device=attention_mask.device)).argmax(dim=-1)  # (B,) last 1 of the mask
    return values[torch.arange(values.shape[0], device=values.device), last]
