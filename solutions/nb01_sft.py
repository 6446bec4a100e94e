"""Solutions of notebook 01 (SFT): exercises 1 🐢 (label mask) and 2 🐕 (ROUGE-L by hand)."""

import torch

from rlhf_helpers.course.sft import lcs_length, rouge_tokens


def my_completion_only_labels(input_ids, prompt_lengths, attention_mask):
    positions = torch.arange(input_ids.shape[1])[None, :]  # (1, T)
    in_prompt = positions < torch.as_tensor(prompt_lengths)[:, None]  # (B, T)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), -100)  # a new tensor: input_ids is unchanged


def my_rouge_l_f1(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)
