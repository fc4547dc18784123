"""The geometry folder's configs, as upstream writes them, read into dataclasses.

Upstream's modules are ``BaseModule``s whose ``save_config`` writes their ``Config`` dataclass to
``<part>/config.json``, minus the ``pretrained*`` and ``weights`` fields; the published folder
(``Step1X-3D-Geometry-1300m``) holds ``transformer/``, ``vae/``, ``visual_encoder/`` and
``scheduler/`` so written, beside ``model_index.json``. The field names and defaults below are
those of upstream's ``FluxDenoiser.Config``, ``MichelangeloAutoencoder.Config`` and
``Dinov2Encoder.Config``; the values of the 1300m model are in its training config
(``configs/train-geometry-diffusion/step1x-3d-geometry-1300m.yaml``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read_config(cls: type[T], path: Path) -> T:
    """``cls`` from the JSON file ``path``: known fields taken, the rest (upstream's bookkeeping,
    fields of training alone) ignored; a missing file or a value of the wrong kind is an error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileNotFoundError(2, f"no config ({exc.strerror})", str(path)) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in known:
            default = getattr(cls, name, None)
            if isinstance(default, bool) != isinstance(value, bool) and default is not None:
                raise ValueError(f"{path}: {name} should be {type(default).__name__}, not {value!r}")
            values[name] = value
    return cls(**values)


@dataclass(frozen=True)
class DenoiserConfig:
    """``transformer/config.json``: upstream's ``FluxDenoiser.Config``."""

    input_channels: int = 32
    width: int = 768
    layers: int = 12
    num_single_layers: int = 12
    num_heads: int = 16
    condition_dim: int = 1024
    use_visual_condition: bool = False
    visual_condition_dim: int = 1024
    use_caption_condition: bool = False
    caption_condition_dim: int = 1024
    use_label_condition: bool = False
    label_condition_dim: int = 1024

    def check(self) -> None:
        if self.width % self.num_heads:
            raise ValueError(f"the denoiser's width {self.width} is not a multiple of its {self.num_heads} heads")
        if not self.use_visual_condition:
            raise ValueError("this denoiser takes no image: img23d runs the image-conditioned geometry models only")
        if self.use_caption_condition:
            raise ValueError("this denoiser takes a caption (T5): img23d does not run caption-conditioned models")


@dataclass(frozen=True)
class ShapeVAEConfig:
    """``vae/config.json``: upstream's ``MichelangeloAutoencoder.Config`` (only what decoding reads,
    and what the file's encoder half needs to be skipped knowingly)."""

    num_latents: int = 256
    embed_dim: int = 64
    out_dim: int = 1
    num_freqs: int = 8
    include_pi: bool = True
    width: int = 768
    heads: int = 12
    num_encoder_layers: int = 8
    num_decoder_layers: int = 16
    qkv_bias: bool = True
    qk_norm: bool = False
    z_scale_factor: float = 1.0
    point_feats: int = 0
    use_ln_post: bool = False
    with_sharp_data: bool = True
    use_downsample: bool = False

    def check(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"the VAE's width {self.width} is not a multiple of its {self.heads} heads")
        if self.embed_dim <= 0:
            raise ValueError("the VAE has no KL embedding (embed_dim 0): not a latent-diffusion VAE")


@dataclass(frozen=True)
class VisualEncoderConfig:
    """``visual_encoder/config.json``: upstream's ``Dinov2Encoder.Config``. ``dino_type`` names the
    DINOv2 whose architecture the weights fit: a hub name (sizes below) or a folder with a
    ``config.json``, as upstream's ``config_class.from_pretrained(dino_type)`` accepts either."""

    dino_type: str = ""
    image_size: int = 224
    n_views: int = 1
    zero_uncond_embeds: bool = True
    encode_camera: bool = False
    normalize_embeds: bool = False
    # The Label model's ``Dinov2CLIPEncoder`` adds CLIP and fuses the two by concatenation,
    # DINOv2's tokens first. Its ``clip_type`` is not read: upstream never reads it either (what
    # training writes there is no model name; ``clip_tower`` says why and what decides instead).
    fuse_type: str = "concat"

    def check(self, has_clip: bool = False) -> None:
        if has_clip and self.fuse_type != "concat":
            raise ValueError(f"this visual encoder fuses DINOv2 and CLIP by {self.fuse_type!r}: "
                             "only concat is supported")
        if self.encode_camera or self.n_views != 1:
            raise ValueError("this visual encoder takes several views or cameras: img23d gives it one picture")
        if not self.zero_uncond_embeds:
            raise ValueError("this visual encoder's unconditional embedding is not zeros: not supported")


# facebook/dinov2-with-registers-large's config.json (Apache-2.0), the architecture upstream's
# visual encoder is built with: its weights travel in the geometry folder, its config does not
# (upstream reads it from the hub at load). Only the sizes differ from transformers' defaults.
DINOV2_REGISTERS_LARGE = {
    "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "mlp_ratio": 4,
    "patch_size": 14, "image_size": 518, "num_register_tokens": 4, "layerscale_value": 1.0,
    "layer_norm_eps": 1e-6, "hidden_act": "gelu", "qkv_bias": True, "use_swiglu_ffn": False,
}
KNOWN_DINO = {"facebook/dinov2-with-registers-large": DINOV2_REGISTERS_LARGE}


def dino_settings(dino_type: str, folder: Path) -> dict[str, Any]:
    """The DINOv2-with-registers config for ``dino_type``: a known hub name's sizes, or the
    ``config.json`` of a folder (relative to the geometry ``folder``)."""
    return _settings("DINOv2", dino_type, KNOWN_DINO, folder)


def _settings(what: str, name: str, known: dict[str, dict[str, Any]], folder: Path) -> dict[str, Any]:
    if name in known:
        return dict(known[name])
    local = (folder / name) if not Path(name).is_absolute() else Path(name)
    if (local / "config.json").is_file():
        data = json.loads((local / "config.json").read_text(encoding="utf-8"))
        return {key: value for key, value in data.items() if not key.startswith("_")}
    raise ValueError(f"unknown {what} {name!r} in the visual encoder's config: "
                     f"expected one of {', '.join(known)} or a folder with a config.json")
