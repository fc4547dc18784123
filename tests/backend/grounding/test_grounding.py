"""Grounding's picture budget and precision, checked against transformers' own Qwen3-VL code."""

from __future__ import annotations

import pytest
from PIL import Image

from img23d_backend.catalog import GROUNDING
from img23d_backend.grounding.qwen3_vl.model import GROUNDING_MAX_PIXELS
from img23d_backend.grounding.qwen3_vl.ask import fit_pixels, processor_grid
from img23d_backend.env.torch_shims import prepare_torchvision

TOKENS = 1280  # the visual-token budget the registry means


def _qwen3_vl_image_processor():
    """The image processor as Qwen3-VL's preprocessor_config.json builds it (patch 16, merge 2)."""
    prepare_torchvision()
    from transformers import Qwen2VLImageProcessorFast

    return Qwen2VLImageProcessorFast(patch_size=16, merge_size=2, temporal_patch_size=2,
                                     size={"shortest_edge": 65536, "longest_edge": 16777216})


def _visual_tokens(processor, picture: Image.Image) -> int:
    grid = processor(images=[picture], return_tensors="pt")["image_grid_thw"][0]
    return int(grid.prod()) // processor.merge_size ** 2


def test_the_budget_is_counted_in_qwen3_vl_tokens_of_32_pixels() -> None:
    processor = _qwen3_vl_image_processor()
    assert processor_grid(type("P", (), {"image_processor": processor})()) == 32
    assert GROUNDING_MAX_PIXELS == TOKENS * 32 * 32
    assert all(spec.options["max_pixels"] == GROUNDING_MAX_PIXELS for spec in GROUNDING.values())


@pytest.mark.parametrize("size", [(4000, 3000), (1024, 1024), (3000, 500), (1500, 1400), (640, 480), (300, 2400)])
def test_a_fitted_picture_reaches_the_model_as_it_was_fitted(size: tuple[int, int]) -> None:
    processor = _qwen3_vl_image_processor()
    picture = fit_pixels(Image.new("RGB", size, (90, 120, 200)), GROUNDING_MAX_PIXELS)
    width, height = picture.size
    assert width % 32 == 0 and height % 32 == 0  # the processor has nothing left to round
    assert width * height <= GROUNDING_MAX_PIXELS
    assert _visual_tokens(processor, picture) == width * height // (32 * 32) <= TOKENS
    assert abs(width / height - size[0] / size[1]) < 0.1 * size[0] / size[1]  # the shape is kept


def test_a_big_picture_uses_nearly_all_of_the_token_budget() -> None:
    picture = fit_pixels(Image.new("RGB", (4000, 3000)), GROUNDING_MAX_PIXELS)
    assert 0.95 * TOKENS <= picture.width * picture.height // (32 * 32) <= TOKENS


# --- precision: bf16 where the device has it, fp32 where it does not, never fp16 ----------------

@pytest.mark.parametrize("kind, capability, macos_14, expected", [
    ("cuda", (9, 0), False, "bfloat16"),   # Hopper
    ("cuda", (8, 6), False, "bfloat16"),   # Ampere
    ("cuda", (7, 5), False, "float32"),    # Turing: bf16 only emulated
    ("cuda", (6, 1), False, "float32"),    # Pascal
    ("mps", None, True, "bfloat16"),       # macOS 14+
    ("mps", None, False, "float32"),       # macOS 13: no bf16 on Metal
    ("cpu", None, False, "float32"),
])
def test_qwen3_vl_never_runs_in_fp16(monkeypatch, kind: str, capability, macos_14: bool, expected: str) -> None:
    import torch

    from img23d_backend.grounding.qwen3_vl.ask import grounding_dtype

    def device_capability(device=None):
        assert torch.device(device).type == "cuda"  # asked about the device in use
        return capability

    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", device_capability)
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: macos_14 and major <= 14)
    assert grounding_dtype(torch.device(kind)) == getattr(torch, expected)


def test_the_grounding_loader_uses_the_grounding_dtype(tiny_root, monkeypatch) -> None:
    import torch

    from img23d_backend.grounding.qwen3_vl import ask as grounding

    asked = []
    monkeypatch.setattr(grounding, "grounding_dtype", lambda device: asked.append(device) or torch.bfloat16)
    loaded = grounding.load_grounding(tiny_root / "qwen3-vl", torch.device("cpu"))
    assert asked == [torch.device("cpu")] and loaded.obj.model.dtype == torch.bfloat16
