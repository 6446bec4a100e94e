"""Every exercise checker: the reference passes, a correct but differently written answer passes, at least three
plausible wrong answers fail (each named by its own hint), an answer that changes its inputs fails, and a skipped
exercise returns None (no bare False under the cell)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlhf_helpers.checkers import nb01_sft as sft, nb02_reward_bert, nb03_reward_gpt2, nb04_ppo as ppo_exercises
from rlhf_helpers.checkers import nb05_dpo as dpo, nb06_toxicity_eval as toxicity_metrics, nb07_summarize_rlhf as summarize_rlhf
from rlhf_helpers.checkers import nb08_rloo_grpo as grpo_exercises
from rlhf_helpers.course.grpo_math import group_advantages, leave_one_out_baseline
from rlhf_helpers.checkers.core import MUTATION_HINT
from rlhf_helpers.course.ppo_math import kl_k1, kl_k3
from rlhf_helpers.course.reward_math import pairwise_loss, preference_accuracy
from rlhf_helpers.course.reward_model import pad_batch
from rlhf_helpers.solutions.nb04_ppo import my_ppo_update


def skipped(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- correct answers written differently
def labels_loop(input_ids, prompt_lengths, attention_mask):
    labels = input_ids.clone()
    for b, n in enumerate(prompt_lengths):
        labels[b, :n] = -100
    labels[attention_mask == 0] = -100
    return labels


def rouge_l_recursive(prediction, reference):
    from functools import lru_cache

    p, r = sft.rouge_tokens(prediction), sft.rouge_tokens(reference)

    @lru_cache(maxsize=None)
    def lcs(i, j):
        if i == len(p) or j == len(r):
            return 0
        return 1 + lcs(i + 1, j + 1) if p[i] == r[j] else max(lcs(i + 1, j), lcs(i, j + 1))

    n = lcs(0, 0)
    return 2 * n / (len(p) + len(r)) if n else 0.0  # the F1 written as 2·LCS/(|p| + |r|)


def pad_with_torch(sequences, pad_id):
    rows = [torch.tensor(s) for s in sequences]
    ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad_id)
    mask = torch.nn.utils.rnn.pad_sequence([torch.ones_like(r) for r in rows], batch_first=True)
    return ids, mask


def last_token_loop(values, input_ids, attention_mask, pad_token_id):
    return torch.stack([values[b, attention_mask[b].nonzero().max()] for b in range(len(values))])


def gae_matrix(rewards, values, gamma, lam):
    """GAE in closed form: A_t = Σ_l (γλ)^l δ_{t+l}, as one triangular matrix product."""
    T = rewards.shape[1]
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    deltas = rewards + gamma * next_values - values
    steps = torch.arange(T)[None, :] - torch.arange(T)[:, None]  # (T, T) l = j - t
    weights = torch.where(steps >= 0, (gamma * lam) ** steps.clamp(min=0).double(), torch.zeros((), dtype=torch.double))
    advantages = deltas.double() @ weights.T
    return advantages.to(rewards.dtype), (advantages + values).to(rewards.dtype)


def surrogate_as_objective(logp_new, logp_old, advantages, clip_eps):
    ratio = (logp_new - logp_old).exp()
    return -torch.min(ratio * advantages, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages).mean()


def logprobs_cross_entropy(logits, labels, loss_mask):
    targets = labels[:, 1:].masked_fill(loss_mask[:, 1:] == 0, -100)
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets, ignore_index=-100, reduction="none")
    return -nll.sum(-1)


def dpo_softplus(pc, pr, rc, rr, beta):
    return F.softplus(-beta * ((pc - rc) - (pr - rr))).mean()


def dpo_logits_grad_per_row(logits, labels, loss_mask, ref_logps, beta):
    B = logits.shape[0] // 2
    grad = torch.zeros_like(logits)
    for row in range(2 * B):  # one reply at a time, token by token
        pair, sign = row % B, (-1.0 if row < B else 1.0)
        logps = dpo.sequence_logprobs(logits, labels, loss_mask)
        z = beta * ((logps[pair] - ref_logps[pair]) - (logps[pair + B] - ref_logps[pair + B]))
        for t in range(logits.shape[1] - 1):
            if loss_mask[row, t + 1]:
                probs = torch.softmax(logits[row, t], -1)
                onehot = F.one_hot(labels[row, t + 1], probs.numel())
                grad[row, t] = sign * beta * (1 - torch.sigmoid(z)) / B * (onehot - probs)
    return grad


def normalised_loop(reward_fn, prompts, summaries, references):
    return torch.stack([reward_fn([p], [s])[0] - reward_fn([p], [r])[0]
                        for p, s, r in zip(prompts, summaries, references)])


def token_rewards_loop(scores, kl, response_ids, eos_token_id, beta):
    rewards = torch.zeros_like(kl)
    for b in range(len(scores)):  # one summary at a time, up to its first EOS
        for t in range(kl.shape[1]):
            rewards[b, t] = -beta * kl[b, t]
            if response_ids[b, t] == eos_token_id or t == kl.shape[1] - 1:
                rewards[b, t] += scores[b]
                break
    return rewards


def baseline_loop(rewards):
    P, K = rewards.shape
    return torch.tensor([[sum(rewards[i, j].item() for j in range(K) if j != k) / (K - 1) for k in range(K)]
                         for i in range(P)], dtype=rewards.dtype)


def advantages_var(rewards):
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    variance = (centred ** 2).sum(dim=1, keepdim=True) / (rewards.shape[1] - 1)
    return centred / (variance.sqrt() + 1e-4)


def grpo_loss_per_reply(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    losses = []
    for b in range(logp.shape[0]):  # one reply at a time, its real tokens only
        n = int(mask[b].sum())
        ratio = (logp[b, :n] - logp_old[b, :n]).exp()
        objective = torch.min(ratio * advantages[b], ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages[b])
        log_r = logp_ref[b, :n] - logp[b, :n]
        losses.append((-objective + beta * (log_r.exp() - 1 - log_r)).mean())
    return torch.stack(losses).mean()


# ---------------------------------------------------------------- answers that change their inputs
def labels_in_place(input_ids, prompt_lengths, attention_mask):  # writes -100 into the caller's input_ids
    in_prompt = torch.arange(input_ids.shape[1])[None, :] < torch.as_tensor(prompt_lengths)[:, None]
    return input_ids.masked_fill_(in_prompt | (attention_mask == 0), -100)


def token_rewards_in_place(scores, kl, response_ids, eos_token_id, beta):  # right numbers; the caller's kl changes
    is_eos = (response_ids == eos_token_id).long()
    real = (is_eos.cumsum(dim=1) - is_eos) == 0
    rewards = kl.mul_(-beta).masked_fill_(~real, 0.0)
    rewards[torch.arange(len(scores)), real.sum(dim=1) - 1] += scores
    return rewards


def accuracy_sorts(r_c, r_r):
    r_c.copy_(r_c.sort().values)  # sorts the caller's rewards
    return float((r_c > r_r).float().mean())


def gae_in_place(rewards, values, gamma, lam):
    advantages, returns = ppo_exercises.reference_gae(rewards, values, gamma, lam)
    values.add_(advantages)  # returns written into values
    return advantages, values


def baseline_in_place(rewards):  # right numbers, but the caller's rewards become the baselines
    total = rewards.sum(dim=-1, keepdim=True)
    return rewards.neg_().add_(total).div_(rewards.shape[-1] - 1)


def advantages_in_place(rewards):
    std = rewards.std(dim=-1, keepdim=True)
    rewards -= rewards.mean(dim=-1, keepdim=True)
    return rewards.div_(std + 1e-4)


def grpo_loss_in_place(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    loss = grpo_exercises.reference_grpo_loss(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta)
    mask.zero_()  # "done with it": the caller's mask is gone
    return loss


# ---------------------------------------------------------------- the table
CHECKERS = {
    "01 labels": (sft.check_completion_only_labels, sft.completion_only_labels, labels_loop, sft.LABEL_MISTAKES,
                  labels_in_place),
    "01 rouge": (sft.check_rouge_l, sft.rouge_l_f1, rouge_l_recursive, sft.ROUGE_MISTAKES, None),
    "01 LCS": (sft.check_lcs_length, sft.lcs_length, lambda a, b: sft.lcs_length(list(b), list(a)), sft.LCS_MISTAKES,
               lambda a, b: sft.lcs_length(a, b) + 0 * len(a.reverse() or a)),
    "02 padding": (nb02_reward_bert.check_pad_batch, pad_batch, pad_with_torch, nb02_reward_bert.PAD_MISTAKES, None),
    "02 accuracy": (nb02_reward_bert.check_preference_accuracy, preference_accuracy,
                    lambda c, r: sum(float(a > b) for a, b in zip(c, r)) / len(c),
                    nb02_reward_bert.ACCURACY_MISTAKES, accuracy_sorts),
    "02 wrong post": (nb02_reward_bert.check_wrong_post_win_rate, nb02_reward_bert.reference_wrong_post_win_rate,
                      lambda f, p, s: nb02_reward_bert.reference_wrong_post_win_rate(f, tuple(p), tuple(s)),
                      nb02_reward_bert.WRONG_POST_MISTAKES, None),
    "03 pairwise": (nb03_reward_gpt2.check_pairwise_loss, pairwise_loss, lambda c, r: F.softplus(r - c).mean(),
                    nb03_reward_gpt2.PAIRWISE_MISTAKES, None),
    "03 last token": (nb03_reward_gpt2.check_last_token_reward, nb03_reward_gpt2.reference_last_token_reward,
                      last_token_loop, nb03_reward_gpt2.LAST_TOKEN_MISTAKES, None),
    "04 GAE": (ppo_exercises.check_gae, ppo_exercises.reference_gae, gae_matrix, ppo_exercises.GAE_MISTAKES,
               gae_in_place),
    "04 surrogate": (ppo_exercises.check_clipped_surrogate, ppo_exercises.reference_clipped_surrogate,
                     surrogate_as_objective, ppo_exercises.SURROGATE_MISTAKES, None),
    "05 log-probs": (dpo.check_sequence_logprobs, dpo.sequence_logprobs, logprobs_cross_entropy,
                     dpo.SEQUENCE_LOGPROB_MISTAKES, None),
    "05 DPO loss": (dpo.check_dpo_loss, dpo.dpo_loss_value, dpo_softplus, dpo.DPO_LOSS_MISTAKES, None),
    "05 DPO gradient": (dpo.check_dpo_logits_grad, dpo.autograd_dpo_logits_grad, dpo_logits_grad_per_row,
                        dpo.DPO_GRAD_MISTAKES, None),
    "06 expected max": (toxicity_metrics.check_expected_max_toxicity, toxicity_metrics.expected_max_toxicity,
                        lambda s: float(np.mean([max(row) for row in s])), toxicity_metrics.EXPECTED_MAX_MISTAKES, None),
    "08 leave-one-out": (grpo_exercises.check_leave_one_out_baseline, leave_one_out_baseline, baseline_loop,
                         grpo_exercises.BASELINE_MISTAKES, baseline_in_place),
    "08 group advantage": (grpo_exercises.check_group_advantages, group_advantages, advantages_var,
                           grpo_exercises.ADVANTAGE_MISTAKES, advantages_in_place),
    "08 GRPO loss": (grpo_exercises.check_grpo_loss, grpo_exercises.reference_grpo_loss, grpo_loss_per_reply,
                     grpo_exercises.LOSS_MISTAKES, grpo_loss_in_place),
    "07 normalised": (summarize_rlhf.check_normalised_rewards, summarize_rlhf.normalised_rewards, normalised_loop,
                      summarize_rlhf.NORMALISED_MISTAKES, None),
    "07 token rewards": (summarize_rlhf.check_token_rewards, summarize_rlhf.token_rewards, token_rewards_loop,
                         summarize_rlhf.TOKEN_REWARD_MISTAKES, token_rewards_in_place),
}


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_accepts_right_answers_and_skips_quietly(name, capsys):
    checker, reference, different, _, _ = CHECKERS[name]
    assert checker(reference) is True
    assert checker(different) is True  # correct, written another way
    assert checker(skipped) is None
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "⏭" in out and "❌" not in out


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_names_each_common_mistake(name, capsys):
    checker, _, _, mistakes, _ = CHECKERS[name]
    assert len(mistakes) >= 3
    for hint, wrong in mistakes.items():
        assert checker(wrong) is False, hint
        out = capsys.readouterr().out
        assert f"hint: {hint}" in out and "inputs:" in out and "yours:" in out and "expected:" in out, out


@pytest.mark.parametrize("name", [n for n, row in CHECKERS.items() if row[4] is not None])
def test_checker_rejects_an_answer_that_changes_its_inputs(name, capsys):
    checker, _, _, _, in_place = CHECKERS[name]
    assert checker(in_place) is False
    assert MUTATION_HINT in capsys.readouterr().out


def test_kl_checker_names_mistakes_of_each_estimator(capsys):
    check = ppo_exercises.check_kl_estimators
    assert check(kl_k1, kl_k3) is True
    assert check(lambda lp, lr: -(lr - lp), lambda lp, lr: torch.exp(lr - lp) - 1 - (lr - lp)) is True  # plain forms
    assert check(skipped, skipped) is None
    assert check(kl_k1, skipped) is None
    for k1_wrong in ppo_exercises.K1_MISTAKES.values():
        assert check(k1_wrong, kl_k3) is False
    for hint, k3_wrong in ppo_exercises.K3_MISTAKES.items():
        assert check(kl_k1, k3_wrong) is False
        assert hint in capsys.readouterr().out
    assert len(ppo_exercises.K1_MISTAKES) + len(ppo_exercises.K3_MISTAKES) >= 3


def test_ppo_update_checker(capsys):
    from rlhf_helpers.course.ppo import ppo_update

    check = ppo_exercises.check_ppo_update
    assert check(ppo_update) is True
    assert check(my_ppo_update) is True  # the reference solution, as a learner would write it
    assert check(skipped) is None
    for hint, wrong in ppo_exercises.UPDATE_MISTAKES.items():
        assert check(wrong) is False, hint
        assert f"hint: {hint}" in capsys.readouterr().out


# ---------------------------------------------------------------- cheats and case lists
def captured_cases(checker, reference):
    """The cases and reference a checker hands to `core.check` (captured by wrapping it)."""
    import importlib

    module = importlib.import_module(checker.__module__)
    seen = []
    real = module.check

    def spy(learner_fn, reference_fn, cases, **kwargs):
        cases = list(cases)
        seen.append((reference_fn, cases))
        return real(learner_fn, reference_fn, cases, **kwargs)

    module.check = spy
    try:
        checker(reference)
    finally:
        module.check = real
    assert seen, f"{checker.__name__} does not go through core.check"
    return seen[0]


def signature(args):
    """What an answer that caches on its inputs' shapes sees: tensor shapes, list lengths, other values' types."""
    def one(a):
        if isinstance(a, torch.Tensor):
            return ("tensor", tuple(a.shape), str(a.dtype))
        if isinstance(a, np.ndarray):
            return ("array", a.shape)
        if isinstance(a, (list, tuple)):
            return ("seq", len(a))
        return (type(a).__name__,)
    return tuple(one(a) for a in args)


@pytest.mark.parametrize("name", CHECKERS)
def test_an_answer_cached_on_input_shapes_fails(name, capsys):
    """Every case list has two cases of the same shapes with different answers: a cheat that remembers the answer
    of the first case of each shape is caught."""
    import copy

    checker, reference, _, _, _ = CHECKERS[name]
    reference_fn, cases = captured_cases(checker, reference)
    memo = {}

    def cached(*args):
        key = signature(args)
        if key not in memo:
            memo[key] = reference_fn(*copy.deepcopy(args))
        return copy.deepcopy(memo[key])

    capsys.readouterr()
    assert checker(cached) is False, f"{name}: no two cases of one shape have different answers"


@pytest.mark.parametrize("name", CHECKERS)
def test_a_nan_in_the_answer_fails(name):
    checker, reference, _, _, _ = CHECKERS[name]
    reference_fn, _ = captured_cases(checker, reference)

    def with_nan(*args):
        out = reference_fn(*args)
        first = out[0] if isinstance(out, tuple) else out
        if isinstance(first, torch.Tensor) and first.is_floating_point():
            first = first.clone()
            first.view(-1)[0] = float("nan")
            return (first, *out[1:]) if isinstance(out, tuple) else first
        if isinstance(first, float):
            return (float("nan"), *out[1:]) if isinstance(out, tuple) else float("nan")
        pytest.skip(f"{name}: integer answers cannot hold NaN")

    assert checker(with_nan) is False
