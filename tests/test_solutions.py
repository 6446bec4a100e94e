"""The reference solutions in solutions/ pass their notebooks' checks."""

import importlib

import pytest

from rlhf_helpers.checkers import nb01_sft as sft, nb02_reward_bert, nb03_reward_gpt2, nb04_ppo as ppo_exercises
from rlhf_helpers.checkers import nb05_dpo as dpo, nb06_toxicity_eval as toxicity_metrics, nb07_summarize_rlhf as summarize_rlhf
from rlhf_helpers.checkers import nb08_rloo_grpo as grpo_exercises

SOLUTIONS = [
    ("nb01_sft", sft.check_completion_only_labels, ["my_completion_only_labels"]),
    ("nb01_sft", sft.check_lcs_length, ["my_lcs_length"]),
    ("nb01_sft", sft.check_rouge_l, ["my_rouge_l_f1"]),
    ("nb02_reward_bert", nb02_reward_bert.check_pad_batch, ["my_pad_batch"]),
    ("nb02_reward_bert", nb02_reward_bert.check_preference_accuracy, ["my_preference_accuracy"]),
    ("nb02_reward_bert", nb02_reward_bert.check_wrong_post_win_rate, ["my_wrong_post_win_rate"]),
    ("nb03_reward_gpt2", nb03_reward_gpt2.check_pairwise_loss, ["my_pairwise_loss"]),
    ("nb03_reward_gpt2", nb03_reward_gpt2.check_last_token_reward, ["my_last_token_reward"]),
    ("nb04_ppo", ppo_exercises.check_kl_estimators, ["my_kl_k1", "my_kl_k3"]),
    ("nb04_ppo", ppo_exercises.check_gae, ["my_gae"]),
    ("nb04_ppo", ppo_exercises.check_clipped_surrogate, ["my_clipped_surrogate"]),
    ("nb04_ppo", ppo_exercises.check_ppo_update, ["my_ppo_update"]),
    ("nb05_dpo", dpo.check_sequence_logprobs, ["my_sequence_logprobs"]),
    ("nb05_dpo", dpo.check_dpo_loss, ["my_dpo_loss"]),
    ("nb05_dpo", dpo.check_dpo_logits_grad, ["my_dpo_logits_grad"]),
    ("nb06_toxicity_eval", toxicity_metrics.check_expected_max_toxicity, ["my_expected_max_toxicity"]),
    ("nb06_toxicity_eval", toxicity_metrics.check_bootstrap_ci, ["my_bootstrap_ci"]),
    ("nb07_summarize_rlhf", summarize_rlhf.check_normalised_rewards, ["my_normalised_rewards"]),
    ("nb07_summarize_rlhf", summarize_rlhf.check_token_rewards, ["my_token_rewards"]),
    ("nb08_rloo_grpo", grpo_exercises.check_leave_one_out_baseline, ["my_leave_one_out_baseline"]),
    ("nb08_rloo_grpo", grpo_exercises.check_group_advantages, ["my_group_advantages"]),
    ("nb08_rloo_grpo", grpo_exercises.check_grpo_loss, ["my_grpo_loss"]),
    ("nb08_rloo_grpo", grpo_exercises.check_reward_function, ["my_reward_function"]),
]


@pytest.mark.parametrize("module, checker, names", SOLUTIONS, ids=[names[0] for _, _, names in SOLUTIONS])
def test_solution_passes_its_check(module, checker, names):
    solution = importlib.import_module(f"rlhf_helpers.solutions.{module}")
    assert checker(*(getattr(solution, n) for n in names)) is True
