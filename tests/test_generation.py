import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlhf_helpers.course.generation import generate_completions
from rlhf_helpers.infra.toy import ensure_toy_world


def test_batched_left_padded_generation_equals_one_by_one():
    path = ensure_toy_world(0) / "models" / "zephyr-7b-alpha"
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in ["Hi there.", "How do I bake bread? I want a tasty loaf for the weekend please."]]
    side = tok.padding_side
    batched = generate_completions(model, tok, prompts, max_new_tokens=12, progress=False)
    single = [generate_completions(model, tok, [p], max_new_tokens=12, progress=False)[0] for p in prompts]
    assert batched == single
    assert tok.padding_side == side  # restored
    assert not any(p.strip()[:10] in b for p, b in zip(prompts, batched))  # only the new text comes back


def test_check_eos_accepts_a_matching_tokenizer_and_names_a_wrong_eos():
    import pytest

    from rlhf_helpers.course.generation import check_eos

    path = ensure_toy_world(0) / "models" / "zephyr-7b-alpha"
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    assert check_eos(tok, model) == tok.eos_token_id == model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [7, tok.eos_token_id]  # several stop ids (Llama 3 style) are fine
    assert check_eos(tok, model) == tok.eos_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    tok.eos_token = "<unk>"  # what a broken special_tokens_map.json gives
    with pytest.raises(ValueError, match=r"'<unk>'.*Set tokenizer.eos_token = '</s>'"):
        check_eos(tok, model)
