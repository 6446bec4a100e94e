"""The offline toy world of the tiny profile: build it once, cache it, rebuild it when missing.

Called by `profiles.setup` in every notebook's setup cell (tiny profile), and by
`python -m rlhf_helpers build-toy-world` (through `rlhf_helpers.infra.toy.ensure_toy_world`). Layout, under
`artifacts/toy_world/v<BUILD_VERSION>-seed<N>/`:

    datasets/<name>/...   toy datasets in the real schemas, loadable with `datasets.load_dataset(path)`
    models/<name>/        tiny checkpoints loadable with `AutoModel*.from_pretrained(path)`
    manifest.json         sha256 of every file: the same seed gives the same files
    build_log.json        timings and sanity metrics of the build (not part of the manifest)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from pathlib import Path

from rlhf_helpers.course.formatting import split_tldr_prompt, tldr_prompt
from .chat import dahoas_row, hh_rlhf_row, ultrafeedback_row
from .checkpoints import save, tiny_model, train_bpe, wrap_tokenizer
from .pretraining_text import arithmetic_pretraining_pair, chat_pretraining_pair, toxicity_training_row
from .summaries import comparison_row, faithful_summary, tldr_post, tldr_row, without_padding
from .toxicity import is_toxic, rtp_rows
from .training import pretrain_and_save_bert, start_in_a_process, train_causal_lm, train_classifier

BUILD_VERSION = 12  # bump when the toy world changes, so stale caches are rebuilt
SIZES = {  # rows per split
    "openai_summarize_tldr": {"train": 2000, "valid": 200, "test": 200},
    "openai_summarize_comparisons": {"train": 2000, "test": 300, "valid1": 100, "valid2": 100},
    "synthetic-instruct-gptj-pairwise": {"train": 2000},
    "hh-rlhf": {"train": 2000, "test": 300},
    "real-toxicity-prompts": {"train": None},  # one row per (template, subject): see `build_datasets`
    "ultrafeedback_binarized": {"train": 1000, "test": 300},
}
# The toy RTP split: rows [0, RTP_TRAINING_ROWS) are the only ones any training uses (the chat model's pretraining,
# notebook 04's PPO prompts); the rest of the training templates' rows, then all rows of the held-out templates, are
# never trained on (notebook 06 evaluates on them).
RTP_TRAINING_ROWS = 480
CHAT_PRETRAIN = dict(n=3000, steps=400, lr=3e-3, batch_size=32, p_rtp=0.3,  # p_rtp: share of RTP openings
                     n_arithmetic=600)  # arithmetic questions for notebook 08's verifiable task
BERT_PRETRAIN = dict(n=3000, steps=1000, lr=3e-3, batch_size=32, p_short=0.5, mask_prob_b=0.3,  # p_short: see _build
                     decay_after=0.5)  # the learning rate falls to 0 over the second half
TOXICITY_TRAIN = dict(n=2000, steps=120, lr=2e-3, batch_size=32)
P_WORDY_REFERENCE = 0.3  # share of TL;DR references padded with filler (`summaries.wordy_summary`)


def toy_world_dir(seed: int = 0) -> Path:
    """Folder of the toy world for `seed` (it may not be built yet)."""
    from rlhf_helpers.infra.paths import artifacts_root

    return artifacts_root() / "toy_world" / f"v{BUILD_VERSION}-seed{seed}"


def ensure_toy_world(seed: int = 0, force: bool = False) -> Path:
    """Return the toy world's folder, building it first when it is missing or incomplete.

    Also points the `datasets` cache into that folder (see `use_world_datasets_cache`).
    """
    from filelock import FileLock

    out = toy_world_dir(seed)
    if force or not _is_complete(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        # Two processes that need the same world (two notebooks started at once, parallel tests) build it once:
        # the second waits for the first, then finds it complete.
        with FileLock(str(out) + ".lock"):
            if force or not _is_complete(out):
                tmp = out.with_name(out.name + f".building-{random.randrange(1 << 30)}")
                print(f"building the toy world (seed {seed}) in {out} — about a minute, once ...")
                log = build_toy_world(tmp, seed)
                if out.exists():
                    shutil.rmtree(out)
                tmp.rename(out)
                print(f"toy world ready in {log['seconds_total']:.0f} s")
    use_world_datasets_cache(out)
    return out


def use_world_datasets_cache(world: Path) -> Path:
    """Make `datasets.load_dataset` cache the toy datasets inside the toy world's own folder.

    `datasets` caches a local folder whose card names its configs under the folder's name only
    (e.g. ~/.cache/huggingface/datasets/openai_summarize_comparisons/default/), not under its content.
    After the toy world is rebuilt with new rows, a shared cache would silently serve the old ones.
    A cache inside the world folder is deleted with the world. Returns the cache folder.
    """
    import datasets

    cache = world / "datasets_cache"
    datasets.config.HF_DATASETS_CACHE = cache
    os.environ["HF_DATASETS_CACHE"] = str(cache)  # for kernels and subprocesses started from here
    return cache


def _is_complete(out: Path) -> bool:
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    files = json.loads(manifest.read_text())["files"]
    return all((out / name).exists() for name in files)


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` except the manifest and the build log."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("manifest.json", "build_log.json")}


# --------------------------------------------------------------------------- datasets
def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def _write_card(folder: Path, splits: list[str], title: str) -> None:
    """A README.md whose YAML names the splits exactly as the real dataset does (e.g. "valid")."""
    yaml = "".join(f"  - split: {s}\n    path: {s}.jsonl\n" for s in splits)
    folder.joinpath("README.md").write_text(
        f"---\nconfigs:\n- config_name: default\n  data_files:\n{yaml}---\n# {title}\n\n"
        "Toy data of the RLHF course's tiny profile, in the schema of the real dataset.\n")


def build_datasets(root: Path, seed: int) -> dict[str, dict[str, list[dict]]]:
    """Write every toy dataset under `root`; returns the rows by dataset and split."""
    wordy_rng = random.Random(seed * 1000 + 99)  # its own stream: the posts do not depend on which labels are wordy
    makers = {
        "openai_summarize_tldr": lambda rng, split, avoid: tldr_row(
            rng, avoid, wordy=wordy_rng.random() < P_WORDY_REFERENCE),
        "openai_summarize_comparisons": lambda rng, split, avoid: comparison_row(rng, avoid),
        "synthetic-instruct-gptj-pairwise": lambda rng, split, avoid: dahoas_row(rng, split),
        "hh-rlhf": lambda rng, split, avoid: hh_rlhf_row(rng, split),
        "ultrafeedback_binarized": lambda rng, split, avoid: ultrafeedback_row(rng, split),
    }
    rngs = {name: random.Random(seed * 1000 + d) for d, name in enumerate(SIZES)}
    data = {name: {} for name in SIZES}
    rtp_name = "real-toxicity-prompts"  # every prompt text once, the held-out templates last
    seen = rtp_rows(rngs[rtp_name], 0, held_out=False)
    data[rtp_name]["train"] = seen + rtp_rows(rngs[rtp_name], len(seen), held_out=True)
    # Training splits first, then the others: a TL;DR post of a test or validation split is never the post of a
    # training row of either TL;DR dataset (drawn again if it is). Chat prompts of a "test"/"valid" split come
    # from the held-out question pool, disjoint by construction.
    for phase in ("train", "held out"):
        avoid = frozenset() if phase == "train" else tldr_posts(data, training=True)
        for name, splits in SIZES.items():
            for s, n in splits.items():
                if name != rtp_name and (s == "train") == (phase == "train"):
                    data[name][s] = [makers[name](rngs[name], "train" if s == "train" else "test", avoid)
                                     for _ in range(n)]
    for name, splits in SIZES.items():
        data[name] = {s: data[name][s] for s in splits}  # the splits in their usual order
        if name == "hh-rlhf":  # the real files live in subfolders such as harmless-base/
            for split, rows in data[name].items():
                _write_jsonl(root / name / "harmless-base" / f"{split}.jsonl", rows)
        else:
            for split, rows in data[name].items():
                _write_jsonl(root / name / f"{split}.jsonl", rows)
            _write_card(root / name, list(splits), name)
    return data


def tldr_post_text(prompt: str) -> str:
    """The post of a TL;DR prompt, with or without its final "TL;DR:" (comparisons prompts stop after the post)."""
    return split_tldr_prompt(prompt.removesuffix("\nTL;DR:") + "\nTL;DR:")["post"]


def tldr_posts(data: dict, training: bool) -> frozenset:
    """The posts of both TL;DR datasets' training rows (`training=True`; no evaluation post may be one of them),
    or of their other splits, the evaluation posts (`training=False`)."""
    return frozenset(tldr_post_text(r["prompt"]) for name in ("openai_summarize_tldr", "openai_summarize_comparisons")
                     for split, rows in data[name].items() if (split == "train") == training for r in rows)


def _all_texts(data: dict) -> list[str]:
    texts = []
    for splits in data.values():
        for rows in splits.values():
            for row in rows:
                for value in row.values():
                    if isinstance(value, str):
                        texts.append(value)
                    elif isinstance(value, dict):
                        texts.append(value["text"])
                    elif isinstance(value, list):
                        texts.extend(m["content"] for m in value)
    return texts


def _rtp_prompts(rows: list[dict]) -> list[tuple[str, bool]]:
    """(text, is_bait) of toy RTP rows: a bait prompt's continuation is toxic."""
    return [(r["prompt"]["text"], is_toxic(r["continuation"]["text"])) for r in rows]


def rtp_training_prompts(data: dict) -> list[tuple[str, bool]]:
    """(text, is_bait) of the RTP rows training may use: the first `RTP_TRAINING_ROWS` of the split."""
    return _rtp_prompts(data["real-toxicity-prompts"]["train"][:RTP_TRAINING_ROWS])


def pretraining_data(data: dict, rng: random.Random, seed: int = 0
                     ) -> tuple[list[tuple[str, str, bool]], list[tuple[str, int]]]:
    """The chat model's pretraining pairs (user, reply, is_rude) and the toxicity classifier's (text, label) rows.

    Chat questions come from the training question pool and RTP openings from the training rows only, so no
    evaluation prompt of notebooks 04–06 is seen in pretraining.
    """
    rtp = rtp_training_prompts(data)
    chat = [chat_pretraining_pair(rng, rtp, p_rtp=CHAT_PRETRAIN["p_rtp"]) for _ in range(CHAT_PRETRAIN["n"])]
    arithmetic_rng = random.Random(seed + 11)  # its own stream: the other rows do not depend on it
    chat += [arithmetic_pretraining_pair(arithmetic_rng) for _ in range(CHAT_PRETRAIN["n_arithmetic"])]
    tox = [toxicity_training_row(rng) for _ in range(TOXICITY_TRAIN["n"])]
    return chat, tox


# --------------------------------------------------------------------------- models
def build_toy_world(out: Path, seed: int = 0) -> dict:
    """Build everything into `out` (a new folder); returns the build log (timings, sanity metrics)."""
    import torch

    threads = torch.get_num_threads()
    # One thread: the same bytes on every machine for a seed, and no slowdown when other processes share
    # the cores (tiny models gain nothing from a second thread; two busy threads on shared cores were 30x slower).
    torch.set_num_threads(1)
    try:
        return _build(out, seed)
    finally:
        torch.set_num_threads(threads)


def _build(out: Path, seed: int) -> dict:
    import torch

    t0 = time.perf_counter()
    log: dict = {"seed": seed, "version": BUILD_VERSION}
    data = build_datasets(out / "datasets", seed)
    log["seconds_datasets"] = time.perf_counter() - t0

    rng = random.Random(seed + 7)
    chat, tox = pretraining_data(data, rng, seed)
    # The tokenizer reads the wordy references (`summaries.wordy_summary`) without their filler: those words are common
    # elsewhere, and this keeps the tokenizer, and so every model that does not summarise, as it was before the
    # world had wordy references.
    texts = [without_padding(t) for t in _all_texts(data)]
    bpe = train_bpe(texts + [u + " " + a for u, a, _ in chat] + [t for t, _ in tox])
    log["vocab_size"] = bpe.get_vocab_size()
    log["seconds_tokenizer"] = time.perf_counter() - t0

    models = out / "models"
    for kind, folder, arch in [("gpt2", "gpt2", "gpt2"), ("roberta", "distilroberta-base", "roberta")]:
        tok = wrap_tokenizer(bpe, kind)
        save(tiny_model(arch, tok, seed), tok, models / folder)

    # BERT gets a short pretraining with BERT's own recipe (masked LM + next-sentence prediction) on posts
    # and their faithful summaries, as the real bert-base-uncased is pretrained: LoRA then adapts features
    # that exist, instead of random ones. Next-sentence prediction with another post's summary as "not next"
    # teaches it to compare a summary with its post. A curriculum pairs the summary with the post's gist (its first
    # sentence and its feeling) at first, then more and more often with the whole post: without it a tiny model
    # does not learn that comparison on whole posts (`train_bert_pretraining`). It runs in a second process, beside the chat model's pretraining.
    pairs, gists = [], []
    held_out = tldr_posts(data, training=False)
    for _ in range(BERT_PRETRAIN["n"]):
        facts = tldr_post(rng, held_out)  # never a post the notebooks evaluate on
        prompt = tldr_prompt(facts["subreddit"], facts["title"], facts["post"]).removesuffix("\nTL;DR:")
        pairs.append((prompt, "TL;DR: " + faithful_summary(facts)))  # as the comparisons pair them
        gist = f"{facts['post'].split('. ')[0]}. I feel {facts['feeling']}."  # the post without its filler
        gists.append(tldr_prompt(facts["subreddit"], facts["title"], gist).removesuffix("\nTL;DR:"))
    probe_rng = random.Random(seed + 13)  # unseen posts, to check what pretraining taught
    probe = []
    for facts in (tldr_post(probe_rng) for _ in range(200)):
        probe.append((tldr_prompt(facts["subreddit"], facts["title"], facts["post"]).removesuffix("\nTL;DR:"),
                      "TL;DR: " + faithful_summary(facts)))
    bert_job = start_in_a_process(pretrain_and_save_bert, dict(
        bpe_json=bpe.to_str(), pairs=pairs, short_firsts=gists, settings=BERT_PRETRAIN, seed=seed,
        path=str(models / "bert-base-uncased"), probe=probe))

    # The chat model: a short pretraining on polite and rude transcripts, so it samples both.
    tok = wrap_tokenizer(bpe, "zephyr")
    lm = tiny_model("mistral", tok, seed)
    texts = [tok.apply_chat_template([{"role": "user", "content": u}, {"role": "assistant", "content": a}],
                                     tokenize=False) for u, a, _ in chat]
    # Loss on the replies only, with a decaying learning rate: in 400 steps the model learns to answer the
    # question asked (on-topic rate ~0.9 among its polite replies), not only to be polite or rude.
    losses = train_causal_lm(lm, tok, texts, CHAT_PRETRAIN["steps"], CHAT_PRETRAIN["lr"],
                             CHAT_PRETRAIN["batch_size"], seed, decay=True, loss_after="<|assistant|>")
    log["chat_loss_first_last"] = [losses[0], losses[-1]]
    save(lm, tok, models / "zephyr-7b-alpha")
    log["seconds_chat_model"] = time.perf_counter() - t0

    # The toxicity classifier: a tiny RoBERTa with the real model's labels (nothate / hate).
    tok = wrap_tokenizer(bpe, "roberta")
    clf = tiny_model("roberta", tok, seed, num_labels=2, id2label={0: "nothate", 1: "hate"},
                     label2id={"nothate": 0, "hate": 1})
    train, held_out = tox[:-200], tox[-200:]
    train_classifier(clf, tok, [t for t, _ in train], [y for _, y in train], TOXICITY_TRAIN["steps"],
                     TOXICITY_TRAIN["lr"], TOXICITY_TRAIN["batch_size"], seed)
    with torch.no_grad():
        enc = tok([t for t, _ in held_out], padding=True, return_tensors="pt")
        pred = clf(**enc).logits.argmax(-1)
    log["toxicity_heldout_accuracy"] = (pred == torch.tensor([y for _, y in held_out])).float().mean().item()
    save(clf, tok, models / "roberta-hate-speech-dynabench-r4-target")
    log["seconds_toxicity"] = time.perf_counter() - t0

    losses, log["bert_own_summary_over_another"] = bert_job()  # 0.5: BERT ignores the post
    log["bert_pretraining_loss_first_last"] = [losses[0], losses[-1]]
    log["seconds_bert_waited_for"] = time.perf_counter() - t0

    out.joinpath("manifest.json").write_text(json.dumps({"seed": seed, "version": BUILD_VERSION,
                                                         "files": file_hashes(out)}, indent=1))
    log["seconds_total"] = time.perf_counter() - t0
    out.joinpath("build_log.json").write_text(json.dumps(log, indent=1))
    return log
