"""Precision from the compute capability: bf16 from 8.0 (A100), fp16 below (T4), fp32 on a CPU."""

import pytest
import torch

from rlhf_helpers.infra.precision import Precision, choose_precision, trainable_params_to_fp32
from rlhf_helpers.infra.profiles import get_profile
from rlhf_helpers.course.quantization import nf4_config


@pytest.fixture
def gpu(monkeypatch):
    """Pretend a CUDA GPU of the given compute capability is present; bf16 'supported' everywhere, as on a T4."""
    def fake(capability):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # emulation counts as support
    return fake


@pytest.mark.parametrize("capability, name, dtype", [
    ((7, 5), "fp16", torch.float16),    # T4: bf16 only emulated
    ((7, 0), "fp16", torch.float16),    # V100
    ((8, 0), "bf16", torch.bfloat16),   # A100
    ((9, 0), "bf16", torch.bfloat16),   # H100
])
def test_gpu_precision_follows_the_compute_capability(gpu, capability, name, dtype):
    gpu(capability)
    p = get_profile("04_ppo_zephyr", "full")
    assert p.device == "cuda" and p.precision == Precision(name)
    assert p.precision.dtype == dtype
    assert p.precision.trainer_kwargs == {"bf16": name == "bf16", "fp16": name == "fp16"}
    assert nf4_config("cuda").bnb_4bit_compute_dtype == dtype


def test_cpu_is_fp32_with_no_mixed_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    p = get_profile("01_sft", "tiny")
    assert p.precision.name == "fp32" and p.precision.dtype == torch.float32
    assert not p.precision.bf16 and not p.precision.fp16
    assert nf4_config("cpu").bnb_4bit_compute_dtype == torch.float32
    assert choose_precision("cpu", (9, 0)).name == "fp32"  # the capability of an idle GPU does not matter


def test_trainable_weights_are_cast_to_fp32_and_frozen_ones_kept():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)).half()
    model[0].requires_grad_(False)
    assert trainable_params_to_fp32(model) == 2
    assert model[1].weight.dtype == torch.float32 and model[0].weight.dtype == torch.float16
    # why: a small update vanishes in fp16 but not in fp32
    w = torch.tensor(0.01)
    assert (w.half() + 1e-6).half() == w.half() and w + 1e-6 != w


def test_rlhf_precision_overrides_on_a_gpu_and_rejects_typos(gpu, monkeypatch):
    gpu((9, 0))
    monkeypatch.setenv("RLHF_PRECISION", "fp16")
    assert choose_precision("cuda").name == "fp16" and choose_precision("cpu").name == "fp32"
    monkeypatch.setenv("RLHF_PRECISION", "half")
    with pytest.raises(ValueError, match="choose one of bf16, fp16, fp32"):
        choose_precision("cuda")


def test_notebooks_take_precision_from_the_profile():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "benchmarks").glob("*.py")):
        text = path.read_text()
        assert "bf16=P.device" not in text and "torch.bfloat16 if P.device" not in text, path.name
        if "bf16=" in text and path.suffix == ".ipynb":
            assert text.count("bf16=P.precision.bf16") == text.count("bf16="), path.name
