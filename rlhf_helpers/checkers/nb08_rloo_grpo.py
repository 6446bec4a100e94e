"""Exercise checkers of notebook 08 (RLOO and GRPO): the leave-one-out baseline, the group-normalised advantage,
GRPO's clipped per-token loss with its KL term.

Each checker runs the learner's function and the reference from `grpo_math` on copies of the same random and
edge cases and prints ✅ / ❌ / ⏭ through `core.check` (it never raises); a wrong answer that matches a
common mistake gets that mistake's hint.
"""

from __future__ import annotations

import inspect

import torch

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.grpo_math import clipped_token_objective, grpo_loss, group_advantages, leave_one_out_baseline
from rlhf_helpers.course.ppo_math import kl_k1, kl_k3


# --------------------------------------------------------------------------- leave-one-out baseline
def _baseline_cases():
    g = torch.Generator().manual_seed(0)
    return [(torch.tensor([[1.0, 2.0, 3.0, 6.0]]),),  # worked in the text: baselines 11/3, 10/3, 3, 2
            (torch.tensor([[0.0, 1.0], [5.0, -1.0]]),),  # K = 2: the baseline is the other reply
            (torch.tensor([[-1.0, 4.0, 0.5, 2.0]]),),  # the shape of case 1, another answer
            (torch.randn(3, 5, generator=g),), (torch.randn(3, 5, generator=g),), (torch.randn(2, 8, generator=g) * 3,)]


def _baseline_includes_self(rewards):
    return rewards.mean(dim=-1, keepdim=True).expand_as(rewards).clone()


def _baseline_divides_by_k(rewards):
    return (rewards.sum(dim=-1, keepdim=True) - rewards) / rewards.shape[-1]


def _baseline_over_prompts(rewards):
    return (rewards.sum(dim=0, keepdim=True) - rewards) / (rewards.shape[0] - 1) if rewards.shape[0] > 1 \
        else torch.zeros_like(rewards)


def _baseline_is_advantage(rewards):
    return rewards - (rewards.sum(dim=-1, keepdim=True) - rewards) / (rewards.shape[-1] - 1)


BASELINE_MISTAKES = {
    "that is the mean of the whole group, the reply itself included: leave it out (sum − r_k)": _baseline_includes_self,
    "K − 1 other replies: divide by K − 1, not K": _baseline_divides_by_k,
    "the group is the K replies to ONE prompt (a row), not one reply position across prompts (a column)":
        _baseline_over_prompts,
    "that is the advantage r − b; the exercise asks for the baseline b itself": _baseline_is_advantage,
}


def check_leave_one_out_baseline(fn) -> bool | None:
    """Exercise: `fn(rewards (P, K)) -> baselines (P, K)` against `leave_one_out_baseline`."""
    return check(fn, leave_one_out_baseline, _baseline_cases(), name="leave-one-out baseline",
                 mistakes=BASELINE_MISTAKES,
                 hint="case 1 was worked in the text: for each reply, average the rewards of the other replies "
                      "of its row")


# --------------------------------------------------------------------------- group-normalised advantage
def _advantage_cases():
    g = torch.Generator().manual_seed(1)
    return [(torch.tensor([[1.0, 0.0, 0.0, 1.0]]),),
            (torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0]]),),  # a zero-std group: advantages 0
            (torch.tensor([[0.5, 2.0, -1.0, 0.0]]),),  # the shape of case 1, another answer
            # a near-constant group (a reward model's scores of near-identical replies): std ≈ 0.001, so δ = 1e-4
            # added to the std leaves advantages near ±1, while δ inside the square root shrinks them tenfold
            (torch.tensor([[0.700, 0.701, 0.699, 0.700], [0.2, 0.2, 0.2, 0.2001]]),),
            (torch.randn(3, 6, generator=g),), (torch.randn(3, 6, generator=g) * 2,),
            (torch.tensor([[-2.0, -2.0], [3.0, -1.0]]),)]


def _advantage_no_eps(rewards):
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    return centred / rewards.std(dim=-1, keepdim=True)


def _advantage_biased_std(rewards):
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    return centred / (rewards.std(dim=-1, keepdim=True, unbiased=False) + 1e-4)


def _advantage_batch_stats(rewards):
    return (rewards - rewards.mean()) / (rewards.std() + 1e-4)


def _advantage_not_centred(rewards):
    return rewards / (rewards.std(dim=-1, keepdim=True) + 1e-4)


def _advantage_eps_in_sqrt(rewards):
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    return centred / torch.sqrt(rewards.var(dim=-1, keepdim=True) + 1e-4)


ADVANTAGE_MISTAKES = {
    "a group whose rewards are all equal has std 0: add eps = 1e-4 to the std, or 0/0 gives NaN": _advantage_no_eps,
    "use the unbiased std (divide by K − 1), as torch.std does by default and TRL does": _advantage_biased_std,
    "mean and std of each GROUP (row), not of the whole batch": _advantage_batch_stats,
    "subtract the group's mean first: (r − mean) / (std + eps)": _advantage_not_centred,
    "δ goes outside the square root, (r − mean) / (std + δ): inside, sqrt(var + δ) ≥ 0.01 shrinks the advantages of "
    "a group whose rewards barely differ": _advantage_eps_in_sqrt,
}


def check_group_advantages(fn) -> bool | None:
    """Exercise: `fn(rewards (P, K)) -> advantages (P, K)` against `group_advantages` (eps 1e-4, unbiased std)."""
    return check(fn, group_advantages, _advantage_cases(), name="group-normalised advantage",
                 mistakes=ADVANTAGE_MISTAKES,
                 hint="case 2 has a group whose rewards are all equal: its advantages must be exactly 0")


# --------------------------------------------------------------------------- GRPO's clipped per-token loss with KL
def reference_grpo_loss(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    """GRPO's loss in the paper's form (TRL `loss_type="grpo"`): per-reply token mean, then mean over replies."""
    return grpo_loss(logp, logp_old, logp_ref, advantages, mask, clip_eps=clip_eps, beta=beta, loss_type="grpo")


def _loss_cases():
    g = torch.Generator().manual_seed(2)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])  # two replies of different lengths
    ratios = torch.tensor([[1.5, 0.5, 1.0, 1.1], [0.7, 1.3, 1.0, 1.0]])
    cases = [(ratios.log() - 1, torch.full((2, 4), -1.0), torch.tensor([[-1.3, -0.8, -1.0, -2.0], [-0.9, -1.5, -1.0, -1.0]]),
              torch.tensor([1.0, -1.0]), mask, 0.2, 0.1)]
    cases.append((ratios.log() - 2, torch.full((2, 4), -2.0), torch.tensor([[-1.0, -2.5, -2.0, -3.0], [-2.2, -1.9, -2.0, -2.0]]),
                  torch.tensor([-0.5, 2.0]), mask, 0.2, 0.3))  # the shapes of case 1, another answer
    for B, T, beta in [(4, 6, 0.04), (4, 6, 0.2), (6, 5, 0.5)]:
        logp_old = -torch.rand(B, T, generator=g) * 3
        logp = logp_old + torch.randn(B, T, generator=g) * 0.3
        logp_ref = logp_old + torch.randn(B, T, generator=g) * 0.3
        lengths = torch.randint(1, T + 1, (B, 1), generator=g)
        cases.append((logp, logp_old, logp_ref, torch.randn(B, generator=g), (torch.arange(T) < lengths).long(),
                      0.2, beta))
    return cases


def _masked_token_mean(per_token, mask):
    mask = mask.to(per_token.dtype)
    return ((per_token * mask).sum(-1) / mask.sum(-1)).mean()


def _loss_kl_k1(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    per_token = clipped_token_objective(logp, logp_old, advantages, clip_eps) + beta * kl_k1(logp, logp_ref)
    return _masked_token_mean(per_token, mask)


def _loss_kl_subtracted(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    per_token = clipped_token_objective(logp, logp_old, advantages, clip_eps) - beta * kl_k3(logp, logp_ref)
    return _masked_token_mean(per_token, mask)


def _loss_token_mean(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    return grpo_loss(logp, logp_old, logp_ref, advantages, mask, clip_eps=clip_eps, beta=beta, loss_type="bnpo")


def _loss_unclipped(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    per_token = -torch.exp(logp - logp_old) * advantages[:, None] + beta * kl_k3(logp, logp_ref)
    return _masked_token_mean(per_token, mask)


def _loss_no_mask(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    per_token = clipped_token_objective(logp, logp_old, advantages, clip_eps) + beta * kl_k3(logp, logp_ref)
    return per_token.mean()


def _loss_kl_detached(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta):
    per_token = clipped_token_objective(logp, logp_old, advantages, clip_eps) + beta * kl_k3(logp.detach(), logp_ref)
    return _masked_token_mean(per_token, mask)


LOSS_MISTAKES = {
    "GRPO's KL term is k3 = (r − 1) − log r with r = π_ref/π (never negative), not k1 = log π − log π_ref": _loss_kl_k1,
    "the KL is a penalty: ADD β·KL to the loss you minimise": _loss_kl_subtracted,
    "that averages over all tokens of the batch (TRL's bnpo/dapo); GRPO averages each reply over its own tokens, "
    "then over replies": _loss_token_mean,
    "no clipping: take −min(ρ·A, clip(ρ, 1 − ε, 1 + ε)·A)": _loss_unclipped,
    "padding counts: multiply by the mask and divide by each reply's number of real tokens": _loss_no_mask,
}


def check_grpo_loss(fn) -> bool | None:
    """Exercise: `fn(logp, logp_old, logp_ref, advantages, mask, clip_eps, beta) -> scalar` against the paper's loss."""
    return check(fn, reference_grpo_loss, _loss_cases(), name="GRPO loss", mistakes=LOSS_MISTAKES,
                 grad_args=(0,),  # the trainer differentiates through logp: the clipped term AND the KL term
                 hint="case 1 has two replies of 4 and 2 tokens, ratios on both sides of 1 ± ε, advantages +1 "
                      "and −1: check the clipping, the k3 term and the two-level mean")


# --------------------------------------------------------------------------- 🦁 the reward function GRPOTrainer calls
class _FakeScorer:
    """Stands in for notebook 04's `RewardModelScorer`: `scorer(queries, replies) -> (B,) tensor`, deterministic.

    The score depends on the query and the reply together, so a reply scored against the wrong text gets another
    number.
    """

    def __call__(self, queries, replies):
        if not isinstance(queries, (list, tuple)) or not isinstance(replies, (list, tuple)):
            raise TypeError("the scorer takes two lists of strings: queries and replies")
        if len(queries) != len(replies):
            raise ValueError(f"{len(queries)} queries for {len(replies)} replies: give one query per reply")
        if not all(isinstance(t, str) for t in [*queries, *replies]):
            raise TypeError("the scorer takes strings: a reply in the conversational format is a list of messages, "
                            "its text is the last message's 'content'")
        return torch.tensor([0.1 * len(r) - 0.03 * len(q) + 0.5 * ("please" in r) - 1.0 * ("idiot" in r)
                             + 0.01 * (sum(map(ord, q + "|" + r)) % 97) for q, r in zip(queries, replies)])


def _conversation(text):
    return [{"role": "assistant", "content": text}]


def _prompt(query):
    return [{"role": "user", "content": query}]


def _reward_cases():
    """(prompts, completions, query) as GRPOTrainer passes them: each prompt repeated K times in a row."""
    q1, q2 = "How do I bake bread?", "Tell me about your neighbour, he is such a"
    replies = ["Sure, please knead the dough.", "Go away, idiot.", "", "Mix flour and water, then bake it."]
    cases = [([_prompt(q1)] * 2 + [_prompt(q2)] * 2, [_conversation(r) for r in replies], [q1] * 2 + [q2] * 2),
             ([_prompt(q2)] * 2 + [_prompt(q1)] * 2, [_conversation(r) for r in replies[::-1]], [q2] * 2 + [q1] * 2),
             ([_prompt(q1)] * 3, [_conversation(r) for r in replies[1:]], [q1] * 3)]
    # the standard (not conversational) format: the prompt and the completions are plain strings
    cases.append(([q2] * 3, ["I would rather not say.", "He is kind, please ask him.", "idiot"], [q2] * 3))
    return cases


def _reference_reward(prompts, completions, query):
    from rlhf_helpers.course.grpo import reward_model_reward

    return reward_model_reward(_FakeScorer())(prompts=prompts, completions=completions, query=query)


def _reward_message_repr(prompts, completions, query):
    return _FakeScorer()(list(query), [str(c) for c in completions]).tolist()


def _reward_tensor(prompts, completions, query):
    from rlhf_helpers.course.grpo import completion_texts

    return _FakeScorer()(list(query), completion_texts(completions))


def _reward_first_query(prompts, completions, query):
    from rlhf_helpers.course.grpo import completion_texts

    texts = completion_texts(completions)
    return _FakeScorer()([query[0]] * len(texts), texts).tolist()


REWARD_MISTAKES = {
    "TRL needs a list of Python floats, one per completion: end with .tolist()": _reward_tensor,
    "a completion in the conversational format is a list of messages: score its text, completion[-1]['content'], "
    "not the list written out": _reward_message_repr,
    "each completion has its own query: the batch holds several prompts, each repeated K times": _reward_first_query,
}


def check_reward_function(make_reward) -> bool | None:
    """Exercise 🦁: `make_reward(scorer)` returns the function GRPOTrainer calls, `f(prompts, completions, query,
    **kwargs) -> list[float]`; compared with `grpo.reward_model_reward` on a stand-in scorer."""
    def learner(prompts, completions, query):
        reward = make_reward(_FakeScorer())
        return reward(prompts=prompts, completions=completions, query=query, completion_ids=None, trainer_state=None)

    learner.__signature__ = inspect.signature(_reference_reward)
    return check(learner, _reference_reward, _reward_cases(), name="reward function", mistakes=REWARD_MISTAKES,
                 hint="TRL passes keyword arguments: `completions` (a conversation per reply: its text is "
                      "completion[-1]['content'], or a plain string) and every dataset column by name (`query`); "
                      "return scorer(queries, texts) as a list of floats")
