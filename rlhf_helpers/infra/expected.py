"""What you should see: the expected range of each notebook's key results, per profile, in one place.

Read by `results.expect` at the end of every notebook (introduced in notebook 01) and by the README test.
`tiny` ranges were measured with the default settings and SEED 0, 1 and 2 (wide enough for all three, narrow
enough to catch a change that breaks learning); the test suite fails when a tiny value leaves its range.
`full` is what published runs or the real models lead us to expect: words, optionally a range; never enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

SEEDS_MEASURED = (0, 1, 2)


@dataclass(frozen=True)
class Expected:
    """One key result: what it is, its tiny-profile range, what to expect in full."""

    what: str                        # plain words, as the table shows them
    tiny: tuple                      # (low, high), inclusive; None = open end
    full: str                        # the full profile's expectation, in words
    full_range: tuple | None = None  # optional (low, high) for the full profile: a ✅/⚠️, never an error
    tiny_only: bool = False          # measured with the toy world's ground truth: absent from full-profile results


E = Expected
EXPECTED: dict[str, dict[str, Expected]] = {
    "01_sft": {
        "rougeL_base": E("ROUGE-L, base model", (0.0, 0.15), "≈ 0.1 (pretrained GPT-2 rambles)"),
        "rougeL_sft": E("ROUGE-L, after SFT", (0.65, 0.95), "≈ 0.25–0.3 after 2,000 steps"),
        "rougeL_gain": E("ROUGE-L gain from SFT", (0.4, None), "≈ +0.15", (0.05, None)),
        "rougeL_other_post": E("ROUGE-L against another post's reference", (0.3, 0.65),
                               "far below the own-post score (real summaries share little template)"),
        "train_loss_first": E("training loss, first log", (2.0, 8.0), "≈ 2.7"),
        "train_loss_last": E("training loss, last log", (0.01, 1.2), "≈ 2.0"),
        "fact_accuracy_base": E("summaries with the post's facts, base model", (0.0, 0.1), "no ground truth in full",
                                tiny_only=True),
        "fact_accuracy_sft": E("summaries with the post's facts, after SFT", (0.0, 0.4), "no ground truth in full",
                               tiny_only=True),
        "best_fact_accuracy_sft": E("the fact SFT states best (person, event or feeling)", (0.5, 1.0),
                                    "no ground truth in full", tiny_only=True),
    },
    "02_reward_bert": {
        "eval_accuracy": E("held-out accuracy (ties wrong)", (0.85, 1.0), "≈ 0.6–0.65 (human labels are noisy)",
                           (0.55, 0.75)),
        "wrong_post_win_rate": E("own summary beats another post's, next to the post", (0.85, 1.0),
                                 "clearly above 0.5 if it reads the post"),
        "contrast_eval_accuracy": E("held-out accuracy, BERT from random weights", (0.7, 1.0),
                                    "below the pretrained model's"),
        "contrast_wrong_post_win_rate": E("own summary beats another's, BERT from random weights", (0.35, 0.65),
                                          "≈ 0.5 (the post is ignored)"),
        "reload_max_abs_diff": E("reloaded vs trained rewards, max diff", (0.0, 1e-4), "≈ 0 (same model)", (0.0, 1e-3)),
        "headless_max_abs_diff": E("adapter without head: reward change", (1e-3, None), "> 0 (a new random head)",
                                   (1e-3, None)),
    },
    "03_reward_gpt2": {
        "eval_accuracy": E("Dahoas win rate (accuracy)", (0.85, 1.0), "≈ 0.9+ (synthetic pairs are easy)"),
        "scratch_eval_accuracy": E("Dahoas, reward model by hand", (0.75, 1.0), "close to RewardTrainer's"),
        "ultrafeedback_eval_accuracy": E("UltraFeedback, fixed", (0.85, 1.0), "≈ 0.65–0.7"),
        "ultrafeedback_buggy_eval_accuracy": E("UltraFeedback, buggy: accuracy", (0.2, 0.8), "as untrained, near 0.5"),
        "ultrafeedback_buggy_train_loss": E("UltraFeedback, buggy: last loss", (0.6930, 0.6932), "ln 2 = 0.6931",
                                            (0.6930, 0.6932)),
        "old_rule_equal_share": E("old rule (before the first pad): r_c = r_r", (0.9, 1.0), "≈ 1 (the same mechanism)"),
    },
    "04_ppo_zephyr": {
        "rm_eval_accuracy": E("reward-model accuracy", (0.8, 1.0), "≈ 0.65–0.7 (hh-rlhf is noisy)"),
        "toxic_rate_before": E("toxic rate before PPO", (0.25, 0.75), "low already (Zephyr rarely insults)"),
        "toxic_rate_after": E("toxic rate after PPO", (0.0, 0.15), "lower than before"),
        "reward_before": E("mean reward before PPO", (-2.0, 1.0), "no absolute meaning"),
        "reward_gain": E("reward gain from PPO", (0.5, None), "> 0", (0.0, None)),
        "kl_last": E("KL to the reference, last iteration", (0.1, 6.0), "a few nats per reply"),
        "kl_gap_no_kl": E("mean KL of the last iterations, β = 0 run minus leashed run", (0.25, None),
                          "> 0, growing with iterations"),
        "on_topic_rate_before": E("on-topic rate of polite replies, before PPO", (0.8, 1.0), "no ground truth in full",
                                  tiny_only=True),
        "on_topic_rate_after": E("on-topic rate of polite replies, after PPO", (0.5, 1.0), "no ground truth in full",
                                 tiny_only=True),
    },
    "05_dpo": {
        "eval_accuracy": E("held-out accuracy of the implicit reward", (0.85, 1.0), "≈ 0.6–0.7 (noisy preferences)"),
        "margin_last": E("rewards/margins, last log", (1.0, 15.0), "≈ 0.5–1"),
        "toxic_rate_before": E("toxic replies before DPO", (0.25, 0.75), "low already (Zephyr is tuned)"),
        "toxic_rate_after": E("toxic replies after DPO", (0.0, 0.25), "should not rise"),
        "our_minus_trainer_loss": E("our DPO loss − DPOTrainer's", (-1e-3, 1e-3), "≈ 0", (-1e-3, 1e-3)),
        "held_out_pairs_leaked": E("held-out pairs that open like a training one", (None, 0), "≈ 0 (a few repeats are possible)"),
        "on_topic_rate_before": E("on-topic rate of polite replies, before DPO", (0.8, 1.0), "no ground truth in full",
                                  tiny_only=True),
        "on_topic_rate_after": E("on-topic rate of polite replies, after DPO", (0.6, 1.0), "no ground truth in full",
                                 tiny_only=True),
    },
    "06_toxicity_eval": {
        "toxicity_base": E("mean toxicity, base", (0.4, 0.6), "low on hh-rlhf, higher on toxic RTP prompts"),
        "toxicity_ppo": E("mean toxicity, PPO", (0.0, 0.15), "at or below the base"),
        "toxicity_dpo": E("mean toxicity, DPO", (0.0, 0.15), "at or below the base"),
        "toxicity_rloo": E("mean toxicity, RLOO", (0.0, 0.15), "at or below the base (with notebook 08's adapters)",
                           tiny_only=True),
        "toxicity_grpo": E("mean toxicity, GRPO", (0.0, 0.15), "at or below the base (with notebook 08's adapters)",
                           tiny_only=True),
        "ci_gap_ppo": E("base's lower interval end − PPO's upper end", (0.0, None), "may overlap (≤ 0)"),
        "ci_gap_dpo": E("base's lower interval end − DPO's upper end", (0.0, None), "may overlap (≤ 0)"),
        "ci_gap_rloo": E("base's lower interval end − RLOO's upper end", (0.0, None), "may overlap (≤ 0)",
                         tiny_only=True),
        "ci_gap_grpo": E("base's lower interval end − GRPO's upper end", (0.0, None), "may overlap (≤ 0)",
                         tiny_only=True),
        "expected_max_base": E("expected max toxicity, base", (0.9, 1.0), "grows with K"),
        "win_rate_ppo": E("win rate over the base, PPO", (0.55, 1.0), "high: PPO trained on this reward model"),
        "kl_ppo": E("KL to the base, PPO (nats/reply)", (0.2, 6.0), "a few nats per reply"),
        "kl_dpo": E("KL to the base, DPO (nats/reply)", (0.1, 6.0), "a few nats per reply"),
        "hh_prompts_seen_in_training": E("held-out hh-rlhf prompts that open a training conversation", (None, 0),
                                         "≈ 0 (a few repeats are possible)"),
        "on_topic_rate_base": E("on-topic rate of polite replies, base", (0.8, 1.0), "no ground truth in full",
                                tiny_only=True),
        "on_topic_rate_ppo": E("on-topic rate of polite replies, PPO", (0.5, 1.0), "no ground truth in full",
                               tiny_only=True),
        "on_topic_rate_dpo": E("on-topic rate of polite replies, DPO", (0.6, 1.0), "no ground truth in full",
                               tiny_only=True),
        **{f"toxicity_{m}_{g}": E(f"mean toxicity, {m.upper() if m != 'base' else m}, RTP {g.replace('_', ' ')}",
                                  (0.3, 0.7) if m == "base" else (0.0, 0.15), "no templates in full", tiny_only=True)
           for m in ("base", "ppo", "dpo") for g in ("in_distribution", "held_out_templates")},
    },
    "07_summarize_rlhf": {
        "rm_eval_accuracy": E("reward-model accuracy", (0.9, 1.0), "≈ 0.6–0.65"),
        "rm_score_gain": E("reward-model score gain from PPO", (0.3, None), "> 0 (trlx GPT-J: 2.73 → 3.29)", (0.0, None)),
        "rougeL_before": E("ROUGE-L of SFT samples", (0.4, 0.95), "≈ 0.25–0.3 (trlx GPT-J: 0.261)"),
        "rougeL_change": E("ROUGE-L change from PPO", (-0.3, 0.1), "often slightly negative (trlx: −0.023)"),
        "kl_last": E("KL to the reference, last iteration", (0.05, 8.0), "a few nats per summary"),
        "rm_score_gain_se": E("reward gain in standard errors (paired per post)", (3.0, None), "well above 3"),
        "wrong_post_win_rate": E("own summary beats another post's", (0.85, 1.0), "well above 0.5 if it reads the post"),
        "cut_off_rate_before": E("SFT summaries cut off at max_new_tokens", (0.05, 0.5), "a few"),
        "cut_off_rate_after": E("summaries cut off after PPO", (0.0, 0.2), "no more than before"),
        "cut_off_rate_length_reward": E("cut off after PPO on a reward per word, with the no-EOS penalty", (0.0, 0.2),
                                        "few: the penalty outweighs the extra words"),
        "cut_off_rate_length_reward_no_penalty": E("cut off after PPO on a reward per word, without the penalty",
                                                   (0.6, 1.0), "most: PPO runs on to the limit"),
        "person_accuracy_before": E("SFT summaries that state the post's person", (0.9, 1.0),
                                    "no ground truth in full", tiny_only=True),
        "event_accuracy_before": E("SFT summaries that state the post's event", (0.9, 1.0), "no ground truth in full",
                                   tiny_only=True),
        "feeling_accuracy_before": E("SFT summaries that state the post's feeling", (0.0, 0.35),
                                     "no ground truth in full", tiny_only=True),
        "one_fact_wrong_win_rate": E("own summary beats it with one fact wrong", (0.5, 1.0),
                                     "no ground truth in full", tiny_only=True),
        "cut_off_rate_eval_after": E("held-out summaries cut off after PPO", (0.0, 0.1), "no more than before"),
        "rm_score_gain_finished_z": E("reward change over finished summaries only (z)", (None, 3.0),
                                      "unknown: published runs do not report it", tiny_only=True),
        "rougeL_change_finished_z": E("ROUGE-L change over finished summaries only (z)", (None, 3.0),
                                      "unknown: published runs do not report it", tiny_only=True),
        "top_word_right_share": E("top new word is a fact of its own post", (0.0, 0.4), "no ground truth in full",
                                  tiny_only=True),
        "feeling_accuracy_change_z": E("change of the feeling's accuracy (z)", (-2.39, 2.39), "no ground truth in full",
                                       tiny_only=True),
    },
    "08_rloo_grpo": {
        "toxic_rate_before": E("toxic rate before (base)", (0.35, 0.75), "low already (Zephyr rarely insults)"),
        "rloo_toxic_rate_after": E("toxic rate after RLOO", (0.0, 0.17), "at or below the base"),
        "grpo_toxic_rate_after": E("toxic rate after GRPO", (0.0, 0.17), "at or below the base"),
        "rloo_reward_gain": E("reward-model score gain from RLOO", (0.5, None), "> 0", (0.0, None)),
        "grpo_reward_before": E("reward-model score, base", (-2.5, 0.5), "no absolute meaning"),
        "grpo_reward_after": E("reward-model score after GRPO", (1.0, None), "above the base"),
        "verifiable_accuracy_before": E("arithmetic: right and in format, before", (0.0, 0.5),
                                        "depends on the prompt; Zephyr adds small numbers well"),
        "verifiable_accuracy_after": E("arithmetic: right and in format, after GRPO", (0.03, 0.3), "above the base"),
        "verifiable_accuracy_gain": E("arithmetic accuracy gain from GRPO", (0.01, None), "> 0", (0.0, None)),
        "verifiable_format_before": E("arithmetic: in the asked-for format, before", (0.3, 0.65),
                                      "depends on the prompt; Zephyr often answers in its own words"),
        "verifiable_format_after": E("arithmetic: in the asked-for format, after GRPO", (0.75, 1.0),
                                     "near 1: the format is learnt first"),
        "rloo_kl_last": E("RLOO's KL per token (k1), last step", (-0.05, 0.3), "small, per token"),
        "grpo_kl_last": E("GRPO's KL per token (k3), last step", (0.01, 0.3), "small, per token"),
    },
}


def changed_settings(profile) -> list[str]:
    """The settings (and SEED) of `profile` that differ from those the tiny ranges were measured with."""
    from rlhf_helpers.infra.profiles import SETTINGS

    defaults = SETTINGS.get(profile.notebook, {}).get(profile.name, {})
    changed = [k for k, v in vars(profile.settings).items() if k in defaults and defaults[k] != v]
    if profile.seed not in SEEDS_MEASURED:
        changed.append("SEED")
    return changed
