"""Numeric precision chosen once from the hardware (every notebook reads it as `P.precision`).

bf16 has fp32's range, so training in it needs no loss scaling; but only GPUs of compute capability 8.0
and newer (Ampere: A100, RTX 30xx; Hopper) compute in it natively. `torch.cuda.is_bf16_supported()` also
says True on a T4 (7.5), where bf16 is emulated and several times slower, so we decide from the
capability instead:

* compute capability ≥ 8.0 → bf16
* a CUDA GPU below 8.0 (T4, V100) → fp16
* CPU → fp32
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BF16_MIN_CAPABILITY = (8, 0)
NAMES = ("bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Precision:
    """The floating-point format models compute in: "bf16", "fp16" or "fp32"."""

    name: str

    @property
    def bf16(self) -> bool:
        """The trainers' `bf16=` argument."""
        return self.name == "bf16"

    @property
    def fp16(self) -> bool:
        """The trainers' `fp16=` argument (mixed precision with loss scaling)."""
        return self.name == "fp16"

    @property
    def dtype(self):
        """The torch dtype to compute in: 4-bit layers' compute dtype, or a model loaded in 16 bits."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.name]

    @property
    def trainer_kwargs(self) -> dict:
        """`{"bf16": ..., "fp16": ...}`, for `TrainingArguments` and TRL's configs."""
        return {"bf16": self.bf16, "fp16": self.fp16}


def choose_precision(device: str, capability: tuple[int, int] | None = None) -> Precision:
    """bf16 from compute capability 8.0, fp16 on older CUDA GPUs, fp32 on a CPU.

    The environment variable RLHF_PRECISION (bf16, fp16 or fp32) overrides the choice on a GPU, e.g. to
    check on a large GPU what a T4 would run (fp16), or to rule out precision when debugging (fp32).

    Args:
        device: "cuda" or "cpu".
        capability: (major, minor) of the GPU; None reads `torch.cuda.get_device_capability()`.
    """
    if device != "cuda":
        return Precision("fp32")
    forced = os.environ.get("RLHF_PRECISION", "").strip().lower()
    if forced:
        if forced not in NAMES:
            raise ValueError(f"RLHF_PRECISION={forced!r}: choose one of {', '.join(NAMES)}, or unset it")
        return Precision(forced)
    if capability is None:
        import torch

        capability = torch.cuda.get_device_capability()
    return Precision("bf16" if tuple(capability) >= BF16_MIN_CAPABILITY else "fp16")


def trainable_params_to_fp32(model) -> int:
    """Cast every trainable parameter to float32 in place; returns how many were cast.

    The frozen base may compute in fp16 or bf16, but the weights an optimiser updates stay in fp32:
    an update of 1e-6 to a weight of 0.01 is below fp16's resolution there (about 8e-6) and would be lost.
    """
    import torch

    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast
