"""The course's PPO against TRL's last PPO trainer (PPOv2Trainer, TRL 0.11.4), same models, prompts and settings.

How to run (CPU, offline, about 2 minutes for 3 seeds on 2 cores):

    python3 -m venv /tmp/trl_old
    /tmp/trl_old/bin/pip install torch==2.13.0          # the CPU wheel first, so pip pulls no CUDA packages
    /tmp/trl_old/bin/pip install trl==0.11.4 transformers==4.46.3 'accelerate<1.3' 'datasets<3.2' 'peft<0.14' rich
    python benchmarks/ppo_vs_trl.py --trl-python /tmp/trl_old/bin/python --seeds 0 1 2

TRL removed its PPO trainer after 0.11 (PPOv2Trainer, later renamed PPOTrainer, left TRL 1.x); 0.11.4 needs
transformers < 4.47, hence its own virtual environment. This file is both the driver (course environment) and,
run with that environment's python as `... ppo_vs_trl.py trl <dir>`, the TRL side.

Same for both: the toy world's chat model (full fine-tuning, a frozen copy as reference), a reward model built
here from that model (a score head trained on the toy hh-rlhf pairs, so it reads the policy's tokens as TRL
requires), the same chat-formatted prompts, batch 16, 2 mini-batches, 2 PPO epochs, 16 new tokens, temperature 1,
β 0.1, learning rate, ITERATIONS iterations. What differs is each implementation's own design: TRL trains a
separate value model (a copy of the reward model), the course a small value head on the policy's hidden states.
Each side runs in its own process (peak RSS = that process); both final policies are then scored by one evaluator:
mean reward and KL to the reference (nats per reply) on held-out prompts, sampled with one fixed seed.
With `--seeds 0 1 2` each side trains once per seed (the seed of prompt order, sampling and the value head or
value model's initialisation; the models, reward model and prompts are the same); the table gives every run and
the mean ± standard deviation over seeds.

What else each side does, checked in TRL 0.11.4's ppov2_trainer.py and rlhf_helpers/course/ppo.py:
same on both: KL estimator k1 = log π − log π_ref per token, subtracted as −β·k1 from every token's reward (the
score added at the last token), no reward whitening, advantages whitened per batch, GAE γ 1 λ 0.95, policy clip
range 0.2, dropout off, constant learning rate, 12 × 2 × 2 = 48 optimizer steps, responses cut at EOS.
Different, by design: TRL's value model is a whole copy of the reward model trained at the policy's rate (3e-5) in
the same optimizer; the course's value head is a small MLP (hidden → 64 → 1) on the policy's detached hidden states,
with its own rate (1e-3). Different defaults: value clip range (TRL 0.2, course 1.0), value-loss weight (TRL 0.1,
course 0.5; with separate parameters and Adam it mostly cancels), gradient-norm clipping (TRL none, course 1.0).
`--aligned` gives the course TRL's three values (clip_value 0.2, vf_coef 0.1, no gradient clipping): the course side
changes because TRL 0.11.4's PPOv2Trainer cannot clip gradients (it ignores max_grad_norm); TRL is unchanged.
The course's runs repeat exactly for a seed; TRL's do not quite (seed 0's KL was 0.098, 0.100 and 0.154 in three
runs), so read the mean over seeds, not one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ITERATIONS, BATCH, MINI_BATCHES, EPOCHS, NEW_TOKENS, LR, BETA, SEED = 12, 16, 2, 2, 16, 3e-5, 0.1, 0
# SEED: the toy world, the reward model and the evaluation's sampling; the training seeds are --seeds
TRL_DEFAULTS = dict(clip_value=0.2, vf_coef=0.1, max_grad_norm=float("inf"))  # what --aligned gives the course
N_EVAL = 64


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- course side (course environment)
def prepare(out: Path) -> None:
    """Policy, reward model and prompts for both sides, in `out`."""
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_helpers.course.formatting import messages_to_transcript, rtp_prompt_text, to_preference_dataset
    from rlhf_helpers.course.ppo_rollout import build_prompts
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(SEED)
    P = get_profile("04_ppo_zephyr", "tiny", SEED)
    torch.manual_seed(SEED)
    tok = AutoTokenizer.from_pretrained(P.models["zephyr"])
    AutoModelForCausalLM.from_pretrained(P.models["zephyr"]).save_pretrained(out / "policy")
    tok.save_pretrained(out / "policy")
    rm = AutoModelForSequenceClassification.from_pretrained(P.models["zephyr"], num_labels=1)
    rm.config.pad_token_id = tok.pad_token_id
    pairs = to_preference_dataset(load_dataset(P.datasets["hh_rlhf"], data_dir="harmless-base")["train"],
                                  conversational=True).select(range(512))
    text = lambda prompt, reply: build_prompts(tok, [prompt[-1]["content"]])[0] + reply[0]["content"] + tok.eos_token
    opt = torch.optim.AdamW(rm.parameters(), lr=1e-3)
    tok.padding_side = "right"
    for step in range(60):  # pairwise loss -log σ(r_chosen − r_rejected)
        rows = pairs.select(range((step * 16) % 512, (step * 16) % 512 + 16))
        enc = lambda key: tok([text(r["prompt"], r[key]) for r in rows], return_tensors="pt", padding=True,
                              add_special_tokens=False)
        loss = -torch.nn.functional.logsigmoid(rm(**enc("chosen")).logits - rm(**enc("rejected")).logits).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    print(f"reward model: final pairwise loss {loss.item():.3f}")
    rm.save_pretrained(out / "reward_model")
    rtp = load_dataset(P.datasets["rtp"], split="train")
    queries = [rtp_prompt_text(r) for r in rtp]
    (out / "prompts.json").write_text(json.dumps({"train": queries[:800], "eval": queries[800:800 + N_EVAL],
                                                  "train_text": build_prompts(tok, queries[:800]),
                                                  "eval_text": build_prompts(tok, queries[800:800 + N_EVAL])}))


class TokenReward:
    """reward_fn for the course's PPO that scores exactly what TRL's get_reward scores: prompt + reply + EOS."""

    def __init__(self, model, tokenizer):
        self.model, self.tok = model.eval(), tokenizer

    def __call__(self, queries, responses):
        import torch

        from rlhf_helpers.course.ppo_rollout import build_prompts

        texts = [p + r + self.tok.eos_token for p, r in zip(build_prompts(self.tok, queries), responses)]
        self.tok.padding_side = "right"
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            return self.model(**enc).logits[:, 0]


def run_course(out: Path, seed: int, aligned: bool = False) -> None:
    """Train with the course's PPO from `out`'s policy; writes out/seed<seed>/course_policy and course.json."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_helpers.course.ppo import PPOConfig, ValueHead, train_ppo

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(out / "policy")
    policy = AutoModelForCausalLM.from_pretrained(out / "policy")
    ref = AutoModelForCausalLM.from_pretrained(out / "policy").eval().requires_grad_(False)
    rm = AutoModelForSequenceClassification.from_pretrained(out / "reward_model")
    queries = json.loads((out / "prompts.json").read_text())["train"]
    config = PPOConfig(batch_size=BATCH, mini_batch_size=BATCH // MINI_BATCHES, ppo_epochs=EPOCHS, learning_rate=LR,
                       value_learning_rate=1e-3, beta=BETA, max_new_tokens=NEW_TOKENS, seed=seed,
                       **(TRL_DEFAULTS if aligned else {}))
    torch.manual_seed(seed)  # the value head's initialisation
    start = time.perf_counter()
    history = train_ppo(policy, ValueHead(policy.config.hidden_size), tok, queries, TokenReward(rm, tok), config,
                        ITERATIONS, ref_model=ref, progress=False)
    seconds = time.perf_counter() - start
    run_dir = out / f"seed{seed}"
    policy.save_pretrained(run_dir / "course_policy")
    (run_dir / "course.json").write_text(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib(),
                                                 "train_score_last": history[-1]["score"]}))


# --------------------------------------------------------------------------- TRL side (TRL 0.11.4 environment)
def run_trl(out: Path, seed: int) -> None:
    """Train with TRL 0.11.4's PPOv2Trainer from `out`'s policy; writes out/seed<seed>/trl_policy and trl.json."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, PreTrainedTokenizerFast
    from trl import PPOv2Config, PPOv2Trainer

    torch.set_num_threads(1)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(out / "policy" / "tokenizer.json"))
    base_tok = json.loads((out / "policy" / "tokenizer_config.json").read_text())
    tok.eos_token, tok.pad_token = base_tok["eos_token"], base_tok.get("pad_token") or base_tok["eos_token"]
    tok.padding_side = "left"
    policy = AutoModelForCausalLM.from_pretrained(out / "policy")
    ref = AutoModelForCausalLM.from_pretrained(out / "policy")
    rm = AutoModelForSequenceClassification.from_pretrained(out / "reward_model", num_labels=1)
    value = AutoModelForSequenceClassification.from_pretrained(out / "reward_model", num_labels=1)
    prompts = json.loads((out / "prompts.json").read_text())["train_text"]
    data = Dataset.from_dict({"input_ids": [tok(p, add_special_tokens=False).input_ids for p in prompts]})
    run_dir = out / f"seed{seed}"
    config = PPOv2Config(output_dir=str(run_dir / "trl_run"), per_device_train_batch_size=BATCH // MINI_BATCHES,
                         num_mini_batches=MINI_BATCHES, num_ppo_epochs=EPOCHS, gradient_accumulation_steps=1,
                         total_episodes=ITERATIONS * BATCH, response_length=NEW_TOKENS, temperature=1.0,
                         stop_token="eos", kl_coef=BETA, learning_rate=LR, local_rollout_forward_batch_size=BATCH,
                         num_sample_generations=0, report_to="none", use_cpu=True, seed=seed, save_strategy="no",
                         logging_steps=1, lr_scheduler_type="constant")
    trainer = PPOv2Trainer(config=config, tokenizer=tok, policy=policy, ref_policy=ref, reward_model=rm,
                           value_model=value, train_dataset=data)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    policy.save_pretrained(run_dir / "trl_policy")
    (run_dir / "trl.json").write_text(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib()}))


# --------------------------------------------------------------------------- one evaluator for both
def evaluate(out: Path, name: str) -> dict:
    """Mean reward and KL to the reference (k1, nats per reply) of `name`'s policy on the held-out prompts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_helpers.course.ppo import PPOConfig, ValueHead
    from rlhf_helpers.course.ppo_rollout import collect_rollout

    tok = AutoTokenizer.from_pretrained(out / "policy")
    policy = AutoModelForCausalLM.from_pretrained(out / name)
    ref = AutoModelForCausalLM.from_pretrained(out / "policy")
    rm = AutoModelForSequenceClassification.from_pretrained(out / "reward_model")
    queries = json.loads((out / "prompts.json").read_text())["eval"]
    torch.manual_seed(SEED)
    config = PPOConfig(batch_size=N_EVAL, mini_batch_size=N_EVAL, max_new_tokens=NEW_TOKENS)
    r = collect_rollout(policy, ValueHead(policy.config.hidden_size), tok, queries, TokenReward(rm, tok), config, ref_model=ref)
    kl = ((r.logprobs - r.ref_logprobs) * r.response_mask).sum(1).mean().item()
    return {"reward": r.scores.mean().item(), "kl": kl}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return mean, var ** 0.5


COLUMNS = ["rollouts/s", "peak RSS MiB", "reward", "kl"]


def print_table(runs: dict, reference: dict, seeds: list[int]) -> dict:
    """Every run, then mean ± std over seeds per side and the course / TRL ratios; returns the summary."""
    print(f"\n{ITERATIONS} iterations x {BATCH} rollouts, {MINI_BATCHES} mini-batches, {EPOCHS} epochs, "
          f"{NEW_TOKENS} new tokens, lr {LR}, beta {BETA}; evaluated on {N_EVAL} held-out prompts; seeds {seeds}")
    print(f"{'side':<10}{'seed':>6}{'rollouts/s':>12}{'peak RSS MiB':>14}{'reward':>10}{'KL':>8}")
    for (side, seed), row in runs.items():
        print(f"{side:<10}{seed:>6}{row['rollouts/s']:>12.2f}{row['peak RSS MiB']:>14.0f}{row['reward']:>10.3f}"
              f"{row['kl']:>8.3f}")
    print(f"{'reference':<10}{'':>6}{'':>12}{'':>14}{reference['reward']:>10.3f}{reference['kl']:>8.3f}")
    summary = {side: {c: mean_std([runs[side, s][c] for s in seeds]) for c in COLUMNS} for side in ("course", "trl")}
    print("\nmean ± std over seeds")
    for side, row in summary.items():
        print(f"{side:<10}" + "".join(f"  {c} {m:.3f} ± {sd:.3f}" for c, (m, sd) in row.items()))
    c, t = ({k: v[0] for k, v in summary[side].items()} for side in ("course", "trl"))
    print(f"course / TRL (means): speed x{c['rollouts/s'] / t['rollouts/s']:.2f}, "
          f"memory x{c['peak RSS MiB'] / t['peak RSS MiB']:.2f}, reward {c['reward']:.3f} vs {t['reward']:.3f}, "
          f"KL {c['kl']:.3f} vs {t['kl']:.3f}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("side", nargs="?", default="all", choices=["all", "course", "trl"])
    parser.add_argument("dir", nargs="?", default="runs/ppo_vs_trl")
    parser.add_argument("--trl-python", default="/tmp/trl_old/bin/python", help="python of the TRL 0.11.4 venv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[SEED], help="training seeds, one run per side each")
    parser.add_argument("--aligned", action="store_true", help=f"the course uses TRL's {TRL_DEFAULTS}")
    args = parser.parse_args()
    out = Path(args.dir).resolve()
    if args.side != "all":
        if len(args.seeds) != 1:
            raise SystemExit(f"one side trains one seed at a time; got --seeds {args.seeds}")
        if args.side == "course":
            run_course(out, args.seeds[0], args.aligned)
        else:
            run_trl(out, args.seeds[0])
        return 0
    if not Path(args.trl_python).exists():
        raise SystemExit(f"{args.trl_python} not found: create the TRL 0.11.4 environment (see this file's docstring)")
    out.mkdir(parents=True, exist_ok=True)
    prepare(out)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    runs = {}
    for seed in args.seeds:
        for python, side in [(sys.executable, "course"), (args.trl_python, "trl")]:
            aligned = ["--aligned"] if args.aligned and side == "course" else []
            subprocess.run([python, __file__, side, str(out), "--seeds", str(seed), *aligned], env=env, check=True)
            run = json.loads((out / f"seed{seed}" / f"{side}.json").read_text())
            runs[side, seed] = {"rollouts/s": ITERATIONS * BATCH / run["seconds"], "peak RSS MiB": run["rss_mib"],
                                **evaluate(out, f"seed{seed}/{side}_policy")}
            print(side, seed, runs[side, seed], flush=True)
    reference = evaluate(out, "policy")
    if args.aligned:
        print(f"--aligned: the course ran with TRL's {TRL_DEFAULTS}")
    summary = print_table(runs, reference, args.seeds)
    table = {"runs": [{"side": k[0], "seed": k[1], **v} for k, v in runs.items()], "reference": reference,
             "mean_std": summary, "aligned": args.aligned}
    (out / "table.json").write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
