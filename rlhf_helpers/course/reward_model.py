"""Reward-model building blocks for notebooks 02 (BERT) and 03 (GPT-2): LoRA configs, pair encoding,
dynamic padding, the `score` helper, a BERT reward head started from the next-sentence head, and the wrong-post
check (does the reward model read the post?).

The math (pairwise loss, last-token index, accuracy with ties counted wrong) lives in `reward_math.py`; the
comparison data (split by prompt, long pairs dropped, summary-only and wrong-post pairs) in `reward_data.py`;
the exercise checkers in `checkers/nb02_reward_bert.py` and `nb03_reward_gpt2.py`. A reward model maps one
(prompt, response) text to one scalar: a sequence-classification model with `num_labels=1`.
"""

from __future__ import annotations

from typing import Sequence

# LoRA targets per architecture (names of nn.Linear / Conv1D modules inside the model).
BERT_LORA_TARGETS = ["query", "key", "value", "attention.output.dense"]  # every attention projection
GPT2_LORA_TARGETS = ["attn.c_attn", "attn.c_proj"]  # GPT-2's fused q/k/v projection and its output projection
# The randomly initialised head on top: `classifier` in BERT/RoBERTa, `score` in GPT-2/Llama/Mistral.
REWARD_HEADS = {"bert": ["classifier"], "roberta": ["classifier"], "gpt2": ["score"]}


def reward_lora_config(target_modules: Sequence[str], head: Sequence[str], r: int = 16, alpha: int = 32,
                       dropout: float = 0.05, extra_modules_to_save: Sequence[str] = ()):
    """A LoRA config for a reward model whose scalar head is trained fully and saved with the adapter.

    Args:
        target_modules: module names that get low-rank adapters (e.g. BERT_LORA_TARGETS).
        head: the head's module name(s), e.g. ["classifier"]; put in `modules_to_save`.
        r: rank of each update ΔW = B A (A: r x d_in, B: d_out x r).
        alpha: scale; the update is multiplied by alpha / r.
        dropout: dropout on the adapter's input.
        extra_modules_to_save: more modules trained fully and saved (e.g. BERT's "pooler").
    Returns:
        peft.LoraConfig with task_type="SEQ_CLS".
    """
    from peft import LoraConfig

    if not head:
        raise ValueError("name the reward head (e.g. head=['classifier'] for BERT, ['score'] for GPT-2): "
                         "without it in modules_to_save a reloaded model gets a new random head")
    # GPT-2's projections are Conv1D layers, which store their weight transposed (in, out): peft must know,
    # else it warns and corrects the setting itself
    conv1d = any(name in GPT2_LORA_TARGETS for name in target_modules)
    return LoraConfig(task_type="SEQ_CLS", r=r, lora_alpha=alpha, lora_dropout=dropout, fan_in_fan_out=conv1d,
                      target_modules=list(target_modules), modules_to_save=list(head) + list(extra_modules_to_save))


def tokenize_text_pairs(tokenizer, max_length: int):
    """A `dataset.map` function: (prompt, chosen/rejected) rows -> `chosen_ids`/`rejected_ids` as text pairs.

    An encoder reads `[CLS] post [SEP] summary [SEP]`. `truncation="only_first"` shortens the post, never
    the summary, so a long post cannot push the part being judged out of the window.
    """
    def encode(row):
        chosen = tokenizer(row["prompt"], row["chosen"], truncation="only_first", max_length=max_length)
        rejected = tokenizer(row["prompt"], row["rejected"], truncation="only_first", max_length=max_length)
        return {"chosen_ids": chosen["input_ids"], "rejected_ids": rejected["input_ids"]}

    return encode


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, side: str = "right", pad_to: int | None = None):
    """Pad token-id lists into one batch: to the longest in the batch (dynamic) or to `pad_to` (fixed).

    Args:
        sequences: B lists of token ids.
        pad_id: the padding token's id.
        side: "right" (training, classification) or "left" (generation).
        pad_to: a fixed length (e.g. 512); None pads to the longest sequence of this batch.
    Returns:
        (input_ids, attention_mask), both (B, T) long tensors; the mask is 1 on real tokens.
    """
    import torch

    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if len(sequences) == 0:
        raise ValueError("pad_batch got no sequences: pass at least one list of token ids")
    longest = max(len(s) for s in sequences)
    length = longest if pad_to is None else pad_to
    if length < longest:
        raise ValueError(f"a sequence has {longest} tokens, more than pad_to={pad_to}: truncate first")
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for i, seq in enumerate(sequences):
        n = len(seq)
        cols = slice(0, n) if side == "right" else slice(length - n, length)
        ids[i, cols] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[i, cols] = 1
    return ids, mask


def score(model, tokenizer, prompts: Sequence[str], responses: Sequence[str] | None = None, *,
          batch_size: int = 32, max_length: int = 512, add_eos: bool = False):
    """Raw scalar rewards for a batch of texts (no softmax, no sigmoid): one float per text.

    Two ways to call it, matching how the model was trained:
      * encoder (BERT): `score(model, tok, posts, summaries)` reads each as a text pair, post truncated first;
      * decoder (GPT-2): `score(model, tok, full_texts, add_eos=True)` reads whole texts and appends EOS,
        as `RewardTrainer` does for string datasets.
    Texts are padded per batch (dynamic padding, always on the right, whatever the tokenizer's
    `padding_side`; the setting is restored afterwards); the model reads its score at the right place
    itself ([CLS] for BERT, the last non-pad token for GPT-2), so a reward does not depend on its batch.

    Returns:
        (N,) float tensor on the CPU.
    """
    import torch

    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if isinstance(responses, str):
        responses = [responses]
    if responses is not None and len(responses) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses: pass one response per prompt")
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad token: set tokenizer.pad_token = tokenizer.eos_token (GPT-2)")
    texts = [p + tokenizer.eos_token for p in prompts] if add_eos else prompts
    device = next(model.parameters()).device
    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "right"  # left padding would shift GPT-2's absolute positions and change the score
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                part = texts[start:start + batch_size]
                pairs = None if responses is None else list(responses[start:start + batch_size])
                enc = tokenizer(part, pairs, padding=True, truncation="only_first" if pairs else True,
                                max_length=max_length, return_tensors="pt").to(device)
                enc.pop("token_type_ids", None)  # RewardTrainer's collator does not pass them either
                out.append(model(**enc).logits.squeeze(-1).float().cpu())  # (b,)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def score_token_pairs(model, dataset, pad_id: int, batch_size: int = 64):
    """Rewards of every pair of a tokenised preference dataset (`chosen_ids`, `rejected_ids` columns).

    Returns:
        (r_chosen, r_rejected), two (N,) float tensors.
    """
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rewards = {}
    with torch.no_grad():
        for column in ("chosen_ids", "rejected_ids"):
            parts = []
            for start in range(0, len(dataset), batch_size):
                ids, mask = pad_batch(dataset[start:start + batch_size][column], pad_id)
                parts.append(model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.squeeze(-1).cpu())
            rewards[column] = torch.cat(parts)
    model.train(was_training)
    return rewards["chosen_ids"], rewards["rejected_ids"]


def two_label_reward(logits):
    """The widespread mistake: a 2-label classifier's `softmax(logits)[:, 1]` read as a reward.

    It equals sigmoid(l1 - l0): one scalar squashed into (0, 1), so large rewards all become ~1.0.
    Args:
        logits: (B, 2).
    Returns:
        (B,) probabilities of class 1.
    """
    return logits.softmax(dim=-1)[:, 1]


def reward_head_from_next_sentence(model, checkpoint) -> None:
    """Start a BERT reward model's one-output head as BERT's next-sentence head: reward = its "is next" log-odds.

    BERT's pretraining head `cls.seq_relationship` gives two logits, (text B follows text A, B is random text), from
    the pooled [CLS] vector h. Their difference (w0 - w1)·h + (b0 - b1) is one linear map of h with one output: the
    shape of the reward head, so the head can start there instead of at random. Changes `model.classifier` in place.

    Args:
        model: a `BertForSequenceClassification` with num_labels=1, loaded from `checkpoint`.
        checkpoint: the BERT checkpoint (hub id or folder) whose pretraining heads to read.
    """
    import torch
    from transformers import BertForPreTraining

    from rlhf_helpers.infra.quiet import load_report_off

    head = getattr(model, "classifier", None)
    if head is None or tuple(head.weight.shape) != (1, model.config.hidden_size):
        shape = None if head is None else tuple(head.weight.shape)
        raise ValueError(f"expected a BERT reward model with one output (a classifier of shape "
                         f"(1, {model.config.hidden_size})), got {shape}: load it with "
                         "AutoModelForSequenceClassification.from_pretrained(..., num_labels=1)")
    with load_report_off():
        nsp = BertForPreTraining.from_pretrained(checkpoint).cls.seq_relationship  # (2, hidden): is next, random
    with torch.no_grad():
        head.weight.copy_(nsp.weight[:1] - nsp.weight[1:])
        head.bias.copy_(nsp.bias[:1] - nsp.bias[1:])


def own_summary_win_rate(model, tokenizer, prompts: Sequence[str], summaries: Sequence[str], max_length: int = 512,
                         ) -> float:
    """The wrong-post check: how often a post's own summary outscores another post's summary, next to that post.

    Summary i is scored next to post i, and so is summary i+1 (the last post gets the first summary). Both summaries
    are scored next to the same post, as the pairwise loss compares them; ties count half (`toxicity_metrics.win_rate`),
    so a model that ignores the post scores about 0.5.
    """
    from rlhf_helpers.course.toxicity_metrics import win_rate

    summaries = list(summaries)
    others = summaries[1:] + summaries[:1]
    return win_rate(score(model, tokenizer, prompts, summaries, max_length=max_length),
                    score(model, tokenizer, prompts, others, max_length=max_length))
