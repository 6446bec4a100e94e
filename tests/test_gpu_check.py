"""benchmarks/gpu_check.sh: every full-profile training step, here at tiny shapes on the CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def test_cpu_tiny_runs_every_step_and_writes_the_json(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out), "--cpu-tiny",
                           "--checkpoint-dir", str(tmp_path / "ckpt")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "cpu-tiny" and result["cap_gib"] is None
    assert [r["step"] for r in result["steps"]] == gpu_check.STEPS
    assert all(r["ok"] and r["seconds_per_step"] > 0 and r["precision"] == "fp32" for r in result["steps"])
    assert "peak_gib" not in result["steps"][0], "no GPU number may be reported from a CPU run"
    assert 3 < result["estimates_gib"]["04_ppo"] < 15 and 3 < result["estimates_gib"]["05_dpo"] < 15


def test_real_configs_have_the_published_sizes():
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    import torch

    with torch.device("meta"):
        counts = {key: sum(p.numel() for p in (AutoModelForCausalLM if key in ("gpt2", "zephyr") else
                                                 AutoModelForSequenceClassification).from_config(
                                                     gpu_check.real_config(key)).parameters())
                  for key in ("gpt2", "bert", "distilroberta", "zephyr", "toxicity")}
    assert abs(counts["gpt2"] - 124.4e6) < 0.5e6       # GPT-2 "124M"
    assert abs(counts["bert"] - 109.5e6) < 0.5e6       # bert-base-uncased
    assert abs(counts["distilroberta"] - 82.1e6) < 0.5e6
    assert abs(counts["zephyr"] - 7.24e9) < 0.01e9     # Mistral-7B
    assert abs(counts["toxicity"] - 124.6e6) < 0.5e6   # roberta-base + a 2-label head
    assert gpu_check.real_config("zephyr").sliding_window == 4096
