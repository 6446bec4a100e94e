"""Library noise is silenced at its source, and only that noise (rlhf_helpers.infra.quiet)."""

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
    noisy = _stderr_of("import bitsandbytes")
    assert "gemm_4bit_forward" in noisy and "publisher trust check" in noisy  # the noise exists without us
    quiet = _stderr_of("from rlhf_helpers.infra.quiet import silence_library_noise; silence_library_noise(); "
                       "import bitsandbytes, logging; logging.getLogger('bitsandbytes.backends.cpu.ops').warning('kept'); "
                       "logging.getLogger('kernels._internals.hf_hub').warning('also kept')")
    assert "gemm_4bit_forward" not in quiet and "publisher trust check" not in quiet  # only those messages go
    assert "kept" in quiet and "also kept" in quiet


def test_peft_reading_the_old_checkpointing_name_warns_no_more():
    from rlhf_helpers.infra.quiet import silence_library_noise

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

    from rlhf_helpers.infra.quiet import load_report_off

    before = hf_logging.get_verbosity()
    with load_report_off():
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.get_verbosity() == before


def test_the_notebook_output_check_finds_noise_and_passes_clean_output():
    from conftest import noise_in

    clean = [{"output_type": "stream", "name": "stdout", "text": "toxic rate 0.50 -> 0.05\n"},
             {"output_type": "execute_result", "data": {"text/plain": "LoRA r = 8"}}]
    assert noise_in(clean) == []
    assert len(noise_in([{"output_type": "stream", "name": "stderr", "text": ["Skipping publisher trust check for 'x'"]}])) == 1
    assert "ANSI" in noise_in([{"output_type": "stream", "name": "stdout", "text": "\x1b[1mMISSING\x1b[0m"}])[0]
    assert "LoraConfig" in noise_in([{"output_type": "execute_result", "data": {"text/plain": "LoraConfig(r=8, ...)"}}])[0]


def test_load_report_keeps_its_words_and_loses_its_terminal_codes(tmp_path, caplog):
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    from rlhf_helpers.infra.quiet import silence_library_noise

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(tmp_path)
    silence_library_noise()
    with caplog.at_level("WARNING", logger="transformers.modeling_utils"):
        BertForSequenceClassification.from_pretrained(tmp_path, num_labels=1)
    report = "\n".join(r.getMessage() for r in caplog.records)
    assert "LOAD REPORT" in report and "MISSING" in report  # the report is kept: it teaches
    assert "\x1b[" not in report
