"""Short pretraining of the toy world's tiny models, so the notebooks start from models that can do something.

Used by `world.py`: next-token training of the chat model (on `pretraining_text.py`'s pairs), a toxicity classifier,
and BERT's own recipe (masked LM + next-sentence prediction) for the BERT that notebook 02's reward model starts
from, run in a second process (`start_in_a_process`) beside the chat model's. The models themselves are
`checkpoints.py`.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

from .checkpoints import save, tiny_model, wrap_tokenizer


def _batches(n: int, batch_size: int, steps: int, seed: int):
    rng = random.Random(seed)
    for _ in range(steps):
        yield rng.sample(range(n), min(batch_size, n))


def _train(model, batch_inputs, n: int, steps: int, lr: float, batch_size: int, seed: int,
           decay: bool = False, hold: float = 0.0) -> list[float]:
    """AdamW on `model(**batch_inputs(indices)).loss` for `steps` random batches; returns the loss per step.

    decay: lower the learning rate linearly to 0 over the run (a better model for the same number of steps);
    hold: with decay, keep it constant for this share of the steps first, then lower it linearly to 0.
    """
    import torch

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    start = int(hold * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: (1 - max(0, step - start) / (steps - start)) if decay else 1.0)
    model.train()
    losses = []
    for idx in _batches(n, batch_size, steps, seed):
        loss = model(**batch_inputs(idx)).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def train_causal_lm(model, tokenizer, texts: list[str], steps: int, lr: float, batch_size: int, seed: int,
                    decay: bool = False, loss_after: str | None = None) -> list[float]:
    """Plain next-token training on `texts`, padded per batch (padding ignored); returns the loss per step.

    loss_after: a special token (e.g. "<|assistant|>"): only the tokens after its last occurrence carry loss,
    so the model learns to reply rather than to write the user's messages.
    """
    import torch

    after_id = tokenizer.convert_tokens_to_ids(loss_after) if loss_after else None

    def batch_inputs(idx):
        enc = tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt")
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        if after_id is not None:
            pos = torch.arange(labels.shape[1])
            last = torch.where(enc.input_ids == after_id, pos, -1).max(dim=1, keepdim=True).values  # (B, 1)
            labels = labels.masked_fill(pos <= last, -100)
        return dict(enc, labels=labels)

    return _train(model, batch_inputs, len(texts), steps, lr, batch_size, seed, decay)


def train_classifier(model, tokenizer, texts: list[str], labels: list[int], steps: int, lr: float,
                     batch_size: int, seed: int) -> list[float]:
    """Plain cross-entropy training of a sequence classifier, padded per batch; returns the loss per step."""
    import torch

    y = torch.tensor(labels)

    def batch_inputs(idx):
        return dict(tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt"), labels=y[idx])

    return _train(model, batch_inputs, len(texts), steps, lr, batch_size, seed)


def pair_tensors(tokenizer, id_pairs: list[tuple[list[int], list[int]]]) -> dict:
    """BERT's inputs for text pairs given as token ids: [CLS] a [SEP] b [SEP], right-padded to the longest.

    The same tensors as the toy tokenizer's `tokenizer(texts_a, texts_b, padding=True, return_tensors="pt")` (input ids
    and attention mask; no segment ids, as the reward notebooks train without them), without tokenising the texts again
    at every step (`train_bert_pretraining` tokenises each text once).
    """
    import torch

    seqs = [([tokenizer.cls_token_id, *a, tokenizer.sep_token_id], [*b, tokenizer.sep_token_id]) for a, b in id_pairs]
    width = max(len(a) + len(b) for a, b in seqs)
    enc = {"input_ids": torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long),
           "attention_mask": torch.zeros(len(seqs), width, dtype=torch.long)}
    for row, (a, b) in enumerate(seqs):
        enc["input_ids"][row, :len(a) + len(b)] = torch.tensor(a + b)
        enc["attention_mask"][row, :len(a) + len(b)] = 1
    return enc


def train_bert_pretraining(model, tokenizer, pairs: list[tuple[str, str]], steps: int, lr: float, batch_size: int,
                           seed: int, mask_prob: float = 0.15, nsp_prob: float = 0.5, short_firsts: list[str] | None = None,
                           p_short: float = 0.0, mask_prob_b: float | None = None, decay_after: float | None = None
                           ) -> list[float]:
    """BERT's own pretraining recipe on (text_a, text_b) pairs; returns the loss per step.

    Masked LM: `mask_prob` of the real (non-special) tokens of text_a (`mask_prob_b` of text_b's; default the same)
    are picked and predicted; of those 80 % become the mask token, 10 % a random token and 10 % stay as they are
    (so the model also learns to check tokens it can see). Next-sentence prediction: with probability `nsp_prob`
    text_b is swapped for the text_b of another pair (label 1, "not next"), which trains the pooler.
    `model` is a `BertForPreTraining`.

    A curriculum (short_firsts, p_short): each example's text_a is the short text `short_firsts[i]` instead of
    `pairs[i][0]` with a probability that falls linearly from 1 at the first step to `p_short` at the last. A tiny
    model from scratch does not learn within a thousand steps to compare text_b with a long text_a (a whole post:
    NSP stays at chance); on short texts it learns to compare, and the comparison carries over to the long ones.
    decay_after: the share of the steps after which the learning rate falls linearly to 0 (None: constant).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    special = torch.tensor(sorted(tokenizer.all_special_ids))
    mask_prob_b = mask_prob if mask_prob_b is None else mask_prob_b

    step = iter(range(steps))

    texts = sorted({t for pair in pairs for t in pair} | set(short_firsts or []))
    token_ids = dict(zip(texts, tokenizer(texts, add_special_tokens=False).input_ids))  # each text tokenised once

    def encode(rows):
        """Masked-LM and next-sentence inputs for rows of (text_a, text_b, not_next), padded to their longest.

        The texts were tokenised once, up front (`pair_tensors`).
        """
        enc = pair_tensors(tokenizer, [(token_ids[a], token_ids[b]) for a, b, _ in rows])
        ids = enc["input_ids"].clone()
        in_b = (ids == tokenizer.sep_token_id).int().cumsum(dim=1) >= 1  # after the first [SEP]: text_b
        maskable = enc["attention_mask"].bool() & ~torch.isin(ids, special)
        prob = torch.where(in_b, mask_prob_b, mask_prob)
        picked = (torch.rand(ids.shape, generator=gen) < prob) & maskable
        u = torch.rand(ids.shape, generator=gen)
        random_ids = torch.randint(len(tokenizer), ids.shape, generator=gen)
        ids[picked & (u < 0.8)] = tokenizer.mask_token_id
        ids[picked & (u >= 0.8) & (u < 0.9)] = random_ids[picked & (u >= 0.8) & (u < 0.9)]
        return dict(enc, input_ids=ids, labels=enc["input_ids"].masked_fill(~picked, -100),
                    next_sentence_label=torch.tensor([n for _, _, n in rows]))

    def batch_inputs(idx):
        short = 1.0 - (1.0 - p_short) * next(step) / steps if short_firsts else 0.0
        rows = {True: [], False: []}  # by "text_a is short"
        for i in idx:
            is_short = rng.random() < short
            j = rng.randrange(len(pairs)) if rng.random() < nsp_prob else i
            rows[is_short].append((short_firsts[i] if is_short else pairs[i][0], pairs[j][1],
                                   int(pairs[j][1] != pairs[i][1])))
        # Short and whole texts are padded apart: one batch padded to its longest post would spend most of its
        # compute on the padding of the short texts (the model is small enough that compute, not overhead, dominates).
        return dict(parts=[encode(r) for r in rows.values() if r])

    class MaskedOnly(torch.nn.Module):
        """`BertForPreTraining`'s loss over the parts of a batch, with the vocabulary head applied to the masked
        tokens only (a third faster): the masked-LM loss averages over all masked tokens, next-sentence over all rows."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, parts):
            ce = torch.nn.functional.cross_entropy
            mlm, nsp, n_masked, n_rows = 0.0, 0.0, 0, 0
            for part in parts:
                enc = {k: v for k, v in part.items() if k not in ("labels", "next_sentence_label")}
                sequence, pooled = self.bert.bert(**enc, return_dict=False)[:2]
                picked = part["labels"] != -100
                if picked.any():
                    mlm = mlm + ce(self.bert.cls.predictions(sequence[picked]), part["labels"][picked], reduction="sum")
                nsp = nsp + ce(self.bert.cls.seq_relationship(pooled), part["next_sentence_label"], reduction="sum")
                n_masked, n_rows = n_masked + int(picked.sum()), n_rows + len(pooled)
            return SimpleNamespace(loss=mlm / max(n_masked, 1) + nsp / n_rows)

    return _train(MaskedOnly(model), batch_inputs, len(pairs), steps, lr, batch_size, seed,
                  decay=decay_after is not None, hold=decay_after or 0.0)


def pretrain_and_save_bert(bpe_json: str, pairs: list[tuple[str, str]], short_firsts: list[str], settings: dict,
                           seed: int, path: str, probe: list[tuple[str, str]]) -> tuple[list[float], float]:
    """Build the tiny BERT, pretrain it (`train_bert_pretraining`) and save it to `path`.

    Self-contained (a tokenizer as JSON, plain lists), so the toy world can run it in a second process, beside
    the chat model's pretraining. One thread: the same bytes for a seed on every machine.
    Returns the loss per step and the share of `probe` pairs (text_a, its own text_b), none of them trained on,
    whose own text_b the next-sentence head finds likelier than the next pair's text_b: 0.5 = it ignores text_a.
    """
    import torch
    from tokenizers import Tokenizer

    torch.set_num_threads(1)
    tok = wrap_tokenizer(Tokenizer.from_str(bpe_json), "bert")
    # Pretrained without dropout: a tiny model underfits rather than overfits, and dropout (on the hidden states and
    # the attention weights) took about a third of each step. Saved with bert-base-uncased's dropout of 0.1.
    bert = tiny_model("bert", tok, seed, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    losses = train_bert_pretraining(bert, tok, pairs, settings["steps"], settings["lr"], settings["batch_size"], seed,
                                    short_firsts=short_firsts, p_short=settings["p_short"],
                                    mask_prob_b=settings["mask_prob_b"], decay_after=settings["decay_after"])
    firsts, seconds = [a for a, _ in probe], [b for _, b in probe]
    with torch.no_grad():
        is_next = [bert(**tok(firsts, b, padding=True, return_tensors="pt")).seq_relationship_logits.log_softmax(-1)[:, 0]
                   for b in (seconds, seconds[1:] + seconds[:1])]
    bert.config.hidden_dropout_prob = bert.config.attention_probs_dropout_prob = 0.1
    save(bert, tok, Path(path))
    return losses, (is_next[0] > is_next[1]).float().mean().item()


def start_in_a_process(function, kwargs: dict):
    """Start `function(**kwargs)` in a fresh Python process; returns a callable that waits and returns its result.

    A plain subprocess, not `multiprocessing`: its "spawn" start re-runs the caller's main script in the child, so
    a learner's script that builds the toy world at top level (without `if __name__ == "__main__":`) would start
    building it again, in a loop. Arguments and result travel as JSON (lists, not tuples).
    """
    import json
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="toy-world-job-"))
    folder.joinpath("args.json").write_text(json.dumps(kwargs))
    code = (f"import json; from {function.__module__} import {function.__name__} as job; "
            f"result = job(**json.loads(open({str(folder / 'args.json')!r}).read())); "
            f"open({str(folder / 'result.json')!r}, 'w').write(json.dumps(result))")
    package_root = str(Path(__file__).resolve().parents[3])  # the folder that holds rlhf_helpers/
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    log = open(folder / "log.txt", "w")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)

    def result():
        try:
            if proc.wait() != 0:
                tail = folder.joinpath("log.txt").read_text()[-2000:]
                raise RuntimeError(f"{function.__name__} failed in its own process (exit code {proc.returncode}):\n{tail}")
            return json.loads(folder.joinpath("result.json").read_text())
        finally:
            log.close()
            shutil.rmtree(folder, ignore_errors=True)

    return result
