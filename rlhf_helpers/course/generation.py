"""Batched generation for evaluation: introduced in notebook 01, used by 04–07.

Decoder-only models must be padded on the LEFT for generation, so every prompt ends right where the
new tokens begin; `generate_completions` sets that up and returns only the new text.

One tokenisation convention for prompts, everywhere (generation, PPO rollouts, evaluation): a prompt is a
complete text (rendered by the chat template, or in the TL;DR format) and is tokenised with
`add_special_tokens=False`, exactly as `apply_chat_template(tokenize=True)` and TRL's trainers do. Zephyr's
chat template writes no `<s>`, so no sequence gets a BOS token: DPO trains on the same tokens that PPO and
the evaluation sample from.
"""

from __future__ import annotations


def ensure_pad_token(tokenizer) -> str | None:
    """Give `tokenizer` a pad token when it has none; returns the token chosen (None if it had one).

    Batches of different lengths need padding, and some Hub tokenizers (Mistral's, Llama's, GPT-2's)
    define no pad token. We pad with the unknown token when there is one, so padding can never be mistaken
    for the end-of-sequence token (which stops generation and is scored); else with EOS. Padding is
    masked by the attention mask either way.
    """
    if tokenizer.pad_token is not None:
        return None
    use_unk = tokenizer.unk_token is not None and tokenizer.unk_token != tokenizer.eos_token
    tokenizer.pad_token = tokenizer.unk_token if use_unk else tokenizer.eos_token
    print(f"the tokenizer has no pad token: padding with {tokenizer.pad_token!r} (masked out by the attention mask)")
    return tokenizer.pad_token


def load_chat_tokenizer(model_id: str):
    """The chat model's tokenizer (`AutoTokenizer`), with a pad token (`ensure_pad_token`)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_id)
    ensure_pad_token(tokenizer)
    return tokenizer


def encode_prompts(tokenizer, prompts: list[str], device=None):
    """Tokenise complete prompt texts for generation: left padding, no special tokens added.

    Returns a `BatchEncoding` with input_ids and attention_mask of shape (B, L), on `device`.
    """
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad token: call rlhf_helpers.course.generation.ensure_pad_token(tokenizer) "
                         "(or load it with load_chat_tokenizer) first")
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # prompts must end where replies start
    try:
        enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    return enc.to(device) if device is not None else enc


def generate_completions(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 32,
                         do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0,
                         seed: int | None = 0, progress: bool = True, return_finished: bool = False):
    """Generate a completion for each prompt, in batches, with left padding; returns the new text only.

    Args:
        prompts: complete texts (already formatted, e.g. with the chat template); see `encode_prompts`.
        do_sample: greedy decoding when False; sampling with `temperature`/`top_p` when True.
        seed: seeds torch before each batch so sampling is reproducible.
        return_finished: also return a (B,) bool array, False for a completion cut off at `max_new_tokens`
            (no EOS among its new tokens).
    """
    import torch
    from tqdm.auto import tqdm

    sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) if do_sample else dict(do_sample=False)
    device = next(model.parameters()).device
    texts, finished = [], []
    starts = range(0, len(prompts), batch_size)
    for start in tqdm(starts, desc="generating", disable=not progress or len(starts) < 2):
        if seed is not None:
            torch.manual_seed(seed + start)
        enc = encode_prompts(tokenizer, prompts[start:start + batch_size], device)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling)
        new = out[:, enc["input_ids"].shape[1]:]  # (b, T) generated tokens
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
        finished += (new == tokenizer.eos_token_id).any(dim=1).tolist()
    texts = [t.strip() for t in texts]
    if return_finished:
        import numpy as np

        return texts, np.array(finished, dtype=bool)
    return texts


def check_eos(tokenizer, model) -> int:
    """Check that the tokenizer's EOS token is the one the model stops at; returns its id.

    EOS ends a sampled reply, and PPO builds its masks and its no-EOS penalty from it. A tokenizer whose
    EOS differs from the model's (Zephyr-7B-alpha's hub files have been seen naming `<unk>`) would let
    replies run on and mask the wrong tokens, silently.

    Args:
        tokenizer: the tokenizer used for generation.
        model: the causal LM (a PeftModel works too); its `generation_config.eos_token_id` (an id or a list
            of ids), else `config.eos_token_id`, is what `generate` stops at.
    Returns:
        tokenizer.eos_token_id.
    Raises:
        ValueError: the tokenizer has no EOS token, or its EOS is not one of the model's.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token: set tokenizer.eos_token to the token the model ends "
                         "replies with (see model.generation_config.eos_token_id)")
    generation_config = getattr(model, "generation_config", None)
    model_eos = getattr(generation_config, "eos_token_id", None)
    if model_eos is None:
        model_eos = getattr(getattr(model, "config", None), "eos_token_id", None)
    if model_eos is None:
        return eos  # the model names no EOS: nothing to compare with
    model_ids = list(model_eos) if isinstance(model_eos, (list, tuple)) else [model_eos]
    if eos not in model_ids:
        names = [tokenizer.convert_ids_to_tokens(int(i)) for i in model_ids]
        raise ValueError(f"the tokenizer's EOS token is {tokenizer.eos_token!r} (id {eos}) but the model ends replies "
                         f"with id {model_ids} {names}: replies would not stop and PPO's masks would be wrong. "
                         f"Set tokenizer.eos_token = {names[0]!r}, or load a tokenizer revision that matches the model.")
    return eos
