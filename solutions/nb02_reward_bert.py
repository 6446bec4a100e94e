"""Solutions of notebook 02 (BERT reward model): dynamic padding and preference accuracy."""

import torch


def my_pad_batch(sequences, pad_id):
    T = max(len(s) for s in sequences)  # the longest row of THIS batch
    input_ids = torch.full((len(sequences), T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), T), dtype=torch.long)
    for i, seq in enumerate(sequences):
        input_ids[i, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        attention_mask[i, :len(seq)] = 1
    return input_ids, attention_mask


def my_preference_accuracy(r_chosen, r_rejected):
    return (r_chosen > r_rejected).float().mean()  # strict >: a tie counts as wrong
