"""Reward-model building blocks for notebooks 02 (BERT) and 03 (GPT-2): LoRA configs, pair encoding,
dynamic padding, the `score` helper and a small from-scratch reward model.

The math (pairwise loss, last-token index, accuracy with ties counted wrong) lives in `reward_math.py`;
the exercise checkers in `checkers/nb02_reward_bert.py` and `nb03_reward_gpt2.py`. A reward model maps one (prompt, response) text to one
scalar: a sequence-classification model with `num_labels=1`.
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


def summary_only_pairs(dataset, seed: int = 0):
    """Comparisons whose rejected summary is the chosen one, broken in a way the summary alone shows.

    Each row keeps its post and its chosen summary; the rejected summary becomes the chosen one with its words
    shuffled or cut to its first half (notebook 02's contrast). Nothing in such data needs the post: a reward model
    trained on it can rank every pair without reading the post. "TL;DR:" prefixes are kept.
    """
    import random

    rng = random.Random(seed)

    def corrupt(row):
        prefix, _, text = row["chosen"].rpartition("TL;DR:")
        words = text.split()
        if len(words) < 2:
            raise ValueError(f"a chosen summary of {len(words)} word(s) cannot be shuffled or cut: {row['chosen']!r}")
        if rng.random() < 0.5:
            broken = words[: len(words) // 2]
        else:
            broken = words[:]
            while broken == words:
                broken = rng.sample(words, len(words))
        return {"rejected": (prefix + "TL;DR: " if "TL;DR:" in row["chosen"] else "") + " ".join(broken)}

    return dataset.map(corrupt)


def add_wrong_post_pairs(dataset, share: float = 1.0, seed: int = 0, tries: int = 50):
    """The comparisons plus wrong-post pairs: (post i, its chosen summary ≻ the chosen summary of another post).

    Both summaries of such a pair are good summaries, so nothing in the summaries alone ranks them: a reward model
    must compare each summary with the post. A reward model trained only on comparisons whose rejected summaries
    are bad on their own (too short, repeated, off-topic) can rank those well without reading the post.

    Args:
        dataset: rows with `prompt`, `chosen` and `rejected` (other columns are kept, copied from row i).
        share: wrong-post pairs to add per row: `round(share * len(dataset))` pairs in all. Up to 1, one pair for
            each of that many rows, drawn at random; 2 gives every row two pairs, with partners drawn apart.
        seed: seeds which rows get a pair and which other post each one gets. Each whole pass over the rows draws
            from its own stream (seed, seed + 1000, ...), so a larger share keeps the pairs of a smaller one.
        tries: random draws per row to find a partner with another post and another chosen summary (the real
            comparisons hold many rows per post, so a random row is often the same post).
    Returns:
        The dataset with the new rows appended after the original ones; rows that found no partner get none and
        are counted in a printed line.
    """
    import random

    from datasets import concatenate_datasets

    from rlhf_helpers.course.formatting import check_columns

    if not share >= 0.0:
        raise ValueError(f"share={share}: give the number of wrong-post pairs per row, 0 or more "
                         "(0 adds none, 1 adds one per row, 2 two per row)")
    check_columns(dataset, ["prompt", "chosen", "rejected"], name="comparisons")
    n_new = round(share * len(dataset))
    if n_new == 0:
        return dataset
    prompts, chosen = dataset["prompt"], dataset["chosen"]
    picked, partners = [], []
    for start in range(0, n_new, len(dataset)):  # one pass over the rows per whole unit of share
        rng = random.Random(seed + 1000 * (start // len(dataset)))
        for i in sorted(rng.sample(range(len(dataset)), min(n_new - start, len(dataset)))):
            for _ in range(tries):
                j = rng.randrange(len(dataset))
                if prompts[j] != prompts[i] and chosen[j].strip() != chosen[i].strip():
                    picked.append(i)
                    partners.append(chosen[j])
                    break
    if not picked:
        raise ValueError(f"no row of {len(dataset)} found another post with another chosen summary in {tries} tries: "
                         "wrong-post pairs need comparisons of at least two different posts")
    if len(picked) < n_new:
        print(f"{n_new - len(picked)} of {n_new} rows found no other post with another summary in {tries} tries: "
              "they get no wrong-post pair")
    wrong = dataset.select(picked).map(lambda row, k: {"rejected": partners[k]}, with_indices=True)
    return concatenate_datasets([dataset, wrong])


def split_by_prompt(dataset, test_size: int, seed: int = 0, column: str = "prompt"):
    """Split a dataset into "train" and "test" so that no prompt of the test split occurs in the train split.

    A random row split puts a prompt that occurs in several rows on both sides, and "held-out" accuracy then
    measures memory. Here whole groups of rows with the same `column` go to "test" (prompts in a shuffled order,
    seeded) until it holds at least `test_size` rows. Returns a `datasets.DatasetDict`.
    """
    import random

    from datasets import DatasetDict

    prompts = sorted(set(dataset[column]))
    if test_size >= len(dataset):
        raise ValueError(f"test_size={test_size} leaves no training rows out of {len(dataset)}: choose a smaller n_eval")
    random.Random(seed).shuffle(prompts)
    counts: dict[str, int] = {}
    for prompt in dataset[column]:
        counts[prompt] = counts.get(prompt, 0) + 1
    test_prompts, n = set(), 0
    for prompt in prompts:
        if n >= test_size:
            break
        test_prompts.add(prompt)
        n += counts[prompt]
    in_test = [prompt in test_prompts for prompt in dataset[column]]
    return DatasetDict(train=dataset.select([i for i, t in enumerate(in_test) if not t]),
                       test=dataset.select([i for i, t in enumerate(in_test) if t]))


def filter_long_pairs(dataset, tokenizer, max_length: int, columns=("chosen", "rejected")):
    """Drop rows where any of `columns` is longer than `max_length` tokens (EOS included); print the count.

    `RewardTrainer` drops such pairs silently; doing it first lets us see how many go.
    """
    from rlhf_helpers.course.lengths import drop_long, text_pair_lengths

    return drop_long(dataset, text_pair_lengths(tokenizer, dataset[columns[0]], dataset[columns[1]]), max_length,
                     "pairs")


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
