"""Summarisation RLHF with GPT-2 (notebook 07): the reward model's text format, prompt truncation,
the reward normalised against the reference summary, the no-EOS penalty, and their exercise checkers.

The PPO loop itself is `ppo.py`; the reward model is trained with TRL's `RewardTrainer` and scored with
`reward_model.score`. Shapes: B = batch, T = response length.
"""

from __future__ import annotations

import torch

from .exercises import check
from .formatting import split_tldr_prompt, tldr_prompt
from .ppo_math import apply_missing_eos_penalty  # the reference of the no-EOS exercise

TLDR = "TL;DR:"


def summary_text(prompt: str, summary: str) -> str:
    """The text a summary reward model reads: "<post>\\nTL;DR: <summary>".

    Accepts the prompt with or without its trailing "TL;DR:" (openai_summarize_tldr prompts end with it)
    and the summary with or without a leading "TL;DR:" (openai_summarize_comparisons summaries start
    with it), so comparisons, references and generated summaries all reach the reward model alike.
    """
    post = prompt.rstrip()
    post = post[: -len(TLDR)].rstrip() if post.endswith(TLDR) else post
    summary = summary.strip()
    summary = summary[len(TLDR):].strip() if summary.startswith(TLDR) else summary
    return f"{post}\n{TLDR} {summary}"


def truncate_tldr_prompts(tokenizer, prompts: list[str], max_tokens: int) -> tuple[list[str], int]:
    """Shorten the POST of each TL;DR prompt so the prompt has at most `max_tokens` tokens.

    Subreddit, title and the final "TL;DR:" are kept; the post loses tokens at its end. This leaves
    room for the summary in the model's context (GPT-2: prompt + summary <= 1024 tokens).
    Returns:
        (prompts, number of prompts that were shortened).
    """
    out, n_cut = [], 0
    for prompt in prompts:
        if len(tokenizer(prompt).input_ids) <= max_tokens:
            out.append(prompt)
            continue
        parts = split_tldr_prompt(prompt)
        empty = len(tokenizer(tldr_prompt(parts["subreddit"], parts["title"], "")).input_ids)
        post_ids = tokenizer(parts["post"]).input_ids
        keep = max_tokens - empty
        while keep > 0:
            short = tldr_prompt(parts["subreddit"], parts["title"], tokenizer.decode(post_ids[:keep]).strip())
            if len(tokenizer(short).input_ids) <= max_tokens:
                break
            keep -= 1
        if keep <= 0:
            raise ValueError(f"max_tokens={max_tokens} leaves no room for the post after the subreddit and title "
                             f"({empty} tokens): raise max_tokens")
        out.append(short)
        n_cut += 1
    return out, n_cut


def normalised_rewards(reward_fn, prompts, summaries, references) -> torch.Tensor:
    """r(post, summary) − r(post, reference summary), per post.

    Args:
        reward_fn: `reward_fn(prompts, summaries) -> (B,)` raw reward-model scores.
        prompts, summaries, references: B strings each (references: the human TL;DR of each post).
    Returns:
        (B,) float tensor; 0 for a summary exactly as good as the reference (to the reward model).
    """
    if not len(prompts) == len(summaries) == len(references):
        raise ValueError(f"{len(prompts)} prompts, {len(summaries)} summaries, {len(references)} references: "
                         "pass one summary and one reference per prompt")
    raw = torch.as_tensor(reward_fn(prompts, summaries), dtype=torch.float32)  # (B,)
    baseline = torch.as_tensor(reward_fn(prompts, references), dtype=torch.float32)  # (B,)
    return raw - baseline


class SummaryReward:
    """`reward_fn(queries, responses)` for PPO from a summary reward model (num_labels=1).

    Scores `summary_text(query, response)` with EOS appended (as `RewardTrainer` trained it). With
    `references` (prompt -> reference summary) it returns the normalised reward r(x, y) − r(x, y_ref);
    the reference scores are computed once per prompt and cached (the reward model is frozen).
    """

    def __init__(self, model, tokenizer, references: dict[str, str] | None = None, max_length: int = 1024,
                 batch_size: int = 64):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.references, self.max_length, self.batch_size = references, max_length, batch_size
        self._reference_scores: dict[str, float] = {}

    def raw(self, prompts, summaries) -> torch.Tensor:
        """(B,) reward-model scores r(post, summary)."""
        from .reward_model import score

        texts = [summary_text(p, s) for p, s in zip(prompts, summaries)]
        return score(self.model, self.tokenizer, texts, add_eos=True, max_length=self.max_length,
                     batch_size=self.batch_size)

    def reference_scores(self, prompts) -> torch.Tensor:
        """(B,) r(post, reference summary), cached per prompt."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._reference_scores]
        unknown = [p for p in missing if p not in self.references]
        if unknown:
            raise ValueError(f"{len(unknown)} prompt(s) have no reference summary, e.g. {unknown[0][:60]!r}: "
                             "build `references` from the same (truncated) prompts that PPO trains on")
        if missing:
            scores = self.raw(missing, [self.references[p] for p in missing])
            self._reference_scores.update(zip(missing, scores.tolist()))
        return torch.tensor([self._reference_scores[p] for p in prompts])

    def __call__(self, queries, responses) -> torch.Tensor:
        if self.references is None:
            return self.raw(queries, responses)
        return self.raw(queries, responses) - self.reference_scores(queries)


# --------------------------------------------------------------------------- exercise checks
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


def check_normalised_rewards(fn) -> bool:
    """Exercise: `fn(reward_fn, prompts, summaries, references) -> (B,)` against `normalised_rewards`."""
    return check(fn, normalised_rewards, _normalised_cases(), name="normalised reward",
                 hint="score each summary AND each post's own reference with reward_fn(prompts, ...), then "
                      "subtract per post: r(x, y) − r(x, y_ref) (not the batch mean of the references)")


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
    return [(scores, ids, eos, 1.0), (scores, ids, eos, 0.25), (torch.randn(8, generator=g), rand, 1, 2.0)]


def check_missing_eos_penalty(fn) -> bool:
    """Exercise: `fn(scores, response_ids, eos_token_id, penalty) -> (B,)` against `apply_missing_eos_penalty`."""
    return check(fn, apply_missing_eos_penalty, _eos_cases(), name="no-EOS penalty",
                 hint="a response is finished if EOS appears ANYWHERE in its row ((ids == eos).any(dim=1)); "
                      "subtract the penalty from the others only")
