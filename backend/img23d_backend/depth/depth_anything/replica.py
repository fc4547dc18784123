"""The tiny Depth Anything V2 replica: random weights in the real model's folder layout.

``build.build_tiny_models`` calls ``build``; this module owns the tiny set's
``depth-anything/`` folder, which holds what ``depth-anything/Depth-Anything-V2-Small-hf`` holds
and ``estimator.load_depth`` reads: ``config.json`` (a ``DepthAnythingConfig`` with an
inline Dinov2 backbone config, as the real one has), ``model.safetensors`` and
``preprocessor_config.json`` (a ``DPTImageProcessor`` set up as the real one: keep the aspect
ratio, sides a multiple of 14, ImageNet normalisation; only its target size is small).

Constraints found building it: the backbone's ``out_indices`` name as many layers as
``neck_hidden_sizes`` has entries (four), ``reassemble_hidden_size`` equals the backbone's
``hidden_size``, and ``reassemble_factors`` keep the real 4, 2, 1, 0.5 so the fusion stage's
upsampling lines up. The relative head ends in a ReLU: with random weights its output can be
zero everywhere, and its small random features barely vary, so the last convolution is rescaled
to vary by about ``_HEAD_SPREAD`` over a noise probe and its bias raised to keep the output
positive: a map that varies with the picture, as the statistics need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SEED = 6789
_INPUT_SIDE = 56   # the processor's target size (the real one is 518); a multiple of 14
_HEAD_BIAS = 1.0
_HEAD_SPREAD = 0.25


def build(dest: Path) -> dict[str, Any]:
    """Write the replica's folder at ``dest``; return the tiny manifest's entry."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, DPTImageProcessor

    backbone = {
        "model_type": "dinov2", "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2,
        "mlp_ratio": 2, "image_size": _INPUT_SIDE, "patch_size": 14,
        "out_indices": [1, 2, 3, 4], "reshape_hidden_states": False, "apply_layernorm": True,
    }
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, patch_size=14,
        neck_hidden_sizes=[8, 16, 32, 32], reassemble_factors=[4, 2, 1, 0.5],
        fusion_hidden_size=16, head_hidden_size=8, depth_estimation_type="relative", max_depth=1)
    config.architectures = ["DepthAnythingForDepthEstimation"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = DepthAnythingForDepthEstimation(config).eval()
        _spread_head(model, torch.rand(1, 3, _INPUT_SIDE, _INPUT_SIDE))
    model.save_pretrained(dest, safe_serialization=True)
    processor = DPTImageProcessor(
        do_resize=True, size={"height": _INPUT_SIDE, "width": _INPUT_SIDE}, keep_aspect_ratio=True,
        ensure_multiple_of=14, resample=3, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], do_pad=False)
    processor.save_pretrained(dest)
    return {
        "path": dest.name,
        "class": "DepthAnythingForDepthEstimation",
        "processor": "DPTImageProcessor",
        "input_side": _INPUT_SIDE,
        "note": "random weights (head biased positive): exercises loading, the processor and the "
        "statistics, not depth quality",
    }


def _spread_head(model: Any, probe: Any) -> None:
    """Rescale the last convolution so the output varies by ``_HEAD_SPREAD`` and stays positive."""
    import torch

    head = model.head.conv3
    with torch.no_grad():
        head.bias.zero_()
        features: list[Any] = []
        hook = head.register_forward_hook(lambda module, inputs, output: features.append(output))
        try:
            model(pixel_values=probe)
        finally:
            hook.remove()
        spread = float(features[0].std())
        head.weight.mul_(_HEAD_SPREAD / max(spread, 1e-12))
        head.bias.fill_(_HEAD_BIAS)
