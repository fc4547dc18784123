"""The dtype each model runs in on each device: half precision where the device runs it fast and
well, with the exceptions grounding and matting need."""

from __future__ import annotations

from typing import Any


def working_dtype(device: Any) -> Any:
    """Half precision where the device runs it fast and well; fp32 on CPU.

    The rule for the Hunyuan3D models; grounding and matting have their own below, because
    fp16 breaks them on some devices.
    """
    import torch

    kind = getattr(device, "type", str(device))
    if kind in ("cuda", "mps"):
        return torch.float16
    return torch.float32


def grounding_dtype(device: Any) -> Any:
    """Qwen3-VL's dtype: bf16 where the device runs it natively, else fp32, never fp16.

    Qwen3-VL is trained in bf16 and its activations leave fp16's range (65504): in fp16 the
    answers turn into NaN/inf garbage. Where bf16 is missing (GPUs before Ampere, macOS before
    14) fp32 costs twice the memory but answers correctly.
    """
    import torch

    return torch.bfloat16 if bf16_native(device) else torch.float32


def matting_dtype(device: Any) -> Any:
    """BiRefNet's dtype: fp16 on CUDA (as its authors run it), fp32 elsewhere.

    On MPS BiRefNet in fp16 produces NaN mattes, which would become empty cut-outs.
    """
    import torch

    return torch.float16 if getattr(device, "type", str(device)) == "cuda" else torch.float32


def bf16_native(device: Any) -> bool:
    """True where the device computes in bf16 itself rather than emulating it (or not at all)."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        if torch.version.hip:
            return True
        # Not torch.cuda.is_bf16_supported(): by default it also says yes for pre-Ampere GPUs,
        # which only emulate bf16, and it asks about the current device, not this one.
        return torch.cuda.get_device_capability(device)[0] >= 8
    if kind == "mps":
        return torch.backends.mps.is_macos_or_newer(14, 0)  # bf16 on Metal needs macOS 14
    return False
