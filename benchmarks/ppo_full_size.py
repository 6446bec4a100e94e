"""One PPO iteration of notebook 04 at full size: Zephyr-7B's real configuration in 4-bit NF4 + LoRA.

The hub may be unreachable, and only the shapes matter for memory and time, so the script builds a
random-init model with Zephyr-7B-alpha's configuration, saves it to local disk in bf16 shards (once,
~14.5 GB), loads it back with the course's 4-bit NF4 config (`load_4bit_causal_lm`), adds LoRA
(r 16, α 32, all linear layers and lm_head) and the value head, and runs the course's PPO loop with a
random-init distilroberta-size reward model. It prints peak GPU memory (`torch.cuda.max_memory_allocated`)
and seconds per iteration, and the memory estimate computed from the shapes.

    python benchmarks/ppo_full_size.py                          # on a CUDA GPU (≈ 5 min incl. building the checkpoint)
    python benchmarks/ppo_full_size.py --batch 64 --new-tokens 128 --grad-ckpt
    python benchmarks/ppo_full_size.py --tiny                   # CPU dry run: the toy chat model's config, same code path
    python benchmarks/ppo_full_size.py --estimate-only          # the computed estimate, no model

Goal of issue 4: one iteration fits in 15 GiB (a free Colab T4).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

GIB = 2**30
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def zephyr_config():
    """HuggingFaceH4/zephyr-7b-alpha's configuration (a Mistral-7B)."""
    from transformers import MistralConfig

    return MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
                         rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2, pad_token_id=2)


def reward_model_config(tiny: bool):
    """distilroberta-base's shapes (6 layers, hidden 768) with a scalar head; the toy size with --tiny."""
    from transformers import RobertaConfig

    if tiny:
        return RobertaConfig(vocab_size=1024, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=128, max_position_embeddings=514, num_labels=1, pad_token_id=1)
    return RobertaConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=514, num_labels=1, pad_token_id=1)


def word_tokenizer(vocab_size: int, chat: bool):
    """An offline tokenizer with `vocab_size` ids: specials, then words "w<i>" (one token each)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from rlhf_helpers.infra.toy.checkpoints import ZEPHYR_CHAT_TEMPLATE

    specials = ["<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    vocab.update({f"w{i}": i for i in range(len(specials), vocab_size)})
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="</s>", additional_special_tokens=specials[3:], model_max_length=4096)
    if chat:
        tok.chat_template = ZEPHYR_CHAT_TEMPLATE
    return tok


def random_checkpoint(config, folder: Path, device: str) -> Path:
    """Save a random-init model of `config` in bf16 safetensors shards to `folder` (reused when present)."""
    import torch
    from transformers import AutoModelForCausalLM

    if (folder / "config.json").exists():
        print(f"reusing the random checkpoint in {folder}")
        return folder
    start = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):  # initialise directly on the GPU: seconds instead of minutes on a CPU
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="2GB")
    word_tokenizer(config.vocab_size, chat=True).save_pretrained(folder)
    n = sum(p.numel() for p in model.parameters())
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    print(f"random checkpoint: {n / 1e9:.2f} B parameters, bf16, saved in {time.perf_counter() - start:.0f} s -> {folder}")
    return folder


def estimate_memory(config, batch: int, mini_batch: int, prompt_tokens: int, new_tokens: int, lora_r: int,
                    grad_ckpt: bool, rm_config=None) -> dict:
    """Peak GPU memory of one PPO iteration, computed from the shapes (GiB per component).

    4-bit NF4 with double quantisation stores 0.5 byte per weight plus ~1/64 byte of quantisation
    constants; embeddings, lm_head and norms stay in bf16. LoRA weights, gradients and AdamW state are
    fp32 (16 bytes per parameter). Training activations per token and layer in bf16: about
    8·H + 2·KV + 4·I values (attention inputs/outputs, the MLP's gate/up/act/product, residuals) plus the
    RMSNorms' fp32 copies; activation checkpointing keeps only each layer's input and one layer's worth.
    Logits: bf16 output, fp32 copy, log-softmax and its gradient (≈ 14 bytes per entry).
    """
    H, I, V, layers = config.hidden_size, config.intermediate_size, config.vocab_size, config.num_hidden_layers
    head_dim = H // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    linear = layers * (2 * H * H + 2 * H * kv + 3 * H * I)  # q, o, k, v, gate, up, down
    dense = 2 * V * H + (2 * layers + 1) * H  # embeddings, lm_head, norms
    lora = layers * lora_r * (2 * (H + H) + 2 * (H + kv) + 3 * (H + I)) + lora_r * (H + V)
    seq = prompt_tokens + new_tokens
    tokens = mini_batch * seq
    per_token_layer = (8 * H + 2 * kv + 4 * I) * 2 + 2 * H * 4  # bytes
    if grad_ckpt:
        activations = tokens * (layers * H * 2 + per_token_layer)
    else:
        activations = tokens * layers * per_token_layer
    parts = {
        "base weights (NF4 + bf16 embeddings)": linear * (0.5 + 1 / 64) + dense * 2,
        "LoRA weights + grads + AdamW (fp32)": lora * 16,
        "KV cache during generation (bf16)": 2 * layers * kv * seq * batch * 2,
        "training activations (one mini-batch)": activations,
        "logits + log-softmax + grad (one mini-batch)": mini_batch * (new_tokens + 1) * V * 14,
        "reward model (distilroberta, fp32)": 4 * (rm_config.vocab_size * rm_config.hidden_size
                                                   + rm_config.num_hidden_layers * 12 * rm_config.hidden_size ** 2),
    }
    parts = {k: v / GIB for k, v in parts.items()}
    parts["total"] = sum(parts.values())
    return parts


def print_estimate(est: dict) -> None:
    for name, gib in est.items():
        print(f"  {name:<46} {gib:7.2f} GiB")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="CPU dry run with the toy chat model's configuration")
    parser.add_argument("--batch", type=int, default=32, help="prompts (rollouts) per PPO iteration")
    parser.add_argument("--mini-batch", type=int, default=8, help="rollouts per gradient step")
    parser.add_argument("--epochs", type=int, default=4, help="PPO epochs per iteration")
    parser.add_argument("--prompt-tokens", type=int, default=64, help="words per prompt (one token each)")
    parser.add_argument("--new-tokens", type=int, default=64, help="max new tokens per response")
    parser.add_argument("--iterations", type=int, default=2, help="PPO iterations (the first includes warm-up)")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--grad-ckpt", action="store_true", help="activation checkpointing in the PPO update")
    parser.add_argument("--checkpoint-dir", default=None, help="where the random bf16 checkpoint is saved/reused")
    parser.add_argument("--estimate-only", action="store_true", help="print the computed estimate and stop")
    parser.add_argument("--out", default=None, help="write the measurements as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from transformers import AutoConfig

    if args.tiny:
        from rlhf_helpers.infra.profiles import get_profile
        from rlhf_helpers.infra.toy import ensure_toy_world

        ensure_toy_world(0)
        config = AutoConfig.from_pretrained(get_profile("04_ppo_zephyr", "tiny").models["zephyr"])
    else:
        config = zephyr_config()
    est = estimate_memory(config, args.batch, args.mini_batch, args.prompt_tokens + 8, args.new_tokens, args.lora_r,
                          args.grad_ckpt, reward_model_config(args.tiny))
    print(f"computed estimate (batch {args.batch}, mini-batch {args.mini_batch}, {args.prompt_tokens}+{args.new_tokens} "
          f"tokens, LoRA r {args.lora_r}, activation checkpointing {'on' if args.grad_ckpt else 'off'}):")
    print_estimate(est)
    if args.estimate_only:
        return {"estimate_gib": est["total"]}

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("no CUDA GPU: run with --tiny for a CPU dry run, or --estimate-only")
    return run(args, config, device, est)


def run(args, config, device: str, est: dict) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, RobertaForSequenceClassification

    from rlhf_helpers.course.ppo import PPOConfig, ValueHead, make_optimizer, train_ppo
    from rlhf_helpers.course.ppo_rollout import RewardModelScorer
    from rlhf_helpers.course.quantization import footprint_gib, load_4bit_causal_lm

    cuda = device == "cuda"
    default_dir = Path(tempfile.gettempdir()) / ("zephyr-random-tiny" if args.tiny else "zephyr-random-bf16")
    folder = random_checkpoint(config, Path(args.checkpoint_dir or default_dir), device)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    model = load_4bit_causal_lm(str(folder), device)
    load_s = time.perf_counter() - start
    load_peak = torch.cuda.max_memory_allocated() / GIB if cuda else float("nan")
    print(f"4-bit NF4 model loaded in {load_s:.0f} s: footprint {footprint_gib(model):.2f} GiB, "
          f"peak while loading {load_peak:.2f} GiB")
    if args.grad_ckpt:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    policy = get_peft_model(model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0,
                                              target_modules=LORA_TARGETS))
    policy.print_trainable_parameters()
    value_head = ValueHead(config.hidden_size).to(device)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    rm_config = reward_model_config(args.tiny)
    torch.manual_seed(0)
    reward_model = RobertaForSequenceClassification(rm_config).to(device)
    reward_fn = RewardModelScorer(reward_model, word_tokenizer(rm_config.vocab_size, chat=False), max_length=512)

    g = torch.Generator().manual_seed(0)
    words = torch.randint(6, config.vocab_size, (args.batch * args.iterations, args.prompt_tokens), generator=g)
    queries = [" ".join(f"w{i}" for i in row.tolist()) for row in words]
    ppo_config = PPOConfig(batch_size=args.batch, mini_batch_size=args.mini_batch, ppo_epochs=args.epochs,
                           max_new_tokens=args.new_tokens, learning_rate=1e-5, value_learning_rate=1e-4)
    optimizer = make_optimizer(policy, value_head, ppo_config)

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    history = train_ppo(policy, value_head, tokenizer, queries, reward_fn, ppo_config, args.iterations,
                        optimizer=optimizer, progress=False)
    peak = torch.cuda.max_memory_allocated() / GIB if cuda else float("nan")
    result = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "config": "toy chat model (--tiny)" if args.tiny else "zephyr-7b-alpha shapes, random init",
        "batch": args.batch, "mini_batch": args.mini_batch, "ppo_epochs": args.epochs,
        "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "grad_ckpt": args.grad_ckpt,
        "footprint_gib": footprint_gib(model), "load_seconds": load_s, "load_peak_gib": load_peak,
        "peak_gib": peak, "estimate_gib": est["total"],
        "seconds_per_iteration": [h["seconds"] for h in history],
        "response_length": [h["response_length"] for h in history],
        "kl": [h["kl"] for h in history],
    }
    print(json.dumps(result, indent=1))
    if cuda:
        print(f"peak GPU memory during PPO: {peak:.2f} GiB (estimate {est['total']:.2f} GiB); "
              f"{'fits' if peak < 15 else 'does NOT fit'} a 15 GiB T4; "
              f"{result['seconds_per_iteration'][-1]:.1f} s per iteration after warm-up")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
