"""Notebook 07 (summarisation RLHF): the exercise checkers.

Each `check_*` runs a learner's function against the reference in `rlhf_helpers.course.summarize_rlhf` (or its math module) on
fixed cases and names a known mistake when the output matches one.
"""

from __future__ import annotations

import torch

from rlhf_helpers.checkers.core import check
from rlhf_helpers.course.summarize_rlhf import apply_missing_eos_penalty, normalised_rewards


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


def _eos_cases():
    eos, pad = 2, 0
    ids = torch.tensor([[5, 6, 7, 2, pad, pad],   # finished early, padded after EOS (pad != EOS)
                        [5, 6, 7, 8, 9, 9],       # cut off: no EOS
                        [5, 6, 7, 8, 9, 2],       # EOS as the very last token
                        [2, pad, pad, pad, pad, pad]])  # empty summary: finished, not cut off
    scores = torch.tensor([1.0, 2.0, -0.5, 0.3])
    g = torch.Generator().manual_seed(0)
    rand = torch.randint(3, 20, (8, 5), generator=g)
    rand[::3, 2] = 1  # EOS id 1 in some rows
    zero_is_a_word = torch.tensor([[3, 0, 4, 4], [3, 5, 0, 0]])  # id 0 is an ordinary token (GPT-2's "!"), EOS is 5
    return [(scores, ids, eos, 1.0), (scores, ids, eos, 0.25), (torch.randn(8, generator=g), rand, 1, 2.0),
            (torch.tensor([0.5, 1.0]), zero_is_a_word, 5, 1.0)]


def _eos_last_token_only(scores, response_ids, eos_token_id, penalty):
    return scores - penalty * (response_ids[:, -1] != eos_token_id).to(scores.dtype)


def _eos_inverted(scores, response_ids, eos_token_id, penalty):
    return scores - penalty * (response_ids == eos_token_id).any(dim=1).to(scores.dtype)


def _eos_added(scores, response_ids, eos_token_id, penalty):
    return scores + penalty * (~(response_ids == eos_token_id).any(dim=1)).to(scores.dtype)


def _eos_pad_counts(scores, response_ids, eos_token_id, penalty):
    finished = ((response_ids == eos_token_id) | (response_ids == 0)).any(dim=1)
    return scores - penalty * (~finished).to(scores.dtype)


EOS_MISTAKES = {
    "only the last position is checked; a reply that ended early has EOS earlier, then padding":
        _eos_last_token_only,
    "inverted: the penalty is for replies WITHOUT EOS (cut off by max_new_tokens)": _eos_inverted,
    "the penalty is subtracted, not added": _eos_added,
    "id 0 is not EOS (in case 4 it is an ordinary token, like GPT-2's '!'): only eos_token_id ends a reply":
        _eos_pad_counts,
}


def check_missing_eos_penalty(fn) -> bool | None:
    """Exercise: `fn(scores, response_ids, eos_token_id, penalty) -> (B,)` against `apply_missing_eos_penalty`."""
    return check(fn, apply_missing_eos_penalty, _eos_cases(), name="no-EOS penalty", mistakes=EOS_MISTAKES,
                 hint="case 1 has a reply that ends early, one cut off, one ending on its last token and an empty "
                      "one: which of them were cut off?")
