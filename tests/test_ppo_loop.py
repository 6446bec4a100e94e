"""The PPO loop (rlhf_helpers.course.ppo, ppo_rollout) and the exercise checkers of notebook 04, on the toy chat model."""

import math

import pytest
import torch

from rlhf_helpers.course.ppo import FixedKLController, PPOConfig, ValueHead, compute_advantages, load_value_head, \
    make_optimizer, ppo_step, ppo_update, save_policy, train_ppo
from rlhf_helpers.checkers.nb04_ppo import check_clipped_surrogate, check_gae, check_kl_estimators, \
    reference_clipped_surrogate, reference_gae
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss, kl_k1, kl_k3
from rlhf_helpers.course.ppo_rollout import collect_rollout, forward_logprobs_values, generate_responses, \
    build_prompts, response_mask_from_ids
from rlhf_helpers.infra.toy import is_toxic


@pytest.fixture(scope="module")
def chat():
    """The toy chat model (full precision, for speed) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    path = get_profile("04_ppo_zephyr", "tiny").models["zephyr"]
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def lora(model):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear"))


def polite_reward(queries, responses):
    """Rule-based reward: +1 for a polite reply, -1 for a toxic one."""
    return torch.tensor([-1.0 if is_toxic(r) else 1.0 for r in responses])


QUERIES = ["How do I make tea?", "My neighbor is such a", "Can you help me bake bread?", "Any tips to save money?"]


# --------------------------------------------------------------------------- pieces
def test_response_mask_stops_after_first_eos():
    ids = torch.tensor([[5, 6, 2, 2, 2], [5, 2, 7, 2, 9], [5, 6, 7, 8, 9]])
    assert response_mask_from_ids(ids, eos_token_id=2).tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_config_rejects_indivisible_batch():
    with pytest.raises(ValueError, match="multiple of mini_batch_size"):
        PPOConfig(batch_size=30, mini_batch_size=8)


def test_logprobs_match_the_sampler_with_left_padding(chat):
    """The forward pass scores exactly the distributions `generate` sampled from (alignment, positions, padding)."""
    model, tok = chat
    prompts = build_prompts(tok, ["Hi", "Can you help me bake bread?", "What is the best way to plan a trip?"])
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True)
    assert (enc.attention_mask == 0).any()  # the prompts really have different lengths
    torch.manual_seed(0)
    out = model.generate(**enc, max_new_tokens=8, do_sample=True, top_k=0, pad_token_id=tok.pad_token_id,
                         output_logits=True, return_dict_in_generate=True)
    T = len(out.logits)
    ids = out.sequences
    sampler = torch.stack(out.logits, dim=1).log_softmax(-1).gather(-1, ids[:, -T:, None])[..., 0]  # (B, T)
    mask = response_mask_from_ids(ids[:, -T:], tok.eos_token_id)
    attention = torch.cat([enc.attention_mask, mask], dim=1)
    with torch.no_grad():
        logp, values, entropy = forward_logprobs_values(model, ValueHead(model.config.hidden_size), ids, attention, T,
                                                        with_entropy=True)
    assert logp.shape == values.shape == entropy.shape == (3, T)
    assert torch.allclose(logp[mask.bool()], sampler[mask.bool()], atol=1e-4)


def test_logprobs_match_the_sampler_with_absolute_positions_and_temperature():
    """GPT-2 adds a learned embedding per absolute position, so with left padding the forward pass must pass the
    sampler's position ids (rotary embeddings, as in the chat model, hide that mistake). At temperature 0.7 the
    log-probs must be those of the sampler's own tempered distribution (`scores`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_helpers.infra.toy import ensure_toy_world

    path = ensure_toy_world(0) / "models" / "gpt2"
    model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    tok.pad_token, tok.padding_side = tok.eos_token, "left"
    enc = tok(["Hi", "My sister borrowed my car last week and", "TL;DR: the cat sat on the mat all day"],
              return_tensors="pt", padding=True)
    assert (enc.attention_mask == 0).any()
    torch.manual_seed(0)
    out = model.generate(**enc, max_new_tokens=8, do_sample=True, temperature=0.7, top_k=0, top_p=1.0,
                         pad_token_id=tok.pad_token_id, output_scores=True, return_dict_in_generate=True)
    T = len(out.scores)
    ids = out.sequences
    sampler = torch.stack(out.scores, dim=1).log_softmax(-1).gather(-1, ids[:, -T:, None])[..., 0]  # (B, T)
    mask = response_mask_from_ids(ids[:, -T:], tok.eos_token_id)
    attention = torch.cat([enc.attention_mask, mask], dim=1)
    with torch.no_grad():
        logp, _, _ = forward_logprobs_values(model, None, ids, attention, T, temperature=0.7)
        untempered, _, _ = forward_logprobs_values(model, None, ids, attention, T, temperature=1.0)
    assert torch.allclose(logp[mask.bool()], sampler[mask.bool()], atol=1e-4), (logp - sampler).abs().max()
    assert not torch.allclose(untempered[mask.bool()], sampler[mask.bool()], atol=1e-2)  # the test can see T


def test_value_head_detaches_and_starts_at_zero():
    head = ValueHead(8)
    hidden = torch.randn(2, 3, 8, requires_grad=True)
    values = head(hidden)
    assert values.shape == (2, 3) and (values == 0).all()
    (values.sum() + head.net[0].weight.sum()).backward()
    assert hidden.grad is None  # detach=True: no gradient into the shared model


def test_adaptive_beta_moves_visibly_in_a_course_sized_run():
    """12 iterations of 32 rollouts (notebook 04, tiny) far from the target must move β by a third or more."""
    from rlhf_helpers.course.ppo_math import AdaptiveKLController

    config = PPOConfig(adaptive_kl=True, kl_target=2.0)
    for kl, moved in [(0.0, lambda beta: beta < 0.67 * config.beta), (6.0, lambda beta: beta > 1.5 * config.beta)]:
        controller = AdaptiveKLController(config.beta, config.kl_target, config.kl_horizon)
        for _ in range(12):
            controller.update(kl, config.batch_size)
        assert moved(controller.value), (kl, controller.value)


def test_compute_advantages_puts_score_on_last_token():
    from rlhf_helpers.course.ppo_rollout import Rollout

    mask = torch.tensor([[1, 1, 1, 0]])
    logp, ref = torch.tensor([[-1.0, -1.0, -1.0, -5.0]]), torch.tensor([[-2.0, -1.0, -1.5, -9.0]])
    rollout = Rollout(["q"], ["r"], torch.zeros(1, 6, dtype=torch.long), torch.ones(1, 6), mask, logp, ref,
                      torch.zeros(1, 4), torch.zeros(1, 4), torch.tensor([3.0]))
    adv = compute_advantages(rollout, beta=0.5, config=PPOConfig(whiten_advantages=False, gamma=1.0, lam=1.0))
    assert torch.allclose(adv["kl"], torch.tensor([[1.0, 0.0, 0.5, 0.0]]))
    assert torch.allclose(adv["rewards"], torch.tensor([[-0.5, 0.0, 2.75, 0.0]]))
    assert torch.allclose(adv["returns"], torch.tensor([[2.25, 2.75, 2.75, 0.0]]))  # γ = λ = 1, V = 0: reward-to-go


def test_clipping_exactly_around_one_plus_minus_eps():
    """Inside [1 − ε, 1 + ε] the gradient flows; just outside, on the side the advantage favours, it stops."""
    eps = 0.2
    for advantage, ratio, flows in [(1.0, 1.19, True), (1.0, 1.21, False), (-1.0, 0.81, True), (-1.0, 0.79, False),
                                    (1.0, 0.79, True), (-1.0, 1.21, True)]:
        logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
        loss, _ = clipped_surrogate_loss(logp, torch.zeros(1, 1), torch.tensor([[advantage]]), torch.ones(1, 1), eps)
        loss.backward()
        assert (logp.grad.abs().item() > 0) == flows, (advantage, ratio)


# --------------------------------------------------------------------------- the loop
def test_reference_is_the_adapter_switched_off(chat):
    """At the first rollout a fresh LoRA adapter is the identity, so the KL to the reference is exactly 0;
    after one update it is not."""
    from transformers import AutoModelForCausalLM

    model, tok = chat
    policy = lora(AutoModelForCausalLM.from_pretrained(model.name_or_path))
    config = PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=2, learning_rate=1e-2, max_new_tokens=12)
    head = ValueHead(policy.config.hidden_size)
    opt = make_optimizer(policy, head, config)
    first, rollout = ppo_step(policy, head, opt, tok, QUERIES * 2, polite_reward, config, FixedKLController(0.1))
    assert first["kl"] == 0.0 and torch.equal(rollout.logprobs, rollout.ref_logprobs)
    second, rollout = ppo_step(policy, head, opt, tok, QUERIES * 2, polite_reward, config, FixedKLController(0.1))
    assert not torch.equal(rollout.logprobs, rollout.ref_logprobs)
    assert math.isfinite(second["kl"]) and second["kl_k3"] >= 0


def test_loop_raises_rule_based_reward(chat):
    """Integration: a few PPO iterations make the toy chat model less rude (reward up, toxic rate down)."""
    from transformers import AutoModelForCausalLM

    model, tok = chat
    policy = lora(AutoModelForCausalLM.from_pretrained(model.name_or_path))
    config = PPOConfig(batch_size=32, mini_batch_size=16, ppo_epochs=2, learning_rate=3e-3, max_new_tokens=20)
    history = train_ppo(policy, ValueHead(policy.config.hidden_size), tok, QUERIES, polite_reward, config,
                        iterations=8, progress=False)
    scores = [h["score"] for h in history]
    assert len(history) == 8 and all(math.isfinite(h["kl"]) for h in history)
    assert sum(scores[-2:]) / 2 > sum(scores[:2]) / 2 + 0.3, scores


def test_frozen_copy_reference_and_accelerate(chat, tmp_path):
    """The other two ways in: a frozen copy as reference (GPT-2 style) and an `accelerate` Accelerator."""
    import copy

    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM

    model, tok = chat
    policy = AutoModelForCausalLM.from_pretrained(model.name_or_path)
    ref = copy.deepcopy(policy).eval().requires_grad_(False)
    head = ValueHead(policy.config.hidden_size)
    config = PPOConfig(batch_size=8, mini_batch_size=8, ppo_epochs=1, learning_rate=1e-3, max_new_tokens=10)
    accelerator = Accelerator(cpu=True)
    opt = make_optimizer(policy, head, config)
    policy, head, opt = accelerator.prepare(policy, head, opt)
    history = train_ppo(policy, head, tok, QUERIES, polite_reward, config, iterations=2, optimizer=opt, ref_model=ref,
                        accelerator=accelerator, progress=False)
    assert history[0]["kl"] == 0.0 and history[1]["kl"] != 0.0


def test_save_and_reload_value_head(chat, tmp_path):
    from transformers import AutoModelForCausalLM

    model, _ = chat
    policy = lora(AutoModelForCausalLM.from_pretrained(model.name_or_path))
    head = ValueHead(policy.config.hidden_size)
    torch.nn.init.normal_(head.net[-1].weight)
    save_policy(policy, head, tmp_path, PPOConfig())
    assert (tmp_path / "adapter_config.json").exists()
    hidden = torch.randn(2, 3, policy.config.hidden_size)
    assert torch.equal(load_value_head(tmp_path)(hidden), head(hidden))


def test_rollout_refuses_a_tokenizer_whose_eos_is_not_the_models(chat):
    from transformers import AutoTokenizer

    model, tok = chat
    wrong = AutoTokenizer.from_pretrained(model.name_or_path)
    wrong.eos_token = "<unk>"
    with pytest.raises(ValueError, match="EOS token is '<unk>'"):
        collect_rollout(model, None, wrong, QUERIES, polite_reward, PPOConfig(batch_size=4, mini_batch_size=4))


def test_dropout_is_off_so_the_ratio_starts_at_one(chat):
    """With LoRA dropout and the model in training mode, an update with learning rate 0 must see ratio 1 exactly.
    (A fresh adapter would hide the mistake: its B = 0 makes the adapter's output 0 with or without dropout.)"""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model, tok = chat
    policy = get_peft_model(AutoModelForCausalLM.from_pretrained(model.name_or_path),
                            LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                       init_lora_weights=False))  # a trained-looking adapter: B != 0
    policy.train()
    config = PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=2, learning_rate=0.0, value_learning_rate=0.0,
                       max_new_tokens=12)
    head = ValueHead(policy.config.hidden_size)
    torch.manual_seed(0)
    rollout = collect_rollout(policy, head, tok, QUERIES * 2, polite_reward, config)
    stats = ppo_update(policy, head, make_optimizer(policy, head, config), rollout,
                       compute_advantages(rollout, 0.1, config), config)
    assert stats["approx_kl"] < 1e-7 and stats["clipfrac"] == 0.0, stats


def test_value_head_cannot_shrink_the_policy_step(chat):
    """The value head's gradient, 10x the policy's or more, is clipped on its own and leaves the policy's intact."""
    import dataclasses

    from transformers import AutoModelForCausalLM

    from rlhf_helpers.course.ppo_math import clipped_value_loss

    model, tok = chat
    policy = lora(AutoModelForCausalLM.from_pretrained(model.name_or_path))
    head = ValueHead(policy.config.hidden_size)
    config = PPOConfig(batch_size=8, mini_batch_size=8, ppo_epochs=1, max_new_tokens=12)
    torch.manual_seed(0)
    rollout = collect_rollout(policy, head, tok, QUERIES * 2, lambda q, r: 20 * polite_reward(q, r), config)
    adv = compute_advantages(rollout, 0.1, config)
    policy_params = [p for p in policy.parameters() if p.requires_grad]
    head_params = list(head.parameters())
    T = rollout.response_mask.shape[1]
    logp, values, _ = forward_logprobs_values(policy, head, rollout.input_ids, rollout.attention_mask, T)
    pg_loss, _ = clipped_surrogate_loss(logp, rollout.logprobs, adv["advantages"], rollout.response_mask, 0.2)
    vf_loss, _ = clipped_value_loss(values, rollout.values, adv["returns"], rollout.response_mask, 1.0)
    grads = torch.autograd.grad(pg_loss + config.vf_coef * vf_loss, policy_params + head_params)
    policy_grads, head_grads = grads[:len(policy_params)], grads[len(policy_params):]
    policy_norm = torch.cat([g.flatten() for g in policy_grads]).norm()
    head_norm = torch.cat([g.flatten() for g in head_grads]).norm()
    assert head_norm > 10 * policy_norm, (head_norm, policy_norm)  # the value head would dominate one global norm

    class Recorder(torch.optim.SGD):
        """Takes no step (lr 0); keeps the gradients it was handed, i.e. after clipping."""

        def step(self, closure=None):
            self.seen = [[p.grad.clone() for p in group["params"]] for group in self.param_groups]

    optimizer = Recorder([{"params": policy_params}, {"params": head_params}], lr=0.0)
    config = dataclasses.replace(config, max_grad_norm=float(2 * policy_norm))  # the policy is within its limit
    stats = ppo_update(policy, head, optimizer, rollout, adv, config)
    for got, want in zip(optimizer.seen[0], policy_grads):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-7)  # the policy's gradient is not shrunk
    clipped_head_norm = torch.cat([p.flatten() for p in optimizer.seen[1]]).norm()
    assert math.isclose(clipped_head_norm.item(), config.max_grad_norm, rel_tol=1e-3)  # the value head is clipped
    assert math.isclose(stats["value_grad_norm"], head_norm.item(), rel_tol=1e-3)


def test_accelerate_clips_through_the_accelerator(chat, monkeypatch):
    """With fp16, gradients must be unscaled before clipping: that is what `accelerator.clip_grad_norm_` does."""
    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM

    model, tok = chat
    policy = lora(AutoModelForCausalLM.from_pretrained(model.name_or_path))
    head = ValueHead(policy.config.hidden_size)
    config = PPOConfig(batch_size=4, mini_batch_size=2, ppo_epochs=1, max_new_tokens=8)
    accelerator = Accelerator(cpu=True)
    optimizer = make_optimizer(policy, head, config)
    policy, head, optimizer = accelerator.prepare(policy, head, optimizer)
    calls = []
    clip = accelerator.clip_grad_norm_
    monkeypatch.setattr(accelerator, "clip_grad_norm_", lambda params, norm: calls.append(norm) or clip(params, norm))
    rollout = collect_rollout(policy, head, tok, QUERIES, polite_reward, config, accelerator=accelerator)
    ppo_update(policy, head, optimizer, rollout, compute_advantages(rollout, 0.1, config), config,
               accelerator=accelerator)
    assert calls == [config.max_grad_norm] * 2  # once per mini-batch


# --------------------------------------------------------------------------- exercise checkers
def wrong_gae(rewards, values, gamma, lam):
    """A classic mistake: forgetting the bootstrap term γ·V_{t+1}."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        last = rewards[:, t] - values[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


def wrong_surrogate(logp_new, logp_old, advantages, clip_eps):
    """A classic mistake: the min of the losses (optimistic) instead of the max."""
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def skipped(*args):
    raise NotImplementedError


def test_gae_checker(capsys):
    assert check_gae(reference_gae)
    assert not check_gae(wrong_gae)
    assert "❌" in capsys.readouterr().out
    assert not check_gae(skipped)


def test_surrogate_checker(capsys):
    assert check_clipped_surrogate(reference_clipped_surrogate)
    assert not check_clipped_surrogate(wrong_surrogate)
    assert not check_clipped_surrogate(lambda n, o, a, e: (-a * torch.exp(n - o)).mean())  # no clipping at all
    assert "❌" in capsys.readouterr().out
    assert not check_clipped_surrogate(skipped)


def test_kl_checker(capsys):
    assert check_kl_estimators(kl_k1, kl_k3)
    assert not check_kl_estimators(lambda lp, lr: lr - lp, kl_k3)  # k1 with the sign flipped
    assert not check_kl_estimators(kl_k1, lambda lp, lr: torch.exp(lp - lr) - 1 - (lp - lr))  # r upside down
    assert "❌" in capsys.readouterr().out
    assert not check_kl_estimators(skipped, skipped)
