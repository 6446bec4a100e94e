"""What the full profile needs beyond the tiny one: every size settable, pad token and BOS handled the way
the Hub's tokenizers need, adapters saved small, long rows counted, and the local copies of an offline run
(`rlhf_helpers.infra.offline`, `python -m rlhf_helpers download`)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from fake_hub import build_model, real_tokenizer, shared_missing

from rlhf_helpers.infra import download, offline
from rlhf_helpers.course.generation import encode_prompts, ensure_pad_token
from rlhf_helpers.course.lengths import chat_pair_lengths, drop_long, sft_lengths
from rlhf_helpers.infra.profiles import FULL_DATASETS, SETTINGS, get_profile, merge_settings
from rlhf_helpers.infra.runner import notebook_parameters, resolve_notebooks, run

needs_shared = pytest.mark.skipif(shared_missing() is not None, reason=shared_missing() or "")
ZEPHYR = "HuggingFaceH4/zephyr-7b-alpha"
CHAT = [{"role": "user", "content": "How do I make tea?"}]


# --------------------------------------------------------------------------- every size settable
def other_value(default, name):
    """A value unlike `default`, of the type the setting takes (a number stays a number)."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, (int, float)):
        return default + 1
    return f"value-{name}"


@pytest.mark.parametrize("path", resolve_notebooks([]), ids=lambda p: p.stem)
def test_every_setting_is_reachable_from_the_parameters_cell(path):
    assert "OVERRIDES" in pm.inspect_notebook(str(path)), "the parameters cell must define OVERRIDES"
    setup_cells = [c.source for c in nbformat.read(path, as_version=4).cells if "= setup(" in c.source]
    assert len(setup_cells) == 1 and "settings=OVERRIDES" in setup_cells[0]
    for name in ("tiny", "full"):
        keys = SETTINGS[path.stem][name]
        assert set(keys) == set(SETTINGS[path.stem]["tiny" if name == "full" else "full"])
        chosen = {k: other_value(v, k) for k, v in keys.items()}
        assert vars(get_profile(path.stem, name, settings=chosen).settings) == chosen


def test_named_parameters_and_overrides_merge_or_refuse():
    defaults = {"a": 1, "b": 2}
    assert merge_settings("nb", defaults, {"a": 5}, {"b": None}) == {"a": 5, "b": 2}
    assert merge_settings("nb", defaults, {"a": 5}, {"a": 5}) == {"a": 5, "b": 2}
    with pytest.raises(ValueError, match="to different values"):
        merge_settings("nb", defaults, {"a": 5}, {"a": 6})
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['c'\]"):
        merge_settings("nb", defaults, {"c": 1}, {})
    with pytest.raises(ValueError, match="must be a dict"):
        merge_settings("nb", defaults, [("a", 1)], {})


def _parameterised_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("X = 1\nY = []\nOVERRIDES = {}"),
                nbformat.v4.new_code_cell("from rlhf_helpers.infra.results import report\n"
                                          "report('09_fake', {'x': X, 'y': len(Y), 'n': len(OVERRIDES)})")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_runner_passes_parameters_through_papermill(tmp_path, capsys):
    path = _parameterised_notebook(tmp_path / "09_fake.ipynb")
    assert run([str(path)], "tiny", tmp_path / "runs", {"X": 7}) == 0
    metrics = json.loads(next((tmp_path / "runs").glob("*/09_fake.json")).read_text())
    assert metrics == {"x": 7.0, "y": 0.0, "n": 0.0}
    with pytest.raises(SystemExit, match="no chosen notebook has the parameter"):
        run([str(path)], "tiny", tmp_path / "runs", {"PPO_ITERATIONS": 2})
    with pytest.raises(SystemExit, match="--profile"):
        run([str(path)], "tiny", tmp_path / "runs", {"PROFILE": "full"})


def test_overrides_go_only_to_the_notebooks_that_have_them(capsys):
    sft, dpo = resolve_notebooks(["01", "05"])
    chosen = notebook_parameters(sft, {"OVERRIDES": {"max_steps": 3, "grad_accum": 2}, "BETA": 0.2})
    assert chosen == {"OVERRIDES": {"max_steps": 3}}
    assert "grad_accum" in capsys.readouterr().out
    assert notebook_parameters(dpo, {"OVERRIDES": {"grad_accum": 2}, "BETA": 0.2}) == {
        "OVERRIDES": {"grad_accum": 2}, "BETA": 0.2}


def test_cli_reads_parameter_values_as_yaml(tmp_path):
    path = _parameterised_notebook(tmp_path / "09_fake.ipynb")
    proc = subprocess.run([sys.executable, "-m", "rlhf_helpers", "run", "--profile", "tiny", "--out",
                           str(tmp_path / "runs"), str(path), "-p", "X", "41", "-p", "Y", "[a, 2, {b: 3}]"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "x=41" in proc.stdout and "y=3" in proc.stdout
    assert "WARNING" not in proc.stderr, proc.stderr  # e.g. the kernel's "running over TCP without encryption"


# --------------------------------------------------------------------------- pad token and BOS
@needs_shared
@pytest.mark.parametrize("hub_has_pad", [False, True])
def test_zephyr_tokenizer_gets_a_pad_token_distinct_from_eos(hub_has_pad):
    tok = real_tokenizer(ZEPHYR, zephyr_pad=hub_has_pad)
    chosen = ensure_pad_token(tok)
    assert tok.pad_token is not None
    if hub_has_pad:
        assert chosen is None and tok.pad_token == "</s>"  # the Hub's choice is kept
    else:
        assert chosen == "<unk>" and tok.pad_token_id == 0 != tok.eos_token_id
    enc = encode_prompts(tok, ["<|user|>\nHi</s>\n<|assistant|>\n", "<|user|>\nHow do I make tea?</s>\n<|assistant|>\n"])
    assert enc.input_ids[0, 0] == tok.pad_token_id and enc.attention_mask[0, 0] == 0  # left padding


@needs_shared
def test_gpt2_pads_with_eos_because_its_unknown_token_is_eos():
    tok = real_tokenizer("gpt2")
    assert ensure_pad_token(tok) == "<|endoftext|>" and tok.pad_token_id == 50256


@needs_shared
def test_encode_prompts_without_a_pad_token_says_how_to_fix_it():
    with pytest.raises(ValueError, match="ensure_pad_token"):
        encode_prompts(real_tokenizer(ZEPHYR), ["a", "bb"])


@needs_shared
def test_generation_sees_the_tokens_dpo_trains_on():
    """One convention: the chat template's text, no special tokens added (as apply_chat_template and TRL)."""
    from trl.data_utils import _tokenize

    from rlhf_helpers.course.ppo import PPOConfig
    from rlhf_helpers.course.ppo_rollout import build_prompts, generate_responses

    tok = real_tokenizer(ZEPHYR)
    ensure_pad_token(tok)
    dpo_prompt_ids = _tokenize(tok, CHAT, add_generation_prompt=True)["input_ids"]
    ours = encode_prompts(tok, build_prompts(tok, ["How do I make tea?"])).input_ids[0].tolist()
    assert ours == dpo_prompt_ids and ours[0] != tok.bos_token_id
    model = build_model(ZEPHYR).float()
    ids, _, _ = generate_responses(model, tok, build_prompts(tok, ["How do I make tea?"]),
                                   PPOConfig(max_new_tokens=3, batch_size=1, mini_batch_size=1))
    assert ids[0, :len(ours)].tolist() == ours  # the rollout's prompt is exactly DPO's prompt


# --------------------------------------------------------------------------- adapters saved small
def test_save_policy_does_not_save_the_frozen_lm_head(tmp_path):
    import transformers as tf
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file

    from rlhf_helpers.course.ppo import ValueHead, save_policy

    cfg = tf.MistralConfig(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    policy = get_peft_model(tf.MistralForCausalLM(cfg), LoraConfig(r=4, target_modules=["q_proj", "lm_head"]))
    saved = load_file(str(save_policy(policy, ValueHead(32), tmp_path) / "adapter_model.safetensors"))
    assert all("lora_" in key for key in saved), sorted(saved)
    trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    assert sum(t.numel() for t in saved.values()) == trainable


# --------------------------------------------------------------------------- long rows counted
def test_drop_long_keeps_short_rows_and_says_how_many_went(capsys):
    from datasets import Dataset

    data = Dataset.from_dict({"x": ["a", "b", "c", "d"]})
    kept = drop_long(data, [3, 10, 5, 11], max_length=5, what="posts")
    assert kept["x"] == ["a", "c"]
    assert "dropped 2 of 4 posts (50.0%) longer than 5 tokens; longest 11" in capsys.readouterr().out
    with pytest.raises(ValueError, match="one length per row"):
        drop_long(data, [1, 2], max_length=5)


@needs_shared
def test_lengths_are_measured_as_the_trainers_tokenise():
    from trl.data_utils import _tokenize

    gpt2 = real_tokenizer("gpt2")
    assert sft_lengths(gpt2, ["Hello"], [" world"]) == [3]  # "Hello", " world", EOS
    zephyr = real_tokenizer(ZEPHYR)
    row = {"prompt": CHAT, "chosen": [{"role": "assistant", "content": "Boil water."}],
           "rejected": [{"role": "assistant", "content": "No idea, go away and never ask me anything again."}]}
    assert chat_pair_lengths(zephyr, [row]) == [len(_tokenize(zephyr, row["prompt"] + row["rejected"])["input_ids"])]


# --------------------------------------------------------------------------- offline copies
def test_local_copies_are_used_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_OFFLINE_DIR", str(tmp_path))
    assert offline.dataset_source("CarperAI/openai_summarize_tldr") == "CarperAI/openai_summarize_tldr"
    assert offline.metric_source("rouge") == "rouge"
    (tmp_path / "datasets" / "CarperAI" / "openai_summarize_tldr").mkdir(parents=True)
    (tmp_path / "evaluate" / "rouge").mkdir(parents=True)
    (tmp_path / "evaluate" / "rouge" / "rouge.py").write_text("# module")
    p = get_profile("01_sft", "full")
    assert p.datasets["tldr"] == str(tmp_path / "datasets" / "CarperAI" / "openai_summarize_tldr")
    assert p.datasets["hh_rlhf"] == "Anthropic/hh-rlhf"  # no local copy: the Hub id
    assert offline.metric_source("rouge") == str(tmp_path / "evaluate" / "rouge")


def test_download_fetches_what_the_notebooks_load_to_where_the_profile_reads_it(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("RLHF_OFFLINE_DIR", str(tmp_path))
    calls = []

    def fake_snapshot_download(repo_id, repo_type=None, local_dir=None, allow_patterns=None):
        calls.append((repo_id, repo_type))
        if local_dir is not None:  # what the real one does: the repository's files in local_dir
            Path(local_dir).mkdir(parents=True)
            name = repo_id.split("/")[-1]
            Path(local_dir, f"{name}.py" if repo_type == "space" else "data.jsonl").write_text("")
        return str(local_dir or tmp_path / "hub" / repo_id)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    fetched = download.download(["07_summarize_rlhf"])
    assert fetched == {"models": ["gpt2"], "datasets": [FULL_DATASETS["comparisons"], FULL_DATASETS["tldr"]],
                       "metrics": ["rouge"]}
    assert sorted(calls) == sorted([("gpt2", None), (FULL_DATASETS["comparisons"], "dataset"),
                                    (FULL_DATASETS["tldr"], "dataset"), ("evaluate-metric/rouge", "space")])
    p = get_profile("07_summarize_rlhf", "full")
    assert p.datasets["tldr"] == str(offline.local_dataset_dir(FULL_DATASETS["tldr"]))
    assert offline.metric_source("rouge") == str(offline.local_metric_dir("rouge"))


def test_download_lists_every_notebook_and_rejects_unknown_ones():
    assert set(download.NEEDS) == {p.stem for p in resolve_notebooks([])}
    assert "HuggingFaceH4/zephyr-7b-alpha" in download.needs(["04_ppo_zephyr"])["models"]
    with pytest.raises(ValueError, match="unknown notebook"):
        download.needs(["99_nothing"])
    proc = subprocess.run([sys.executable, "-m", "rlhf_helpers", "download", "--dry-run", "05"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Anthropic/hh-rlhf" in proc.stdout and "toxicity" in proc.stdout

