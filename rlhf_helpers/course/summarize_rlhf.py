"""Summarisation RLHF with GPT-2 (notebook 07): the reward model's text format, prompt truncation,
the reward normalised against the reference summary, the no-EOS penalty, PPO's per-token rewards, a paired
before/after test and a fresh PPO run to compare settings.

The PPO loop itself is `ppo.py`; the reward model is trained with TRL's `RewardTrainer` and scored with
`reward_model.score`. Shapes: B = batch, T = response length.
"""

from __future__ import annotations

import torch

from rlhf_helpers.course.formatting import split_tldr_prompt, tldr_prompt
from rlhf_helpers.course.ppo_math import apply_missing_eos_penalty  # noqa: F401  (the no-EOS penalty notebook 07 applies)

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


def token_rewards(scores, kl, response_ids, eos_token_id: int, beta: float) -> torch.Tensor:
    """PPO's per-token rewards of a batch of summaries: −β·KL on each token, the summary's score added at its end.

    A summary ends at its first EOS, which counts as one of its tokens; one without EOS was cut off at its last
    position. Tokens after the end are padding (GPT-2 pads with EOS) and get 0. This is `ppo_math.per_token_rewards`
    with the response mask read off the tokens, as the rollout builds it (`ppo_rollout.response_mask_from_ids`).
    Args:
        scores: (B,) reward of each summary. kl: (B, T) per-token KL estimate. response_ids: (B, T) sampled tokens.
    Returns:
        (B, T) rewards, a new tensor of kl's dtype.
    """
    from rlhf_helpers.course.ppo_math import per_token_rewards
    from rlhf_helpers.course.ppo_rollout import response_mask_from_ids

    return per_token_rewards(scores, kl, response_mask_from_ids(response_ids, eos_token_id), beta)  # (B, T)


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
        from rlhf_helpers.course.reward_model import score

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


def paired_change(before, after, n_posts: int, keep=None) -> tuple[float, float]:
    """Mean change per post from `before` to `after`, and that change in standard errors, z (posts are the units).

    `before` and `after` hold k sampled summaries' scores for each of `n_posts` posts, sample j of post i at
    j * n_posts + i (as notebook 07's `evaluate` lays them out). Each post's mean over its samples is paired
    before and after; the standard error is the standard deviation of the n_posts differences over sqrt(n_posts).
    Args:
        keep: optional (keep_before, keep_after), boolean masks laid out like the scores (e.g. the finished
            summaries): each post's mean is then taken over its kept samples only, and posts with no kept sample
            before or after are left out.
    Returns:
        (mean change, mean change / standard error); the ratio is 0 for no change at all and ±inf when every
        post changed by exactly the same nonzero amount.
    Raises:
        ValueError: `keep` leaves no post.
    """
    import math

    import numpy as np

    before = np.asarray(before, dtype=float).reshape(-1, n_posts)  # (k, n_posts)
    after = np.asarray(after, dtype=float).reshape(-1, n_posts)
    if keep is None:
        diff = after.mean(0) - before.mean(0)  # (n_posts,)
    else:
        kb, ka = (np.asarray(m, dtype=bool).reshape(-1, n_posts) for m in keep)
        both = kb.any(0) & ka.any(0)  # (n_posts,) posts with a kept sample before and after
        if not both.any():
            raise ValueError("`keep` leaves no post with a kept sample both before and after")
        diff = ((after * ka).sum(0)[both] / ka.sum(0)[both]
                - (before * kb).sum(0)[both] / kb.sum(0)[both])  # (posts kept,)
    n = len(diff)
    change = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if se > 0:
        return change, change / se
    return change, 0.0 if change == 0 else math.copysign(math.inf, change)


def sample_summaries(model, tokenizer, prompts: list[str], max_new_tokens: int, seed: int = 0,
                     batch_size: int = 32) -> tuple[list[str], "np.ndarray"]:
    """Sampled summaries, drawn exactly as `generation.generate_completions(..., do_sample=True, seed=seed)`
    draws them, and which of them ended with EOS.

    Returns:
        (summaries, finished): B strings and a (B,) bool array, False for a summary cut off at `max_new_tokens`.
    """
    from rlhf_helpers.course.generation import generate_completions

    return generate_completions(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size, do_sample=True,
                                seed=seed, progress=False, return_finished=True)


def cut_off_rate(model, tokenizer, prompts, config, batch_size: int = 64) -> float:
    """Share of summaries sampled as PPO samples them (`config`) that never emit EOS: cut off at `max_new_tokens`.

    This is the rate the no-EOS penalty acts on. Sampling is seeded with `config.seed`, so a rate before and
    after training compares the same random draws.
    """
    from rlhf_helpers.course.ppo_rollout import generate_responses

    if not prompts:
        raise ValueError("cut_off_rate got no prompts: pass at least one")
    torch.manual_seed(config.seed)
    cut = 0.0
    for start in range(0, len(prompts), batch_size):
        ids, _, mask = generate_responses(model, tokenizer, list(prompts[start:start + batch_size]), config)
        cut += no_eos_share(ids[:, -mask.shape[1]:], tokenizer.eos_token_id) * len(ids)  # responses: (b, T)
    return cut / len(prompts)


def no_eos(response_ids, eos_token_id: int) -> torch.Tensor:
    """(B,) True for each response (`response_ids`, (B, T)) with no EOS token: cut off at the length limit."""
    return ~(response_ids == eos_token_id).any(dim=1)


def no_eos_share(response_ids, eos_token_id: int) -> float:
    """Share of the responses (`response_ids`, (B, T)) with no EOS token: cut off at the length limit."""
    return no_eos(response_ids, eos_token_id).float().mean().item()


def fresh_ppo_run(sft_path, device, tokenizer, queries, reward_fn, config, iterations: int, **changes):
    """PPO from a fresh copy of the SFT model at `sft_path` (policy and frozen reference), as in section 7 of
    notebook 07, with `PPOConfig` fields changed by name (e.g. `missing_eos_penalty=0.0`, `beta=0.3`).

    Returns:
        (policy, history): the trained policy and `train_ppo`'s per-iteration dashboard.
    """
    import dataclasses

    from transformers import AutoModelForCausalLM

    from rlhf_helpers.course.ppo import ValueHead, train_ppo

    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    policy = AutoModelForCausalLM.from_pretrained(sft_path, **no_dropout).to(device)
    reference = AutoModelForCausalLM.from_pretrained(sft_path, **no_dropout).to(device).eval().requires_grad_(False)
    config = dataclasses.replace(config, **changes)
    torch.manual_seed(config.seed)
    head = ValueHead(policy.config.hidden_size).to(device)
    history = train_ppo(policy, head, tokenizer, queries, reward_fn, config, iterations=iterations, ref_model=reference,
                        track={"distinct": lambda texts: len(set(texts)) / len(texts)})
    return policy, history
