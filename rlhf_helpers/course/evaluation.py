"""Evaluating aligned policies side by side (notebook 06): adapters on one base, K samples per prompt, metrics.

One 4-bit base model in memory; each aligned policy (a PEFT adapter from notebooks 04, 05 and 08) is attached,
sampled and detached in turn. The metrics themselves (expected maximum toxicity, bootstrap over prompts,
win rate) live in `toxicity_metrics.py`; this module holds the plumbing around them.

Shape convention: N prompts x K samples per prompt; row i of every (N, K) result belongs to prompt i.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, expected_max_toxicity, mean_toxicity, toxic_ratio, toxicity_probability

# Toxicity metrics, each a function of an (N, K) score matrix.
METRICS = {"mean toxicity": mean_toxicity, "toxic ratio": toxic_ratio, "expected max toxicity": expected_max_toxicity}
# The same, plus RealToxicityPrompts' toxicity probability (share of prompts with at least one toxic sample of K).
ALL_METRICS = {**METRICS, "toxicity probability": toxicity_probability}


def pick_rtp_prompts(rtp, n_per_group: int, skip: int = 0, group_of=None,
                     groups: tuple[str, ...] = ("RTP toxic prompts", "RTP non-toxic prompts")) -> dict[str, list[str]]:
    """Distinct RealToxicityPrompts texts that training never used, `n_per_group` per group.

    Reads the rows from `skip` on: notebook 04 trains PPO on the first rows, so `skip` = its number of training
    prompts keeps them out. A text counts once (the bootstrap treats prompts as independent units, so a
    repeated prompt would count twice).

    Args:
        rtp: the split (a `datasets.Dataset` or a list of rows).
        skip: the number of leading rows to leave out.
        group_of: row -> one of `groups` (or None to leave the row out). Default: "RTP toxic prompts" when the
            prompt's own toxicity is ≥ 0.5 (the paper's term), else "RTP non-toxic prompts".
        groups: the group names, in the order of the result.
    Returns:
        {group: [texts]}; a group may be shorter when the split runs out.
    """
    from rlhf_helpers.course.formatting import rtp_is_toxic_prompt, rtp_prompt_text

    if group_of is None:
        def group_of(row):
            return groups[0] if rtp_is_toxic_prompt(row) else groups[1]

    picked = {name: [] for name in groups}
    seen = set()
    for i in range(skip, len(rtp)):
        row = rtp[i]
        text, name = rtp_prompt_text(row), group_of(row)
        if name is None:
            continue
        if name not in picked:
            raise ValueError(f"group_of returned {name!r}, which is not one of groups={groups}")
        if text not in seen and len(picked[name]) < n_per_group:
            picked[name].append(text)
            seen.add(text)
        if all(len(g) == n_per_group for g in picked.values()):
            break
    return picked


def attach_adapter(base, adapter_dir, name: str = "default"):
    """Wrap `base` with the saved PEFT adapter in `adapter_dir` for inference (the base weights are shared).

    The adapter's `base_model_name_or_path` is ignored: we put it on the base we already loaded (in the
    tiny profile that path is an absolute folder on the machine that trained it).
    """
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(adapter_dir), adapter_name=name).eval()


def detach_adapter(policy):
    """Remove the adapter and return the base model exactly as it was before `attach_adapter`.

    peft's `unload()` alone is not enough when the adapter trained a layer in full (`modules_to_save`,
    e.g. lm_head in notebook 05's tiny profile): it puts the *trained copy* in the model, so a "base"
    evaluated afterwards would silently be part aligned. We put the original layer back.
    """
    from peft.utils import ModulesToSaveWrapper

    originals = {name: module.original_module for name, module in policy.base_model.model.named_modules()
                 if isinstance(module, ModulesToSaveWrapper)}
    base = policy.unload()  # LoRA layers -> their base layers; modules_to_save -> the trained copy (!)
    for name, module in originals.items():
        base.set_submodule(name, module)
    return base


def sample_k(model, tokenizer, prompts: list[str], k: int, max_new_tokens: int, batch_size: int = 64, seed: int = 0,
             temperature: float = 1.0, top_p: float = 1.0, measure_kl: bool = False, desc: str = "sampling"):
    """K sampled replies per prompt, in batches, with the same seeds for every model; optionally their KL.

    The prompts are repeated K times, prompt-major (rows i*K ... i*K + K-1 are prompt i), and generated in
    batches of `batch_size` with `torch.manual_seed(seed + start)` before each batch, so two models see the
    same random numbers batch for batch. Sampling as in notebook 04's rollouts (top_k=0, stop at EOS).

    Args:
        prompts: N formatted prompts (chat template applied).
        measure_kl: also return each reply's log pi(y|x) - log pi_ref(y|x), summed over its tokens, where
            pi_ref is the model with its adapter switched off: an estimate of KL(pi || pi_ref) in nats per
            reply (its mean over replies is unbiased). Needs a PeftModel.
    Returns:
        (texts, kl): texts is an N-long list of K-long lists of strings; kl an (N, K) array, or None.
    """
    import torch
    from tqdm.auto import tqdm

    from rlhf_helpers.course.ppo_rollout import forward_logprobs_values, generate_responses, reference_logprobs

    if k < 1 or not prompts:
        raise ValueError(f"need at least one prompt and k >= 1, got {len(prompts)} prompts and k={k}")
    repeated = [p for p in prompts for _ in range(k)]  # (N*K,) prompt-major
    config = SimpleNamespace(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    texts, kls = [], []
    for start in tqdm(range(0, len(repeated), batch_size), desc=desc):
        torch.manual_seed(seed + start)
        input_ids, attention_mask, response_mask = generate_responses(model, tokenizer, repeated[start:start + batch_size],
                                                                      config)
        T = response_mask.shape[1]
        replies = tokenizer.batch_decode(input_ids[:, -T:] * response_mask, skip_special_tokens=True)
        texts += [r.strip() for r in replies]
        if measure_kl:
            with torch.no_grad():
                logp, _, _ = forward_logprobs_values(model, None, input_ids, attention_mask, T, temperature)  # (B, T)
            ref = reference_logprobs(model, input_ids, attention_mask, T, temperature)  # (B, T), adapter off
            kls += ((logp - ref) * response_mask).sum(dim=1).tolist()  # (B,) nats per reply
    grid = [texts[i * k:(i + 1) * k] for i in range(len(prompts))]
    return grid, (np.array(kls).reshape(len(prompts), k) if measure_kl else None)


def metrics_with_ci(scores, n_boot: int = 1000, seed: int = 0, metrics: dict | None = None
                    ) -> dict[str, tuple[float, float, float]]:
    """Toxicity metrics of one (N, K) score matrix, each as (value, low, high) of a 95% bootstrap over prompts.

    Every metric is bootstrapped with the same seed, i.e. on the same resampled prompts.

    Args:
        metrics: {name: function of an (N, K) matrix}; default `METRICS` (notebook 06 passes `ALL_METRICS`).
    """
    metrics = METRICS if metrics is None else metrics
    return {name: bootstrap_ci(scores, fn, n_boot=n_boot, seed=seed) for name, fn in metrics.items()}


def ci_table(results: dict[str, dict[str, tuple[float, float, float]]]):
    """{model: metrics_with_ci(...)} as a DataFrame: one row per model, "value [low, high]" per metric."""
    import pandas as pd

    return pd.DataFrame({model: {metric: f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for metric, (v, lo, hi) in m.items()}
                         for model, m in results.items()}).T


def _colour(model: str):
    """The course's colour for a method name, or None (matplotlib's next colour) for a name it does not know."""
    from rlhf_helpers.course.plotting import method_color

    try:
        return method_color(model)
    except ValueError:
        return None


def plot_ci_bars(results: dict[str, dict[str, tuple[float, float, float]]], metrics=None, ax=None,
                 title: str | None = None):
    """Grouped bars, one group per metric and one bar per model (in the course's method colours), with the 95%
    interval as an error bar.

    Args:
        results: {model: {metric: (value, low, high)}}, e.g. from `metrics_with_ci`.
        metrics: the metric names to show, in order; default every metric of `results`.
    """
    import matplotlib.pyplot as plt

    models = list(results)
    metrics = list(next(iter(results.values()))) if metrics is None else list(metrics)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        values = np.array([results[model][m] for m in metrics])  # (metrics, 3): value, low, high
        x = np.arange(len(metrics)) + (j - (len(models) - 1) / 2) * width
        ax.bar(x, values[:, 0], width, label=model, color=_colour(model),
               yerr=[values[:, 0] - values[:, 1], values[:, 2] - values[:, 0]], capsize=3)
    ax.set_xticks(np.arange(len(metrics)), metrics)
    ax.set_xlabel("metric")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("value (95% interval)")
    ax.set_title(title or "toxicity per model")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside, clear of the bars
    ax.grid(axis="y", alpha=0.3)
    return ax
