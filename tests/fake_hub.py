"""A local Hugging Face cache in which the `full` profile runs offline (test infrastructure, not course content).

For every model id of the full profile it writes the real architecture class at a shrunk size (2 layers,
hidden 64, random weights, like Hugging Face's own "tiny-random" test models) with the **real tokenizer**
from `../shared/real-tokenizers`, saved in the dtype of the real checkpoint, into the standard hub cache
layout (`hub/models--org--name/snapshots/<rev>/`, `refs/main`). `HF_HUB_OFFLINE=1` then resolves the
course's unchanged `from_pretrained("gpt2")` calls to it.

Datasets and `evaluate` modules go where `python -m rlhf_helpers download` puts them for a real offline
run (`rlhf_helpers.infra.offline`): one local folder per dataset repo id, in the real split layout (real
hh-rlhf rows for its test split, real GSM8K rows, toy-world rows elsewhere, RealToxicityPrompts with its
quirks), and one folder per evaluate module.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_TOKENIZERS = SHARED / "real-tokenizers"
HH_TEST = SHARED / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
GSM8K = SHARED / "data" / "gsm8k"  # openai/grade-school-math's train.jsonl and test.jsonl (MIT), see its README
QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
MODULES = Path(__file__).resolve().parent / "evaluate_modules"
REVISION = "0" * 40

SHRUNK = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)

# Qwen/Qwen2.5-0.5B-Instruct's config.json, shrunk: 2 layers of width 64, 4 query heads and 2 KV heads (GQA, as the
# real 14 and 2); everything else as the real file (transformers 4.43.1 format: top-level rope_theta, torch_dtype),
# so transformers 5 parses the legacy keys as it does for a learner. Sources (public copies, agreeing): a README
# quoting the Hub file verbatim (DongfuJiang's duplicate of Qwen/Qwen2.5-0.5B-Instruct, only architectures and
# model_type renamed) and a LLaMA-Factory log printing the config loaded from Qwen2.5-0.5B-Instruct/config.json
# (eos 151645, max_window_layers 21, tie_word_embeddings true, bf16, vocab_size 151,936 = 151,665 tokens + unused rows).
QWEN_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
    "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 128,
    "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 4,
    "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936}
QWEN_FULL_SIZE = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                      intermediate_size=4864)
# Its generation_config.json: sampling by default. Source: a LLaMA-Factory log printing the GenerationConfig loaded
# from Qwen2.5-0.5B-Instruct/generation_config.json. repetition_penalty is 1.1 for 0.5B (and 1.5B), not the 1.05 of
# Qwen2.5-7B-Instruct's file. Key order as in the Hub's Qwen2.5 files; their transformers_version is left out.
QWEN_GENERATION = {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
                   "repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8, "top_k": 20}


def shared_missing() -> str | None:
    """Why the fake hub cannot be built here (None when it can)."""
    for path in (REAL_TOKENIZERS, REAL_TOKENIZERS / "qwen2.5-0.5b-instruct", HH_TEST, GSM8K):
        if not path.exists():
            return f"{path} is missing: the full-profile tests need ../shared beside the repository"
    return None


def real_config(model_id: str, shrink: bool = True):
    """The transformers config of a full-profile model (real vocabulary, special ids and positions),
    at its real size or shrunk to 2 layers of width 64."""
    import transformers as tf

    s = SHRUNK if shrink else {}
    if model_id == "gpt2":
        size = dict(n_embd=64, n_layer=2, n_head=4) if shrink else {}
        return tf.GPT2Config(vocab_size=50257, n_positions=1024, bos_token_id=50256, eos_token_id=50256,
                             architectures=["GPT2LMHeadModel"], **size)
    if model_id == "bert-base-uncased":
        return tf.BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, pad_token_id=0,
                             architectures=["BertForMaskedLM"], **s)
    if model_id in ("distilroberta-base", "facebook/roberta-hate-speech-dynabench-r4-target"):
        layers = {} if shrink else dict(num_hidden_layers=6 if model_id == "distilroberta-base" else 12)
        extra = (dict(architectures=["RobertaForMaskedLM"]) if model_id == "distilroberta-base" else
                 dict(architectures=["RobertaForSequenceClassification"], id2label={0: "nothate", 1: "hate"},
                      label2id={"nothate": 0, "hate": 1}))
        return tf.RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                                bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, **{**s, **layers}, **extra)
    if model_id == "HuggingFaceH4/zephyr-7b-alpha":
        size = dict(SHRUNK, num_key_value_heads=2) if shrink else dict(
            hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
            intermediate_size=14336)
        return tf.MistralConfig(vocab_size=32000, max_position_embeddings=32768, rope_theta=10000.0,
                                sliding_window=4096, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
                                tie_word_embeddings=False, architectures=["MistralForCausalLM"], **size)
    if model_id == QWEN:
        return tf.Qwen2Config(**{**QWEN_CONFIG, **({} if shrink else QWEN_FULL_SIZE)})
    raise ValueError(f"no config for {model_id!r}")


def real_tokenizer(model_id: str, zephyr_pad: bool = False):
    """The real tokenizer of a full-profile model, built from the files in ../shared/real-tokenizers."""
    import tempfile

    from transformers import AutoTokenizer

    if model_id == QWEN:  # the Hub's own files (no tokenizer.json): Qwen2Tokenizer, 151,665 tokens, chat template
        return AutoTokenizer.from_pretrained(REAL_TOKENIZERS / "qwen2.5-0.5b-instruct")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if model_id == "gpt2":
            _copy(REAL_TOKENIZERS / "gpt2", tmp, ["vocab.json", "merges.txt"])
            _json(tmp / "config.json", {"model_type": "gpt2"})
            _json(tmp / "tokenizer_config.json", {"model_max_length": 1024})
        elif model_id == "bert-base-uncased":
            _copy(REAL_TOKENIZERS / "bert-base-uncased", tmp, ["vocab.txt"])
            _json(tmp / "config.json", {"model_type": "bert"})
            _json(tmp / "tokenizer_config.json", {"do_lower_case": True, "model_max_length": 512})
        elif model_id in ("distilroberta-base", "facebook/roberta-hate-speech-dynabench-r4-target"):
            _copy(REAL_TOKENIZERS / "roberta-base", tmp, ["vocab.json", "merges.txt"])
            _json(tmp / "config.json", {"model_type": "roberta"})
            _json(tmp / "tokenizer_config.json", {"model_max_length": 512})
        elif model_id == "HuggingFaceH4/zephyr-7b-alpha":
            _copy(REAL_TOKENIZERS / "mistral-7b", tmp, ["tokenizer.model"])
            _json(tmp / "config.json", {"model_type": "mistral"})
            config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                      "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "legacy": True,
                      "model_max_length": 1000000000000000019884624838656}
            if zephyr_pad:
                config["pad_token"] = "</s>"
            _json(tmp / "tokenizer_config.json", config)
        else:
            raise ValueError(f"no real tokenizer for {model_id!r}")
        tokenizer = AutoTokenizer.from_pretrained(tmp)
    if model_id.startswith("HuggingFaceH4/"):
        tokenizer.chat_template = (REAL_TOKENIZERS / "zephyr-chat-template" / "zephyr_chat_template.jinja").read_text()
    return tokenizer


def build_model(model_id: str, seed: int = 0, shrink: bool = True):
    """A random-init model of the real architecture class (in the real checkpoint's dtype)."""
    import torch
    import transformers as tf

    config = real_config(model_id, shrink)
    torch.manual_seed(seed)
    model = getattr(tf, config.architectures[0])(config)
    if model_id.startswith("HuggingFaceH4/"):
        model = model.to(torch.bfloat16)  # Zephyr's checkpoint is bf16; `dtype="auto"` loads it so
        model.generation_config = tf.GenerationConfig(bos_token_id=1, eos_token_id=2)
    if model_id == QWEN:
        model = model.to(torch.bfloat16)  # "torch_dtype": "bfloat16" in the real config.json
        model.generation_config = tf.GenerationConfig(**QWEN_GENERATION)
    return model


def snapshot_dir(hf_home: Path, repo_id: str, kind: str = "model") -> Path:
    """`<HF_HOME>/hub/models--org--name/snapshots/<rev>/`, with `refs/main` pointing at it."""
    repo = hf_home / "hub" / f"{kind}s--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    snap = repo / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def build_models(hf_home: Path, model_ids, zephyr_pad: bool = False) -> None:
    """Write every model with its real tokenizer into the hub cache under `hf_home`."""
    for model_id in model_ids:
        snap = snapshot_dir(hf_home, model_id)
        build_model(model_id).save_pretrained(snap)
        if model_id == QWEN:  # the Hub's files as they are: config.json in its own (transformers 4.43) format,
            _json(snap / "config.json", QWEN_CONFIG, indent=2)  # generation_config.json, the tokenizer files
            _json(snap / "generation_config.json", QWEN_GENERATION, indent=2)
            _copy(REAL_TOKENIZERS / "qwen2.5-0.5b-instruct", snap,
                  ["vocab.json", "merges.txt", "tokenizer_config.json", "LICENSE.Qwen"])
            (snap / "LICENSE.Qwen").rename(snap / "LICENSE")
        else:
            real_tokenizer(model_id, zephyr_pad).save_pretrained(snap)


def build_datasets(offline: Path, world: Path) -> None:
    """One folder per dataset repo id under `offline/datasets/`, in the real file and split layout."""
    from rlhf_helpers.infra.offline import local_dataset_dir
    from rlhf_helpers.infra.profiles import FULL_DATASETS, TOY_DATASET_DIRS

    for key, hub_id in FULL_DATASETS.items():
        dst = local_dataset_dir(hub_id, offline)
        src = world / "datasets" / TOY_DATASET_DIRS[key] if key in TOY_DATASET_DIRS else None
        if dst.exists():
            shutil.rmtree(dst)
        dst.mkdir(parents=True)
        if hub_id == "openai/gsm8k":  # all real rows, in the Hub's layout
            _gsm8k(dst)
        elif key == "hh_rlhf":  # harmless-base/{train,test}.jsonl.gz; the test split is real
            (dst / "harmless-base").mkdir()
            with gzip.open(dst / "harmless-base" / "train.jsonl.gz", "wt") as f:
                f.write((src / "harmless-base" / "train.jsonl").read_text())
            shutil.copy(HH_TEST, dst / "harmless-base" / "test.jsonl.gz")
        elif key == "rtp":  # one prompts.jsonl; some prompts have no Perspective scores at all
            rows = [json.loads(line) for line in (src / "train.jsonl").read_text().splitlines()]
            for row in rows[::7]:
                row["prompt"].update({k: None for k in row["prompt"] if k != "text"})
                row["challenging"] = False
            (dst / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:  # parquet files under data/, split names in the card as on the Hub
            _parquet_dataset(src, dst)


def _parquet_dataset(src: Path, dst: Path) -> None:
    from datasets import Dataset

    splits = sorted(p.stem for p in src.glob("*.jsonl"))
    (dst / "data").mkdir()
    for split in splits:
        rows = [json.loads(line) for line in (src / f"{split}.jsonl").read_text().splitlines()]
        Dataset.from_list(rows).to_parquet(str(dst / "data" / f"{split}-00000-of-00001.parquet"))
    yaml = "".join(f"  - split: {s}\n    path: data/{s}-*\n" for s in splits)
    (dst / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{yaml}---\n")


def _gsm8k(dst: Path) -> None:
    """openai/gsm8k as on the Hub: `main/{train,test}-00000-of-00001.parquet` (columns question, answer) and the
    card's `configs:`, which also lists `socratic/` (so `load_dataset(repo)` without a config name fails as it does
    on the Hub); the socratic files are not built (../shared has no socratic rows), loading that config fails here.
    Card: zzli2022/TLDR : data/evaluation_dataset/openai/gsm8k/README.md (a copy of the Hub's); 7,473 train and
    1,319 test rows per its `dataset_info`, the same as ../shared/data/gsm8k."""
    from datasets import Dataset

    (dst / "main").mkdir()
    for split in ("train", "test"):
        rows = [json.loads(line) for line in (GSM8K / f"{split}.jsonl").read_text().splitlines()]
        rows = [{"question": r["question"], "answer": r["answer"]} for r in rows]
        Dataset.from_list(rows).to_parquet(str(dst / "main" / f"{split}-00000-of-00001.parquet"))
    configs = "".join(f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {name}/train-*\n"
                      f"  - split: test\n    path: {name}/test-*\n" for name in ("main", "socratic"))
    (dst / "README.md").write_text(f"---\nlicense:\n- mit\nconfigs:\n{configs}---\n\n# Dataset Card for GSM8K\n")


def build_metrics(offline: Path) -> None:
    """The evaluate modules the notebooks load (rouge, toxicity) as local module folders."""
    from rlhf_helpers.infra.offline import local_metric_dir

    for name in ("rouge", "toxicity"):
        dst = local_metric_dir(name, offline)
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(MODULES / name, dst)


def build_fake_hub(out: Path, world: Path, zephyr_pad: bool = False) -> dict[str, str]:
    """Build everything under `out`; returns the environment variables that make the course use it."""
    from rlhf_helpers.infra.profiles import FULL_MODELS

    hf_home, offline = out / "hf_home", out / "offline"
    build_models(hf_home, FULL_MODELS.values(), zephyr_pad)
    build_datasets(offline, world)
    build_metrics(offline)
    return {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "RLHF_OFFLINE_DIR": str(offline), "HF_DATASETS_CACHE": str(out / "datasets_cache")}


def _copy(src: Path, dst: Path, names: list[str]) -> None:
    for name in names:
        shutil.copy(src / name, dst / name)


def _json(path: Path, obj: dict, indent: int | None = None) -> None:
    path.write_text(json.dumps(obj, indent=indent))
