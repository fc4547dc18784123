"""The tiny MoGe-2 replica: random weights in the real ``model.pt``'s format.

``build.build_tiny_models`` calls ``build``; this module owns the tiny set's ``moge-2-vits-normal/`` folder,
which holds what ``Ruicheng/moge-2-vits-normal`` holds and ``estimator.load_moge`` reads: ``model.pt``, a
zip-format torch pickle of ``{"model_config": ..., "model": state dict}`` as upstream's training script saves
it, fp32 tensors under upstream's key names. The config is the real one's layout (its keys, its four heads'
kinds, ``remap_output: exp``) at a small size: img23d's tiny DINOv2 (``dinov2.TINY_BACKBONE``: 32 channels,
4 blocks), 32 to 4 channels down the conv stacks, and 16 to 36 encoder tokens.

With random weights the mask head's probabilities sit near one half and the points fit no camera at all (the
recovered focal came out negative). So two things are set after the draw (``_shape_heads``): the mask head's
last bias is raised (``_MASK_BIAS``), so every pixel is valid; and the last level of the neck and the points
head carries the view plane's u and v unchanged in two channels, from which the points' x and y are u and v
over ``FOCAL`` (before the ``exp`` remap multiplies them by z), while z comes from the picture's features,
varying by about ``_POINTS_SPREAD`` (before ``exp``). The points are then what a pinhole camera of focal
``FOCAL`` sees, at distances that vary with the picture: the tests can hold the recovered camera to a known
answer. Not depth quality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .dinov2 import TINY_BACKBONE
from .model import CHECKPOINT
from .network import MoGeModel

SEED = 4242
FOCAL = 1.6            # the replica's camera: its focal relative to the picture's half diagonal (upstream's unit)
_MASK_BIAS = 4.0
_POINTS_SPREAD = 0.05
_STACK = {"dim_res_blocks": [32, 16, 8, 8, 4], "num_res_blocks": [0, 1, 1, 1, 0], "res_block_in_norm": "none",
          "res_block_hidden_norm": "none",
          "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]}


def tiny_config() -> dict[str, Any]:
    """The replica's ``model_config``: the real one's layout at a small size."""
    head = {**_STACK, "dim_in": [32, 16, 8, 8, 4]}
    return {
        "encoder": {"backbone": TINY_BACKBONE, "intermediate_layers": [0, 1, 2, 3], "dim_out": 32},
        "neck": {**_STACK, "dim_in": [34, 2, 2, 2, 2], "dim_out": None},
        "points_head": {**head, "dim_out": [None, None, None, None, 3]},
        "normal_head": {**head, "dim_out": [None, None, None, None, 3]},
        "mask_head": {**head, "dim_out": [None, None, None, None, 1]},
        "scale_head": {"dims": [32, 32, 32, 1]},
        "remap_output": "exp",
        "num_tokens_range": [16, 36],
    }


def random_checkpoint(seed: int = SEED) -> dict[str, Any]:
    """The replica's checkpoint dict (upstream's layout), its weights drawn from ``seed``."""
    config = tiny_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = MoGeModel(**config).eval()
        _shape_heads(network, torch.rand(1, 3, 48, 64))
    return {"model_config": config, "model": {k: v.detach().clone() for k, v in network.state_dict().items()}}


def build(dest: Path) -> dict[str, Any]:
    """Write the replica's folder at ``dest``; return the tiny manifest's entry."""
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(random_checkpoint(), dest / CHECKPOINT)
    return {
        "path": dest.name,
        "class": "MoGeModel (v2)",
        "backbone": TINY_BACKBONE,
        "note": "random weights (every pixel valid, a pinhole camera of focal FOCAL): exercises loading, the camera "
                "recovery and the statistics, not depth quality",
    }


def _shape_heads(network: Any, probe: Any) -> None:
    """Every pixel valid, and the points a pinhole camera's of focal ``FOCAL`` (module docstring)."""
    neck, head = network.neck, network.points_head
    out = head.output_blocks[-1]
    with torch.no_grad():
        network.mask_head.output_blocks[-1].bias.fill_(_MASK_BIAS)
        # u and v into the last level's channels 0 and 1 (the neck's only input there is the view plane) ...
        uv_in = neck.input_blocks[-1]
        uv_in.weight.zero_()
        uv_in.bias.zero_()
        uv_in.weight[0, 0] = uv_in.weight[1, 1] = 1
        head.input_blocks[-1].weight.copy_(torch.eye(uv_in.out_channels)[:, :, None, None])
        head.input_blocks[-1].bias.zero_()
        # ... where nothing else adds to them: the last upsampling's convolution leaves them alone.
        for stack in (neck, head):
            stack.resamplers[-1][-1].weight[:2] = 0
            stack.resamplers[-1][-1].bias[:2] = 0
        # x and y are u and v over the focal; z (before exp) the picture's features in the other channels.
        z_row = out.weight[2].clone()
        z_row[:2] = 0
        out.weight.zero_()
        out.bias.zero_()
        out.weight[0, 0] = out.weight[1, 1] = 1 / FOCAL
        out.weight[2] = z_row
        features: list[Any] = []
        hook = out.register_forward_hook(lambda module, inputs, output: features.append(output[:, 2]))
        try:
            network(probe, num_tokens=24)
        finally:
            hook.remove()
        out.weight[2].mul_(_POINTS_SPREAD / max(float(features[0].std()), 1e-12))
