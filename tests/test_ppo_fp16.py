"""PPO with a base model that computes in fp16 (a T4): trainable weights and the loss stay in fp32."""

import math

import torch

from rlhf_helpers.course.ppo import FixedKLController, PPOConfig, ValueHead, make_optimizer, ppo_step
from rlhf_helpers.infra.toy import is_toxic


def test_ppo_step_on_an_fp16_base_keeps_trainable_weights_in_fp32():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    path = get_profile("04_ppo_zephyr", "tiny").models["zephyr"]
    tok = AutoTokenizer.from_pretrained(path)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float16)
    policy = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "lm_head"]))
    policy.half()  # adapters in fp16 too, as a model cast after wrapping would have them
    head = ValueHead(policy.config.hidden_size).half()
    assert any(p.requires_grad and p.dtype == torch.float16 for p in policy.parameters())

    config = PPOConfig(batch_size=4, mini_batch_size=2, ppo_epochs=1, max_new_tokens=6, learning_rate=1e-3)
    optimizer = make_optimizer(policy, head, config)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 for p in trainable) and all(p.dtype == torch.float32 for p in head.parameters())
    assert policy.base_model.model.model.layers[0].mlp.up_proj.weight.dtype == torch.float16  # the frozen base is untouched
    before = [p.detach().clone() for p in trainable]

    reward = lambda q, r: torch.tensor([-1.0 if is_toxic(x) else 1.0 for x in r])  # noqa: E731
    torch.manual_seed(0)
    stats, rollout = ppo_step(policy, head, optimizer, tok, ["How do I make tea?", "My neighbor is such a"] * 2, reward,
                              config, FixedKLController(0.1))
    assert rollout.logprobs.dtype == torch.float32 and rollout.values.dtype == torch.float32
    assert all(math.isfinite(stats[k]) for k in ("pg_loss", "vf_loss", "kl", "approx_kl"))
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, trainable)), "the update changed no weight"
