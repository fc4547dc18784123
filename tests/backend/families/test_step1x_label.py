"""Step1X-3D's Label model in img23d's own code, loaded from the tiny replica of its folder.

The label rows are checked against the tables read straight from the replica's file, picked by
hand as upstream's ``encode_label`` picks them (pose row 0 always; symmetry "x" row 1, else 0;
geometry quality normal 0, smooth 1, sharp 2), and the visual tokens against DINOv2 and CLIP run
directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open

from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.step1x.geometry.configs import DINOV2_REGISTERS_LARGE, DenoiserConfig, VisualEncoderConfig
from img23d_backend.families.step1x.geometry.denoiser import Step1XDenoiser
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, denoise, generate_geometry
from img23d_backend.families.step1x.geometry.label import LabelChoice, LabelEncoder, LabelEncoderConfig
from img23d_backend.families.step1x.geometry.loader import load_geometry
from img23d_backend.families.step1x.geometry.visual_encoder import CLIP_MEAN, CLIP_STD, VisualEncoder, pixel_values, prepare_cutout
from img23d_backend.surfaces.volume import GridSettings
from img23d_backend.models.completeness import missing_files
from img23d_backend.families.step1x.specs import STEP1X_WEIGHTS
from img23d_backend.catalog import SHAPE
from img23d_backend.families.step1x.geometry import replica

FAST = GeometrySettings(steps=3, grid=GridSettings(resolution=32))
# openai/clip-vit-large-patch14's vision_config (MIT): the CLIP upstream always builds.
CLIP_VIT_LARGE_14 = {
    "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
    "patch_size": 14, "image_size": 224, "projection_dim": 768, "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5, "num_channels": 3,
}
WIDTH = 64   # the tiny Label model's condition width


@pytest.fixture(scope="module")
def model(label_folder: Path):
    return load_geometry(label_folder, "cpu", torch.float32)


def _tables(label_folder: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(label_folder / "label_encoder" / STEP1X_WEIGHTS), framework="pt") as reader:
        return {key: reader.get_tensor(key) for key in reader.keys()}


def _disc() -> Image.Image:
    image = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((30, 40, 110, 120), fill=(200, 60, 40, 255))
    return image


def test_the_label_folder_holds_upstreams_keys(label_folder: Path) -> None:
    tables = _tables(label_folder)
    assert {key: tuple(value.shape) for key, value in tables.items()} == {
        "embedding_table_tpose.weight": (3, WIDTH), "embedding_table_symmetry_type.weight": (2, WIDTH),
        "embedding_table_geometry_quality.weight": (3, WIDTH)}
    with safe_open(str(label_folder / "visual_encoder" / STEP1X_WEIGHTS), framework="pt") as reader:
        keys = list(reader.keys())
    assert any(key.startswith("clip_model.vision_model.encoder.layers.0.") for key in keys)
    assert any(key.startswith("clip_model.text_model.") for key in keys)   # the whole CLIPModel, as upstream saves it
    assert any(key.startswith("dino_model.") for key in keys)
    assert not any(key.startswith("linear_proj") for key in keys)        # CLIP and DINOv2 equally wide


@pytest.mark.parametrize(("symmetry", "sharpness", "rows"), [
    ("auto", "auto", (0, 0, 0)), ("x", "sharp", (0, 1, 2)), ("none", "smooth", (0, 0, 1)), ("x", "normal", (0, 1, 0))])
def test_label_rows_are_upstreams(label_folder: Path, model, symmetry: str, sharpness: str,
                                  rows: tuple[int, int, int]) -> None:
    tables = _tables(label_folder)
    expected = torch.stack([tables["embedding_table_tpose.weight"][rows[0]],
                            tables["embedding_table_symmetry_type.weight"][rows[1]],
                            tables["embedding_table_geometry_quality.weight"][rows[2]]])
    got = model.label.encode(LabelChoice(symmetry, sharpness), 2)
    assert got.shape == (2, 3, WIDTH)
    assert torch.equal(got[0], expected) and torch.equal(got[1], expected)
    assert torch.count_nonzero(model.label.unconditional(2, got)) == 0


def test_a_bad_label_value_is_one_sentence(model) -> None:
    with pytest.raises(ValueError, match=r"^unknown symmetry 'y'; choose from auto, none, x$"):
        model.label.encode(LabelChoice("y", "auto"), 1)
    with pytest.raises(ValueError, match=r"^unknown sharpness 'crisp'; choose from auto, normal, smooth, sharp$"):
        model.label.encode(LabelChoice("auto", "crisp"), 1)


def test_the_visual_tokens_are_dino_then_clip(model) -> None:
    square = prepare_cutout(_disc())
    with torch.inference_mode():
        tokens = model.visual.encode([square])
        dino = model.visual.dino_model(pixel_values=pixel_values([square], 224)).last_hidden_state
        clip = model.visual.clip_model(pixel_values=pixel_values([square], 224, CLIP_MEAN, CLIP_STD)).last_hidden_state
    registers = model.visual.dino_model.config.num_register_tokens
    assert tokens.shape == (1, model.visual.tokens, WIDTH) and model.visual.tokens == 17 + 17
    torch.testing.assert_close(tokens[:, :1], dino[:, :1])
    torch.testing.assert_close(tokens[:, 1:17], dino[:, 1 + registers:])
    torch.testing.assert_close(tokens[:, 17:], clip)


@pytest.mark.parametrize("side", [224, 333])
def test_clip_pixels_are_clips_processor_as_upstream_calls_it(side: int) -> None:
    # Upstream: CLIPImageProcessor().preprocess(images, do_rescale=True, do_resize=True, size=224, crop_size=224).
    prepare_torchvision()   # transformers' image processors import torchvision, as the loaders do
    from transformers import CLIPImageProcessor

    square = prepare_cutout(_disc()).resize((side, side))
    theirs = CLIPImageProcessor().preprocess([square], return_tensors="np", do_rescale=True, do_resize=True,
                                             size=224, crop_size=224).pixel_values
    np.testing.assert_allclose(pixel_values([square], 224, CLIP_MEAN, CLIP_STD).numpy(), theirs, atol=1e-6)


def test_the_label_changes_the_latents_and_auto_is_none(model) -> None:
    def latents(choice: LabelChoice) -> torch.Tensor:
        settings = GeometrySettings(steps=3, grid=FAST.grid, label=choice)
        return denoise(model, [_disc()], [5], settings)

    auto, none, x_sharp = latents(LabelChoice()), latents(LabelChoice("none", "normal")), latents(LabelChoice("x", "sharp"))
    assert torch.equal(auto, none)   # upstream's defaults are the asymmetry and normal rows
    assert not torch.allclose(auto, x_sharp)


def test_a_label_job_makes_a_mesh(model) -> None:
    settings = GeometrySettings(steps=3, grid=FAST.grid, label=LabelChoice("x", "sharp"))
    meshes = generate_geometry(model, [_disc()], [3], settings, cancel=CancelToken(), progress=lambda *a: None)
    assert len(meshes) == 1 and meshes[0] is not None
    assert len(meshes[0].faces) > 0 and np.isfinite(meshes[0].vertices).all()


def test_a_label_folder_without_its_label_encoder_names_it(label_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / replica.LABEL_FOLDER
    shutil.copytree(label_folder, broken)
    (broken / "label_encoder" / STEP1X_WEIGHTS).unlink()
    with pytest.raises(FileNotFoundError, match="label_encoder/diffusion_pytorch_model.safetensors missing"):
        load_geometry(broken, "cpu", torch.float32)


def test_the_full_size_parts_have_the_published_parameter_counts() -> None:
    """The Label training config's table: visual_condition 731 M (DINOv2-large and the whole CLIP,
    text tower included), label_condition 8.2 K, denoiser 1.3 B; built on the meta device."""
    prepare_torchvision()   # transformers' CLIP imports torchvision, as the loader's shim allows
    from transformers import CLIPConfig, CLIPModel

    with torch.device("meta"):
        denoiser = Step1XDenoiser(DenoiserConfig(input_channels=64, width=1536, layers=8, num_single_layers=16,
                                                 num_heads=16, use_visual_condition=True, use_label_condition=True))
        visual = VisualEncoder(VisualEncoderConfig(dino_type="facebook/dinov2-with-registers-large", image_size=224),
                               DINOV2_REGISTERS_LARGE, CLIP_VIT_LARGE_14)
        # openai/clip-vit-large-patch14's text tower: what the file holds beside the vision tower.
        whole_clip = CLIPModel(CLIPConfig(vision_config=CLIP_VIT_LARGE_14, projection_dim=768, text_config={
            "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
            "projection_dim": 768}))
        label = LabelEncoder(LabelEncoderConfig())

    def count(module: torch.nn.Module) -> int:
        return sum(parameter.numel() for parameter in module.parameters())

    assert count(label) == 8 * 1024
    assert 1.25e9 < count(denoiser) < 1.35e9
    assert abs(count(visual.dino_model) + count(whole_clip) - 731e6) < 1.5e6
    assert visual.tokens == 257 + 257 and not hasattr(visual, "linear_proj")


def test_the_label_folder_is_complete_only_with_its_label_encoder(label_folder: Path, tmp_path: Path) -> None:
    spec = SHAPE["step1x-label"]
    assert spec.revision == SHAPE["step1x"].revision and spec.subfolder == replica.LABEL_FOLDER
    assert missing_files(spec, label_folder.parent) == []
    shutil.copytree(label_folder, tmp_path / replica.LABEL_FOLDER)
    (tmp_path / replica.LABEL_FOLDER / "label_encoder" / "config.json").unlink()
    assert missing_files(spec, tmp_path) == [f"{replica.LABEL_FOLDER}/label_encoder/config.json"]
    assert f"{replica.LABEL_FOLDER}/label_encoder/{STEP1X_WEIGHTS}" in spec.allow_patterns
