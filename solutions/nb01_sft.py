"""Solutions of notebook 01 (SFT): exercises 1 🐢 (label mask) and 2 🐕 (LCS and ROUGE-L by hand)."""

import torch

from rlhf_helpers.course.sft import rouge_tokens


def my_completion_only_labels(input_ids, prompt_lengths, attention_mask):
    positions = torch.arange(input_ids.shape[1])[None, :]  # (1, T)
    in_prompt = positions < torch.as_tensor(prompt_lengths)[:, None]  # (B, T)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), -100)  # a new tensor: input_ids is unchanged


def my_lcs_length(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]  # table[i][j]: LCS of a[:i] and b[:j]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1  # the match extends the best of the shorter prefixes
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])  # drop the last word of a, or of b
    return table[len(a)][len(b)]


def my_rouge_l_f1(prediction, reference):
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = my_lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)
