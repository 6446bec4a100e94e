"""Plumbing around TRL's `RLOOTrainer` and `GRPOTrainer` for notebook 08: prompts, reward functions, logs, costs.

The math lives in `grpo_math.py`; the training loops are TRL's. What is here: the chat prompts in TRL's
conversational format, reward functions in the signature TRL calls (`fn(prompts, completions, **columns) ->
list[float]`), the verifiable arithmetic rewards, the trainers' logged metrics as a history for the course's
dashboard, and a meter for wall time and peak memory.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time

# What RLOOTrainer and GRPOTrainer log (TRL 1.16) that notebook 08's dashboard plots. `kl` is the mean per TOKEN
# (RLOO: k1 = log π − log π_ref, can be negative; GRPO: k3, never negative), not per reply as in the course's PPO.
# Left out: `clip_ratio/*` (0 with num_iterations=1: every ratio is 1 at the update) and, with a reward model's
# continuous scores, `frac_reward_zero_std` (0 unless a group's replies are identical).
TRAINER_METRICS = ["reward", "kl", "entropy", "completions/mean_length"]
ANSWER_PATTERN = re.compile(r"The answer is (\d+)\.")


def chat_prompt_dataset(queries: list[str], **columns):
    """A `datasets.Dataset` in TRL's conversational prompt format: one user message per row, plus extra columns.

    TRL applies the tokenizer's chat template itself (with the assistant turn opened), as `build_prompts` does for
    the course's PPO. Extra columns (e.g. `query`, `answer`) are passed to every reward function by name.
    """
    from datasets import Dataset

    for name, values in columns.items():
        if len(values) != len(queries):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(queries)} queries: give one per query")
    return Dataset.from_dict({"prompt": [[{"role": "user", "content": q}] for q in queries], **columns})


def completion_texts(completions: list) -> list[str]:
    """The reply texts of TRL's `completions` (strings, or message lists in the conversational format)."""
    return [c if isinstance(c, str) else c[-1]["content"] for c in completions]


def reward_model_reward(scorer):
    """A TRL reward function from a `ppo_rollout.RewardModelScorer`: scores (query, reply) as notebook 04 does.

    Needs a `query` column in the dataset (the user message, before the chat template).
    """
    def reward_model(prompts, completions, query, **kwargs) -> list[float]:
        return scorer(list(query), completion_texts(completions)).tolist()

    return reward_model


def parse_answer(text: str) -> int | None:
    """The number of a reply in the asked-for format, exactly "The answer is N." (whitespace around it allowed); else None."""
    match = ANSWER_PATTERN.fullmatch(text.strip())
    return int(match.group(1)) if match else None


def format_reward(completions, **kwargs) -> list[float]:
    """1.0 for a reply in the exact format "The answer is N.", else 0.0 (whatever N is)."""
    return [float(parse_answer(t) is not None) for t in completion_texts(completions)]


def correctness_reward(completions, answer, **kwargs) -> list[float]:
    """1.0 for a reply in the format whose N is the right answer (the `answer` column), else 0.0."""
    return [float(parse_answer(t) == int(a)) for t, a in zip(completion_texts(completions), answer)]


def verifiable_rates(replies: list[str], answers: list[int]) -> dict[str, float]:
    """{"format rate": share in the exact format, "accuracy": share in the format AND right}."""
    if len(replies) != len(answers) or not replies:
        raise ValueError(f"need one answer per reply, got {len(replies)} replies and {len(answers)} answers")
    parsed = [parse_answer(r) for r in replies]
    return {"format rate": sum(p is not None for p in parsed) / len(parsed),
            "accuracy": sum(p == int(a) for p, a in zip(parsed, answers)) / len(parsed)}


def trainer_history(trainer) -> list[dict]:
    """The trainer's logged training metrics, one dict per optimisation step, with `step` (from 1)."""
    rows = [entry for entry in trainer.state.log_history if "reward" in entry]
    if not rows:
        raise ValueError("the trainer logged no reward: train it first, with logging_steps=1")
    return [{"step": i + 1, **{k: float(v) for k, v in entry.items() if isinstance(v, (int, float))}}
            for i, entry in enumerate(rows)]


def generated_tokens(history: list[dict], generation_batch_size: int) -> int:
    """Reply tokens generated during training: Σ over steps of mean reply length × replies per step."""
    return round(sum(h["completions/mean_length"] for h in history) * generation_batch_size)


def _rss_bytes() -> int | None:
    """This process's resident memory, from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def measure(device: str, interval: float = 0.02):
    """Wall time and peak memory of the block: yields a dict that gets `seconds` and `peak_memory_gib`.

    On CUDA, the peak of `torch.cuda.max_memory_allocated` during the block. On a CPU, the peak growth of the
    process's resident memory above its level at the start (sampled every `interval` s; Linux only, else NaN):
    what the block added, not what the process holds in all.
    """
    import torch

    stats: dict = {}
    start = time.perf_counter()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        yield stats
        torch.cuda.synchronize()
        stats["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        base = _rss_bytes()
        peak = [base or 0]
        stop = threading.Event()

        def sample():
            while not stop.wait(interval):
                peak[0] = max(peak[0], _rss_bytes() or 0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield stats
        finally:
            stop.set()
            sampler.join()
        peak[0] = max(peak[0], _rss_bytes() or 0)
        stats["peak_memory_gib"] = (peak[0] - base) / 2**30 if base is not None else float("nan")
    stats["seconds"] = time.perf_counter() - start


def evaluate_policy(model, tokenizer, prompts: list[str], queries: list[str], toxicity, reward_fn, k: int,
                    max_new_tokens: int, batch_size: int = 64, seed: int = 0, measure_kl: bool = True,
                    n_boot: int = 1000, desc: str = "sampling") -> dict:
    """Notebook 06's evaluation of one policy: K samples per prompt (`evaluation.sample_k`, the same seeds for
    every model), toxicity scores, reward-model scores, KL to the adapter-off reference, distinct replies.

    Args:
        prompts: N chat-formatted prompts; queries: the N user messages (what the reward model reads).
        toxicity: an `evaluate`-style measurement (`scorers.load_toxicity`); reward_fn: a `RewardModelScorer`.
        measure_kl: needs a PeftModel (its adapter is switched off for the reference); False for the base.
    Returns:
        {"replies": N×K texts, "toxicity": (N, K), "reward": (N, K), "kl": (N, K) or None, and the row of the
        comparison table: "toxic rate" (value, low, high) from a bootstrap over prompts, "reward-model score",
        "KL to the reference (nats/reply)", "distinct replies"}.
    """
    import numpy as np

    from rlhf_helpers.course.evaluation import sample_k
    from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, toxic_ratio

    grid, kl = sample_k(model, tokenizer, prompts, k, max_new_tokens, batch_size=batch_size, seed=seed,
                        measure_kl=measure_kl, desc=desc)
    flat = [r for row in grid for r in row]  # prompt-major, N*K
    scores = np.array(toxicity.compute(predictions=flat)["toxicity"]).reshape(len(prompts), k)  # (N, K)
    rewards = reward_fn([q for q in queries for _ in range(k)], flat).numpy().reshape(len(prompts), k)  # (N, K)
    return {"replies": grid, "toxicity": scores, "reward": rewards, "kl": kl,
            "toxic rate": bootstrap_ci(scores, toxic_ratio, n_boot=n_boot, seed=seed),
            "reward-model score": float(rewards.mean()),
            "KL to the reference (nats/reply)": float(kl.mean()) if kl is not None else 0.0,
            "distinct replies": len(set(flat)) / len(flat)}


# Zephyr-7B-alpha's shapes (Mistral-7B), from its config.json on the Hub: what the full profile trains.
ZEPHYR_SHAPES = dict(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, vocab=32000)


def estimate_full_memory(replies_per_micro_batch: int, prompt_tokens: int, new_tokens: int, lora_r: int = 16,
                         checkpointing: bool = True, shapes: dict = ZEPHYR_SHAPES) -> dict[str, float]:
    """Rough GPU memory (GiB) of one RLOO/GRPO step on Zephyr-7B in 4-bit with LoRA, from the shapes alone.

    Counted: NF4 weights (0.5 byte + a 1/64 scale per weight) and 16-bit embeddings and lm_head; LoRA weights, grads
    and AdamW state in fp32 (16 bytes per weight); the KV cache of generation (16-bit); per micro-batch the
    activations (each layer's 16-bit input with checkpointing, else about 34·H bytes per token and layer) and the
    logits' fp32 log-softmax (TRL computes log-probs in chunks, so one chunk's worth, counted as 4 bytes × V per
    token). Not counted: the CUDA context (~0.5 GiB), fragmentation, the reward model (small next to 7B).
    """
    H, I, L, V = shapes["hidden"], shapes["intermediate"], shapes["layers"], shapes["vocab"]
    kv = shapes["kv_heads"] * H // shapes["heads"]
    gib = 2**30
    linear = L * (2 * H * H + 2 * H * kv + 3 * H * I)
    lora = L * lora_r * (2 * (H + H) + 2 * (H + kv) + 3 * (H + I))
    tokens = replies_per_micro_batch * (prompt_tokens + new_tokens)
    per_token_layer = H * 2 if checkpointing else 34 * H
    est = {"base weights (NF4 + 16-bit embeddings, lm_head)": (linear * (0.5 + 1 / 64) + 2 * V * H * 2) / gib,
           "LoRA weights + grads + AdamW (fp32)": lora * 16 / gib,
           "KV cache while generating": tokens * L * 2 * kv * 2 / gib,
           "activations of one micro-batch": tokens * L * per_token_layer / gib
           + (tokens * (8 * H + 2 * kv + 4 * I) * 2 / gib if checkpointing else 0.0),
           "log-softmax of the replies' logits (fp32)": replies_per_micro_batch * new_tokens * V * 4 / gib}
    est["total"] = sum(est.values())
    return est
