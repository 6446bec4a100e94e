"""Reference solutions of notebook 03's open exercises (More exercises): frozen layers, a per-token reward-model
loss, and UltraFeedback's scores as a margin.
"""

import dataclasses

import torch
import torch.nn.functional as F


def last_block_lora(S, n_layer):
    """🐕 LoRA on the last transformer block only (GPT-2's blocks are `transformer.h.<i>`)."""
    from rlhf_helpers.course.reward_model import GPT2_LORA_TARGETS, REWARD_HEADS, reward_lora_config

    lora = reward_lora_config(GPT2_LORA_TARGETS, head=REWARD_HEADS["gpt2"], r=S.lora_r, alpha=S.lora_alpha,
                              dropout=S.lora_dropout)
    return dataclasses.replace(lora, layers_to_transform=[n_layer - 1], layers_pattern="h")


def head_only(model):
    """🐕 Freeze the whole body and train only the scalar head: pass the model to RewardTrainer without peft_config."""
    model.requires_grad_(False)
    model.score.requires_grad_(True)
    return model


def per_token_values(scratch, input_ids, attention_mask):
    """🦁 The scratch model's head at every position, before `reward_at`: (B, T)."""
    hidden = scratch.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
    return scratch.head(hidden).squeeze(-1)                                                      # (B, T)


def per_token_pairwise_loss(values_c, values_r, ids_c, ids_r, mask_c, mask_r):
    """🦁 The per-token reward-model loss of trlx's summarisation example, on right-padded batches.

    For each pair, from the first position where the two token sequences differ to the end of the longer one
    (the shorter text's values extended with its last value): mean_t[-log σ(v_c(t) - v_r(t))]; then the mean
    over pairs. Before that position both texts are the same prefix, so a causal model gives v_c(t) = v_r(t)
    there: those positions add only a constant ln 2 and no gradient. A pair of identical texts has no such
    position and contributes nothing.

    Args:
        values_c, values_r: (B, Tc), (B, Tr) head outputs. ids_c, ids_r, mask_c, mask_r: the matching tokens and masks.
    Returns:
        Scalar tensor (0 when every pair is identical).
    """
    losses = []
    for b in range(values_c.shape[0]):
        n_c, n_r = int(mask_c[b].sum()), int(mask_r[b].sum())
        n = min(n_c, n_r)
        differ = (ids_c[b, :n] != ids_r[b, :n]).nonzero()
        start, end = (int(differ[0]) if len(differ) else n), max(n_c, n_r)
        if start >= end:
            continue  # the same text twice: nothing to compare
        v_c = torch.cat([values_c[b, :n_c], values_c[b, n_c - 1].expand(end - n_c)])  # (end,)
        v_r = torch.cat([values_r[b, :n_r], values_r[b, n_r - 1].expand(end - n_r)])  # (end,)
        losses.append(-F.logsigmoid(v_c[start:end] - v_r[start:end]).mean())
    return torch.stack(losses).mean() if losses else values_c.sum() * 0.0


def train_per_token(scratch, optimizer, train_c, train_r, pad_id, steps, batch_size, seed, device="cpu"):
    """🦁 Section 6's loop with the per-token loss; returns the losses. Judge it with `scratch_rewards` as before."""
    from rlhf_helpers.course.reward_model import pad_batch

    generator, losses = torch.Generator().manual_seed(seed), []
    scratch.train()
    for _ in range(steps):
        idx = torch.randint(len(train_c), (batch_size,), generator=generator).tolist()
        ids_c, mask_c = pad_batch([train_c[i] for i in idx], pad_id)
        ids_r, mask_r = pad_batch([train_r[i] for i in idx], pad_id)
        v_c = per_token_values(scratch, ids_c.to(device), mask_c.to(device))
        v_r = per_token_values(scratch, ids_r.to(device), mask_r.to(device))
        loss = per_token_pairwise_loss(v_c, v_r, ids_c.to(device), ids_r.to(device), mask_c, mask_r)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def ultrafeedback_with_margin(rows, as_text, scale=1.0):
    """🦁 UltraFeedback pairs as texts plus TRL's `margin` column, `scale` · (score_chosen - score_rejected).

    RewardTrainer then minimises -log σ(r_c - r_r - margin) (Touvron et al. 2023, Llama 2, eq. 2): a pair rated
    far apart must be separated by more reward units before its loss stops pushing.
    """
    return rows.map(lambda row: {**as_text(row), "margin": scale * (float(row["score_chosen"]) - float(row["score_rejected"]))},
                    remove_columns=rows.column_names)
