"""The course's PPO as a script, for `accelerate launch` (notebook 04's chat PPO and notebook 07's summaries).

    accelerate launch -m rlhf_helpers.infra.train_ppo --config recipes/ppo_zephyr.yaml              # one GPU
    accelerate launch --multi_gpu --num_processes 4 -m rlhf_helpers.infra.train_ppo --config ...    # four GPUs

It builds the policy, value head, reward function and prompts the way the notebooks do and calls the same
`rlhf_helpers.course.ppo.train_ppo`; `accelerate` wraps the policy and value head in DistributedDataParallel, so every
process samples its own prompts (seed + process index), gradients are averaged over processes, and the logged
statistics are averaged too (`ppo_step`). `ppo.batch_size` is per process: n processes take n × batch_size
rollouts per iteration. The recipe files are written from `profiles.SETTINGS` by `rlhf_helpers.infra.recipes`.

Two tasks:
* `chat` (notebook 04): a chat model (Zephyr) in 4-bit NF4 + LoRA on RealToxicityPrompts, rewarded by a reward
  model; its reference is the same model with the adapter switched off.
* `summarize` (notebook 07): the SFT GPT-2 of notebook 01, fully fine-tuned, with a frozen copy as reference,
  on TL;DR posts, rewarded by r(post, summary) − r(post, reference summary) with a no-EOS penalty.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

TASKS = ("chat", "summarize")
CHAT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


@dataclass
class PPORecipe:
    """One PPO run: what to train, on what, rewarded by what; `ppo` holds the `PPOConfig` fields."""

    task: str
    """"chat" (notebook 04) or "summarize" (notebook 07)."""
    model_name_or_path: str
    """The policy (and reference): a Hub id or a local folder (e.g. the SFT recipe's output_dir)."""
    reward_model_path: str
    """A sequence-classification model: a reward model (one output), or a classifier with `reward_label`."""
    dataset_name: str
    """Where the prompts come from (RealToxicityPrompts for chat, TL;DR for summarize): Hub id or local folder."""
    output_dir: str
    """Where the adapter (or model), the value head and history.json are written."""
    iterations: int
    """PPO iterations."""
    ppo: dict = field(default_factory=dict)
    """`rlhf_helpers.course.ppo.PPOConfig` fields (batch_size is per process)."""
    n_prompts: int = 1000
    """The first n prompts of the training split."""
    reward_label: str | None = None
    """With a classifier as reward model: the reward is log p(this label | response) (e.g. "nothate")."""
    reward_max_length: int = 512
    """Longest text the reward model reads."""
    max_prompt_length: int = 512
    """summarize: posts are shortened to fit this many tokens (and the context window with the summary)."""
    load_in_4bit: bool = True
    """chat: load the policy in 4-bit NF4 (QLoRA); False loads it in the compute precision."""
    lora_r: int = 16
    """chat: LoRA rank."""
    lora_alpha: int = 32
    """chat: LoRA scale α (the update is multiplied by α / r)."""
    lora_target_modules: list = field(default_factory=lambda: list(CHAT_LORA_TARGETS))
    """chat: modules that get adapters (lm_head included: a tiny model cannot move far without it)."""
    activation_checkpointing: bool = True
    """Recompute activations in backward on a GPU (less memory, ~30 % slower updates); ignored on CPU."""
    seed: int = 0
    """Base seed; process i samples prompts and replies with seed + i."""
    cpu: bool = False
    """Run on CPU (gloo) even where a GPU exists: `Accelerator(cpu=True)`."""
    log_every_rank: bool = False
    """Also write each process's history, prompts and trainable weights (rank<i>.json/.pt) to check they agree."""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {TASKS}: use chat (notebook 04) or summarize (07)")


def load_recipe(path) -> PPORecipe:
    """Read a YAML recipe; an unknown key is an error that lists the known ones."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    known = {f.name for f in fields(PPORecipe)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: {sorted(known)}")
    from rlhf_helpers.course.ppo import PPOConfig

    ppo_known = {f.name for f in fields(PPOConfig)}
    bad = sorted(set(data.get("ppo", {})) - ppo_known)
    if bad:
        raise ValueError(f"{path}: unknown ppo key(s) {bad}; known: {sorted(ppo_known)}")
    return PPORecipe(**data)


class ClassifierReward:
    """`reward_fn(queries, responses)`: log p(label | response) from a text classifier, (B,) float tensor.

    E.g. the toxicity classifier with label "nothate": replies the classifier finds harmless score near 0,
    toxic ones far below. Only the response is read, as `evaluate`'s toxicity measurement does.
    """

    def __init__(self, model, tokenizer, label: str, max_length: int = 512, batch_size: int = 64):
        if label not in model.config.label2id:
            raise ValueError(f"reward_label {label!r} is not one of the classifier's labels "
                             f"{list(model.config.label2id)}: pick one, or unset it for a one-output reward model")
        self.model, self.tokenizer, self.index = model.eval(), tokenizer, model.config.label2id[label]
        self.max_length, self.batch_size = max_length, batch_size

    @torch.no_grad()
    def __call__(self, queries, responses) -> torch.Tensor:
        out = []
        for i in range(0, len(responses), self.batch_size):
            enc = self.tokenizer(list(responses[i:i + self.batch_size]), return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length).to(self.model.device)
            out.append(self.model(**enc).logits.float().log_softmax(-1)[:, self.index].cpu())  # (b,)
        return torch.cat(out)


class RecordingReward:
    """Wraps a `reward_fn` and keeps the queries it was asked to score, one list per call (per iteration)."""

    def __init__(self, reward_fn):
        self.reward_fn, self.queries = reward_fn, []

    def __call__(self, queries, responses):
        self.queries.append(list(queries))
        return self.reward_fn(queries, responses)


def chat_setup(recipe: PPORecipe, device: str):
    """Notebook 04's pieces: (policy with LoRA, ref_model None, tokenizer, queries)."""
    from datasets import load_dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from rlhf_helpers.course.formatting import rtp_prompt_text
    from rlhf_helpers.course.generation import load_chat_tokenizer
    from rlhf_helpers.infra.precision import choose_precision
    from rlhf_helpers.course.quantization import keep_cpu_4bit_training_layout, load_4bit_causal_lm

    tokenizer = load_chat_tokenizer(recipe.model_name_or_path)
    if recipe.load_in_4bit:
        base = load_4bit_causal_lm(recipe.model_name_or_path, device)
    else:
        base = AutoModelForCausalLM.from_pretrained(recipe.model_name_or_path, dtype=choose_precision(device).dtype)
    lora = LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=list(recipe.lora_target_modules))
    policy = get_peft_model(base, lora)
    if recipe.load_in_4bit:
        keep_cpu_4bit_training_layout(policy)
    rows = load_dataset(recipe.dataset_name, split="train")
    queries = [rtp_prompt_text(row) for row in rows.select(range(min(recipe.n_prompts, len(rows))))]
    return policy, None, tokenizer, queries


def summarize_setup(recipe: PPORecipe, device: str):
    """Notebook 07's pieces: (policy, frozen reference copy, tokenizer, queries, references)."""
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_helpers.course.summarize_rlhf import truncate_tldr_prompts

    tokenizer = AutoTokenizer.from_pretrained(recipe.model_name_or_path)
    tokenizer.pad_token = tokenizer.eos_token  # GPT-2 has no pad token; EOS doubles as one
    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    policy = AutoModelForCausalLM.from_pretrained(recipe.model_name_or_path, **no_dropout)
    reference = AutoModelForCausalLM.from_pretrained(recipe.model_name_or_path, **no_dropout).eval().requires_grad_(False)
    rows = load_dataset(recipe.dataset_name, split="train")
    rows = rows.select(range(min(recipe.n_prompts, len(rows))))
    max_new = recipe.ppo.get("max_new_tokens", 24)
    queries, _ = truncate_tldr_prompts(tokenizer, list(rows["prompt"]),
                                       min(recipe.max_prompt_length, policy.config.n_positions - max_new))
    references = dict(zip(queries, [label.strip() for label in rows["label"]]))
    return policy, reference.to(device), tokenizer, queries, references


def reward_setup(recipe: PPORecipe, device: str, references=None):
    """The reward function: a classifier label (`reward_label`), a summary reward model, or a chat reward model."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_helpers.course.ppo_rollout import RewardModelScorer
    from rlhf_helpers.course.summarize_rlhf import SummaryReward

    rm_tokenizer = AutoTokenizer.from_pretrained(recipe.reward_model_path)
    if recipe.reward_label is not None:
        model = AutoModelForSequenceClassification.from_pretrained(recipe.reward_model_path).to(device)
        return ClassifierReward(model, rm_tokenizer, recipe.reward_label, recipe.reward_max_length)
    model = AutoModelForSequenceClassification.from_pretrained(recipe.reward_model_path, num_labels=1).to(device)
    if recipe.task == "summarize":
        rm_tokenizer.pad_token = rm_tokenizer.pad_token or rm_tokenizer.eos_token
        model.config.pad_token_id = rm_tokenizer.pad_token_id
        return SummaryReward(model, rm_tokenizer, references=references, max_length=recipe.reward_max_length)
    return RewardModelScorer(model, rm_tokenizer, max_length=recipe.reward_max_length)


def trainable_state(model) -> dict[str, torch.Tensor]:
    """The trainable parameters by name, as CPU tensors (what DDP must keep identical on every process)."""
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def run(recipe: PPORecipe) -> list[dict]:
    """Train with PPO as the recipe says; returns the history (the same on every process)."""
    from accelerate import Accelerator

    from rlhf_helpers.course.ppo import PPOConfig, ValueHead, make_optimizer, save_policy, train_ppo
    from rlhf_helpers.course.ppo_rollout import unwrap
    from rlhf_helpers.infra.trl_script import release_process_group

    accelerator = Accelerator(cpu=recipe.cpu)
    rank, device = accelerator.process_index, accelerator.device
    # every process samples its own prompts and replies; weights start equal (DDP broadcasts rank 0's)
    config = PPOConfig(**{**recipe.ppo, "seed": recipe.seed + rank,
                          "use_chat_template": recipe.task == "chat"})
    random.seed(config.seed)
    torch.manual_seed(recipe.seed)  # before the LoRA and value-head weights are made: one seed, one starting point
    if recipe.task == "chat":
        policy, reference, tokenizer, queries = chat_setup(recipe, device.type)
        reward_fn = reward_setup(recipe, device)
    else:
        policy, reference, tokenizer, queries, references = summarize_setup(recipe, device.type)
        reward_fn = reward_setup(recipe, device, references)
    if not (recipe.task == "chat" and recipe.load_in_4bit):  # 4-bit models are placed when loaded
        policy.to(device)
    if device.type == "cuda" and recipe.activation_checkpointing:
        policy.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    value_head = ValueHead(policy.config.hidden_size).to(device)
    optimizer = make_optimizer(policy, value_head, config)
    policy, value_head, optimizer = accelerator.prepare(policy, value_head, optimizer)
    recorder = RecordingReward(reward_fn)
    history = train_ppo(policy, value_head, tokenizer, queries, recorder, config, recipe.iterations,
                        optimizer=optimizer, ref_model=reference, accelerator=accelerator,
                        progress=accelerator.is_main_process)
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    if recipe.log_every_rank:
        (out / f"rank{rank}.json").write_text(json.dumps({"history": history, "queries": recorder.queries}))
        torch.save({**trainable_state(unwrap(policy, accelerator)),
                    **{f"value_head.{k}": v for k, v in trainable_state(unwrap(value_head, accelerator)).items()}},
                   out / f"rank{rank}.pt")
    if accelerator.is_main_process:
        save_policy(unwrap(policy, accelerator), unwrap(value_head, accelerator), out, config)
        tokenizer.save_pretrained(out)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        (out / "recipe.json").write_text(json.dumps(asdict(recipe), indent=1))
        last = history[-1]
        print(f"PPO done: {recipe.iterations} iterations on {accelerator.num_processes} process(es); "
              f"score {history[0]['score']:.3f} -> {last['score']:.3f}, KL {last['kl']:.3f} nats; saved to {out}")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    del policy, value_head, optimizer  # the DDP wrappers must go before the process group (trl_script)
    release_process_group(accelerator)
    return history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlhf_helpers.infra.train_ppo", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="a PPO recipe (YAML), e.g. recipes/ppo_zephyr.yaml")
    args = parser.parse_args(argv)
    run(load_recipe(args.config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
