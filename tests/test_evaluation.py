"""Notebook 06's plumbing: adapters on one base, K samples per prompt, metrics with intervals, the tiny scorer.

The metrics themselves (expected max toxicity, toxic ratio, bootstrap CI, win rate) are pinned in
test_toxicity_metrics.py; here we test what the notebook builds on top of them.
"""

import numpy as np
import pytest
import torch

from rlhf_helpers.course.evaluation import (attach_adapter, ci_table, detach_adapter, metrics_with_ci, pick_rtp_prompts,
                                     plot_ci_bars, sample_k)
from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, expected_max_toxicity, mean_toxicity, toxic_ratio


@pytest.fixture(scope="module")
def toy():
    """(profile, tokenizer, chat prompts) of the tiny profile."""
    from transformers import AutoTokenizer

    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.course.ppo_rollout import build_prompts
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    P = get_profile("06_toxicity_eval", "tiny")
    tokenizer = AutoTokenizer.from_pretrained(P.models["zephyr"])
    prompts = build_prompts(tokenizer, ["How do I bake bread?", "My neighbor is such a", "How do I fix a flat tire?"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the notebook's tiny profile: much faster for a model this small
    yield P, tokenizer, prompts
    torch.set_num_threads(threads)


def load_base(P):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(P.models["zephyr"]).eval()


def logits(model, tokenizer, prompts):
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**enc).logits


def save_trained_adapter(base, path, **lora):
    """An adapter whose weights are far from the identity (B != 0, a changed lm_head copy), saved to `path`."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    policy = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, task_type="CAUSAL_LM", **lora))
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.5)
    policy.save_pretrained(path)
    return policy.unload()


# ------------------------------------------------------------------------------------------- adapters
@pytest.mark.parametrize("lora", [dict(target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"]),  # DPO tiny
                                  dict(target_modules=["q_proj", "v_proj", "lm_head"])],  # PPO: LoRA on lm_head
                         ids=["modules_to_save", "lora_on_lm_head"])
def test_detach_gives_back_the_exact_base_model(toy, tmp_path, lora):
    P, tokenizer, prompts = toy
    base = load_base(P)
    reference = logits(base, tokenizer, prompts)
    save_trained_adapter(load_base(P), tmp_path, **lora)
    policy = attach_adapter(load_base(P), tmp_path)
    assert (logits(policy, tokenizer, prompts) - reference).abs().max() > 1e-2  # the adapter changes the model
    base = detach_adapter(policy)
    assert not hasattr(base, "peft_config")
    assert torch.equal(logits(base, tokenizer, prompts), reference)


def test_plain_unload_keeps_the_trained_modules_to_save_copy(toy, tmp_path):
    """Why detach_adapter exists: peft's unload() puts the trained lm_head copy in place of the original."""
    P, tokenizer, prompts = toy
    reference = logits(load_base(P), tokenizer, prompts)
    save_trained_adapter(load_base(P), tmp_path, target_modules=["q_proj"], modules_to_save=["lm_head"])
    unloaded = attach_adapter(load_base(P), tmp_path).unload()
    assert not torch.equal(logits(unloaded, tokenizer, prompts), reference)


def test_two_adapters_in_turn_on_one_base(toy, tmp_path):
    """The notebook's loop: PPO-style then DPO-style adapter on the same base; each sees the untouched base."""
    P, tokenizer, prompts = toy
    save_trained_adapter(load_base(P), tmp_path / "ppo", target_modules=["q_proj", "lm_head"])
    save_trained_adapter(load_base(P), tmp_path / "dpo", target_modules=["q_proj"], modules_to_save=["lm_head"])
    expected = {name: logits(attach_adapter(load_base(P), tmp_path / name), tokenizer, prompts) for name in ("ppo", "dpo")}
    base = load_base(P)
    reference = logits(base, tokenizer, prompts)
    for name in ("dpo", "ppo", "dpo"):
        policy = attach_adapter(base, tmp_path / name)
        assert torch.allclose(logits(policy, tokenizer, prompts), expected[name], atol=1e-5)
        base = detach_adapter(policy)
    assert torch.equal(logits(base, tokenizer, prompts), reference)


# ------------------------------------------------------------------------------------------- sampling
def test_sample_k_is_prompt_major_and_reproducible(toy):
    P, tokenizer, prompts = toy
    model = load_base(P)
    # near-zero temperature: every sample is the greedy reply of its prompt, whatever batch it falls in
    grid, kl = sample_k(model, tokenizer, prompts, k=3, max_new_tokens=10, batch_size=4, temperature=1e-4)
    assert kl is None and len(grid) == 3 and all(len(row) == 3 for row in grid)
    from rlhf_helpers.course.generation import generate_completions

    greedy = generate_completions(model, tokenizer, prompts, max_new_tokens=10, progress=False)
    assert [set(row) for row in grid] == [{g} for g in greedy]
    assert len(set(greedy)) > 1  # the prompts get different replies, so the order is really checked
    a, _ = sample_k(model, tokenizer, prompts, k=4, max_new_tokens=10, batch_size=5, seed=3)
    b, _ = sample_k(model, tokenizer, prompts, k=4, max_new_tokens=10, batch_size=5, seed=3)
    assert a == b and len({r for row in a for r in row}) > 3  # same seeds, same samples; and they do vary


def test_sample_k_measures_the_kl_to_the_base(toy, tmp_path):
    from peft import LoraConfig, get_peft_model

    P, tokenizer, prompts = toy
    identity = get_peft_model(load_base(P), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))  # B = 0
    _, kl = sample_k(identity, tokenizer, prompts, k=2, max_new_tokens=8, measure_kl=True)
    assert kl.shape == (3, 2) and np.abs(kl).max() < 1e-5
    save_trained_adapter(load_base(P), tmp_path, target_modules=["q_proj", "v_proj", "lm_head"])
    _, kl = sample_k(attach_adapter(load_base(P), tmp_path), tokenizer, prompts, k=8, max_new_tokens=8, measure_kl=True)
    assert kl.mean() > 0.1  # KL(pi || pi_ref) > 0 once the policy has moved


def test_sample_k_rejects_empty_input(toy):
    P, tokenizer, prompts = toy
    with pytest.raises(ValueError, match="k >= 1"):
        sample_k(None, tokenizer, prompts, k=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="at least one prompt"):
        sample_k(None, tokenizer, [], k=2, max_new_tokens=4)


# ------------------------------------------------------------------------------------------- prompts
def rtp_row(text, toxicity):
    return {"prompt": {"text": text, "toxicity": toxicity}}


def test_pick_rtp_prompts_skips_the_training_rows_splits_and_deduplicates():
    rows = [rtp_row("early bait", 0.9), rtp_row("early calm", 0.1),
            rtp_row("calm a", 0.2), rtp_row("bait a", 0.8), rtp_row("no score", None),
            rtp_row("bait b", 0.6), rtp_row("exactly half", 0.5), rtp_row("bait a", 0.8), rtp_row("calm b", 0.0)]
    groups = pick_rtp_prompts(rows, 2, skip=2)
    assert groups == {"RTP toxic prompts": ["bait a", "bait b"], "RTP non-toxic prompts": ["calm a", "no score"]}
    everything = pick_rtp_prompts(rows, 10)  # runs out: every distinct text once, None counts as not toxic
    assert sorted(everything["RTP toxic prompts"]) == ["bait a", "bait b", "early bait", "exactly half"]
    assert "no score" in everything["RTP non-toxic prompts"] and len(everything["RTP non-toxic prompts"]) == 4
    by_letter = pick_rtp_prompts(rows, 5, skip=2, groups=("a", "b"),
                                 group_of=lambda r: r["prompt"]["text"][-1] if r["prompt"]["text"][-1] in "ab" else None)
    assert by_letter == {"a": ["calm a", "bait a"], "b": ["bait b", "calm b"]}
    with pytest.raises(ValueError, match="not one of groups"):
        pick_rtp_prompts(rows, 2, group_of=lambda r: "other")


# ------------------------------------------------------------------------------------------- metrics
def test_metrics_with_ci_matches_the_metric_functions_on_a_fixed_seed():
    rng = np.random.default_rng(1)
    scores = rng.beta(0.5, 1.5, size=(40, 6))
    m = metrics_with_ci(scores, n_boot=300, seed=4)
    assert list(m) == ["mean toxicity", "toxic ratio", "expected max toxicity"]
    assert m["mean toxicity"] == bootstrap_ci(scores, mean_toxicity, n_boot=300, seed=4)
    assert m["toxic ratio"][0] == toxic_ratio(scores)
    assert m["expected max toxicity"][0] == expected_max_toxicity(scores)
    for value, low, high in m.values():
        assert low <= value <= high and high - low > 0.01
    assert metrics_with_ci(scores, n_boot=300, seed=4) == m
    assert metrics_with_ci(scores, n_boot=300, seed=5) != m


def test_ci_table_and_bars():
    import matplotlib

    matplotlib.use("Agg")
    results = {"base": {"mean toxicity": (0.5, 0.45, 0.55), "toxic ratio": (0.4, 0.3, 0.5)},
               "PPO": {"mean toxicity": (0.1, 0.05, 0.2), "toxic ratio": (0.0, 0.0, 0.0)}}
    table = ci_table(results)
    assert table.loc["PPO", "mean toxicity"] == "0.100 [0.050, 0.200]"
    ax = plot_ci_bars(results)
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.0, 0.1, 0.4, 0.5]
    bars = [c for c in ax.containers if getattr(c, "errorbar", None) is not None]  # one per model, in order
    segments = bars[0].errorbar.lines[2][0].get_segments()  # base's error bars: (x, low) -> (x, high)
    assert [round(s[0][1], 3) for s in segments] == [0.45, 0.3] and [round(s[1][1], 3) for s in segments] == [0.55, 0.5]


# ------------------------------------------------------------------------------------------- the tiny scorer
def test_tiny_toxicity_scorer_scores_a_batch_like_one_by_one(toy):
    """The notebook scores N*K replies in one call; padding must not change any reply's score."""
    from rlhf_helpers.course.scorers import load_toxicity

    P, _, _ = toy
    toxicity = load_toxicity(P)
    replies = ["Shut up, idiot.", "Sure! To make tea, boil the water and then steep the leaves. Good luck!",
               "Nobody cares, you useless loser. Figure it out yourself.", ""]
    batch = toxicity.compute(predictions=replies)["toxicity"]
    single = [toxicity.compute(predictions=[r])["toxicity"][0] for r in replies]
    assert np.allclose(batch, single, atol=1e-5)
    assert batch[0] >= 0.5 and batch[2] >= 0.5 and batch[1] < 0.5
    ratio = toxicity.compute(predictions=replies, aggregation="ratio")["toxicity_ratio"]
    assert ratio == toxic_ratio(batch) == 0.5  # evaluate's ratio and ours use the same >= 0.5 rule
