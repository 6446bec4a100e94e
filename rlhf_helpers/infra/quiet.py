"""Library messages that teach nothing, silenced at their source; `setup()` (every notebook's first call)
applies `silence_library_noise`.

Silenced, and why (each is a library talking about itself, with nothing for a learner to do):

* bitsandbytes' "Failed to load CPU gemm_4bit_forward from kernels-community": on CPUs with avx512_bf16 it
  looks for an optional accelerated kernel in the `kernels` package and logs a warning when it is absent. The
  plain kernel works, and `quantization.load_4bit_causal_lm` already avoids the CPU bug around it. Only that one
  message is filtered, not the logger.
* the `kernels` package's "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes'",
  logged on the same search when the Hub is offline (always, in tiny). Only that message is filtered.
* transformers' FutureWarning "`is_gradient_checkpointing` is deprecated": raised when peft and TRL read the old
  attribute name inside their own code; the course's own configs use the new name, `activation_checkpointing`.
  Likewise "`gradient_checkpointing_disable` / `_enable` is deprecated": TRL's online trainers (notebook 08) call
  the old methods around every generation.

Mended: transformers' load report starts with "<Model> LOAD REPORT" in bold, written as a raw ANSI escape code even
when the output is not a terminal; a notebook shows it as "[1m...[0m". `silence_library_noise` strips the codes
and keeps the report.

Kept, because they teach something: a model's load report the first time a notebook loads a base model with a new
head (it lists the head as MISSING: "new and random, so we train it"); TRL's warnings about dropped or truncated
rows; everything else. `load_report_off()` hides a load report that a notebook has already shown once.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings

BNB_KERNELS_LOGGER = "bitsandbytes.backends.cpu.ops"
KERNELS_HUB_LOGGER = "kernels._internals.hf_hub"
LOAD_REPORT_LOGGERS = ("transformers.modeling_utils", "transformers.integrations.peft", "transformers.modeling_layers")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


class _StripAnsi(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\x1b[" in message:
            record.msg, record.args = _ANSI.sub("", message), None
        return True


def silence_library_noise() -> None:
    """Silence the messages listed in this module's docstring; safe to call more than once.

    Must run before bitsandbytes is imported (it logs at import time): `setup()` calls it first.
    """
    for name, fragment in ((BNB_KERNELS_LOGGER, "gemm_4bit_forward from kernels-community"),
                           (KERNELS_HUB_LOGGER, "Skipping publisher trust check")):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.fragment == fragment for f in logger.filters):
            logger.addFilter(_DropMessage(fragment))
    for name in LOAD_REPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _StripAnsi) for f in logger.filters):
            logger.addFilter(_StripAnsi())
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"`gradient_checkpointing_(disable|enable)` is deprecated",
                            category=FutureWarning)


@contextlib.contextmanager
def load_report_off():
    """Inside this block, `from_pretrained` prints no load report (a notebook shows it once, where it teaches)."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
