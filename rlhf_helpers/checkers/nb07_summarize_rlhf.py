"""Notebook 07 (summarisation RLHF): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.summarize_rlhf` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

import torch

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.summarize_rlhf import normalised_rewards, token_rewards


def _toy_reward(prompts, summaries):
    """A deterministic stand-in for a reward model: shared words with the prompt, minus a length cost."""
    return torch.tensor([len(set(s.lower().split()) & set(p.lower().split())) - 0.1 * len(s.split())
                         for p, s in zip(prompts, summaries)], dtype=torch.float32)


def _normalised_cases():
    posts = ["my dad sold my bike and i feel sad", "my boss ate my lunch", "the cat sat on the mat all day",
             "my sister borrowed my car and i feel angry"]
    refs = ["dad sold bike sad", "boss ate lunch", "cat sat", "sister borrowed car angry"]
    summaries = ["my dad sold my bike", "i like turtles", "the cat sat on the mat all day long", "sister car"]
    return [(_toy_reward, posts, summaries, refs), (_toy_reward, posts[:1], refs[:1], refs[:1]),
            (_toy_reward, posts[::-1], summaries[::-1], refs[::-1])]


def _normalised_batch_mean(reward_fn, prompts, summaries, references):
    return reward_fn(prompts, summaries) - reward_fn(prompts, references).mean()


def _normalised_raw(reward_fn, prompts, summaries, references):
    return reward_fn(prompts, summaries)


def _normalised_upside_down(reward_fn, prompts, summaries, references):
    return reward_fn(prompts, references) - reward_fn(prompts, summaries)


def _normalised_reference_without_post(reward_fn, prompts, summaries, references):
    return reward_fn(prompts, summaries) - reward_fn([""] * len(prompts), references)


NORMALISED_MISTAKES = {
    "that subtracts the batch mean of the references; each post needs its OWN reference's reward":
        _normalised_batch_mean,
    "nothing is subtracted: the reward must be relative to the post's reference summary": _normalised_raw,
    "upside down: the summary's reward minus the reference's, so a better summary scores higher":
        _normalised_upside_down,
    "the reference must be scored together with its post, r(x, y_ref)": _normalised_reference_without_post,
}


def check_normalised_rewards(fn) -> bool | None:
    """Exercise: `fn(reward_fn, prompts, summaries, references) -> (B,)` against `normalised_rewards`."""
    return check(fn, normalised_rewards, _normalised_cases(), name="normalised reward", mistakes=NORMALISED_MISTAKES,
                 hint="compare with case 2, where the summary IS the reference: the normalised reward is 0 there")


def _token_reward_cases():
    """(scores, kl, response_ids, eos_token_id, beta): replies that end early (padded with EOS, as GPT-2 pads), cut
    off (no EOS), ending on their last token, empty (EOS first), and an ordinary token 0 inside a reply."""
    g = torch.Generator().manual_seed(0)
    eos = 2
    ids = torch.tensor([[5, 6, 2, 2, 2, 2],   # ended early; the padding after it is EOS again (pad = EOS)
                        [5, 6, 7, 8, 9, 9],   # cut off: no EOS
                        [5, 6, 7, 8, 9, 2],   # EOS as the very last token
                        [2, 2, 2, 2, 2, 2]])  # empty summary: EOS first, one token long
    ids_b = torch.tensor([[5, 2, 2, 2, 2, 2], [5, 6, 7, 2, 2, 2], [7, 7, 7, 7, 7, 7], [5, 6, 7, 8, 2, 2]])  # same shape
    rand = torch.randint(3, 20, (8, 7), generator=g)
    rand[::3, 4] = 1  # EOS id 1 in some rows ...
    rand[1::3, 2:] = 1  # ... and rows padded with it after an early EOS
    zero_is_a_word = torch.tensor([[3, 0, 4, 4], [3, 5, 0, 0], [0, 0, 5, 0]])  # 0 is "!" in GPT-2; EOS is 5, pad 0
    kl = lambda *shape: torch.randn(*shape, generator=g) * 0.3  # k1 can be negative; nonzero after the end too
    return [(torch.tensor([1.0, 2.0, -0.5, 0.3]), kl(4, 6), ids, eos, 0.1),
            (torch.tensor([-1.0, 0.5, 1.5, 0.7]), kl(4, 6), ids_b, eos, 0.2),
            (torch.randn(8, generator=g), kl(8, 7), rand, 1, 0.05),
            (torch.tensor([0.5, 1.0, -2.0]), kl(3, 4), zero_is_a_word, 5, 1.0)]


def _first_eos_mask(response_ids, eos_token_id):  # the right mask, for the mistakes below
    is_eos = (response_ids == eos_token_id).long()
    return (is_eos.cumsum(dim=1) - is_eos == 0).to(torch.float32)


def _with_score_at(scores, kl, mask, last, beta):
    rewards = -beta * kl * mask
    rewards[torch.arange(len(scores)), last] += scores
    return rewards


def _tokens_last_eos(scores, kl, response_ids, eos_token_id, beta):
    is_eos = response_ids == eos_token_id
    T = is_eos.shape[1]
    last_eos = torch.where(is_eos.any(1), (is_eos.long() * torch.arange(T)).argmax(1), T - 1)
    mask = (torch.arange(is_eos.shape[1])[None] <= last_eos[:, None]).float()
    return _with_score_at(scores, kl, mask, last_eos, beta)


def _tokens_eos_excluded(scores, kl, response_ids, eos_token_id, beta):
    mask = _first_eos_mask(response_ids, eos_token_id) * (response_ids != eos_token_id).float()
    last = (mask * torch.arange(mask.shape[1])).argmax(1)
    return _with_score_at(scores, kl, mask, last, beta)


def _tokens_score_at_end_of_row(scores, kl, response_ids, eos_token_id, beta):
    return _with_score_at(scores, kl, _first_eos_mask(response_ids, eos_token_id), torch.full_like(scores, -1).long(),
                          beta)


def _tokens_kl_everywhere(scores, kl, response_ids, eos_token_id, beta):
    mask = _first_eos_mask(response_ids, eos_token_id)
    return _with_score_at(scores, kl, torch.ones_like(mask), mask.sum(1).long() - 1, beta)


def _tokens_plus_kl(scores, kl, response_ids, eos_token_id, beta):
    mask = _first_eos_mask(response_ids, eos_token_id)
    return _with_score_at(scores, -kl, mask, mask.sum(1).long() - 1, beta)


def _tokens_score_everywhere(scores, kl, response_ids, eos_token_id, beta):
    mask = _first_eos_mask(response_ids, eos_token_id)
    return (-beta * kl + scores[:, None]) * mask


def _tokens_pad_zero(scores, kl, response_ids, eos_token_id, beta):
    mask = _first_eos_mask(response_ids, eos_token_id) * (response_ids != 0).float()
    last = (mask * torch.arange(mask.shape[1])).argmax(1)
    return _with_score_at(scores, kl, mask, last, beta)


TOKEN_REWARD_MISTAKES = {
    "a summary ends at its FIRST EOS: GPT-2 pads with EOS, so the EOS tokens after it are padding": _tokens_last_eos,
    "the EOS that ends a summary is one of its tokens: it pays −β·KL and gets the score": _tokens_eos_excluded,
    "the score goes to each summary's own last token; one that ended early has padding after it":
        _tokens_score_at_end_of_row,
    "the padding after a summary's end is no part of it: its rewards are 0": _tokens_kl_everywhere,
    "the KL is a penalty: each token gets −β·KL": _tokens_plus_kl,
    "the score is added once, at the summary's last token, not at every token": _tokens_score_everywhere,
    "id 0 is an ordinary token (GPT-2's '!'): only eos_token_id ends a summary": _tokens_pad_zero,
}


def check_token_rewards(fn) -> bool | None:
    """Exercise: `fn(scores, kl, response_ids, eos_token_id, beta) -> (B, T)` against `token_rewards`.

    PPO does not differentiate through its rewards: values and dtype are compared, not gradients.
    """
    return check(fn, token_rewards, _token_reward_cases(), name="per-token rewards", mistakes=TOKEN_REWARD_MISTAKES,
                 hint="in case 1, where does each summary end (the EOS included), and which token gets its score?")
