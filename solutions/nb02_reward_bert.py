"""Solutions of notebook 02 (BERT reward model): dynamic padding 🐢, preference accuracy 🐢, the wrong-post check 🐕."""

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


def my_wrong_post_win_rate(reward_fn, prompts, summaries):
    others = list(summaries[1:]) + list(summaries[:1])  # the next post's summary; the last post takes the first's
    own, other = reward_fn(prompts, summaries), reward_fn(prompts, others)  # both next to the SAME post
    return ((own > other).float() + 0.5 * (own == other).float()).mean().item()  # a tie counts half
