"""One real training step of every full-profile stage, at real model sizes, capped at a free Colab T4's 15 GiB.

No hub access is needed: each model is a random-init model of the real configuration (`real_config`), and the
data are random words of a word-level tokenizer (one token each), so lengths are exact. Each step is what the
notebook runs, with the full profile's sizes (`rlhf_helpers.infra.profiles.SETTINGS`) and the course's code (TRL
trainers, `rlhf_helpers.course.ppo`, `load_4bit_causal_lm`), in two precisions: fp16, what a T4 (compute capability
7.5) gets, and bf16, what an A100 (8.0) gets, set through RLHF_PRECISION, which the course's own choice
(`precision.choose_precision`) honours. `torch.cuda.set_per_process_memory_fraction` caps the process at
15 GiB: a step that needs more fails with out-of-memory, and the JSON says so.

    bash benchmarks/gpu_check.sh                 # on a CUDA GPU: writes gpu_check.json (about 5 min on an H200)
    python benchmarks/gpu_check.py --cpu-tiny    # every step at tiny shapes on a CPU, in seconds (tested)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ppo_full_size.py, beside this file
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fake_hub.py: the real configurations

GIB = 2**30
T4_GIB = 15.0
STEPS = ["01_sft", "02_rm_bert", "03_rm_gpt2", "04_rm_distilroberta", "04_ppo", "05_dpo", "07_rm_gpt2", "07_ppo"]


def real_config(model_key: str):
    """The real architecture configuration of a course model (no download): gpt2, bert, distilroberta,
    zephyr (= Mistral-7B-v0.1 / zephyr-7b-alpha) or toxicity (a roberta-base classifier, 2 labels).

    The same configurations the full-profile tests build shrunk (`tests/fake_hub.py`), here at real size.
    """
    from fake_hub import real_config as hub_config

    from rlhf_helpers.infra.profiles import FULL_MODELS

    if model_key not in FULL_MODELS:
        raise ValueError(f"unknown model {model_key!r}: choose gpt2, bert, distilroberta, zephyr or toxicity")
    config = hub_config(FULL_MODELS[model_key], shrink=False)
    if model_key == "distilroberta":
        config.num_labels = 1  # the reward model's one output
    if model_key in ("gpt2", "zephyr"):  # the ids of the word tokenizer the steps use (`word_tokenizer_for`)
        config.bos_token_id, config.eos_token_id, config.pad_token_id = 1, 2, 2
    if model_key == "zephyr":
        config.dtype = "bfloat16"
    return config


def tiny_config(model_key: str):
    """The same architecture at toy size (for `--cpu-tiny`)."""
    config = real_config(model_key)
    small = dict(gpt2=dict(n_embd=32, n_layer=2, n_head=2, vocab_size=512),
                 zephyr=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, vocab_size=512, dtype="float32"))
    config.update(small.get(model_key, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                            intermediate_size=64, vocab_size=512)))
    return config


def sizes(tiny: bool) -> dict:
    """Per-step sizes: the full profile's (SETTINGS), or a few tokens each with --cpu-tiny."""
    from rlhf_helpers.infra.profiles import SETTINGS

    full = {k: SETTINGS[k]["full"] for k in SETTINGS}
    s = {
        "01_sft": dict(batch=full["01_sft"]["batch_size"], length=full["01_sft"]["max_length"]),
        "02_rm_bert": dict(batch=full["02_reward_bert"]["batch_size"], length=full["02_reward_bert"]["max_length"]),
        "03_rm_gpt2": dict(batch=full["03_reward_gpt2"]["batch_size"], length=full["03_reward_gpt2"]["max_length"]),
        "04_rm_distilroberta": dict(batch=full["04_ppo_zephyr"]["rm_batch_size"], length=full["04_ppo_zephyr"]["rm_max_length"]),
        "04_ppo": dict(batch=full["04_ppo_zephyr"]["batch_size"], mini_batch=full["04_ppo_zephyr"]["mini_batch_size"],
                       epochs=full["04_ppo_zephyr"]["ppo_epochs"], prompt=64, new_tokens=full["04_ppo_zephyr"]["max_new_tokens"],
                       rm_length=full["04_ppo_zephyr"]["rm_max_length"]),
        "05_dpo": dict(batch=full["05_dpo"]["batch_size"], grad_accum=full["05_dpo"]["grad_accum"],
                       length=full["05_dpo"]["max_length"], lora_r=full["05_dpo"]["lora_r"]),
        "07_rm_gpt2": dict(batch=full["07_summarize_rlhf"]["rm_batch_size"], length=full["07_summarize_rlhf"]["rm_max_length"]),
        "07_ppo": dict(batch=full["07_summarize_rlhf"]["batch_size"], mini_batch=full["07_summarize_rlhf"]["mini_batch_size"],
                       epochs=full["07_summarize_rlhf"]["ppo_epochs"], prompt=full["07_summarize_rlhf"]["max_prompt_length"],
                       new_tokens=full["07_summarize_rlhf"]["max_new_tokens"], rm_length=full["07_summarize_rlhf"]["rm_max_length"]),
    }
    if tiny:
        for step in s.values():
            step.update({k: min(v, 4) for k, v in step.items() if k == "batch"})
            step.update({k: min(v, 2) for k, v in step.items() if k in ("mini_batch", "grad_accum")})
            step.update({k: 1 for k in step if k == "epochs"})
            step.update({k: min(v, 12) for k, v in step.items() if k in ("length", "prompt", "new_tokens", "rm_length")})
    return s


def random_text(rows: int, words: int, vocab: int, seed: int) -> list[str]:
    """`rows` strings of `words` random words "w<i>" (one token each in `word_tokenizer`)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, vocab, (rows, words), generator=g)
    return [" ".join(f"w{i}" for i in row.tolist()) for row in ids]


class StepTimes:
    """A TrainerCallback collecting the seconds of each optimiser step."""

    def __init__(self):
        from transformers import TrainerCallback

        outer = self
        self.seconds = []

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                outer._sync()
                outer._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                outer._sync()
                outer.seconds.append(time.perf_counter() - outer._start)

        self.callback = _Callback()

    @staticmethod
    def _sync():
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def trainer_args(cls, out: str, device: str, **kw):
    """A TRL config for two optimiser steps in the course's precision (`choose_precision`)."""
    from rlhf_helpers.infra.precision import choose_precision

    p = choose_precision(device)
    return cls(output_dir=out, max_steps=2, learning_rate=1e-5, save_strategy="no", report_to="none", logging_steps=1,
               disable_tqdm=True, use_cpu=device == "cpu", bf16=p.bf16, fp16=p.fp16, **kw)


def step_sft(ctx, s):
    """01: GPT-2 full fine-tuning with SFTTrainer, prompt–completion, loss on the completion."""
    from datasets import Dataset
    from transformers import GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    config = ctx["config"]("gpt2")
    model = GPT2LMHeadModel(config).to(ctx["device"])
    tok = ctx["tokenizer"](config.vocab_size)
    completion = max(1, s["length"] // 8)
    data = Dataset.from_dict({"prompt": random_text(4 * s["batch"], s["length"] - completion - 1, config.vocab_size, 0),
                              "completion": random_text(4 * s["batch"], completion, config.vocab_size, 1)})
    args = trainer_args(SFTConfig, ctx["out"], ctx["device"], per_device_train_batch_size=s["batch"],
                        max_length=s["length"], completion_only_loss=True, activation_checkpointing=False)
    return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)


def reward_trainer(ctx, s, model_key: str, lora_targets=None, head=None, grad_ckpt=False):
    """02/03/04/07: a reward model on (chosen, rejected) pairs with RewardTrainer; LoRA when targets are given."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from rlhf_helpers.course.reward_model import reward_lora_config

    config = ctx["config"](model_key)
    config.num_labels = 1
    model = AutoModelForSequenceClassification.from_config(config).to(ctx["device"])
    tok = ctx["tokenizer"](config.vocab_size)
    model.config.pad_token_id = tok.pad_token_id
    n = 4 * s["batch"]
    data = Dataset.from_dict({"chosen": random_text(n, s["length"] - 2, config.vocab_size, 0),
                              "rejected": random_text(n, s["length"] - 2, config.vocab_size, 1)})
    args = trainer_args(RewardConfig, ctx["out"], ctx["device"], per_device_train_batch_size=s["batch"],
                        max_length=s["length"], activation_checkpointing=grad_ckpt)
    lora = reward_lora_config(lora_targets, head=head) if lora_targets else None
    return RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tok, peft_config=lora)


def step_rm_bert(ctx, s):
    from rlhf_helpers.course.reward_model import BERT_LORA_TARGETS, REWARD_HEADS

    return reward_trainer(ctx, s, "bert", BERT_LORA_TARGETS, REWARD_HEADS["bert"])


def step_rm_gpt2(ctx, s):
    from rlhf_helpers.course.reward_model import GPT2_LORA_TARGETS, REWARD_HEADS

    return reward_trainer(ctx, s, "gpt2", GPT2_LORA_TARGETS, REWARD_HEADS["gpt2"])


def zephyr_4bit(ctx):
    """Zephyr-7B's configuration, random weights, loaded in 4-bit NF4 by the course's loader (checkpoint made once)."""
    from ppo_full_size import random_checkpoint, word_tokenizer
    from transformers import AutoTokenizer

    from rlhf_helpers.course.quantization import load_4bit_causal_lm

    if "zephyr" in ctx:  # the 4-bit model of the previous step (adapters removed), same precision
        return ctx.pop("zephyr")
    config = ctx["config"]("zephyr")
    folder = Path(ctx["checkpoints"]) / ("zephyr-tiny" if ctx["tiny"] else "zephyr-random-bf16")
    if not (folder / "config.json").exists():
        random_checkpoint(config, folder, ctx["device"])
    if not (folder / "tokenizer_config.json").exists():
        word_tokenizer(config.vocab_size, chat=True).save_pretrained(folder)
    return load_4bit_causal_lm(str(folder), ctx["device"]), AutoTokenizer.from_pretrained(folder)


def ppo_run(ctx, s, policy, value_head, tokenizer, reward_fn, use_chat_template: bool, vocab: int):
    """Two PPO iterations with the course's loop; the second is timed (the first warms up kernels)."""
    from rlhf_helpers.course.ppo import FixedKLController, PPOConfig, make_optimizer, ppo_step

    config = PPOConfig(batch_size=s["batch"], mini_batch_size=s["mini_batch"], ppo_epochs=s["epochs"],
                       max_new_tokens=s["new_tokens"], learning_rate=1e-5, value_learning_rate=1e-4,
                       use_chat_template=use_chat_template)
    optimizer = make_optimizer(policy, value_head, config)
    queries = random_text(2 * s["batch"], s["prompt"], vocab, 2)
    seconds = []
    for i in range(2):
        StepTimes._sync()
        start = time.perf_counter()
        ppo_step(policy, value_head, optimizer, tokenizer, queries[i * s["batch"]:(i + 1) * s["batch"]], reward_fn,
                 config, FixedKLController(0.1), ref_model=ctx.get("ref_model"))
        StepTimes._sync()
        seconds.append(time.perf_counter() - start)
    return seconds


def step_ppo_04(ctx, s):
    """04: PPO on Zephyr-7B in 4-bit + LoRA (all linear layers and lm_head), activation checkpointing on a GPU,
    scored by a distilroberta reward model."""
    from peft import LoraConfig, get_peft_model
    from transformers import RobertaForSequenceClassification

    from rlhf_helpers.course.ppo import ValueHead
    from rlhf_helpers.course.ppo_rollout import RewardModelScorer

    base, tokenizer = zephyr_4bit(ctx)
    if ctx["device"] == "cuda":  # as notebook 04 does in the full profile
        base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    policy = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj", "lm_head"]))
    value_head = ValueHead(policy.config.hidden_size).to(ctx["device"])
    rm_config = ctx["config"]("distilroberta")
    reward_model = RobertaForSequenceClassification(rm_config).to(ctx["device"])
    reward_fn = RewardModelScorer(reward_model, ctx["tokenizer"](rm_config.vocab_size), max_length=s["rm_length"])
    seconds = ppo_run(ctx, s, policy, value_head, tokenizer, reward_fn, True, base.config.vocab_size)
    base = policy.unload()  # the 4-bit base without the adapters, for DPO (one 4-bit load per precision)
    base.activation_checkpointing_disable()
    ctx["zephyr"] = (base, tokenizer)
    return seconds


def step_dpo_05(ctx, s):
    """05: DPO on Zephyr-7B in 4-bit + LoRA (all linear), reference = adapters off, activation checkpointing on a GPU."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    model, tokenizer = zephyr_4bit(ctx)
    n = 4 * s["batch"] * s["grad_accum"]
    vocab = model.config.vocab_size
    prompt = max(2, s["length"] // 4)
    reply = max(2, s["length"] - prompt - 12)  # 12: the chat template's tokens
    data = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": t}] for t in random_text(n, prompt, vocab, 0)],
        "chosen": [[{"role": "assistant", "content": t}] for t in random_text(n, reply, vocab, 1)],
        "rejected": [[{"role": "assistant", "content": t}] for t in random_text(n, reply, vocab, 2)]})
    args = trainer_args(DPOConfig, ctx["out"], ctx["device"], per_device_train_batch_size=s["batch"],
                        gradient_accumulation_steps=s["grad_accum"], max_length=s["length"],
                        activation_checkpointing=ctx["device"] == "cuda")
    lora = LoraConfig(r=s["lora_r"], lora_alpha=2 * s["lora_r"], target_modules="all-linear", task_type="CAUSAL_LM")
    return DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, peft_config=lora)


def step_ppo_07(ctx, s):
    """07: PPO on a full-precision GPT-2 policy with a frozen copy as reference and a GPT-2 reward model."""
    from transformers import GPT2ForSequenceClassification, GPT2LMHeadModel

    from rlhf_helpers.course.ppo import ValueHead
    from rlhf_helpers.course.ppo_rollout import RewardModelScorer

    config = ctx["config"]("gpt2")
    policy = GPT2LMHeadModel(config).to(ctx["device"])
    ctx["ref_model"] = GPT2LMHeadModel(config).to(ctx["device"]).eval().requires_grad_(False)
    rm_config = ctx["config"]("gpt2")
    rm_config.num_labels = 1
    reward_model = GPT2ForSequenceClassification(rm_config).to(ctx["device"])
    tok = ctx["tokenizer"](config.vocab_size)
    value_head = ValueHead(config.n_embd).to(ctx["device"])
    try:
        return ppo_run(ctx, s, policy, value_head, tok, RewardModelScorer(reward_model, tok, max_length=s["rm_length"]),
                       False, config.vocab_size)
    finally:
        ctx.pop("ref_model")


STEP_FUNCTIONS = {
    "01_sft": step_sft, "02_rm_bert": step_rm_bert, "03_rm_gpt2": step_rm_gpt2,
    "04_rm_distilroberta": lambda ctx, s: reward_trainer(ctx, s, "distilroberta"),
    "04_ppo": step_ppo_04, "05_dpo": step_dpo_05,
    "07_rm_gpt2": lambda ctx, s: reward_trainer(ctx, s, "gpt2"), "07_ppo": step_ppo_07,
}


def word_tokenizer_for(vocab_size: int):
    """An offline word-level tokenizer with `vocab_size` ids (chat template included), pad = EOS."""
    from ppo_full_size import word_tokenizer

    return word_tokenizer(vocab_size, chat=True)


def measure(name: str, ctx: dict, s: dict) -> dict:
    """Run one step; returns its peak memory, seconds per step (after the first) and whether it ran out of memory."""
    import torch

    cuda = ctx["device"] == "cuda"
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    row = {"step": name, "precision": ctx["precision"], "sizes": s}
    start = time.perf_counter()
    try:
        made = STEP_FUNCTIONS[name](ctx, s)
        if isinstance(made, list):  # a PPO loop: the seconds of its iterations
            seconds = made
        else:  # a trainer: two optimiser steps
            times = StepTimes()
            made.add_callback(times.callback)
            made.train()
            seconds = times.seconds
        row.update(ok=True, oom=False, seconds_per_step=seconds[-1], first_step_seconds=seconds[0])
    except torch.OutOfMemoryError as err:
        row.update(ok=False, oom=True, error=str(err).splitlines()[0][:200])
    row["wall_seconds"] = time.perf_counter() - start
    if cuda:
        row["peak_gib"] = torch.cuda.max_memory_allocated() / GIB
        row["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / GIB
        row["fits_t4"] = row["ok"] and row["peak_reserved_gib"] <= T4_GIB
    made = None
    gc.collect()
    print(json.dumps({k: v for k, v in row.items() if k != "sizes"}), flush=True)
    return row


def estimates() -> dict:
    """Peak memory of the two Zephyr-7B steps computed from the shapes (GiB), without a GPU.

    PPO 04 with `ppo_full_size.estimate_memory` (activation checkpointing on, as notebook 04 runs it on a GPU).
    DPO 05: the same 4-bit weights and fp32 LoRA state; per micro-batch 2·batch sequences of max_length
    tokens, with checkpointing (each layer's bf16 input kept, one layer's activations live) and the logits,
    their fp32 log-softmax and its gradient (≈ 14 bytes per entry); the reference pass adds no activations.
    """
    from ppo_full_size import estimate_memory, reward_model_config

    from rlhf_helpers.infra.profiles import SETTINGS

    config, s = real_config("zephyr"), sizes(tiny=False)
    ppo = s["04_ppo"]
    ppo_est = estimate_memory(config, ppo["batch"], ppo["mini_batch"], ppo["prompt"] + 8, ppo["new_tokens"], 16,
                              True, reward_model_config(False))
    H, I, V, layers = config.hidden_size, config.intermediate_size, config.vocab_size, config.num_hidden_layers
    kv = config.num_key_value_heads * H // config.num_attention_heads
    d = s["05_dpo"]
    tokens = 2 * d["batch"] * d["length"]
    linear = layers * (2 * H * H + 2 * H * kv + 3 * H * I)
    lora = layers * d["lora_r"] * (2 * (H + H) + 2 * (H + kv) + 3 * (H + I))
    dpo = {"base weights (NF4 + 16-bit embeddings)": (linear * (0.5 + 1 / 64) + 2 * V * H * 2) / GIB,
           "LoRA weights + grads + AdamW (fp32)": lora * 16 / GIB,
           "checkpointed activations": tokens * (layers * H * 2 + (8 * H + 2 * kv + 4 * I) * 2 + 2 * H * 4) / GIB,
           "logits + log-softmax + grad": tokens * V * 14 / GIB}
    dpo["total"] = sum(dpo.values())
    assert SETTINGS["05_dpo"]["full"]["max_length"] == d["length"]
    return {"04_ppo": ppo_est, "05_dpo": dpo}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-tiny", action="store_true", help="every step at tiny shapes on the CPU (seconds)")
    parser.add_argument("--out", default="gpu_check.json", help="where the JSON goes")
    parser.add_argument("--steps", nargs="*", default=STEPS, help=f"a subset of {' '.join(STEPS)}")
    parser.add_argument("--precisions", nargs="*", default=["fp16", "bf16"], help="fp16 (a T4) and/or bf16 (an A100)")
    parser.add_argument("--cap-gib", type=float, default=T4_GIB, help="memory cap per process (GiB)")
    parser.add_argument("--checkpoint-dir", default=None, help="where the random Zephyr checkpoint is kept")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    cuda = torch.cuda.is_available() and not args.cpu_tiny
    if not cuda and not args.cpu_tiny:
        raise SystemExit("no CUDA GPU here: run with --cpu-tiny for the CPU-sized check of every step")
    result = {"device": torch.cuda.get_device_name() if cuda else "cpu", "mode": "gpu" if cuda else "cpu-tiny",
              "torch": torch.__version__, "cap_gib": args.cap_gib if cuda else None,
              "estimates_gib": {k: round(v["total"], 2) for k, v in estimates().items()}, "steps": []}
    print("computed estimates (GiB):", json.dumps(estimates(), indent=1))
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.cap_gib * GIB / total))
        print(f"{result['device']}: capped at {args.cap_gib} GiB of {total / GIB:.0f} GiB", flush=True)
    else:
        torch.set_num_threads(1)  # toy shapes: a second thread only adds waiting (as in the tiny profile)
    all_sizes = sizes(tiny=not cuda)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        ctx = {"device": "cuda" if cuda else "cpu", "tiny": not cuda, "out": out,
               "config": real_config if cuda else tiny_config, "tokenizer": word_tokenizer_for,
               "checkpoints": args.checkpoint_dir or (Path(tempfile.gettempdir()) / "rlhf-gpu-check")}
        for precision in (args.precisions if cuda else ["fp32"]):
            ctx["precision"] = precision
            if cuda:  # the course's own choice, as on that GPU (precision.choose_precision reads it)
                os.environ["RLHF_PRECISION"] = precision
            for name in args.steps:
                result["steps"].append(measure(name, ctx, all_sizes[name]))
            ctx.pop("zephyr", None)  # the next precision loads the 4-bit model with its own compute dtype
    result["total_seconds"] = time.perf_counter() - start
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"written to {args.out} in {result['total_seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
