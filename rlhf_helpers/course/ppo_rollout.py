"""PPO rollouts for a causal LM (notebook 04): generate, score, and read log-probs and values.

The first half of a PPO iteration (see `ppo.py` for the second half, the update). Shapes:
B = rollouts, L = prompt length (left-padded), T = response length (right-padded after EOS),
V = vocabulary, H = hidden size.

One model can play three roles: the policy (base + LoRA adapter), the reference (the same model
with the adapter switched off, `disable_adapter()`) and, through its last hidden state, the input
of the value head. For small full-precision models a frozen copy (`ref_model`) also works.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from rlhf_helpers.course.generation import check_eos, encode_prompts
from rlhf_helpers.course.ppo_math import apply_missing_eos_penalty, entropy_from_logits, logprobs_from_logits


@dataclass
class Rollout:
    """One batch of experience, everything the PPO update needs (tensors on the policy's device)."""

    queries: list[str]            # what the user said (what the reward function reads)
    responses: list[str]          # the generated replies, decoded up to EOS
    input_ids: torch.Tensor       # (B, L + T) left-padded prompt, then the response
    attention_mask: torch.Tensor  # (B, L + T) 1 on real prompt tokens and response tokens up to EOS
    response_mask: torch.Tensor   # (B, T) 1 on response tokens up to and including the first EOS
    logprobs: torch.Tensor        # (B, T) log pi_old(token): the policy at rollout time
    ref_logprobs: torch.Tensor    # (B, T) log pi_ref(token): the frozen reference (SFT) policy
    values: torch.Tensor          # (B, T) V(s_t) from the value head at rollout time
    entropy: torch.Tensor         # (B, T) entropy of the policy's next-token distribution
    scores: torch.Tensor          # (B,) reward-model score of each whole response

    @property
    def prompt_length(self) -> int:
        """L, the (padded) prompt length shared by the batch."""
        return self.input_ids.shape[1] - self.response_mask.shape[1]


def unwrap(model, accelerator=None):
    """The bare model under an `accelerate` wrapper (e.g. DDP), for `generate` and `disable_adapter`."""
    return accelerator.unwrap_model(model) if accelerator is not None else model


def disable_dropout(model) -> int:
    """Set every dropout probability in `model` to 0 (LoRA's included); returns how many were changed.

    PPO compares the policy with itself: the log-probs of the rollout, then the same log-probs at the start
    of the update. With dropout on, two passes over the same tokens differ and the ratio π/π_old starts
    away from 1 before any update (tests/test_ppo_loop.py measures it). `model.eval()` would do
    it too, but it also switches off activation checkpointing, which the 7B run needs. TRL does the same.
    """
    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and module.p > 0:
            module.p, changed = 0.0, changed + 1
        if isinstance(getattr(module, "attention_dropout", None), float) and module.attention_dropout > 0:
            module.attention_dropout, changed = 0.0, changed + 1  # attention layers that apply dropout in sdpa
    return changed


def build_prompts(tokenizer, queries: list[str], use_chat_template: bool = True) -> list[str]:
    """Wrap each user message in the tokenizer's chat template (with the assistant turn opened)."""
    if not use_chat_template:
        return list(queries)
    if tokenizer.chat_template is None:
        raise ValueError("the tokenizer has no chat template: set use_chat_template=False in PPOConfig "
                         "(plain-text prompts, e.g. GPT-2) or load the chat model's tokenizer")
    return [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
            for q in queries]


def response_mask_from_ids(response_ids, eos_token_id: int):
    """1 on response tokens up to and including the first EOS, 0 after it (generate pads there).

    Formula: mask[b, t] = 1 if no EOS in response_ids[b, :t], else 0.
    Args:
        response_ids: (B, T) generated tokens. Returns (B, T) long mask.
    """
    is_eos = (response_ids == eos_token_id).long()  # (B, T)
    eos_before = is_eos.cumsum(dim=1) - is_eos  # (B, T) EOS tokens strictly before t
    return (eos_before == 0).long()


@torch.no_grad()
def generate_responses(model, tokenizer, prompts: list[str], config, accelerator=None):
    """Sample one response per prompt with left padding; returns (input_ids, attention_mask, response_mask).

    Shapes: input_ids and attention_mask (B, L + T), response_mask (B, T). Tokens after the first EOS
    are padding: they get attention 0 and response mask 0.
    """
    enc = encode_prompts(tokenizer, prompts, next(model.parameters()).device)  # left-padded, no BOS added
    eos = tokenizer.eos_token_id
    bare = unwrap(model, accelerator)
    was_training = bare.training
    bare.eval()  # use the KV cache (training mode with activation checkpointing would turn it off)
    out = bare.generate(**enc, max_new_tokens=config.max_new_tokens, do_sample=True, temperature=config.temperature,
                        top_k=0, top_p=config.top_p, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    bare.train(was_training)
    response_ids = out[:, enc.input_ids.shape[1]:]  # (B, T)
    response_mask = response_mask_from_ids(response_ids, eos)  # (B, T)
    attention_mask = torch.cat([enc.attention_mask, response_mask], dim=1)  # (B, L + T)
    return out, attention_mask, response_mask


def forward_logprobs_values(model, value_head, input_ids, attention_mask, response_length: int,
                            temperature: float = 1.0, with_entropy: bool = False):
    """Log-probs of the response tokens and the value of each state, in one forward pass.

    The logits at position i score token i + 1, so the response's T tokens are scored by positions
    L - 1 ... L + T - 2; the value V(s_t) is read from the same positions' last hidden state (the
    state in which token t is chosen). Position ids count real tokens only, as `generate` does with
    left padding, so these log-probs are the ones the sampler used.

    Args:
        input_ids, attention_mask: (B, L + T). response_length: T.
        value_head: a `ValueHead`, or None to skip values.
    Returns:
        (logprobs (B, T), values (B, T) or None, entropy (B, T) or None).
    """
    T = response_length
    position_ids = (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)  # (B, L + T)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                output_hidden_states=value_head is not None, use_cache=False, logits_to_keep=T + 1)
    logits = out.logits[:, :-1].float() / temperature  # (B, T, V) scores of the T response tokens
    logprobs = logprobs_from_logits(logits, input_ids[:, -T:])  # (B, T)
    values = value_head(out.hidden_states[-1][:, -T - 1:-1]) if value_head is not None else None  # (B, T)
    entropy = entropy_from_logits(logits.detach()) if with_entropy else None  # (B, T)
    return logprobs, values, entropy


def reference_logprobs(model, input_ids, attention_mask, response_length: int, temperature: float = 1.0,
                       ref_model=None, accelerator=None):
    """Log-probs of the response under the reference policy: `ref_model` if given, else the policy's
    own base model with its LoRA adapter switched off (no second copy of the weights). (B, T)."""
    bare = unwrap(model, accelerator)
    reference = ref_model if ref_model is not None else bare
    switch_off = contextlib.nullcontext() if ref_model is not None else bare.disable_adapter()
    with torch.no_grad(), switch_off:
        logprobs, _, _ = forward_logprobs_values(reference, None, input_ids, attention_mask, response_length, temperature)
    return logprobs


def collect_rollout(model, value_head, tokenizer, queries: list[str], reward_fn, config, ref_model=None,
                    accelerator=None) -> Rollout:
    """Rollout → score → reference log-probs: the experience of one PPO iteration.

    Args:
        queries: B user messages; the prompt is built with `build_prompts` (chat template).
        reward_fn: `reward_fn(queries, responses) -> (B,) tensor` (a reward model, or a rule).
        config: a `PPOConfig` (max_new_tokens, temperature, top_p, use_chat_template).
    Raises:
        ValueError: the tokenizer's EOS is not the model's (`generation.check_eos`).
    """
    check_eos(tokenizer, unwrap(model, accelerator))  # EOS ends replies and builds every mask below
    disable_dropout(model)  # log pi_old must be the policy's deterministic log-probs
    prompts = build_prompts(tokenizer, queries, config.use_chat_template)
    input_ids, attention_mask, response_mask = generate_responses(model, tokenizer, prompts, config, accelerator)
    T = response_mask.shape[1]
    # EOS (skipped when decoding) after the first EOS; not `ids * mask`: id 0 is an ordinary token ("!") in GPT-2
    after_eos = input_ids[:, -T:].masked_fill(response_mask == 0, tokenizer.eos_token_id)  # (B, T)
    responses = tokenizer.batch_decode(after_eos, skip_special_tokens=True)
    responses = [r.strip() for r in responses]
    scores = torch.as_tensor(reward_fn(queries, responses), dtype=torch.float32).to(input_ids.device)  # (B,)
    if config.missing_eos_penalty is not None:  # replies cut off by max_new_tokens lose reward
        scores = apply_missing_eos_penalty(scores, input_ids[:, -T:], tokenizer.eos_token_id, config.missing_eos_penalty)
    chunks = []  # forward passes in mini-batches: the (B, T, V) logits of the whole batch may not fit a GPU
    for rows in torch.arange(len(queries)).split(config.mini_batch_size):
        with torch.no_grad():
            logp, values, entropy = forward_logprobs_values(model, value_head, input_ids[rows], attention_mask[rows], T,
                                                            config.temperature, with_entropy=True)
        ref = reference_logprobs(model, input_ids[rows], attention_mask[rows], T, config.temperature, ref_model,
                                 accelerator)
        chunks.append((logp, ref, values, entropy))
    logprobs, ref, values, entropy = (torch.cat(parts) for parts in zip(*chunks))  # each (B, T)
    return Rollout(queries, responses, input_ids, attention_mask, response_mask, logprobs, ref, values, entropy, scores)


class RewardModelScorer:
    """`reward_fn` from a sequence-classification reward model (num_labels=1) trained on hh-rlhf text.

    Each (query, response) pair is written as an hh-rlhf transcript, "\\n\\nHuman: q\\n\\nAssistant: r", with the
    EOS token appended as `RewardTrainer` appends it to every text it trains on: the same text gets the same reward
    in training and here. Scored in batches; returns a (B,) float tensor.
    """

    def __init__(self, model, tokenizer, batch_size: int = 64, max_length: int = 512):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.batch_size, self.max_length = batch_size, max_length

    def __call__(self, queries: list[str], responses: list[str]) -> torch.Tensor:
        from rlhf_helpers.course.formatting import messages_to_transcript
        from rlhf_helpers.course.reward_model import score

        texts = [messages_to_transcript([{"role": "user", "content": q}, {"role": "assistant", "content": r}])
                 for q, r in zip(queries, responses)]
        return score(self.model, self.tokenizer, texts, batch_size=self.batch_size, max_length=self.max_length,
                     add_eos=True)
