"""The full profile, executed: every notebook runs its `full` code path on CPU, offline, against a local
Hugging Face cache with the real tokenizers and shrunk real architectures (`fake_hub.py`), at small sizes
set through the notebooks' parameters (papermill). Needs ../shared (the real tokenizer files)."""

import json
import math

import pytest
from conftest import noise_in
from fake_hub import build_fake_hub, shared_missing

from rlhf_helpers.infra.runner import resolve_notebooks, run_notebook

pytestmark = [pytest.mark.full_offline,
              pytest.mark.skipif(shared_missing() is not None, reason=shared_missing() or "")]

# Small sizes: real lengths and model ids, few rows and steps. Named parameters where the notebook has them,
# on purpose below thresholds that once broke the full path (N_EVAL < 6 in 07, PPO_ITERATIONS < the
# contrast run's iterations in 04).
PARAMETERS = {
    "01_sft": {"OVERRIDES": dict(max_steps=2, batch_size=2, n_eval=4, max_new_tokens=8, logging_steps=1,
                                 warmup_steps=0)},
    "02_reward_bert": {"OVERRIDES": dict(max_steps=2, batch_size=2, n_train=16, n_eval=8, logging_steps=1,
                                         warmup_steps=0)},
    "03_reward_gpt2": {"OVERRIDES": dict(max_steps=2, batch_size=2, n_train=16, n_eval=8, logging_steps=1,
                                         warmup_steps=0, uf_steps=2, uf_buggy_steps=2, scratch_steps=2)},
    "04_ppo_zephyr": {"PPO_ITERATIONS": 2, "N_EVAL": 4,
                      "OVERRIDES": dict(rm_max_steps=2, rm_batch_size=2, n_prompts=16, batch_size=4,
                                        mini_batch_size=2, ppo_epochs=1, max_new_tokens=8, contrast_iterations=3)},
    "05_dpo": {"MAX_STEPS": 2, "N_PROMPTS": 4,
               "OVERRIDES": dict(batch_size=2, grad_accum=1, n_eval_pairs=8, eval_batch_size=4, max_new_tokens=8,
                                 logging_steps=1)},
    "06_toxicity_eval": {"N_HH": 4, "N_RTP": 4, "K": 2, "N_BOOT": 50,
                         "OVERRIDES": dict(max_new_tokens=8, batch_size=8)},
    "07_summarize_rlhf": {"PPO_ITERATIONS": 2, "N_EVAL": 4,
                          "OVERRIDES": dict(rm_max_steps=2, rm_batch_size=2, rm_n_eval=8, n_prompts=16,
                                            eval_samples=2, batch_size=4, mini_batch_size=2, ppo_epochs=1,
                                            max_new_tokens=8, length_iterations=2)},
    "08_rloo_grpo": {"MAX_STEPS": 2, "NUM_GENERATIONS": 2, "N_EVAL": 4,
                     "OVERRIDES": dict(eval_k=2, batch_size=8, n_boot=50, n_prompts=16, prompts_per_step=2,
                                       micro_batch_size=4, max_new_tokens=8, ppo_cost_iterations=1,
                                       arithmetic_steps=2, arithmetic_generations=2, arithmetic_prompts_per_step=2,
                                       arithmetic_max_new_tokens=8, n_arithmetic_eval=4)},
}
NEEDS = {"06_toxicity_eval": ["04_ppo_zephyr", "05_dpo", "08_rloo_grpo"], "07_summarize_rlhf": ["01_sft"],
         "08_rloo_grpo": ["04_ppo_zephyr"]}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from rlhf_helpers.infra.toy import ensure_toy_world

    out = tmp_path_factory.mktemp("fake_hub")
    env = build_fake_hub(out, ensure_toy_world(0))  # toy-world rows in the real schemas; no pad token for Zephyr
    env["RLHF_ARTIFACTS_DIR"] = str(out / "artifacts")  # full-profile artifacts apart from the tiny ones
    return {"out": out, "env": env, "done": {}}


def _run(hub, stem, monkeypatch):
    if stem in hub["done"]:
        return hub["done"][stem]
    for earlier in NEEDS.get(stem, []):  # a notebook alone (e.g. with -k) still gets the stages it loads
        _run(hub, earlier, monkeypatch)
    for key, value in hub["env"].items():
        monkeypatch.setenv(key, value)
    out = hub["out"] / "runs"
    out.mkdir(exist_ok=True)
    row = run_notebook(resolve_notebooks([stem])[0], out, "full", PARAMETERS[stem])
    hub["done"][stem] = row
    return row


def test_every_notebook_has_full_offline_parameters():
    assert sorted(PARAMETERS) == sorted(p.stem for p in resolve_notebooks([]))


@pytest.mark.parametrize("stem", sorted(PARAMETERS))
def test_notebook_runs_in_the_full_profile_offline(hub, stem, monkeypatch):
    row = _run(hub, stem, monkeypatch)
    assert row["ok"], row["error"]
    metrics = json.loads((hub["out"] / "runs" / f"{stem}.json").read_text())
    assert metrics and all(math.isfinite(v) for v in metrics.values())
    executed = (hub["out"] / "runs" / f"{stem}.ipynb").read_text()
    assert "profile: full" in executed and "datasets from local copies" in executed
    noisy = {i: found for i, c in enumerate(json.loads(executed)["cells"]) if (found := noise_in(c.get("outputs")))}
    assert not noisy, f"{stem} printed what a learner must not see, by cell: {noisy}"
    if stem in ("04_ppo_zephyr", "05_dpo", "06_toxicity_eval", "08_rloo_grpo"):  # the Hub's Zephyr tokenizer may have no pad token
        assert "padding with '<unk>'" in executed
