"""Library noise is silenced at its source, and only that noise (rlhf_helpers.quiet)."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _stderr_of(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stderr


def test_bitsandbytes_kernels_message_is_silenced_before_import():
    from bitsandbytes.functional import has_avx512bf16

    if not has_avx512bf16():
        pytest.skip("bitsandbytes only looks for the optional kernel on CPUs with avx512_bf16")
    assert "gemm_4bit_forward" in _stderr_of("import bitsandbytes")  # the noise exists without us
    quiet = _stderr_of("from rlhf_helpers.quiet import silence_library_noise; silence_library_noise(); "
                       "import bitsandbytes, logging; logging.getLogger('bitsandbytes.backends.cpu.ops').warning('kept')")
    assert "gemm_4bit_forward" not in quiet and "kept" in quiet  # only that message goes


def test_peft_reading_the_old_checkpointing_name_warns_no_more():
    from rlhf_helpers.quiet import silence_library_noise

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_library_noise()
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
        warnings.warn("something else", FutureWarning)
    assert [str(w.message) for w in caught] == ["something else"]


def test_trl_configs_with_activation_checkpointing_raise_no_future_warning(tmp_path):
    from trl import RewardConfig

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RewardConfig(output_dir=str(tmp_path), activation_checkpointing=False, report_to="none", use_cpu=True)
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]


def test_notebooks_and_code_use_the_new_checkpointing_name():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert "gradient_checkpointing=" not in source, f"{path.name} uses the deprecated gradient_checkpointing="
    code = [*(ROOT / "rlhf_helpers").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tests").glob("*.py")]
    for path in code:
        if path.name == "test_quiet.py":
            continue
        source = path.read_text()
        for old in ("gradient_checkpointing=", ".gradient_checkpointing_enable("):
            assert old not in source, f"{path.relative_to(ROOT)} uses the deprecated {old}"


def test_load_report_off_hides_the_report_and_restores_verbosity(caplog):
    from transformers.utils import logging as hf_logging

    from rlhf_helpers.quiet import load_report_off

    before = hf_logging.get_verbosity()
    with load_report_off():
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.get_verbosity() == before
