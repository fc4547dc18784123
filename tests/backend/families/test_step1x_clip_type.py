"""The Label model loads whatever its visual encoder's ``clip_type`` says, as upstream does.

Upstream never reads the field (training writes it as "openai/openai" from a hub id,
"openai/clip-vit-large-patch14" from a hub-cache path, "openai/" or a folder's name from another
local path, or leaves it out); whether there is a CLIP, and its sizes, come from the weights.
Each form is written into a variant of the tiny Label replica's folder (its files hard-linked,
only ``visual_encoder/config.json`` rewritten) and loaded through the production loader.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.step1x.geometry.clip_tower import clip_from_weights
from img23d_backend.families.step1x.geometry.loader import load_geometry
from img23d_backend.families.step1x.geometry.visual_encoder import prepare_cutout
from img23d_backend.families.step1x.specs import STEP1X_WEIGHTS
from img23d_backend.families.step1x.geometry import replica

ABSENT = object()
# What the real folder's weights give (openai/clip-vit-large-patch14's vision_config, MIT).
VIT_L_14 = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
            "patch_size": 14, "image_size": 224, "num_channels": 3, "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5, "projection_dim": 768}
VISUAL_WEIGHTS = f"visual_encoder/{STEP1X_WEIGHTS}"


@pytest.fixture(scope="module")
def reference_tokens(label_folder: Path) -> torch.Tensor:
    return _tokens(load_geometry(label_folder, "cpu", torch.float32))


def _tokens(model) -> torch.Tensor:
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((30, 40, 110, 120), fill=(200, 60, 40, 255))
    with torch.inference_mode():
        return model.visual.encode([prepare_cutout(image)])


def _variant(folder: Path, tmp_path: Path) -> Path:
    """``folder``'s files hard-linked into a new folder: rewrite a file only after unlinking it."""
    target = tmp_path / folder.name
    shutil.copytree(folder, target, copy_function=os.link)
    return target


def _rewrite_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.unlink()
    path.write_text(json.dumps(data), encoding="utf-8")


def _rewrite_weights(path: Path, change) -> None:
    state = load_file(str(path))
    change(state)
    path.unlink()
    save_file(state, str(path), metadata={"format": "pt"})


def test_the_replica_writes_the_clip_type_the_real_file_most_likely_has(label_folder: Path) -> None:
    config = json.loads((label_folder / "visual_encoder" / "config.json").read_text(encoding="utf-8"))
    assert config["clip_type"] == "openai/clip-vit-large-patch14" == replica.LABEL_CLIP_TYPE
    assert not (label_folder / "visual_encoder" / "clip").exists()   # nothing to name but the weights


@pytest.mark.parametrize("clip_type", [
    "openai/openai",                       # training from the hub id (the published training config's)
    "openai/",                             # training from a local path
    "openai/clip-vit-large-patch14",       # training from a hub-cache path; the hub id img23d accepted
    "visual_encoder/clip",                 # a folder, as img23d accepted: here holding ViT-L/14's config
    "/data/checkpoints/clip",              # an absolute folder that is not there
    None,                                  # written as null
    ABSENT,                                # training without a CLIP path
], ids=["hub-id", "local-path", "hub-cache", "folder", "absent-folder", "null", "absent"])
def test_the_label_model_loads_whatever_clip_type_says(label_folder: Path, tmp_path: Path,
                                                      reference_tokens: torch.Tensor, clip_type: object) -> None:
    variant = _variant(label_folder, tmp_path)

    def change(config: dict) -> None:
        if clip_type is ABSENT:
            del config["clip_type"]
        else:
            config["clip_type"] = clip_type

    _rewrite_json(variant / "visual_encoder" / "config.json", change)
    if clip_type == "visual_encoder/clip":
        (variant / "visual_encoder" / "clip").mkdir()
        (variant / "visual_encoder" / "clip" / "config.json").write_text(json.dumps({"vision_config": VIT_L_14}))
    model = load_geometry(variant, "cpu", torch.float32)
    vision = model.visual.clip_model.config
    tiny = replica.label_config().clip["vision_config"]
    assert (vision.hidden_size, vision.num_hidden_layers, vision.num_attention_heads, vision.intermediate_size,
            vision.patch_size, vision.image_size) == (tiny["hidden_size"], tiny["num_hidden_layers"],
                                                      tiny["num_attention_heads"], tiny["intermediate_size"],
                                                      tiny["patch_size"], tiny["image_size"])
    assert torch.equal(_tokens(model), reference_tokens)


def test_clips_sizes_are_read_from_the_real_files_shapes() -> None:
    prepare_torchvision()   # transformers' CLIP imports torchvision, as the loader's shim allows
    from transformers import CLIPConfig, CLIPModel

    # The whole CLIPModel upstream saves, at ViT-L/14's sizes (its text tower too), on the meta device.
    with torch.device("meta"):
        whole = CLIPModel(CLIPConfig(vision_config=VIT_L_14, projection_dim=768, text_config={
            "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
            "projection_dim": 768}))
    shapes = {f"clip_model.{key}": tuple(value.shape) for key, value in whole.state_dict().items()}
    shapes["dino_model.embeddings.cls_token"] = (1, 1, 1024)
    assert clip_from_weights(shapes) == VIT_L_14
    assert clip_from_weights({"dino_model.embeddings.cls_token": (1, 1, 1024)}) is None


@pytest.mark.parametrize("drop, named", [
    ("clip_model.vision_model.encoder.layers.1.mlp.", "4 of its"),
    ("clip_model.vision_model.post_layernorm.", "post_layernorm.bias"),
    ("clip_model.vision_model.encoder.layers.0.self_attn.k_proj.bias", "layers.0.self_attn.k_proj.bias"),
    ("clip_model.vision_model.embeddings.patch_embedding.weight", "no clip_model.vision_model.embeddings.patch_"),
    ("clip_model.vision_model.encoder.layers.0.", "not numbered 0 to 0"),
], ids=["a-layers-mlp", "post-norm", "one-tensor", "patch-embedding", "first-layer"])
def test_a_partial_clip_is_refused_in_one_sentence(label_folder: Path, tmp_path: Path, drop: str, named: str) -> None:
    variant = _variant(label_folder, tmp_path)
    _rewrite_weights(variant / VISUAL_WEIGHTS,
                     lambda state: [state.pop(key) for key in [k for k in state if k.startswith(drop)]])
    with pytest.raises(ValueError) as caught:
        load_geometry(variant, "cpu", torch.float32)
    message = str(caught.value)
    assert message.startswith("the visual encoder's weights hold part of a CLIP vision tower (")
    assert message.endswith("): re-download the model") and named in message and "\n" not in message


def test_a_plain_model_whose_config_names_a_clip_loads_without_one(geometry_folder: Path, tmp_path: Path) -> None:
    variant = _variant(geometry_folder, tmp_path)
    _rewrite_json(variant / "visual_encoder" / "config.json", lambda config: config.update(clip_type="openai/openai"))
    model = load_geometry(variant, "cpu", torch.float32)
    assert not hasattr(model.visual, "clip_model") and model.visual.tokens == 1 + (56 // 14) ** 2


@pytest.mark.parametrize("which", ["label", "plain"])
def test_model_index_and_weights_must_agree_on_clip(label_folder: Path, geometry_folder: Path, tmp_path: Path,
                                                    which: str) -> None:
    source, named, holds = ((label_folder, "Dinov2Encoder", "holds a CLIP vision tower") if which == "label"
                            else (geometry_folder, "Dinov2CLIPEncoder", "holds no CLIP"))
    variant = _variant(source, tmp_path)
    _rewrite_json(variant / "model_index.json",
                  lambda index: index.update(visual_encoder=["step1x3d_geometry.models.conditional_encoders", named]))
    with pytest.raises(ValueError, match=f"^model_index.json names {named} but visual_encoder's weights {holds}"):
        load_geometry(variant, "cpu", torch.float32)
