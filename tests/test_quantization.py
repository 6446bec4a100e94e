"""4-bit NF4 + LoRA on the toy Mistral (bitsandbytes on CPU): the path notebooks 04–06 train on."""

import pytest
import torch

bnb = pytest.importorskip("bitsandbytes")

from rlhf_helpers.course.quantization import footprint_gib, keep_cpu_4bit_training_layout, load_4bit_causal_lm  # noqa: E402


@pytest.fixture(scope="module")
def zephyr_path():
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    return get_profile("04_ppo_zephyr", "tiny").models["zephyr"]


def lora_4bit(path):
    """The toy chat model in 4-bit NF4 with a LoRA adapter whose B matrices are non-zero (so gradients reach A)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(load_4bit_causal_lm(path, "cpu"),
                           LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "down_proj"],
                                      init_lora_weights="gaussian"))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    return model


def lora_grad_norm(model, batch):
    """Norm of the LoRA gradient of the LM loss on a fixed batch (train mode, like a PPO update)."""
    model.train()
    model.zero_grad()
    model(**batch, labels=batch["input_ids"]).loss.backward()
    grads = [p.grad.flatten() for n, p in model.named_parameters() if "lora_A" in n and p.grad is not None]
    return torch.cat(grads).norm().item()


def generate_once(model, batch):
    """An eval-mode, no-grad forward pass: what PPO's rollout does between two updates."""
    model.eval()
    with torch.no_grad():
        model.generate(**batch, max_new_tokens=4, do_sample=False, pad_token_id=2)


@pytest.fixture(scope="module")
def batch(zephyr_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(zephyr_path)
    return dict(tok(["<|user|>\nHow do I make tea?</s>\n<|assistant|>\nSure! To make tea, boil the water."],
                    return_tensors="pt"))


def test_loads_in_4bit_and_is_smaller(zephyr_path):
    from transformers import AutoModelForCausalLM

    model = load_4bit_causal_lm(zephyr_path, "cpu")
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 7 * model.config.num_hidden_layers  # q k v o gate up down in every layer
    assert quantized[0].weight.quant_state.quant_type == "nf4"
    assert footprint_gib(model) < footprint_gib(AutoModelForCausalLM.from_pretrained(zephyr_path))


def test_lora_gradient_unchanged_by_generate(zephyr_path, batch):
    model = lora_4bit(zephyr_path)
    before = lora_grad_norm(model, batch)
    generate_once(model, batch)
    after = lora_grad_norm(model, batch)
    assert before > 0
    assert after == pytest.approx(before, rel=1e-5)


@pytest.mark.skipif(not bnb.functional.has_avx512bf16(), reason="the bug needs a CPU with avx512_bf16")
def test_without_workaround_generate_corrupts_lora_gradient(zephyr_path, batch):
    """Undo keep_cpu_4bit_training_layout: after one generate the same batch gives a different gradient."""
    model = lora_4bit(zephyr_path)
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = True
    before = lora_grad_norm(model, batch)
    generate_once(model, batch)
    after = lora_grad_norm(model, batch)
    assert abs(after - before) > 1e-3 * before, (before, after)
