"""4-bit NF4 loading for the chat model (notebooks 04–06), on a GPU or, in the tiny profile, a CPU.

QLoRA-style: the base weights are stored in 4-bit NormalFloat with double quantisation and computed in
bf16 (GPUs of compute capability ≥ 8.0), fp16 (older GPUs such as a T4) or fp32 (CPU), as chosen by
`precision.choose_precision`; only small LoRA adapters are trained on top.
"""

from __future__ import annotations


def compute_dtype(device: str):
    """bf16 from compute capability 8.0 (Ampere), fp16 on older GPUs (a T4), fp32 on CPU.

    Not `torch.cuda.is_bf16_supported()`: it says True on a T4 too, where bf16 is emulated and slow.
    """
    from rlhf_helpers.infra.precision import choose_precision

    return choose_precision(device).dtype


def nf4_config(device: str):
    """`BitsAndBytesConfig` for 4-bit NF4 with double quantisation, computing in `compute_dtype(device)`."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype(device))


def keep_cpu_4bit_training_layout(model) -> int:
    """Stop bitsandbytes' CPU inference repacking, which silently corrupts LoRA gradients; returns layers fixed.

    On CPUs with avx512_bf16, bitsandbytes (≥ 0.47) repacks 4-bit weights into an inference layout at the
    first no-grad eval forward (e.g. `generate`); backward then runs through `gemv_4bit`, which has no
    autograd kernel, and LoRA gradients come out wrong without an error. PPO alternates generate and
    backward, so it is hit exactly there. Turning the repacking off keeps gradients exact. No-op on GPU.
    """
    import bitsandbytes as bnb

    fixed = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit) and getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            fixed += 1
    return fixed


def load_4bit_causal_lm(model_id: str, device: str):
    """Load a causal LM in 4-bit NF4 on `device` ("cuda" or "cpu"), ready for LoRA training.

    On CUDA the whole model goes to this process's GPU (`accelerate`'s local process index), so
    each process of a multi-GPU run holds its own copy.
    """
    from accelerate import PartialState
    from transformers import AutoModelForCausalLM

    place = {"": PartialState().local_process_index} if device == "cuda" else {"": "cpu"}
    # the layers that stay unquantised (embeddings, norms, lm_head) in the compute dtype too: a bf16
    # checkpoint (Zephyr's) would otherwise keep them in bf16, emulated and slow on a T4
    model = AutoModelForCausalLM.from_pretrained(model_id, quantization_config=nf4_config(device), device_map=place,
                                                 dtype=compute_dtype(device))
    keep_cpu_4bit_training_layout(model)
    return model


def footprint_gib(model) -> float:
    """Memory taken by the model's parameters and buffers, in GiB (`model.get_memory_footprint()`)."""
    return model.get_memory_footprint() / 2**30
