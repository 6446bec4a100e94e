"""Recipes: the notebooks' training runs as YAML files for the `trl` command line and `train_ppo` (at scale).

One source of sizes: every recipe is written from `profiles.SETTINGS` (the notebook's sizes) and
`FULL_MODELS`/`FULL_DATASETS` (full) or the toy world's folders (tiny) by `recipe_values`. The full recipes
are committed in `recipes/` (a test checks they equal what this module writes); tiny ones are written on demand:

    python -m rlhf_helpers.infra.recipes write --profile full --out recipes          # regenerate recipes/*.yaml
    python -m rlhf_helpers.infra.recipes write sft_gpt2 --profile tiny --out /tmp/r  # a tiny recipe + its data
    python -m rlhf_helpers.infra.recipes prepare sft_gpt2 --profile full             # the data a full recipe reads

Where `trl`'s scripts cannot read a dataset as it is (TL;DR has `label`, not `completion`; DPO needs
hh-rlhf as chat messages; notebook 07's reward model reads "post\\nTL;DR: summary"), `prepare` writes a copy in
the format they read, with the notebooks' own `formatting` helpers, to `<data root>/<recipe>/<hub id>/`.
Recipes chain: a later recipe reads an earlier one's `output_dir` (07's reward model starts from the SFT model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rlhf_helpers.infra.profiles import FULL_DATASETS, FULL_MODELS, SETTINGS, get_profile, merge_settings
from rlhf_helpers.course.reward_data import add_wrong_post_pairs
from rlhf_helpers.course.reward_model import BERT_LORA_TARGETS, GPT2_LORA_TARGETS, REWARD_HEADS
from rlhf_helpers.infra.train_ppo import CHAT_LORA_TARGETS

RUNS = "runs/recipes"  # full profile: outputs and prepared data, relative to where the command is run


@dataclass(frozen=True)
class Recipe:
    """How one notebook's training run maps onto a CLI: which command, sizes, model and data."""

    command: str        # "sft", "reward", "dpo" (`trl <command>`) or "ppo" (`python -m rlhf_helpers.infra.train_ppo`)
    notebook: str       # the SETTINGS key whose sizes it uses
    model: str          # a FULL_MODELS key, or "recipe:<name>" for an earlier recipe's output
    dataset: str        # a FULL_DATASETS key
    prepare: str = ""   # "" (read as is), "sft", "dpo" or "summary_pairs": the copy `prepare_data` writes
    prefix: str = ""    # "rm_" where the notebook's reward-model sizes are named rm_max_steps, ...
    data_dir: str = ""  # a sub-folder of the dataset repository (hh-rlhf's harmless-base)
    lora: tuple = ()    # reward models: LoRA target modules and the head kept trainable
    reward: str = ""    # ppo: the reward model, "recipe:<name>"


RECIPES = {
    "sft_gpt2": Recipe("sft", "01_sft", "gpt2", "tldr", prepare="sft"),
    "reward_bert": Recipe("reward", "02_reward_bert", "bert", "comparisons",
                          lora=(BERT_LORA_TARGETS, REWARD_HEADS["bert"] + ["pooler"])),
    "reward_gpt2": Recipe("reward", "03_reward_gpt2", "gpt2", "dahoas", lora=(GPT2_LORA_TARGETS, REWARD_HEADS["gpt2"])),
    "reward_distilroberta": Recipe("reward", "04_ppo_zephyr", "distilroberta", "hh_rlhf", prefix="rm_",
                                   data_dir="harmless-base"),
    "ppo_zephyr": Recipe("ppo", "04_ppo_zephyr", "zephyr", "rtp", reward="recipe:reward_distilroberta"),
    "dpo_zephyr": Recipe("dpo", "05_dpo", "zephyr", "hh_rlhf", prepare="dpo", data_dir="harmless-base"),
    "reward_summarize": Recipe("reward", "07_summarize_rlhf", "recipe:sft_gpt2", "comparisons", prepare="summary_pairs",
                               prefix="rm_"),
    "ppo_summarize": Recipe("ppo", "07_summarize_rlhf", "recipe:sft_gpt2", "tldr", reward="recipe:reward_summarize"),
}


def check_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a ValueError listing the known ones."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def _sources(profile: str, seed: int) -> tuple[dict, dict]:
    """(models, datasets) by key: Hub ids in full, the toy world's folders in tiny."""
    if profile == "full":
        return dict(FULL_MODELS), dict(FULL_DATASETS)
    p = get_profile("01_sft", "tiny", seed)
    return p.models, p.datasets


def data_path(name: str, root: str) -> str:
    """Where `prepare_data` writes recipe `name`'s dataset: <root>/data/<name>/<hub id>."""
    return f"{root}/data/{name}/{FULL_DATASETS[check_recipe(name).dataset]}"


def recipe_values(name: str, profile: str = "full", root: str | None = None, settings: dict | None = None,
                  seed: int = 0) -> dict:
    """The YAML content of recipe `name` in `profile`, from SETTINGS; `settings` overrides sizes by name.

    Args:
        root: folder of outputs and prepared data (full: "runs/recipes", relative; tiny: give an absolute path).
        settings: e.g. {"max_steps": 2}: any of the notebook's SETTINGS names (an unknown one is an error).
    """
    r = check_recipe(name)
    root = root or RUNS
    S = merge_settings(r.notebook, dict(SETTINGS[r.notebook][profile]), settings or {}, {})
    models, datasets = _sources(profile, seed)
    model = f"{root}/{r.model[len('recipe:'):]}" if r.model.startswith("recipe:") else models[r.model]
    out = {"model_name_or_path": model, "output_dir": f"{root}/{name}", "seed": seed}
    dataset = data_path(name, root) if r.prepare else datasets[r.dataset]
    precision = {"bf16": True} if profile == "full" else {"use_cpu": True, "bf16": False}
    if r.command == "ppo":
        return {**_ppo_values(r, S, out, dataset, root, models, profile), "seed": seed}
    if r.data_dir and not r.prepare:  # `datasets:` is how trl's scripts reach a sub-folder
        out["datasets"] = [{"path": dataset, "data_dir": r.data_dir, "split": "train"}]
    else:
        out["dataset_name"] = dataset
    p = r.prefix
    steps = S[p + "max_steps"]
    out.update(max_steps=steps, per_device_train_batch_size=S[p + "batch_size"], learning_rate=S[p + "learning_rate"],
               max_length=S[p + "max_length"], lr_scheduler_type="cosine",
               warmup_steps=S.get(p + "warmup_steps", max(1, steps // 10)),
               logging_steps=S.get("logging_steps", max(1, steps // 8)),
               save_strategy="no", eval_strategy="no", report_to="none", activation_checkpointing=False, **precision)
    if r.command == "sft":
        out["completion_only_loss"] = True
    if r.lora:
        out.update(use_peft=True, lora_r=S["lora_r"], lora_alpha=S["lora_alpha"], lora_dropout=S["lora_dropout"],
                   lora_target_modules=list(r.lora[0]), lora_modules_to_save=list(r.lora[1]), lora_task_type="SEQ_CLS")
    if r.command == "dpo":
        out.update(gradient_accumulation_steps=S["grad_accum"], beta=S["beta"], use_peft=True, lora_r=S["lora_r"],
                   lora_alpha=S["lora_alpha"], lora_target_modules=S["lora_targets"], lora_task_type="CAUSAL_LM",
                   load_in_4bit=True, bnb_4bit_quant_type="nf4", use_bnb_nested_quant=True,
                   activation_checkpointing=profile == "full")
        if S["modules_to_save"]:
            out["lora_modules_to_save"] = list(S["modules_to_save"])
        if profile == "full":
            out["dtype"] = "bfloat16"
    return out


def _ppo_values(r: Recipe, S: dict, out: dict, dataset: str, root: str, models: dict, profile: str) -> dict:
    """A `train_ppo.PPORecipe` as a dict: notebook 04 (task chat) or 07 (task summarize)."""
    chat = r.notebook == "04_ppo_zephyr"
    ppo = {k: S[k] for k in ("batch_size", "mini_batch_size", "ppo_epochs", "learning_rate", "value_learning_rate",
                             "beta", "max_new_tokens")}
    values = {"task": "chat" if chat else "summarize", **out, "reward_model_path": f"{root}/{r.reward[len('recipe:'):]}",
              "dataset_name": dataset, "iterations": S["ppo_iterations"], "n_prompts": S["n_prompts"],
              "reward_max_length": S["rm_max_length"], "cpu": profile == "tiny", "ppo": ppo}
    if chat:
        values.update(load_in_4bit=True, lora_r=16, lora_alpha=32, lora_target_modules=list(CHAT_LORA_TARGETS))
    else:
        values.update(max_prompt_length=S["max_prompt_length"])
        ppo["missing_eos_penalty"] = S["missing_eos_penalty"]
    return values


def to_yaml(name: str, profile: str, values: dict) -> str:
    """The recipe file's text: a header that says where it comes from and how to run it, then the values."""
    import yaml

    r = RECIPES[name]
    where = f"recipes/{name}.yaml" if profile == "full" else "<this file>"
    run = (f"accelerate launch -m rlhf_helpers.infra.train_ppo --config {where}" if r.command == "ppo"
           else f"trl {r.command} --config {where}")
    if r.command == "dpo":  # `trl dpo` can hang at exit on several processes (README, Running at scale)
        run = f"accelerate launch -m rlhf_helpers.infra.trl_script dpo --config {where} (or {run})"
    head = [f"# {name}: notebook {r.notebook}, {profile} profile. Written by `python -m rlhf_helpers.infra.recipes write "
            f"--profile {profile}` from profiles.SETTINGS[{r.notebook!r}][{profile!r}]: edit SETTINGS, not this file.",
            f"# Run from the repository root: {run}"]
    if r.prepare:
        head.append(f"# First write its data: python -m rlhf_helpers.infra.recipes prepare {name} --profile {profile}")
    return "\n".join(head) + "\n" + yaml.safe_dump(values, sort_keys=False)


def write_recipe(name: str, profile: str, out_dir, root: str | None = None, settings: dict | None = None,
                 prepare: bool = False, max_rows: int | None = None, **fields) -> Path:
    """Write recipe `name` to `out_dir/<name>.yaml`; `fields` replace recipe keys (e.g. iterations=4).

    With prepare=True also write the data it reads (`prepare_data`, the first `max_rows` rows of each split).
    Returns the file's path.
    """
    values = recipe_values(name, profile, root, settings)
    values.update(fields)
    path = Path(out_dir) / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(name, profile, values))
    if prepare and RECIPES[name].prepare:
        prepare_data(name, profile, root, max_rows=max_rows)
    return path


def prepare_data(name: str, profile: str = "full", root: str | None = None, seed: int = 0,
                 max_rows: int | None = None) -> Path | None:
    """Write the copy of recipe `name`'s dataset in the format `trl`'s script reads; None if it reads the original.

    sft: TL;DR with `label` renamed `completion`; dpo: hh-rlhf as chat messages (`to_preference_dataset`);
    summary_pairs: comparisons as "post\\nTL;DR: summary" texts (`summary_text`), as notebooks 01, 05 and 07 do, with
    notebook 07's wrong-post pairs added to the train split (`add_wrong_post_pairs`, share `rm_wrong_post_share`).
    """
    from datasets import load_dataset

    from rlhf_helpers.course.formatting import to_preference_dataset
    from rlhf_helpers.course.summarize_rlhf import summary_text

    r = check_recipe(name)
    if not r.prepare:
        return None
    source = _sources(profile, seed)[1][r.dataset]
    if profile == "full":
        from rlhf_helpers.infra.offline import dataset_source

        source = dataset_source(source)  # the local copy from `python -m rlhf_helpers download`, if there is one
    raw = load_dataset(source, data_dir=r.data_dir or None)
    out = Path(data_path(name, root or RUNS))
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = raw[split].select(range(min(max_rows or len(raw[split]), len(raw[split]))))
        if r.prepare == "summary_pairs" and split == "train":
            rows = add_wrong_post_pairs(rows, share=SETTINGS[r.notebook][profile]["rm_wrong_post_share"], seed=seed)
        if r.prepare == "sft":
            rows = [{"prompt": row["prompt"], "completion": row["label"]} for row in rows]
        elif r.prepare == "dpo":
            rows = list(to_preference_dataset(rows, conversational=True))
        else:
            rows = [{"chosen": summary_text(row["prompt"], row["chosen"]),
                     "rejected": summary_text(row["prompt"], row["rejected"])} for row in rows]
        with open(out / f"{split}.jsonl", "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
    (out / "SOURCE").write_text(f"{source} ({r.prepare} format, written by rlhf_helpers.infra.recipes.prepare_data)\n")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rlhf_helpers.infra.recipes", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    w = sub.add_parser("write", help="write recipe files (all when no name is given)")
    w.add_argument("names", nargs="*")
    w.add_argument("--profile", default="full", choices=["full", "tiny"])
    w.add_argument("--out", default="recipes")
    w.add_argument("--root", default=None, help="outputs and data folder written into the recipes (default runs/recipes)")
    p = sub.add_parser("prepare", help="write the data copies that recipes read")
    p.add_argument("names", nargs="*")
    p.add_argument("--profile", default="full", choices=["full", "tiny"])
    p.add_argument("--root", default=None)
    args = parser.parse_args(argv)
    names = args.names or list(RECIPES)
    for name in names:
        if args.action == "write":
            print(write_recipe(name, args.profile, args.out, args.root))
        else:
            print(name, "->", prepare_data(name, args.profile, args.root) or "reads the original dataset")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
