"""The course's own PPO for causal language models (notebook 04; reused in notebook 07).

TRL 1.x no longer ships a PPO trainer, so this is a compact one in the spirit of cleanrl's ppo.py:
a config dataclass, a value head, and a loop that reads top to bottom —
rollout → score → reference log-probs → advantages → PPO epochs over mini-batches → stats.
The rollout half lives in `ppo_rollout.py`; the math (GAE, losses, KL estimators) in `ppo_math.py`.
Works with `accelerate`: pass `accelerator=` and prepare the model, value head and optimiser with it.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from rlhf_helpers.course.ppo_math import (AdaptiveKLController, approx_kl, clipped_surrogate_loss, clipped_value_loss, compute_gae,
                       kl_k1, kl_k3, masked_mean, per_token_rewards, whiten)
from rlhf_helpers.course.ppo_rollout import Rollout, collect_rollout, disable_dropout, forward_logprobs_values
from rlhf_helpers.infra.precision import trainable_params_to_fp32


@dataclass
class PPOConfig:
    """Everything one PPO run needs; the defaults are the tiny profile's measured recipe."""

    batch_size: int = 32
    """Prompts (= rollouts) per PPO iteration."""
    mini_batch_size: int = 8
    """Rollouts per gradient step; batch_size / mini_batch_size steps per PPO epoch."""
    ppo_epochs: int = 4
    """Passes over each batch of rollouts (PPO reuses its on-policy data a few times; clipping keeps it safe)."""
    learning_rate: float = 3e-4
    """AdamW learning rate of the policy's LoRA adapter."""
    value_learning_rate: float = 3e-3
    """AdamW learning rate of the value head (a small fresh network learns faster with a higher rate)."""
    beta: float = 0.1
    """KL coefficient β: reward = score − β·KL(policy ‖ reference) per token."""
    adaptive_kl: bool = False
    """Adapt β towards `kl_target` (Ziegler et al. 2019) instead of keeping it fixed."""
    kl_target: float = 6.0
    """Target KL in nats per response, used only when adaptive_kl is True."""
    kl_horizon: int = 128
    """Rollouts (sampled replies) over which adaptive β may change by about 20 %: each iteration multiplies β by
    1 + e·batch_size/kl_horizon, e = clip(KL/kl_target − 1, ±0.2). Ziegler et al. used 10,000 with 512-reply
    batches; 128 lets β move visibly in a course run (12 iterations of 32: at most ×1.8 or ×0.54)."""
    clip_eps: float = 0.2
    """Clip range ε of the policy ratio: the surrogate stops rewarding moves outside [1 − ε, 1 + ε]."""
    clip_value: float = 1.0
    """Clip range of the value change per update (looser than ε: unnormalised rewards are several units)."""
    vf_coef: float = 0.5
    """Weight of the value loss in the total loss."""
    gamma: float = 1.0
    """Discount γ; 1 because one response is one short episode with the score at its end."""
    lam: float = 0.95
    """GAE λ: 0 = one-step TD (low variance, biased), 1 = Monte-Carlo return (unbiased, noisy)."""
    whiten_advantages: bool = True
    """Normalise advantages to mean 0, std 1 over each batch."""
    max_grad_norm: float = 1.0
    """Clip the gradient norm of the policy and, separately, of the value head to this."""
    critic_warmup: int = 0
    """First iterations that train only the value head (the policy waits for a useful critic)."""
    max_new_tokens: int = 24
    """Longest response; a response ends at the first EOS token."""
    temperature: float = 1.0
    """Sampling temperature (log-probs are computed at the same temperature)."""
    top_p: float = 1.0
    """Nucleus sampling; 1.0 samples from the whole distribution, as on-policy PPO assumes."""
    missing_eos_penalty: float | None = None
    """Subtract this from the score of responses cut off by max_new_tokens (None: no penalty)."""
    use_chat_template: bool = True
    """Wrap each query in the tokenizer's chat template (False for plain-text models such as GPT-2)."""
    seed: int = 0
    """Seed of prompt sampling and generation."""

    def __post_init__(self):
        if self.batch_size % self.mini_batch_size:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of mini_batch_size "
                             f"{self.mini_batch_size}: choose sizes that divide, e.g. 32 and 8")
        if not 0 < self.clip_eps < 1:
            raise ValueError(f"clip_eps {self.clip_eps} must lie in (0, 1), e.g. 0.2")


class ValueHead(nn.Module):
    """V(s_t) from the policy's last hidden state: (B, T, H) → (B, T).

    A small MLP. With detach=True (default) the critic reads the hidden states but sends no gradient
    into the shared model, so a poor early critic cannot disturb the policy.
    """

    def __init__(self, hidden_size: int, inner_size: int = 64, detach: bool = True):
        super().__init__()
        self.detach = detach
        self.net = nn.Sequential(nn.Linear(hidden_size, inner_size), nn.Tanh(), nn.Linear(inner_size, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)  # V = 0 at the start

    def forward(self, hidden):
        hidden = hidden.detach() if self.detach else hidden
        dtype = self.net[0].weight.dtype
        return self.net(hidden.to(dtype)).squeeze(-1)  # (B, T)


class FixedKLController:
    """A constant β with the AdaptiveKLController interface (`.value`, `.update(kl, n)`)."""

    def __init__(self, beta: float):
        self.value = beta

    def update(self, current_kl, n_steps):
        return self.value


def make_optimizer(model, value_head, config: PPOConfig):
    """AdamW over the trainable policy parameters (LoRA) and the value head, each with its own rate.

    The trainable weights are cast to fp32 first: the frozen base may compute in fp16 (a T4) or bf16, but
    fp32 master weights keep small updates, and the loss is computed in fp32 from `.float()` logits.
    """
    trainable_params_to_fp32(model)
    value_head.float()
    policy_params = [p for p in model.parameters() if p.requires_grad]
    if not policy_params:
        raise ValueError("the policy has no trainable parameters: wrap it with peft.get_peft_model(...) first")
    return torch.optim.AdamW([{"params": policy_params, "lr": config.learning_rate},
                              {"params": value_head.parameters(), "lr": config.value_learning_rate}])


def compute_advantages(rollout: Rollout, beta: float, config: PPOConfig, token_rewards=None,
                       eos_token_id: int | None = None) -> dict:
    """Per-token rewards (score at the last token − β·KL) → GAE advantages and returns, all (B, T).

    `token_rewards(scores, kl, response_ids, eos_token_id, beta) -> (B, T)`, if given, computes the per-token
    rewards from the response tokens (notebook 07's exercise) instead of `per_token_rewards` and the mask.
    """
    mask = rollout.response_mask
    kl = kl_k1(rollout.logprobs, rollout.ref_logprobs) * mask  # (B, T) the penalty PPO optimises
    if token_rewards is None:
        rewards = per_token_rewards(rollout.scores, kl, mask, beta)  # (B, T)
    else:
        response_ids = rollout.input_ids[:, -mask.shape[1]:]  # (B, T)
        rewards = token_rewards(rollout.scores, kl, response_ids, eos_token_id, beta)  # (B, T)
    advantages, returns = compute_gae(rewards, rollout.values, mask, config.gamma, config.lam)
    if config.whiten_advantages:
        advantages = whiten(advantages, mask)
    return {"kl": kl, "rewards": rewards, "advantages": advantages, "returns": returns}


def clip_grad_norms(model, value_head, max_norm: float, accelerator=None) -> tuple[float, float]:
    """Clip the policy's gradient norm and the value head's, each on its own; returns both norms before clipping.

    One global norm over both would let the value head, whose gradients are large while it learns the
    reward's scale, shrink every policy step. With `accelerate`, `accelerator.clip_grad_norm_` unscales
    fp16 gradients first (once per step, for every parameter of the optimiser), so the value head, clipped
    after it, is clipped on unscaled gradients too.
    """
    policy_params = [p for p in model.parameters() if p.requires_grad]
    clip_policy = accelerator.clip_grad_norm_ if accelerator is not None else torch.nn.utils.clip_grad_norm_
    policy_norm = clip_policy(policy_params, max_norm)
    value_norm = torch.nn.utils.clip_grad_norm_(list(value_head.parameters()), max_norm)
    return (float("nan") if policy_norm is None else float(policy_norm)), float(value_norm)  # None under DeepSpeed


def ppo_update(model, value_head, optimizer, rollout: Rollout, adv: dict, config: PPOConfig,
               train_policy: bool = True, accelerator=None) -> dict:
    """PPO epochs over shuffled mini-batches: clipped surrogate + clipped value loss; returns mean stats.

    Dropout is switched off first (`disable_dropout`): the ratio π/π_old must be 1 before the first step.
    """
    B, T = rollout.response_mask.shape
    disable_dropout(model)
    stats = {"pg_loss": [], "vf_loss": [], "clipfrac": [], "vf_clipfrac": [], "approx_kl": [],
             "policy_grad_norm": [], "value_grad_norm": []}
    for _ in range(config.ppo_epochs):
        for idx in torch.randperm(B).split(config.mini_batch_size):
            mask = rollout.response_mask[idx]  # (b, T)
            logp, values, _ = forward_logprobs_values(model, value_head, rollout.input_ids[idx],
                                                      rollout.attention_mask[idx], T, config.temperature)
            pg_loss, clipfrac = clipped_surrogate_loss(logp, rollout.logprobs[idx], adv["advantages"][idx], mask,
                                                       config.clip_eps)
            vf_loss, vf_clipfrac = clipped_value_loss(values, rollout.values[idx], adv["returns"][idx], mask,
                                                      config.clip_value)
            loss = (pg_loss if train_policy else 0.0 * pg_loss) + config.vf_coef * vf_loss
            optimizer.zero_grad()
            accelerator.backward(loss) if accelerator is not None else loss.backward()
            policy_norm, value_norm = clip_grad_norms(model, value_head, config.max_grad_norm, accelerator)
            optimizer.step()
            for name, value in [("pg_loss", pg_loss), ("vf_loss", vf_loss), ("clipfrac", clipfrac),
                                ("vf_clipfrac", vf_clipfrac), ("approx_kl", approx_kl(logp, rollout.logprobs[idx], mask))]:
                stats[name].append(value.item())
            stats["policy_grad_norm"].append(policy_norm)  # before clipping
            stats["value_grad_norm"].append(value_norm)
    return {name: sum(v) / len(v) for name, v in stats.items()}


def ppo_step(model, value_head, optimizer, tokenizer, queries, reward_fn, config: PPOConfig, kl_ctl,
             ref_model=None, train_policy: bool = True, accelerator=None, token_rewards=None) -> tuple[dict, Rollout]:
    """One PPO iteration: rollout, advantages, update, then adapt β; returns (stats, rollout)."""
    start = time.perf_counter()
    rollout = collect_rollout(model, value_head, tokenizer, queries, reward_fn, config, ref_model, accelerator)
    beta = kl_ctl.value
    adv = compute_advantages(rollout, beta, config, token_rewards, tokenizer.eos_token_id)
    update = ppo_update(model, value_head, optimizer, rollout, adv, config, train_policy, accelerator)
    mask = rollout.response_mask
    kl_per_response = adv["kl"].sum(dim=1).mean().item()  # nats per response (k1, the penalised estimate)
    kl_for_beta, n_rollouts = kl_per_response, len(queries)
    if accelerator is not None and accelerator.num_processes > 1:
        # β is one number for the whole run: adapt it from every process's rollouts, the same way on each
        kl_for_beta = accelerator.reduce(torch.tensor(kl_per_response, device=accelerator.device), "mean").item()
        n_rollouts *= accelerator.num_processes
    kl_ctl.update(kl_for_beta, n_rollouts)
    stats = {
        "score": rollout.scores.mean().item(),                          # reward-model score, before the KL penalty
        "reward": adv["rewards"].sum(dim=1).mean().item(),              # score − β·KL, what PPO maximises
        "kl": kl_per_response,
        "kl_k3": (kl_k3(rollout.logprobs, rollout.ref_logprobs) * mask).sum(dim=1).mean().item(),
        "beta": beta,
        "entropy": masked_mean(rollout.entropy, mask).item(),
        "response_length": mask.sum(dim=1).float().mean().item(),
        "value_mean": masked_mean(rollout.values, mask).item(),
        **update,
        "seconds": time.perf_counter() - start,
    }
    if accelerator is not None:  # average over processes so every GPU logs the same numbers (β is already one number)
        stats = {k: v if k == "beta" else accelerator.reduce(torch.tensor(v, device=accelerator.device), "mean").item()
                 for k, v in stats.items()}
    return stats, rollout


def train_ppo(model, value_head, tokenizer, queries: list[str], reward_fn, config: PPOConfig, iterations: int,
              optimizer=None, ref_model=None, track: dict | None = None, accelerator=None,
              progress: bool = True, token_rewards=None) -> list[dict]:
    """Run `iterations` PPO iterations on batches sampled from `queries`; returns the history (one dict each).

    Args:
        model: the policy, a PeftModel (its adapter switched off is the reference) or any causal LM
            with a frozen `ref_model` copy.
        value_head: a `ValueHead` on the model's hidden size.
        reward_fn: `reward_fn(queries, responses) -> (B,) scores`.
        track: optional {name: fn(responses) -> float}, logged each iteration (e.g. the toxic rate).
        token_rewards: optional `fn(scores, kl, response_ids, eos_token_id, beta) -> (B, T)` per-token rewards
            (see `compute_advantages`); None: `per_token_rewards`.
    Returns:
        A list of dicts with "step" and the stats of `ppo_step`, ready for `plot_dashboard`.
    """
    from tqdm.auto import tqdm

    if len(queries) == 0:
        raise ValueError("no queries to train on: pass a non-empty list of prompts")
    optimizer = optimizer or make_optimizer(model, value_head, config)
    kl_ctl = (AdaptiveKLController(config.beta, config.kl_target, config.kl_horizon) if config.adaptive_kl
              else FixedKLController(config.beta))
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    history = []
    for step in tqdm(range(iterations), desc="PPO", disable=not progress):
        batch = [queries[i] for i in rng.choices(range(len(queries)), k=config.batch_size)]
        stats, rollout = ppo_step(model, value_head, optimizer, tokenizer, batch, reward_fn, config, kl_ctl,
                                  ref_model, train_policy=step >= config.critic_warmup, accelerator=accelerator,
                                  token_rewards=token_rewards)
        for name, fn in (track or {}).items():
            stats[name] = float(fn(rollout.responses))
        history.append({"step": step, **stats})
    return history


def save_policy(model, value_head, path, config: PPOConfig | None = None) -> Path:
    """Save the LoRA adapter (`save_pretrained`) and the value head next to it (`value_head.pt`).

    Only the adapter's own weights are written. With LoRA on `lm_head`, peft would by default also save the
    frozen base `lm_head` (about 250 MiB for Zephyr-7B), which the base model already holds.
    """
    path = Path(path)
    model.save_pretrained(path, save_embedding_layers=False)
    torch.save({"state_dict": value_head.state_dict(), "hidden_size": value_head.net[0].in_features,
                "inner_size": value_head.net[0].out_features, "config": asdict(config) if config else None},
               path / "value_head.pt")
    return path


def load_value_head(path) -> ValueHead:
    """The value head saved by `save_policy` in folder `path`."""
    saved = torch.load(Path(path) / "value_head.pt", weights_only=True)
    head = ValueHead(saved["hidden_size"], saved["inner_size"])
    head.load_state_dict(saved["state_dict"])
    return head
