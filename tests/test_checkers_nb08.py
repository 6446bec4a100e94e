"""Notebook 08's checkers reject the wrong answers they used to accept (δ inside the square root, a detached KL
term), and the 🦁 reward-function checker: right answers pass, mistakes, cheats and odd returns fail."""

import copy

from rlhf_helpers.checkers import nb08_rloo_grpo as grpo_exercises
from rlhf_helpers.course.grpo import reward_model_reward
from rlhf_helpers.course.grpo_math import clipped_token_objective
from rlhf_helpers.course.ppo_math import kl_k3
from rlhf_helpers.solutions.nb08_rloo_grpo import my_grpo_loss, my_reward_function


def test_group_advantage_rejects_delta_inside_the_square_root(capsys):
    def eps_in_sqrt(rewards):  # right wherever the std is far above 0.01
        centred = rewards - rewards.mean(dim=1, keepdim=True)
        return centred / (centred.pow(2).sum(dim=1, keepdim=True) / (rewards.shape[1] - 1) + 1e-4).sqrt()

    assert grpo_exercises.check_group_advantages(eps_in_sqrt) is False
    assert "outside the square root" in capsys.readouterr().out


def test_grpo_loss_compares_gradients(capsys):
    def kl_detached(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
        per_token = (clipped_token_objective(logp, logp_old, advantages, clip_eps)
                     + beta * kl_k3(logp, logp_ref).detach()) * mask
        return (per_token.sum(1) / mask.sum(1)).mean()

    assert grpo_exercises.check_grpo_loss(my_grpo_loss) is True
    assert grpo_exercises.check_grpo_loss(kl_detached) is False
    assert "gradient with respect to logp" in capsys.readouterr().out
    assert grpo_exercises.check_grpo_loss(lambda *a: float(my_grpo_loss(*a))) is False
    assert "no .item() or float()" in capsys.readouterr().out


def test_reward_function_checker(capsys):
    check = grpo_exercises.check_reward_function
    assert check(reward_model_reward) is True
    assert check(my_reward_function) is True

    def one_at_a_time(scorer):
        def reward(prompts, completions, **columns):
            texts = [c if isinstance(c, str) else "".join(m["content"] for m in c) for c in completions]
            return [scorer([q], [t]).item() for q, t in zip(columns["query"], texts)]
        return reward

    assert check(one_at_a_time) is True

    def skipped(scorer):
        def reward(prompts, completions, query, **kwargs):
            raise NotImplementedError
        return reward

    assert check(skipped) is None
    out = capsys.readouterr().out
    assert out.count("✅") == 3 and "⏭" in out and "❌" not in out
    for hint, wrong in grpo_exercises.REWARD_MISTAKES.items():
        assert check(lambda scorer, w=wrong: lambda prompts, completions, query, **kw: w(prompts, completions, query)) is False
        assert f"hint: {hint}" in capsys.readouterr().out


def test_reward_function_rejects_cheats_and_odd_returns(capsys):
    check = grpo_exercises.check_reward_function
    cases = grpo_exercises._reward_cases()
    memo = {}

    def cached(scorer):
        def reward(prompts, completions, query, **kwargs):
            key = len(completions)
            if key not in memo:
                memo[key] = my_reward_function(scorer)(prompts, completions, query)
            return copy.deepcopy(memo[key])
        return reward

    assert len({len(c[1]) for c in cases}) < len(cases)  # two cases of one size, different answers
    assert check(cached) is False
    odd_returns = [None, "1.0", [float("nan")] * 4, lambda: 0, {"reward": 1.0}]
    for odd in odd_returns:
        assert check(lambda scorer, o=odd: lambda prompts, completions, query, **kw: o) is False
    assert check(lambda scorer: None) is False  # not a function at all
    assert check(lambda scorer, **kw: 1 / 0) is False
    out = capsys.readouterr().out
    assert "✅" not in out


def test_open_duplicate_penalty_counts_copies_among_the_replies_to_the_same_prompt():
    from rlhf_helpers.solutions.nb08_open import duplicate_penalty

    query = ["q", "q", "q", "q", "r", "r"]  # two prompts, K = 4 and K = 2 (TRL passes the whole batch)
    completions = [[{"role": "assistant", "content": t}] for t in ["a", "a", "b", "a", "a", "c"]]
    # "a" under q: two of its three other replies are copies; "b": none; "a" under r is not a copy of q's "a"
    assert duplicate_penalty(completions, query) == [-2 / 3, -2 / 3, 0.0, -2 / 3, 0.0, 0.0]
    assert duplicate_penalty(["x"], ["q"]) == [0.0]  # a prompt with one reply: nothing to copy
