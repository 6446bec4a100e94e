"""Exercise checkers of notebook 04 (PPO): GAE, the clipped surrogate, the k1 and k3 KL estimators.

Each checker runs the learner's function and the reference from `ppo_math` on copies of the same random
and edge cases and prints ✅ / ❌ / ⏭ through `core.check` (it never raises); a wrong answer that
matches a common mistake gets that mistake's hint.
The learner's versions work on full (unmasked) (B, T) tensors: every token is a response token.
"""

from __future__ import annotations

import math

import torch

from rlhf_helpers.checkers.core import check, combine
from rlhf_helpers.course.ppo_math import clipped_surrogate_loss, compute_gae, kl_k1, kl_k3


def reference_gae(rewards, values, gamma, lam):
    """GAE on unmasked (B, T) rewards and values; returns (advantages, returns), both (B, T)."""
    return compute_gae(rewards, values, torch.ones_like(rewards), gamma, lam)


def reference_clipped_surrogate(logp_new, logp_old, advantages, clip_eps):
    """The clipped surrogate loss (a scalar), averaged over all (B, T) tokens."""
    return clipped_surrogate_loss(logp_new, logp_old, advantages, torch.ones_like(advantages), clip_eps)[0]


def _gae_cases():
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.5]]), 0.5, 0.5),  # worked by hand in ppo_math tests
             (torch.tensor([[1.0, 0.0, -2.0]]), torch.tensor([[-0.5, 0.3, 0.1]]), 0.8, 0.6),  # same shapes, other answer
             (torch.tensor([[2.0]]), torch.tensor([[0.5]]), 0.9, 0.9)]  # a single token: A = r - V
    for shape, gamma, lam in [((2, 5), 1.0, 0.95), ((3, 8), 0.99, 0.0), ((4, 6), 0.9, 1.0)]:
        cases.append((torch.randn(*shape, generator=g), torch.randn(*shape, generator=g), gamma, lam))
    return cases


def _surrogate_cases():
    g = torch.Generator().manual_seed(1)
    eps = 0.2
    ratios = torch.tensor([[1.5, 1.0, 0.5, 1.5, 1.0, 0.5, 1.19, 0.81]])  # both sides of 1 ± ε, both signs of A
    advantages = torch.tensor([[1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 2.0, -2.0]])
    cases = [(ratios.log(), torch.zeros_like(ratios), advantages, eps),
             (ratios.log() - 1, torch.full_like(ratios, -1.0), -advantages.flip(-1), 0.1)]  # same shapes, other answer
    for shape in [(2, 5), (2, 5), (4, 7)]:
        logp_old = -torch.rand(*shape, generator=g) * 3
        logp_new = logp_old + torch.randn(*shape, generator=g) * 0.4
        cases.append((logp_new, logp_old, torch.randn(*shape, generator=g), 0.1 if shape[0] == 2 else 0.3))
    return cases


def _kl_cases():
    g = torch.Generator().manual_seed(2)
    cases = [(torch.tensor([[-1.0, -2.0, -0.5]]), torch.tensor([[-1.0, -1.0, -3.0]])),
             (torch.tensor([[-0.2, -4.0, -1.5]]), torch.tensor([[-2.0, -0.1, -1.5]]))]  # same shapes, other answer
    for shape in [(2, 6), (2, 6), (5, 3)]:
        cases.append((-torch.rand(*shape, generator=g) * 4, -torch.rand(*shape, generator=g) * 4))
    return cases


def _gae_no_bootstrap(rewards, values, gamma, lam):
    advantages, last = torch.zeros_like(rewards), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        last = rewards[:, t] - values[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


def _gae_no_lambda(rewards, values, gamma, lam):
    return reference_gae(rewards, values, gamma, 1.0)


def _gae_returns_without_values(rewards, values, gamma, lam):
    advantages, _ = reference_gae(rewards, values, gamma, lam)
    return advantages, advantages


def _gae_wraps_around(rewards, values, gamma, lam):
    next_values = values.roll(-1, dims=1)  # V after the last token taken from the first: wrong
    deltas = rewards + gamma * next_values - values
    advantages, last = torch.zeros_like(rewards), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        last = deltas[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


GAE_MISTAKES = {
    "the bootstrap term γ·V(s_{t+1}) is missing from δ_t": _gae_no_bootstrap,
    "λ is missing: A_t = δ_t + γ·λ·A_{t+1} (your answer is right only for λ = 1)": _gae_no_lambda,
    "the returns (the critic's targets) are A + V, not A alone": _gae_returns_without_values,
    "after the last token there is no next state: V = 0 there (roll wraps the first value around)":
        _gae_wraps_around,
}


def _surrogate_min(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def _surrogate_unclipped(logp_new, logp_old, advantages, clip_eps):
    return (-advantages * torch.exp(logp_new - logp_old)).mean()


def _surrogate_sign(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.max(advantages * ratio, advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


def _surrogate_log_ratio(logp_new, logp_old, advantages, clip_eps):
    ratio = logp_new - logp_old  # a log-ratio is not the ratio
    return torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)).mean()


SURROGATE_MISTAKES = {
    "min of the LOSSES is the optimistic bound; PPO takes the max of the losses (the min of the objectives)":
        _surrogate_min,
    "no clipping: the loss must stop rewarding ratios beyond 1 ± ε": _surrogate_unclipped,
    "the sign: a LOSS to minimise is minus the objective A·ratio": _surrogate_sign,
    "the ratio is exp(logp_new − logp_old); the difference of log-probs is its logarithm": _surrogate_log_ratio,
}


def check_gae(fn) -> bool | None:
    """Exercise: `fn(rewards, values, gamma, lam) -> (advantages, returns)` against `compute_gae`."""
    return check(fn, reference_gae, _gae_cases(), name="GAE", mistakes=GAE_MISTAKES,
                 hint="case 1 is small enough to work by hand; check the direction of the loop (backwards), "
                      "the value after the last token (0) and what the returns are")


def check_clipped_surrogate(fn) -> bool | None:
    """Exercise: `fn(logp_new, logp_old, advantages, clip_eps) -> scalar loss` against the reference."""
    return check(fn, reference_clipped_surrogate, _surrogate_cases(), name="clipped surrogate",
                 mistakes=SURROGATE_MISTAKES, grad_args=(0,),  # the update trains through logp_new
                 hint="case 1 has ratios on both sides of 1 ± ε with both signs of A: check which of the two "
                      "losses wins in each, and the average over all tokens")


K1_MISTAKES = {"the sign: k1 = log π − log π_ref, positive where the policy likes a token more":
               lambda logp, logp_ref: logp_ref - logp,
               "k1 is a log-ratio, not a ratio": lambda logp, logp_ref: torch.exp(logp - logp_ref)}
K3_MISTAKES = {"r is upside down: r = π_ref / π = exp(logp_ref − logp)":
               lambda logp, logp_ref: torch.expm1(logp - logp_ref) - (logp - logp_ref),
               "the − 1 is missing: k3 = (r − 1) − log r": lambda logp, logp_ref: torch.exp(logp_ref - logp) - (logp_ref - logp),
               "that is k2 = ½(log r)²; k3 = (r − 1) − log r": lambda logp, logp_ref: 0.5 * (logp_ref - logp) ** 2}


def check_kl_estimators(k1_fn, k3_fn) -> bool | None:
    """Exercise: `k1_fn(logp, logp_ref)` and `k3_fn(logp, logp_ref)`, both (B, T), against `kl_k1` / `kl_k3`."""
    ok_k1 = check(k1_fn, kl_k1, _kl_cases(), name="k1 estimator", mistakes=K1_MISTAKES,
                  hint="k1 can be negative; check which log-prob comes first")
    ok_k3 = check(k3_fn, kl_k3, _kl_cases(), name="k3 estimator", mistakes=K3_MISTAKES,
                  hint="k3 is never negative and is 0 when the two log-probs are equal; check r's direction")
    return combine(ok_k1, ok_k3)


# --------------------------------------------------------------------------- 🦁 the PPO update loop
def _tiny_policy(seed: int):
    """A small random Mistral-architecture causal LM with a LoRA adapter (its B random, so it acts) and a value head."""
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    from rlhf_helpers.course.ppo import ValueHead

    torch.manual_seed(seed)
    config = MistralConfig(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = get_peft_model(MistralForCausalLM(config), LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                                 target_modules="all-linear", init_lora_weights=False))
    head = ValueHead(config.hidden_size, inner_size=16)
    torch.nn.init.normal_(head.net[-1].weight, std=0.1)
    return model, head


def _synthetic_rollout(model, head, seed: int, B: int = 8, L: int = 4, T: int = 6):
    """A rollout of B random replies (left-padded prompts, replies of different lengths) scored by `model`."""
    from rlhf_helpers.course.ppo_rollout import Rollout, forward_logprobs_values

    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 48, (B, L + T), generator=g)
    prompt_mask = (torch.arange(L)[None, :] >= torch.randint(0, L - 1, (B, 1), generator=g)).long()  # left padding
    response_mask = (torch.arange(T)[None, :] < torch.randint(1, T + 1, (B, 1), generator=g)).long()  # (B, T)
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    with torch.no_grad():
        logprobs, values, _ = forward_logprobs_values(model, head, input_ids, attention_mask, T)
    ref = logprobs - 0.3 * torch.rand(B, T, generator=g)
    scores = 2 * torch.randn(B, generator=g)
    return Rollout([""] * B, [""] * B, input_ids, attention_mask, response_mask, logprobs, ref, values,
                   torch.zeros(B, T), scores)


def _update_cases():
    """(seed, PPOConfig) pairs: several epochs and mini-batches; a tight ε and gradient norm so clipping bites."""
    from rlhf_helpers.course.ppo import PPOConfig

    return [(0, PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=2, learning_rate=3e-2, value_learning_rate=3e-2)),
            (1, PPOConfig(batch_size=8, mini_batch_size=2, ppo_epochs=3, learning_rate=3e-2, value_learning_rate=1e-1,
                          clip_eps=0.05, clip_value=0.1, max_grad_norm=0.05))]


def _weights_after(update_fn, seed: int, config) -> dict:
    """The trainable weights (adapter and value head) after `update_fn` on a fresh copy of case `seed`."""
    from rlhf_helpers.course.ppo import compute_advantages, make_optimizer

    model, head = _tiny_policy(seed)
    rollout = _synthetic_rollout(model, head, seed)
    adv = compute_advantages(rollout, 0.1, config)
    optimizer = make_optimizer(model, head, config)
    torch.manual_seed(seed)  # the same shuffling for every update function
    update_fn(model, head, optimizer, rollout, adv, config)
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    weights.update({f"value_head.{n}": p.detach().clone() for n, p in head.named_parameters()})
    return weights


def _largest_difference(got: dict, want: dict) -> tuple[str, float]:
    """The weight that differs most between two runs, and by how much: inf where a weight is missing, changed shape
    or holds NaN or inf (a NaN difference would compare False with any tolerance)."""
    diffs = {}
    for n, w in want.items():
        g = got.get(n)
        if g is None or g.shape != w.shape or not torch.isfinite(g).all():
            diffs[n] = math.inf
        else:
            diffs[n] = (g.double() - w.double()).abs().max().item() if w.numel() else 0.0
    name = max(diffs, key=diffs.get)
    return name, diffs[name]


def _weights_problem(got: dict, want: dict) -> str | None:
    """What is wrong with the learner's weights beyond a difference of values: missing, reshaped, NaN or inf."""
    for n, w in want.items():
        g = got.get(n)
        if g is None:
            return f"{n} is no longer a trainable weight: don't freeze or replace the model's weights"
        if g.shape != w.shape:
            return f"{n} changed shape from {tuple(w.shape)} to {tuple(g.shape)}"
        if not torch.isfinite(g).all():
            return (f"{n} holds NaN or infinite values after your update: a loss that became NaN (0/0, log of 0) "
                    f"or a step without gradient clipping")
    return None


def _update_variant(shuffle=True, zero_grad=True, value_loss=True, clip_ratio=True, clip_grads="separate"):
    """A PPO update loop with one ingredient switched off: the common mistakes of the 🦁 exercise.

    clip_grads: "separate" (right: policy and value head each to max_grad_norm), "global" (one norm over
    both, so the value head can shrink the policy's step) or None (no clipping).
    """
    def update(model, value_head, optimizer, rollout, adv, config):
        from rlhf_helpers.course.ppo import clip_grad_norms
        from rlhf_helpers.course.ppo_math import clipped_value_loss
        from rlhf_helpers.course.ppo_rollout import forward_logprobs_values

        B, T = rollout.response_mask.shape
        for _ in range(config.ppo_epochs):
            order = torch.randperm(B) if shuffle else torch.arange(B)
            for idx in order.split(config.mini_batch_size):
                mask = rollout.response_mask[idx]
                logp, values, _ = forward_logprobs_values(model, value_head, rollout.input_ids[idx],
                                                          rollout.attention_mask[idx], T, config.temperature)
                eps = config.clip_eps if clip_ratio else 1e9
                pg_loss, _ = clipped_surrogate_loss(logp, rollout.logprobs[idx], adv["advantages"][idx], mask, eps)
                vf_loss, _ = clipped_value_loss(values, rollout.values[idx], adv["returns"][idx], mask,
                                                config.clip_value)
                loss = pg_loss + config.vf_coef * vf_loss if value_loss else pg_loss
                if zero_grad:
                    optimizer.zero_grad()
                loss.backward()
                if clip_grads == "separate":
                    clip_grad_norms(model, value_head, config.max_grad_norm)
                elif clip_grads == "global":
                    params = [p for group in optimizer.param_groups for p in group["params"]]
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
    return update


UPDATE_MISTAKES = {
    "the mini-batches must be shuffled each epoch: order = torch.randperm(B), then order.split(mini_batch_size)":
        _update_variant(shuffle=False),
    "optimizer.zero_grad() before each backward: otherwise gradients pile up across mini-batches":
        _update_variant(zero_grad=False),
    "the value head did not learn: add config.vf_coef * value loss to the loss": _update_variant(value_loss=False),
    "the policy ratio is not clipped: pass config.clip_eps to clipped_surrogate_loss": _update_variant(clip_ratio=False),
    "the gradients are not clipped: clip_grad_norms(model, value_head, config.max_grad_norm) before the step":
        _update_variant(clip_grads=None),
    "one global gradient norm lets the value head shrink the policy's step: clip the two separately (clip_grad_norms)":
        _update_variant(clip_grads="global"),
}


def check_ppo_update(fn) -> bool | None:
    """Exercise 🦁: `fn(model, value_head, optimizer, rollout, adv, config)` against the course's `ppo.ppo_update`.

    Both run from the same rollout, the same initial weights and the same seed (torch.manual_seed just
    before the call, so `torch.randperm` shuffles alike) on a small random policy; the adapter and
    value-head weights after the update must agree.
    """
    with torch.random.fork_rng(devices=[]):  # the cases seed torch: the notebook's own random stream stays as it was
        return _check_ppo_update(fn)


def _check_ppo_update(fn) -> bool | None:
    from rlhf_helpers.course.ppo import ppo_update

    name = "PPO update loop"
    for i, (seed, config) in enumerate(_update_cases()):
        want = _weights_after(ppo_update, seed, config)
        try:
            got = _weights_after(fn, seed, config)
        except NotImplementedError:
            print(f"⏭  {name}: not attempted yet — the notebook carries on with the reference.")
            return None
        except Exception as err:  # the learner's code may fail in any way; report it, don't raise
            print(f"❌ {name}: case {i + 1} raised {type(err).__name__}: {err}")
            return False
        try:
            problem = _weights_problem(got, want)
            weight, diff = _largest_difference(got, want)
        except Exception as err:  # weights the learner's code left in an odd state: report, don't raise
            problem, weight, diff = f"its weights could not be read ({type(err).__name__}: {err})", "", math.inf
        if problem:
            print(f"❌ {name}: case {i + 1} of {len(_update_cases())}: {problem}.")
            return False
        if not diff <= 1e-5:
            likely = next((hint for hint, wrong in UPDATE_MISTAKES.items()
                           if _largest_difference(_weights_after(wrong, seed, config), got)[1] <= 1e-5), None)
            hint = likely or ("compare your loop with the text: shuffled mini-batches each epoch, the two losses "
                              "summed, gradients zeroed then clipped (policy and critic separately), one step")
            print(f"❌ {name}: case {i + 1} of {len(_update_cases())} (ppo_epochs={config.ppo_epochs}, "
                  f"mini_batch_size={config.mini_batch_size}, clip_eps={config.clip_eps}, "
                  f"max_grad_norm={config.max_grad_norm}): after the update {weight} differs from the course's by "
                  f"up to {diff:.3g}.\n   hint: {hint}")
            return False
    print(f"✅ {name}: the same weights as the course's ppo_update on {len(_update_cases())} cases.")
    return True
