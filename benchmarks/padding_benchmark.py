"""Padding benchmark for notebook 02: train the same BERT reward model on the same pairs with every text
padded to 512 tokens, and with dynamic padding (each batch padded to its own longest text).

Each mode runs in its own fresh process (so peak memory is measured separately), one after the other in one
run, and the script prints pairs per second, peak memory and the throughput ratio. Not a timed test.

    python benchmarks/padding_benchmark.py                   # tiny profile on a CPU: toy comparisons, tiny BERT
    python benchmarks/padding_benchmark.py --profile full    # bert-base-uncased, real comparisons (a GPU)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mode(args) -> dict:
    """Train for `args.pairs` pairs in one padding mode; returns the measurements."""
    import torch
    from datasets import load_dataset
    from peft import get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.course.reward_math import pairwise_loss
    from rlhf_helpers.course.reward_model import (BERT_LORA_TARGETS, REWARD_HEADS, pad_batch, reward_lora_config,
                                           tokenize_text_pairs)

    P = get_profile("02_reward_bert", args.profile, seed=args.seed)
    if P.name == "tiny":
        from rlhf_helpers.infra.toy import ensure_toy_world

        ensure_toy_world(args.seed)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(P.models["bert"])
    rows = load_dataset(P.datasets["comparisons"], split="train").select(range(args.pairs + args.batch_size))
    data = rows.map(tokenize_text_pairs(tokenizer, args.max_length), remove_columns=rows.column_names)
    model = AutoModelForSequenceClassification.from_pretrained(P.models["bert"], num_labels=1)
    model = get_peft_model(model, reward_lora_config(BERT_LORA_TARGETS, REWARD_HEADS["bert"], extra_modules_to_save=["pooler"]))
    model.to(P.device).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad_to = args.max_length if args.mode == "fixed" else None

    def step(start):
        part = data[start:start + args.batch_size]
        ids, mask = pad_batch(part["chosen_ids"] + part["rejected_ids"], tokenizer.pad_token_id, pad_to=pad_to)
        with torch.autocast(P.device, dtype=P.precision.dtype, enabled=P.device == "cuda"):
            rewards = model(input_ids=ids.to(P.device), attention_mask=mask.to(P.device)).logits.squeeze(-1)
        loss = pairwise_loss(*rewards.float().chunk(2))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return mask.numel(), int(mask.sum())

    step(args.pairs)  # warm-up on pairs not timed below
    if P.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss_before = peak_rss_mib()
    cells = real = 0
    cpu_start = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    start = time.perf_counter()
    for first in range(0, args.pairs, args.batch_size):
        c, r = step(first)
        cells, real = cells + c, real + r
    if P.device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if P.device == "cuda" else peak_rss_mib()
    return {"mode": args.mode, "profile": P.name, "device": P.device, "pairs": args.pairs, "seconds": seconds,
            "pairs_per_s": args.pairs / seconds, "peak_mib": peak, "rss_before_mib": rss_before,
            "padding_share": 1 - real / cells, "torch_threads": torch.get_num_threads(),
            "cpu_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_start}  # of the timed loop only


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None, help="tiny or full (default: $RLHF_PROFILE, else by hardware)")
    parser.add_argument("--pairs", type=int, default=256, help="training pairs per mode")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per batch (2x texts)")
    parser.add_argument("--max-length", type=int, default=512, help="the fixed padding length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["fixed", "dynamic"], help=argparse.SUPPRESS)  # set for the child runs
    args = parser.parse_args(argv)
    if args.mode:
        print(json.dumps(run_mode(args)))
        return 0

    from rlhf_helpers.infra.profiles import default_profile

    profile = args.profile or default_profile()
    results = {}
    for mode in ("fixed", "dynamic"):
        cmd = [sys.executable, __file__, "--mode", mode, "--profile", profile, "--pairs", str(args.pairs),
               "--batch-size", str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(args.seed)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return out.returncode
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    fixed, dynamic = results["fixed"], results["dynamic"]
    memory = "peak GPU memory" if fixed["device"] == "cuda" else "peak RSS (process)"
    print(f"profile {profile}, device {fixed['device']}, {args.pairs} pairs, batch {args.batch_size} pairs, "
          f"{fixed['torch_threads']} torch threads; seconds and cpu s are of the timed loop")
    print(f"{'padding':<12} {'pairs/s':>9} {'seconds':>8} {'cpu s':>7} {'padding share':>14} {memory:>20}")
    for mode, r in results.items():
        name = f"to {args.max_length}" if mode == "fixed" else "dynamic"
        print(f"{name:<12} {r['pairs_per_s']:>9.1f} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} "
              f"{r['padding_share']:>14.0%} {r['peak_mib']:>16.0f} MiB")
    print(f"throughput ratio (dynamic / fixed): {dynamic['pairs_per_s'] / fixed['pairs_per_s']:.1f}x; "
          f"peak memory ratio (fixed / dynamic): {fixed['peak_mib'] / dynamic['peak_mib']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
