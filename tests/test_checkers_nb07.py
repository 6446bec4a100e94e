"""Notebook 07's 🐕 per-token rewards: the checker (right answers pass; the mistakes, NaN, odd returns and a changed
input fail) and the hook through which `train_ppo` runs the learner's function (the reference: PPO's own rewards)."""

import pytest
import torch

from rlhf_helpers.checkers import nb07_summarize_rlhf as checkers
from rlhf_helpers.course.ppo import PPOConfig, compute_advantages
from rlhf_helpers.course.ppo_rollout import Rollout, response_mask_from_ids
from rlhf_helpers.course.summarize_rlhf import token_rewards
from rlhf_helpers.solutions.nb07_summarize_rlhf import my_token_rewards


def test_reference_and_solution_pass_and_the_mistakes_fail(capsys):
    check = checkers.check_token_rewards
    assert check(token_rewards) is True
    assert check(my_token_rewards) is True
    for hint, wrong in checkers.TOKEN_REWARD_MISTAKES.items():
        assert check(wrong) is False, hint
        assert f"hint: {hint}" in capsys.readouterr().out


def test_a_one_number_answer_wrong_dtypes_odd_returns_nan_and_a_cheat_fail(capsys):
    check = checkers.check_token_rewards

    def score_minus_kl_sum(scores, kl, response_ids, eos_token_id, beta):  # one number per summary, not per token
        return scores - beta * kl.sum(dim=1)

    def integers(scores, kl, response_ids, eos_token_id, beta):
        return my_token_rewards(scores, kl, response_ids, eos_token_id, beta).long()

    def as_list(scores, kl, response_ids, eos_token_id, beta):
        return my_token_rewards(scores, kl, response_ids, eos_token_id, beta).tolist()

    def with_nan(scores, kl, response_ids, eos_token_id, beta):
        out = my_token_rewards(scores, kl, response_ids, eos_token_id, beta)
        out[0, 0] = float("nan")
        return out

    class AlwaysEqual(torch.Tensor):
        def __eq__(self, other):
            return True

    def cheat(scores, kl, response_ids, eos_token_id, beta):
        return torch.zeros_like(kl).as_subclass(AlwaysEqual)

    expected = {score_minus_kl_sum: "shape (4,) instead of (4, 6)", integers: "expected floating-point numbers",
                as_list: "expected a plain torch.Tensor, got list", with_nan: "NaN",
                cheat: "a subclass of torch.Tensor", lambda *a: None: "got NoneType"}
    for wrong, message in expected.items():
        assert check(wrong) is False, message
        assert message in capsys.readouterr().out


def rollout(seed: int, B: int = 6, T: int = 7, eos: int = 2) -> Rollout:
    g = torch.Generator().manual_seed(seed)
    response_ids = torch.randint(3, 30, (B, T), generator=g)
    ends = torch.randint(0, T + 2, (B,), generator=g)  # >= T: cut off, no EOS
    for b, end in enumerate(ends.tolist()):
        if end < T:
            response_ids[b, end:] = eos  # GPT-2: the padding after EOS is EOS again
    mask = response_mask_from_ids(response_ids, eos)
    input_ids = torch.cat([torch.randint(3, 30, (B, 4), generator=g), response_ids], dim=1)
    logp, ref = -torch.rand(B, T, generator=g), -torch.rand(B, T, generator=g)
    return Rollout([""] * B, [""] * B, input_ids, torch.ones(B, 4 + T), mask, logp, ref, torch.randn(B, T, generator=g),
                   torch.zeros(B, T), torch.randn(B, generator=g))


def test_the_hook_gives_ppo_its_own_rewards_and_advantages():
    config = PPOConfig()
    for seed in range(5):
        r = rollout(seed)
        want = compute_advantages(r, 0.1, config)
        for fn in (token_rewards, my_token_rewards):
            got = compute_advantages(r, 0.1, config, token_rewards=fn, eos_token_id=2)
            for key in ("rewards", "advantages", "returns"):
                assert torch.allclose(got[key], want[key], atol=1e-6), (seed, key)


def test_train_ppo_runs_the_learners_function_and_its_reference_gives_the_same_run():
    """`train_ppo(..., token_rewards=fn)` computes every iteration's rewards with fn; with the reference, the run
    is the one without the hook (notebook 07's results do not change while the exercise is skipped)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_helpers.course.ppo import ValueHead, train_ppo
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    path = get_profile("07_summarize_rlhf", "tiny").models["gpt2"]
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = tok.eos_token
    config = PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=1, learning_rate=1e-3, max_new_tokens=6,
                       use_chat_template=False, missing_eos_penalty=1.0)
    calls = []

    def counted(*args):
        calls.append(args[2].shape)
        return my_token_rewards(*args)

    def run(hook):
        torch.manual_seed(0)
        policy = AutoModelForCausalLM.from_pretrained(path, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        reference = AutoModelForCausalLM.from_pretrained(path).eval().requires_grad_(False)
        return train_ppo(policy, ValueHead(policy.config.hidden_size), tok, ["SUBREDDIT: r/a TITLE: b POST: c TL;DR:"] * 4,
                         lambda q, r: torch.tensor([float(len(s)) for s in r]), config, iterations=2,
                         ref_model=reference, progress=False, token_rewards=hook)

    plain, hooked = run(None), run(counted)
    assert len(calls) == 2 and calls[0] == (8, 6)
    for a, b in zip(plain, hooked):
        assert a["reward"] == pytest.approx(b["reward"], abs=1e-5) and a["score"] == b["score"]
