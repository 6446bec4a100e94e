"""RLOO / GRPO math against hand-computed cases and plain loops; the reward functions and helpers of notebook 08."""

import random
from types import SimpleNamespace

import pytest
import torch

from rlhf_helpers.course import grpo
from rlhf_helpers.course.grpo_math import grpo_loss, group_advantages, leave_one_out_baseline, rloo_advantages
from rlhf_helpers.infra.toy import arithmetic_answer, arithmetic_question
from rlhf_helpers.infra.toy.arithmetic import arithmetic_reply
from rlhf_helpers.infra.toy.pretraining_text import arithmetic_pretraining_pair


# --------------------------------------------------------------------------- math
def test_leave_one_out_baseline_by_hand_and_by_loop():
    assert torch.allclose(leave_one_out_baseline(torch.tensor([[1.0, 2.0, 3.0, 6.0]])),
                          torch.tensor([[11 / 3, 10 / 3, 3.0, 2.0]]))
    r = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    loop = torch.tensor([[(r[i].sum() - r[i, k]).item() / 5 for k in range(6)] for i in range(5)])
    assert torch.allclose(leave_one_out_baseline(r), loop, atol=1e-6)
    assert torch.allclose(rloo_advantages(r), 6 / 5 * (r - r.mean(dim=1, keepdim=True)), atol=1e-6)
    with pytest.raises(ValueError, match="num_generations"):
        leave_one_out_baseline(torch.ones(3, 1))


def test_group_advantages_match_trl_and_are_zero_for_a_constant_group():
    from trl.trainer.utils import nanstd

    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [0.3, -1.0, 2.0, 0.5]])
    trl_style = (r - r.mean(dim=1, keepdim=True)) / (nanstd(r, dim=1).unsqueeze(1) + 1e-4)
    assert torch.allclose(group_advantages(r), trl_style, atol=1e-6)
    assert torch.equal(group_advantages(r)[1], torch.zeros(4))
    assert torch.allclose(group_advantages(r, scale=False), r - r.mean(dim=1, keepdim=True))


def _two_replies(loss_type):
    mask = torch.tensor([[1.0, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]])  # lengths 4 and 8
    logp = torch.full((2, 8), -1.0, requires_grad=True)
    loss = grpo_loss(logp, logp.detach(), logp.detach(), torch.tensor([1.0, 1.0]), mask, beta=0.0,
                     loss_type=loss_type, max_completion_length=8)
    loss.backward()
    return loss, -logp.grad


def test_grpo_loss_averaging_and_its_length_bias():
    loss, push = _two_replies("grpo")
    assert loss.item() == pytest.approx(-1.0)  # ratio 1, advantage 1, every reply's mean is -1
    assert push[0, 0].item() == pytest.approx(1 / 4 / 2) and push[1, 0].item() == pytest.approx(1 / 8 / 2)
    assert push[0, 5].item() == 0.0  # padding gets nothing
    _, push = _two_replies("bnpo")
    assert push[0, 0].item() == pytest.approx(1 / 12) == push[1, 0].item()
    _, push = _two_replies("dr_grpo")
    assert push[0, 0].item() == pytest.approx(1 / 16) == push[1, 0].item()
    with pytest.raises(ValueError, match="unknown loss_type"):
        _two_replies("nope")


def test_grpo_loss_clips_and_adds_k3():
    mask = torch.ones(1, 2)
    logp_old = torch.zeros(1, 2)
    logp = torch.log(torch.tensor([[1.5, 1.0]]))  # ratio 1.5 is clipped at 1.2 for A > 0
    loss = grpo_loss(logp, logp_old, logp, torch.tensor([1.0]), mask, clip_eps=0.2, beta=0.5)
    assert loss.item() == pytest.approx(-(1.2 + 1.0) / 2)  # k3 = 0: the reference equals the policy
    ref = logp - 0.3
    with_kl = grpo_loss(logp, logp_old, ref, torch.tensor([1.0]), mask, clip_eps=0.2, beta=0.5)
    k3 = torch.exp(torch.tensor(-0.3)) - 1 + 0.3
    assert with_kl.item() == pytest.approx(loss.item() + 0.5 * k3.item(), rel=1e-5)


# --------------------------------------------------------------------------- rewards and helpers
def test_answer_parsing_and_rewards():
    assert grpo.parse_answer("The answer is 12.") == 12 and grpo.parse_answer(" The answer is 3. ") == 3
    for wrong in ["12", "The answer is 12", "The answer is 12. Bye.", "the answer is 12.", "The answer is N."]:
        assert grpo.parse_answer(wrong) is None, wrong
    completions = [[{"role": "assistant", "content": t}] for t in ["The answer is 5.", "The answer is 6.", "5"]]
    assert grpo.format_reward(completions) == [1.0, 1.0, 0.0]
    assert grpo.correctness_reward(completions, answer=[5, 5, 5]) == [1.0, 0.0, 0.0]
    assert grpo.verifiable_rates(["The answer is 5.", "5"], [5, 5]) == {"format rate": 0.5, "accuracy": 0.5}
    with pytest.raises(ValueError, match="one answer per reply"):
        grpo.verifiable_rates(["a"], [1, 2])


def test_reward_model_reward_passes_queries_and_reply_texts():
    seen = {}

    def scorer(queries, replies):
        seen.update(queries=queries, replies=replies)
        return torch.tensor([1.0, -2.0])

    fn = grpo.reward_model_reward(scorer)
    out = fn(prompts=None, completions=[[{"role": "assistant", "content": "hi"}], "yo"], query=["q1", "q2"])
    assert out == [1.0, -2.0] and seen == {"queries": ["q1", "q2"], "replies": ["hi", "yo"]}


def test_chat_prompt_dataset_and_its_errors():
    ds = grpo.chat_prompt_dataset(["a", "b"], query=["a", "b"], answer=[1, 2])
    assert ds[0]["prompt"] == [{"role": "user", "content": "a"}] and ds["answer"] == [1, 2]
    with pytest.raises(ValueError, match="column 'answer' has 1 values for 2 queries"):
        grpo.chat_prompt_dataset(["a", "b"], answer=[1])


def test_trainer_history_and_generated_tokens():
    state = SimpleNamespace(log_history=[{"loss": 1.0}, {"reward": 0.5, "kl": 0.1, "completions/mean_length": 10.0},
                                         {"reward": 0.7, "kl": 0.2, "completions/mean_length": 12.0},
                                         {"train_runtime": 3.0}])
    history = grpo.trainer_history(SimpleNamespace(state=state))
    assert [h["step"] for h in history] == [1, 2] and history[1]["kl"] == 0.2
    assert grpo.generated_tokens(history, 4) == 88
    with pytest.raises(ValueError, match="logging_steps=1"):
        grpo.trainer_history(SimpleNamespace(state=SimpleNamespace(log_history=[{"loss": 1.0}])))


def test_measure_reports_time_and_memory_growth():
    with grpo.measure("cpu") as stats:
        block = bytearray(64 * 2**20)  # 64 MiB, touched
        block[::4096] = b"x" * len(block[::4096])
    assert stats["seconds"] >= 0
    if stats["peak_memory_gib"] == stats["peak_memory_gib"]:  # not NaN (Linux)
        assert stats["peak_memory_gib"] > 0.03
    del block


def test_full_memory_estimate_fits_a_t4_and_grows_with_the_batch():
    from rlhf_helpers.infra.profiles import SETTINGS

    full = SETTINGS["08_rloo_grpo"]["full"]
    est = grpo.estimate_full_memory(full["micro_batch_size"], 128, full["max_new_tokens"])
    assert 3.5 < est["total"] < 15
    bigger = grpo.estimate_full_memory(4 * full["micro_batch_size"], 128, full["max_new_tokens"])
    assert bigger["total"] > est["total"]
    no_ckpt = grpo.estimate_full_memory(full["micro_batch_size"], 128, full["max_new_tokens"], checkpointing=False)
    assert no_ckpt["activations of one micro-batch"] > est["activations of one micro-batch"]


# --------------------------------------------------------------------------- the toy world's arithmetic
def test_arithmetic_ground_truth_and_pretraining_replies():
    rng = random.Random(0)
    for _ in range(50):
        question, answer = arithmetic_question(rng)
        assert arithmetic_answer(question) == answer
    with pytest.raises(ValueError, match="not an arithmetic question"):
        arithmetic_answer("How do I make tea?")
    replies = [arithmetic_reply("What is 0 + 1? Reply with: The answer is N.", random.Random(i)) for i in range(400)]
    numbers = [int("".join(ch for ch in r.split("makes")[-1] if ch.isdigit())) for r in replies]
    assert min(numbers) >= 0 and 0.35 < sum(n == 1 for n in numbers) / len(numbers) < 0.65
    formatted = sum(grpo.parse_answer(r) is not None for r in replies) / len(replies)
    assert 0.35 < formatted < 0.65
    user, reply, rude = arithmetic_pretraining_pair(random.Random(3))
    assert not rude and arithmetic_answer(user) >= 0 and reply


def test_group_advantages_refuse_a_group_of_one_reply():
    with pytest.raises(ValueError, match="at least 2 replies per prompt, got K = 1"):
        group_advantages(torch.tensor([[1.0], [0.0]]))
    with pytest.raises(ValueError, match="K = 1"):
        group_advantages(torch.tensor([[1.0], [0.0]]), scale=False)
