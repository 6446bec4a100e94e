"""The recipes in recipes/: written from profiles.SETTINGS (no drift), parsed by the CLIs that run them, ids of the
full profile."""

import importlib
import warnings
from pathlib import Path

import pytest
import yaml

from rlhf_helpers.infra.profiles import FULL_DATASETS, FULL_MODELS, SETTINGS
from rlhf_helpers.infra.recipes import RECIPES, RUNS, recipe_values, to_yaml
from rlhf_helpers.infra.train_ppo import load_recipe

RECIPE_DIR = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("name", list(RECIPES))
def test_committed_recipe_is_what_settings_write(name):
    committed = (RECIPE_DIR / f"{name}.yaml").read_text()
    assert committed == to_yaml(name, "full", recipe_values(name, "full")), (
        f"recipes/{name}.yaml differs from profiles.SETTINGS: run `python -m rlhf_helpers.infra.recipes write --profile full`")


def test_a_settings_change_reaches_the_recipe():
    values = recipe_values("sft_gpt2", "full", settings={"learning_rate": 1e-4})
    assert values["learning_rate"] == 1e-4 != SETTINGS["01_sft"]["full"]["learning_rate"]
    with pytest.raises(ValueError, match="unknown setting"):
        recipe_values("sft_gpt2", "full", settings={"learning_rte": 1e-4})


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.command != "ppo"])
def test_full_trl_recipe_parses_with_the_cli_parser(name):
    """`trl <command> --config recipes/<name>.yaml` reads every key (an unknown key is an error there), none deprecated.

    On this CPU machine bf16 is switched off on the command line (the recipes ask for it; a CPU cannot train in it).
    """
    command = RECIPES[name].command
    parser = importlib.import_module(f"trl.scripts.{command}").make_parser()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        script_args, training_args, model_args, dataset_args = parser.parse_args_and_config(
            ["--config", str(RECIPE_DIR / f"{name}.yaml"), "--bf16", "false", "--use_cpu", "true"])
    deprecated = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert not deprecated, f"recipes/{name}.yaml uses a deprecated key: {deprecated}"
    values = yaml.safe_load((RECIPE_DIR / f"{name}.yaml").read_text())
    assert training_args.max_steps == values["max_steps"] and training_args.learning_rate == values["learning_rate"]
    assert model_args.model_name_or_path == values["model_name_or_path"]
    check_ids(name, model_args.model_name_or_path,
              script_args.dataset_name or dataset_args.datasets[0].path)


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.command == "ppo"])
def test_full_ppo_recipe_loads_into_the_script_config(name):
    from rlhf_helpers.course.ppo import PPOConfig

    recipe = load_recipe(RECIPE_DIR / f"{name}.yaml")
    config = PPOConfig(**recipe.ppo)
    notebook = RECIPES[name].notebook
    assert recipe.iterations == SETTINGS[notebook]["full"]["ppo_iterations"]
    assert config.batch_size == SETTINGS[notebook]["full"]["batch_size"]
    check_ids(name, recipe.model_name_or_path, recipe.dataset_name)
    assert recipe.reward_model_path == f"{RUNS}/{RECIPES[name].reward.split(':')[1]}"


def check_ids(name, model, dataset):
    """The model is a full-profile id or an earlier recipe's output; the dataset a full-profile id or its copy."""
    r = RECIPES[name]
    expected_model = f"{RUNS}/{r.model.split(':')[1]}" if r.model.startswith("recipe:") else FULL_MODELS[r.model]
    assert model == expected_model
    expected_data = f"{RUNS}/data/{name}/{FULL_DATASETS[r.dataset]}" if r.prepare else FULL_DATASETS[r.dataset]
    assert dataset == expected_data and dataset.endswith(FULL_DATASETS[r.dataset])


def test_ppo_recipe_rejects_an_unknown_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load((RECIPE_DIR / "ppo_zephyr.yaml").read_text()), "iteration": 3}))
    with pytest.raises(ValueError, match="unknown key.*iteration"):
        load_recipe(bad)


def test_summary_reward_recipe_data_has_notebook_07s_wrong_post_pairs(tmp_path):
    import json

    from datasets import load_dataset

    from rlhf_helpers.infra.recipes import data_path, prepare_data
    from rlhf_helpers.course.summarize_rlhf import summary_text
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    out = prepare_data("reward_summarize", "tiny", root=str(tmp_path), max_rows=50)
    assert str(out) == data_path("reward_summarize", str(tmp_path))
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    share = SETTINGS["07_summarize_rlhf"]["tiny"]["rm_wrong_post_share"]
    assert len(train) == 50 + round(share * 50) > 50 and len(test) == 50  # held-out pairs stay as they are
    source = load_dataset(str(ensure_toy_world(0) / "datasets" / "openai_summarize_comparisons"))
    originals = [summary_text(r["prompt"], r["chosen"]) for r in source["train"].select(range(50))]
    assert [r["chosen"] for r in train[:50]] == originals
    for row in train[50:]:  # a post with its own chosen summary over another post's chosen summary
        post, _, own = row["chosen"].rpartition("\nTL;DR: ")
        other_post, _, other = row["rejected"].rpartition("\nTL;DR: ")
        assert post == other_post and row["chosen"] in originals and own != other
