"""Two CPU processes (gloo), as a multi-GPU run uses them: the course's PPO script and trl's scripts (CLI, trl_script).

`accelerate launch --cpu --num_processes 2` starts a single process (accelerate 1.15 always uses its
single-process launcher with --cpu), so the runs use `--multi_gpu --num_processes 2` with `cpu: true`
(`use_cpu: true` for trl) in the recipe: two gloo ranks whose DDP really averages gradients.
Each run is tiny (a few iterations or two optimiser steps); most of the time is spent importing.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from rlhf_helpers.infra.recipes import write_recipe

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PPO_ITERATIONS = 6
ADAPTIVE = {"kl_target": 0.5, "kl_horizon": 64}  # β moves by up to 10 % an iteration with 2 × 16 rollouts


def free_port() -> int:
    """A free TCP port for the rendezvous (other runs on the machine may hold the default 29500)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_cpu_processes() -> list[str]:
    """`accelerate launch` arguments for two local processes, with a free rendezvous port."""
    return ["--multi_gpu", "--num_processes", "2", "--main_process_port", str(free_port())]


def run(argv: list[str], timeout: int = 300) -> str:
    """Run `argv` from the repository root, offline, one thread per process; returns its output."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"two-process run failed ({' '.join(argv)}):\n{output[-3000:]}"
    return output


@pytest.fixture(scope="module")
def world():
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    return get_profile("04_ppo_zephyr", "tiny")


# --------------------------------------------------------------------------- the course's PPO
@pytest.fixture(scope="module")
def ppo_run(world, tmp_path_factory):
    """The tiny chat PPO recipe (notebook 04) for a few iterations on two processes; returns its folder.

    The reward is the toy toxicity classifier's log p(nothate | reply), so no reward model has to be trained first.
    """
    out = tmp_path_factory.mktemp("ppo")
    recipe = write_recipe("ppo_zephyr", "tiny", out, root=str(out),
                          settings=dict(ppo_iterations=PPO_ITERATIONS, batch_size=16, mini_batch_size=8, max_new_tokens=16),
                          reward_model_path=world.models["toxicity"], reward_label="nothate", log_every_rank=True)
    values = yaml.safe_load(recipe.read_text())  # adaptive β, with a target the run crosses: β must move
    values["ppo"].update(adaptive_kl=True, kl_target=ADAPTIVE["kl_target"], kl_horizon=ADAPTIVE["kl_horizon"])
    recipe.write_text(yaml.safe_dump(values))
    run([str(BIN / "accelerate"), "launch", *two_cpu_processes(), "-m", "rlhf_helpers.infra.train_ppo", "--config", str(recipe)])
    return out / "ppo_zephyr"


def test_adaptive_beta_is_one_number_updated_from_all_ranks_rollouts(ppo_run):
    """Each rank logs its own β (not averaged); both must use the β one process would compute from all rollouts."""
    from rlhf_helpers.course.ppo_math import AdaptiveKLController

    history = json.loads((ppo_run / "history.json").read_text())
    rank0, rank1 = (json.loads((ppo_run / f"rank{i}.json").read_text())["history"] for i in (0, 1))
    assert [h["beta"] for h in rank0] == [h["beta"] for h in rank1], "the ranks used different β"
    ctl = AdaptiveKLController(history[0]["beta"], ADAPTIVE["kl_target"], ADAPTIVE["kl_horizon"])
    for before, after in zip(history, history[1:]):
        ctl.update(before["kl"], 2 * 16)  # the mean KL over both ranks, 2 × batch_size rollouts
        assert after["beta"] == pytest.approx(ctl.value, rel=1e-6), (before, after)
    assert len({h["beta"] for h in history}) > 1, "β never moved: the test shows nothing"


def test_one_recipe_and_seed_give_one_starting_point(world, tmp_path):
    """Same recipe, same seed, one process: identical statistics, so every initial weight (LoRA, value head) is seeded."""
    histories = []
    for name in ("a", "b"):
        recipe = write_recipe("ppo_zephyr", "tiny", tmp_path / name, root=str(tmp_path / name),
                              settings=dict(ppo_iterations=1, batch_size=4, mini_batch_size=2, max_new_tokens=4),
                              reward_model_path=world.models["toxicity"], reward_label="nothate", cpu=True)
        run([sys.executable, "-m", "rlhf_helpers.infra.train_ppo", "--config", str(recipe)])
        history = json.loads((tmp_path / name / "ppo_zephyr" / "history.json").read_text())
        histories.append([{k: v for k, v in h.items() if k != "seconds"} for h in history])
    assert histories[0] == histories[1]


def test_ppo_trainable_weights_are_identical_on_both_ranks(ppo_run):
    rank0, rank1 = (torch.load(ppo_run / f"rank{i}.pt") for i in (0, 1))
    assert rank0.keys() == rank1.keys() and any(k.startswith("value_head.") for k in rank0)
    different = [k for k in rank0 if not torch.equal(rank0[k], rank1[k])]
    assert not different, f"DDP left the ranks with different weights: {different[:3]}"
    lora_b = [v for k, v in rank0.items() if "lora_B" in k]
    assert lora_b and all(v.abs().max() > 0 for v in lora_b), "LoRA B starts at 0: it should have been trained"


def test_ppo_logged_statistics_are_reduced_over_ranks(ppo_run):
    rank0, rank1 = (json.loads((ppo_run / f"rank{i}.json").read_text())["history"] for i in (0, 1))
    assert len(rank0) == len(rank1) == PPO_ITERATIONS
    assert rank0 == rank1  # score, KL, losses, ... averaged over the two processes, so the same on both
    assert json.loads((ppo_run / "history.json").read_text()) == rank0


def test_ppo_each_rank_generates_from_different_prompts(ppo_run):
    rank0, rank1 = (json.loads((ppo_run / f"rank{i}.json").read_text())["queries"] for i in (0, 1))
    assert len(rank0) == len(rank1) == PPO_ITERATIONS
    assert all(len(q) == 16 for q in rank0 + rank1)
    assert all(q0 != q1 for q0, q1 in zip(rank0, rank1)), "both ranks sampled the same prompts"


def test_ppo_reward_rises_and_the_adapter_loads(ppo_run, world):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    scores = [h["score"] for h in json.loads((ppo_run / "history.json").read_text())]
    assert sum(scores[-2:]) / 2 > sum(scores[:2]) / 2 + 0.5, f"the reward did not rise: {scores}"
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(world.models["zephyr"]), ppo_run)
    assert (ppo_run / "value_head.pt").exists() and model.peft_config["default"].r == 16


# --------------------------------------------------------------------------- trl's CLI
TRL_RUNS = {  # recipe: (sizes, model class that must load the result)
    "sft_gpt2": (dict(max_steps=2, batch_size=4), "AutoModelForCausalLM"),
    # rm_max_length: long enough that no row of the slice is dropped (the epoch below counts the rows)
    "reward_distilroberta": (dict(rm_max_steps=2, rm_batch_size=4, rm_max_length=512), "AutoModelForSequenceClassification"),
    "dpo_zephyr": (dict(max_steps=2, batch_size=4, grad_accum=1), "AutoPeftModelForCausalLM"),
}
# `trl dpo` trains and saves on two CPU processes, then about one run in two hangs at exit: trl's script destroys the
# process group while the trainer still holds the DDP model, and DDP's reducer, freed later while holding the GIL,
# joins gloo's threads while one of them waits for the GIL (pytorch/pytorch#190489). `rlhf_helpers.infra.trl_script`
# runs the same trl script but drops the DDP model before destroying the group: the DPO test uses it (22 runs, none
# hung; `trl dpo` alternated with it hung in 3 of 20). `trl sft` and `trl reward` hung the same way once each when
# the tests ran on two workers beside the notebooks, so all three go through trl_script here; the plain CLI runs
# with RLHF_TEST_TRL_CLI=1.
TRL_CLI_HANGS = pytest.mark.skipif(
    not os.environ.get("RLHF_TEST_TRL_CLI"),
    reason="`trl <command>` on 2 gloo processes can hang at exit (pytorch/pytorch#190489): `trl dpo` about half the "
           "time, `trl sft` and `trl reward` when the machine is busy (seen twice with parallel tests); the same "
           "recipes run through rlhf_helpers.infra.trl_script above. RLHF_TEST_TRL_CLI=1 runs them")
ROWS = 64  # training rows: 2 steps x 4 per process x 2 processes = 16 rows = a quarter of an epoch
COMMANDS = {"sft_gpt2": "sft", "reward_distilroberta": "reward", "dpo_zephyr": "dpo"}


def launch(name: str, recipe: Path, launcher: str) -> list[str]:
    """The command line: `trl <command> --config ...` ("trl") or the course's entry point ("trl_script")."""
    if launcher == "trl":  # trl passes the arguments it does not know (--multi_gpu ...) on to `accelerate launch`
        return [str(BIN / "trl"), COMMANDS[name], "--config", str(recipe), *two_cpu_processes()]
    return [str(BIN / "accelerate"), "launch", *two_cpu_processes(), "-m", "rlhf_helpers.infra.trl_script", COMMANDS[name],
            "--config", str(recipe)]


@pytest.fixture(scope="module", params=[("sft_gpt2", "trl_script"), ("reward_distilroberta", "trl_script"),
                                        ("dpo_zephyr", "trl_script"),
                                        pytest.param(("sft_gpt2", "trl"), marks=TRL_CLI_HANGS),
                                        pytest.param(("reward_distilroberta", "trl"), marks=TRL_CLI_HANGS),
                                        pytest.param(("dpo_zephyr", "trl"), marks=TRL_CLI_HANGS)],
                ids=["sft_gpt2-trl_script", "reward_distilroberta-trl_script", "dpo_zephyr-trl_script",
                     "sft_gpt2-trl", "reward_distilroberta-trl", "dpo_zephyr-trl"])
def trl_run(request, world, tmp_path_factory):
    """One tiny recipe through trl's script on two processes; returns (name, launcher, folder, output)."""
    name, launcher = request.param
    out = tmp_path_factory.mktemp(name)
    sizes, _ = TRL_RUNS[name]
    fields = {}
    if name == "reward_distilroberta":  # reads the dataset as it is: take the first rows with a split slice
        fields["datasets"] = [{"path": world.datasets["hh_rlhf"], "data_dir": "harmless-base", "split": f"train[:{ROWS}]"}]
    recipe = write_recipe(name, "tiny", out, root=str(out), settings=sizes, prepare=True, max_rows=ROWS, **fields)
    # a hang at exit fails here (a DPO run takes ~12 s on two quiet cores; the limit leaves room for a busy machine)
    return name, launcher, out / name, run(launch(name, recipe, launcher), timeout=300)


def test_trl_cli_runs_on_two_processes_and_the_model_loads(trl_run):
    import peft
    import transformers

    name, launcher, folder, output = trl_run
    if launcher == "trl_script":
        from rlhf_helpers.infra.trl_script import RELEASED

        assert output.count(RELEASED) == 1, "trl's script did not end through rlhf_helpers.infra.trl_script.end_trainer"
    assert "'epoch': '0.25'" in output, "2 steps x 4 rows on 2 processes is a quarter of the 64 rows (1 process: 0.125)"
    loader = TRL_RUNS[name][1]
    module = peft if loader.startswith("AutoPeft") else transformers
    model = getattr(module, loader).from_pretrained(folder)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_trl_script_names_the_commands_it_knows():
    from rlhf_helpers.infra.trl_script import run as run_script

    with pytest.raises(ValueError, match="known: sft, reward, dpo"):
        run_script("ppo", ["--config", "x.yaml"])


def test_trl_script_puts_trainer_end_back():
    from transformers import Trainer

    from rlhf_helpers.infra.trl_script import end_trainer, safe_trainer_end

    original = Trainer.end
    with safe_trainer_end():
        assert Trainer.end is end_trainer
    assert Trainer.end is original
