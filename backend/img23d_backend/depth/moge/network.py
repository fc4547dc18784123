"""The MoGe-2 network: DINOv2 features and view-plane coordinates in, an affine-invariant point map, normals,
a validity mask and a metric scale out.

Written from the design of ``microsoft/MoGe``'s ``moge/model/v2.py`` and ``modules.py`` (MIT, Copyright (c)
Microsoft Corporation), not copied; every module and parameter has upstream's name (``encoder.backbone``,
``encoder.output_projections``, ``neck``, ``points_head``, ``normal_head``, ``mask_head``, ``scale_head``; in a
conv stack ``input_blocks``, ``resamplers``, ``res_blocks``, ``output_blocks``), so the published ``model.pt``'s
``model`` state dict loads into it with ``strict=True`` (upstream itself loads with ``strict=False``: a file
missing a head would there run that head with random weights; here it is refused). The constructor takes the
checkpoint's ``model_config`` as upstream's does. Only inference: no gradient checkpointing, no ONNX mode.

What ``forward`` gives (upstream's ``MoGeModel.forward``): ``points`` [B, H, W, 3] up to an unknown scale and
z shift (remapped: ``exp`` makes z positive and x, y proportional to it), ``normal`` [B, H, W, 3] unit vectors,
``mask`` [B, H, W] probabilities, ``metric_scale`` [B]; ``geometry`` turns them into a camera and metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .dinov2 import PATCH, DinoVisionTransformer, backbone_shape

HEADS = ("points_head", "normal_head", "mask_head")
_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(negative_slope=0.2), "silu": nn.SiLU,
                "elu": nn.ELU}
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group_norm":
        return nn.GroupNorm(channels // 32, channels)
    if kind == "layer_norm":
        return nn.GroupNorm(1, channels)
    if kind == "instance_norm":
        return nn.InstanceNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"the checkpoint's config names the norm {kind!r}, which MoGe does not have")


def _each(value: Any, count: int) -> list[Any]:
    """A per-level setting: a list as it is, a single value for every level (upstream's ``itertools.repeat``)."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value] * count


def _conv3(channels_in: int, channels_out: int) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1, padding_mode="replicate")


class ResidualConvBlock(nn.Module):
    def __init__(self, channels: int, hidden: int, activation: str, in_norm: str, hidden_norm: str) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"the checkpoint's config names the activation {activation!r}, which MoGe does not have")
        act = _ACTIVATIONS[activation]
        self.layers = nn.Sequential(_norm(in_norm, channels), act(), _conv3(channels, hidden),
                                    _norm(hidden_norm, hidden), act(), _conv3(hidden, channels))
        self.skip_connection = nn.Identity()   # in and out channels are the same in every MoGe stack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x) + self.skip_connection(x)


def _resampler(kind: str, channels_in: int, channels_out: int) -> nn.Sequential:
    """Twice the resolution (the kinds MoGe-2's configs use; upstream has down-samplers too, never in v2)."""
    if kind == "conv_transpose":
        return nn.Sequential(nn.ConvTranspose2d(channels_in, channels_out, kernel_size=2, stride=2),
                             _conv3(channels_out, channels_out))
    if kind in ("nearest", "bilinear"):
        upsample = nn.Upsample(scale_factor=2, mode=kind, align_corners=False if kind == "bilinear" else None)
        return nn.Sequential(upsample, _conv3(channels_in, channels_out))
    if kind == "pixel_shuffle":
        return nn.Sequential(_conv3(channels_in, channels_out * 4), nn.PixelShuffle(2),
                             _conv3(channels_out, channels_out))
    raise ValueError(f"the checkpoint's config names the resampler {kind!r}, which img23d does not build")


class ConvStack(nn.Module):
    """Levels of residual blocks, each at twice the last one's resolution, each adding its own input."""

    def __init__(self, dim_in: Any, dim_res_blocks: list[int], dim_out: Any, resamplers: Any,
                 dim_times_res_block_hidden: int = 1, num_res_blocks: Any = 1, res_block_in_norm: str = "layer_norm",
                 res_block_hidden_norm: str = "group_norm", activation: str = "relu") -> None:
        super().__init__()
        levels = len(dim_res_blocks)
        ins, outs = _each(dim_in, levels), _each(dim_out, levels)
        kinds, counts = _each(resamplers, levels - 1), _each(num_res_blocks, levels)
        self.input_blocks = nn.ModuleList(
            nn.Conv2d(i, d, kernel_size=1) if i is not None else nn.Identity() for i, d in zip(ins, dim_res_blocks))
        self.resamplers = nn.ModuleList(
            _resampler(k, a, b) for k, a, b in zip(kinds, dim_res_blocks[:-1], dim_res_blocks[1:]))
        self.res_blocks = nn.ModuleList(
            nn.Sequential(*(ResidualConvBlock(d, dim_times_res_block_hidden * d, activation, res_block_in_norm,
                                              res_block_hidden_norm) for _ in range(n)))
            for d, n in zip(dim_res_blocks, counts))
        self.output_blocks = nn.ModuleList(
            nn.Conv2d(d, o, kernel_size=1) if o is not None else nn.Identity() for o, d in zip(outs, dim_res_blocks))

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for level, (block_in, blocks, block_out) in enumerate(zip(self.input_blocks, self.res_blocks,
                                                                   self.output_blocks)):
            feature = block_in(features[level])
            x = feature if level == 0 else x + feature
            x = blocks(x)
            outputs.append(block_out(x))
            if level < len(self.resamplers):
                x = self.resamplers[level](x)
        return outputs


class MLP(nn.Sequential):
    def __init__(self, dims: list[int]) -> None:
        layers: list[nn.Module] = []
        for dim_in, dim_out in zip(dims[:-2], dims[1:-1]):
            layers += [nn.Linear(dim_in, dim_out), nn.ReLU(inplace=True)]
        super().__init__(*layers, nn.Linear(dims[-2], dims[-1]))


class DINOv2Encoder(nn.Module):
    """The backbone's chosen layers, each projected to ``dim_out`` channels and summed; and its class token."""

    def __init__(self, backbone: str, intermediate_layers: int | list[int], dim_out: int, **ignored: Any) -> None:
        super().__init__()
        self.intermediate_layers = intermediate_layers
        self.backbone = DinoVisionTransformer(backbone_shape(backbone))
        count = intermediate_layers if isinstance(intermediate_layers, int) else len(intermediate_layers)
        dim = self.backbone.shape.embed_dim
        self.output_projections = nn.ModuleList(nn.Conv2d(dim, dim_out, kernel_size=1) for _ in range(count))
        self.register_buffer("image_mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1))
        self.register_buffer("image_std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor, rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = F.interpolate(image, (rows * PATCH, cols * PATCH), mode="bilinear", align_corners=False,
                              antialias=True)
        image = (image - self.image_mean) / self.image_std
        layers = self.backbone.intermediate_layers(image, self.intermediate_layers)
        x = torch.stack([project(tokens.permute(0, 2, 1).unflatten(2, (rows, cols)).contiguous())
                         for project, (tokens, _) in zip(self.output_projections, layers)], dim=1).sum(dim=1)
        return x, layers[-1][1]


def view_plane_uv(width: int, height: int, aspect: float, dtype: Any = None, device: Any = None) -> torch.Tensor:
    """[height, width, 2]: each cell's centre on the view plane, the image's half diagonal being 1
    (upstream's ``normalized_view_plane_uv``)."""
    span_x = aspect / (1 + aspect ** 2) ** 0.5
    span_y = 1 / (1 + aspect ** 2) ** 0.5
    u = torch.linspace(-span_x * (width - 1) / width, span_x * (width - 1) / width, width, dtype=dtype, device=device)
    v = torch.linspace(-span_y * (height - 1) / height, span_y * (height - 1) / height, height, dtype=dtype,
                       device=device)
    u, v = torch.meshgrid(u, v, indexing="xy")
    return torch.stack([u, v], dim=-1)


class MoGeModel(nn.Module):
    """MoGe-2 from its checkpoint's ``model_config`` (upstream's constructor arguments)."""

    def __init__(self, encoder: dict[str, Any], neck: dict[str, Any], points_head: dict[str, Any] | None = None,
                 mask_head: dict[str, Any] | None = None, normal_head: dict[str, Any] | None = None,
                 scale_head: dict[str, Any] | None = None, remap_output: str = "linear",
                 num_tokens_range: Sequence[int] = (1200, 3600), **ignored: Any) -> None:
        super().__init__()
        if remap_output not in ("linear", "sinh", "exp", "sinh_exp"):
            raise ValueError(f"the checkpoint's config names the output remap {remap_output!r}, "
                             "which MoGe does not have")
        self.remap_output = remap_output
        self.num_tokens_range = tuple(num_tokens_range)
        self.encoder = DINOv2Encoder(**encoder)
        self.neck = ConvStack(**neck)
        for name, head in (("points_head", points_head), ("mask_head", mask_head), ("normal_head", normal_head)):
            if head is not None:
                self.add_module(name, ConvStack(**head))
        if scale_head is not None:
            self.scale_head = MLP(**scale_head)

    def _remap(self, points: torch.Tensor) -> torch.Tensor:
        if self.remap_output == "sinh":
            return torch.sinh(points)
        if self.remap_output == "exp":
            xy, z = points.split([2, 1], dim=-1)
            z = torch.exp(z)
            return torch.cat([xy * z, z], dim=-1)
        if self.remap_output == "sinh_exp":
            xy, z = points.split([2, 1], dim=-1)
            return torch.cat([torch.sinh(xy), torch.exp(z)], dim=-1)
        return points

    def forward(self, image: torch.Tensor, num_tokens: int) -> dict[str, torch.Tensor]:
        """``image`` [B, 3, H, W] in [0, 1]; the encoder sees about ``num_tokens`` patches of it."""
        batch, _, height, width = image.shape
        aspect = width / height
        rows, cols = round((num_tokens / aspect) ** 0.5), round((num_tokens * aspect) ** 0.5)
        features, cls_token = self.encoder(image, rows, cols)
        levels: list[torch.Tensor] = []
        for level in range(5):
            uv = view_plane_uv(cols * 2 ** level, rows * 2 ** level, aspect, image.dtype, image.device)
            uv = uv.permute(2, 0, 1).unsqueeze(0).expand(batch, -1, -1, -1)
            levels.append(torch.cat([features, uv], dim=1) if level == 0 else uv)
        levels = self.neck(levels)
        found = {name: getattr(self, name)(levels)[-1] for name in HEADS if hasattr(self, name)}
        found = {name: F.interpolate(value, (height, width), mode="bilinear", align_corners=False)
                 for name, value in found.items()}
        out: dict[str, torch.Tensor] = {}
        if "points_head" in found:
            out["points"] = self._remap(found["points_head"].permute(0, 2, 3, 1))
        if "normal_head" in found:
            # F.normalize's arithmetic (x over its length, at least 1e-12), written out: torch's vector norm took
            # 0.10 to 0.17 s over a 1024 x 1024 picture on one CPU thread, this 0.01 s (within 1.2e-7 of it).
            normal = found["normal_head"]
            length = normal.square().sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
            out["normal"] = (normal / length).permute(0, 2, 3, 1)
        if "mask_head" in found:
            out["mask"] = found["mask_head"].squeeze(1).sigmoid()
        if hasattr(self, "scale_head"):
            out["metric_scale"] = self.scale_head(cls_token).squeeze(1).exp()
        return out

