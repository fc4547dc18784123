"""Whether the visual encoder has CLIP, and CLIP's sizes, read from its weights.

Upstream's ``Dinov2CLIPEncoder`` never reads its config's ``clip_type`` when the folder is
loaded: its ``configure`` always builds ``openai/clip-vit-large-patch14``'s configuration and
loads the file's weights into it. The field is only written, by training, as
``f"openai/{path.split('openai--')[-1].split('/')[0]}"`` of the CLIP it started from: a hub id
gives "openai/openai", a hub-cache path "openai/clip-vit-large-patch14", another local path
"openai/" or a folder's name, and a run without a CLIP path leaves it out. So img23d does not
read it either. What decides instead:

* whether there is a CLIP: the weights (``clip_model.vision_model.*`` keys in
  ``visual_encoder/diffusion_pytorch_model.safetensors``), checked against the encoder class
  ``model_index.json`` names (upstream's diffusers picks the class from it);
* CLIP's sizes: the tensors' shapes and the key set, as OpenAI's own ``clip.model.build_model``
  sizes a CLIP from a state dict (width from the patch embedding, patch size from its kernel,
  image size from the position count, layers by counting them) and, since the head count is not
  in any shape, as it does: ``width // 64`` heads (every OpenAI CLIP ViT has 64-wide heads:
  ViT-L/14 1024 / 64 = 16). The activation and norm epsilon are OpenAI CLIP's (quick GELU,
  1e-5), as ViT-L/14's config has them.

A tower missing some of its tensors is refused in one sentence. One missing its last layers whole
would read as a shallower CLIP: nothing in the file tells the two apart (a safetensors file is
written with its whole header, so a cut-off download cannot do that; only a wrong conversion can).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

CLIP_VISION_PREFIX = "clip_model.vision_model."
HEAD_WIDTH = 64   # OpenAI CLIP's ViTs: heads = width // 64 (clip/model.py, CLIP.__init__)
# Not in any shape: OpenAI CLIP's activation and LayerNorm epsilon (ViT-L/14's config.json).
FIXED = {"hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
# model_index.json's visual_encoder classes, and whether each holds CLIP.
ENCODER_CLASSES = {"Dinov2Encoder": False, "Dinov2CLIPEncoder": True}
# The keys CLIP's sizes are read from, under CLIP_VISION_PREFIX.
_PATCH = "embeddings.patch_embedding.weight"
_POSITIONS = "embeddings.position_embedding.weight"
_LAYER = re.compile(r"encoder\.layers\.(\d+)\.")
_FC1 = "encoder.layers.0.mlp.fc1.weight"


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in the safetensors file ``path``, read from its header alone."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as reader:
        return {key: tuple(reader.get_slice(key).get_shape()) for key in reader.keys()}


def clip_from_weights(shapes: dict[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """transformers' ``CLIPVisionConfig`` fields for the CLIP vision tower whose tensors are
    ``shapes`` (keys as the visual encoder's file has them), or None when it holds no CLIP.
    A file holding part of a tower is refused in one sentence."""
    tower = {key[len(CLIP_VISION_PREFIX):]: shape for key, shape in shapes.items()
             if key.startswith(CLIP_VISION_PREFIX)}
    if not tower:
        return None
    layers = sorted({int(match.group(1)) for name in tower if (match := _LAYER.match(name))})
    if not layers or layers != list(range(len(layers))):
        raise ValueError(_partial(f"encoder layers {layers} are not numbered 0 to {len(layers) - 1}"
                                  if layers else "no encoder layers"))
    absent = [name for name in (_PATCH, _POSITIONS, _FC1) if name not in tower]
    if absent:
        raise ValueError(_partial(f"no {', '.join(CLIP_VISION_PREFIX + name for name in absent)}"))
    width, channels, patch, patch_w = tower[_PATCH]
    positions, position_width = tower[_POSITIONS]
    grid = round((positions - 1) ** 0.5)
    if patch != patch_w or position_width != width or grid * grid + 1 != positions:
        raise ValueError(f"the visual encoder's CLIP has a {patch}x{patch_w} patch embedding {width} wide and "
                         f"{positions} positions {position_width} wide: not a square CLIP ViT")
    if width % HEAD_WIDTH:
        raise ValueError(f"the visual encoder's CLIP is {width} wide, not a multiple of {HEAD_WIDTH}: its head count "
                         "cannot be read from the weights (OpenAI's CLIP ViTs have 64-wide heads)")
    config: dict[str, Any] = {
        "hidden_size": width, "intermediate_size": tower[_FC1][0], "num_hidden_layers": len(layers),
        "num_attention_heads": width // HEAD_WIDTH, "patch_size": patch, "image_size": grid * patch,
        "num_channels": channels, **FIXED}
    projection = shapes.get("clip_model.visual_projection.weight")
    if projection is not None:   # a whole CLIPModel: its projection is never run, but say how wide it is
        config["projection_dim"] = projection[0]
    return config


def check_tower(shapes: dict[str, tuple[int, ...]], expected: Iterable[str]) -> None:
    """Refuse a CLIP tower whose keys are not ``expected`` (the state dict keys of the vision
    model built from the sizes read, under ``vision_model.``), naming a few of those missing, or
    of those extra."""
    tower = {key[len(CLIP_VISION_PREFIX):] for key in shapes if key.startswith(CLIP_VISION_PREFIX)}
    # transformers before 4.31 saved the position ids (a buffer it now builds itself).
    tower.discard("embeddings.position_ids")
    wanted = set(expected)
    missing, extra = sorted(wanted - tower), sorted(tower - wanted)
    if missing:
        raise ValueError(_partial(f"{len(missing)} of its {len(wanted)} tensors are missing, e.g. "
                                  f"{', '.join(CLIP_VISION_PREFIX + name for name in missing[:3])}"))
    if extra:
        raise ValueError(_partial(f"{len(extra)} tensors do not belong to a CLIP ViT of its sizes, e.g. "
                                  f"{', '.join(CLIP_VISION_PREFIX + name for name in extra[:3])}"))


def encoder_class(folder: Path) -> str | None:
    """The visual encoder's class named by ``folder``'s ``model_index.json`` (None if it names none)."""
    path = Path(folder) / "model_index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read ({exc})") from None
    entry = index.get("visual_encoder") if isinstance(index, dict) else None
    if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
        return None
    return str(entry[1])


def check_agreement(class_name: str | None, has_clip: bool) -> None:
    """Refuse an encoder class img23d does not run, or one that disagrees with the weights on CLIP."""
    if class_name is None:
        return   # an index without the entry: the weights alone decide
    if class_name not in ENCODER_CLASSES:
        raise ValueError(f"model_index.json's visual encoder is {class_name}: img23d runs "
                         f"{' and '.join(ENCODER_CLASSES)} only")
    if ENCODER_CLASSES[class_name] != has_clip:
        holds = "holds a CLIP vision tower" if has_clip else "holds no CLIP (no clip_model.vision_model.* tensors)"
        raise ValueError(f"model_index.json names {class_name} but visual_encoder's weights {holds}: "
                         "the folder mixes two models' files")


def _partial(detail: str) -> str:
    return f"the visual encoder's weights hold part of a CLIP vision tower ({detail}): re-download the model"
