"""One copy of the paint weights, never a pickle: the safetensors are downloaded and loaded, the
``.bin`` twins of the pinned revision are neither, and the tensors are the same either way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub.utils import filter_repo_objects

from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d.paint_models import delight_loader, multiview_loader
from img23d_backend.families.hunyuan3d.turbo import paint_loader
from img23d_backend.models.completeness import missing_files
from img23d_backend.families.hunyuan3d.fast_load import load_paint_unet
from img23d_backend.catalog import PAINT, tiny_model_set
from img23d_backend.families.hunyuan3d.specs import DELIGHT, PAINT_SUBFOLDER

# tencent/Hunyuan3D-2's paint folder at the pinned revision (9cd649ba...), as public installers
# pinned to it list it: the UNet and the VAE both as .bin and .safetensors.
REAL_PAINT_FOLDER = [f"hunyuan3d-paint-v2-0/{name}" for name in (
    "model_index.json", "feature_extractor/preprocessor_config.json", "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/pytorch_model.bin", "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "unet/config.json",
    "unet/modules.py", "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json", "vae/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.safetensors")]
# The delight folder: safetensors for each component with weights; the .bin twins are what a
# folder like the paint one would add (the patterns must not take them either).
REAL_DELIGHT_FOLDER = [f"hunyuan3d-delight-v2-0/{name}" for name in (
    "model_index.json", "feature_extractor/preprocessor_config.json", "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
    "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
    "tokenizer/merges.txt", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.bin", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.bin")]


def _downloaded(patterns: tuple[str, ...], listing: list[str]) -> list[str]:
    return sorted(filter_repo_objects(listing, allow_patterns=list(patterns)))


def test_the_paint_download_is_the_safetensors_and_configs_and_no_pickle() -> None:
    chosen = _downloaded(PAINT["2.0"].allow_patterns, REAL_PAINT_FOLDER)
    assert not [name for name in chosen if name.endswith(".bin")]
    assert chosen == sorted(f"hunyuan3d-paint-v2-0/{name}" for name in (
        "model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors"))


# The turbo folder at the pinned revision, as an installer pinned to it lists it (its VAE and text
# encoder only as .bin, an image encoder the 2.0 pipeline never uses).
REAL_TURBO_FOLDER = [f"hunyuan3d-paint-v2-0-turbo/{name}" for name in (
    "model_index.json", "feature_extractor/preprocessor_config.json", "image_encoder/config.json",
    "image_encoder/model.safetensors", "image_encoder/preprocessor_config.json", "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/pytorch_model.bin", "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "unet/config.json",
    "unet/modules.py", "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json", "vae/diffusion_pytorch_model.bin")]


def test_the_turbo_download_is_the_unet_safetensors_the_vae_pickle_and_configs() -> None:
    chosen = _downloaded(PAINT["2.0-turbo"].allow_patterns, REAL_TURBO_FOLDER)
    assert chosen == sorted(f"hunyuan3d-paint-v2-0-turbo/{name}" for name in (
        "model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.bin"))
    # The one pickle is checked against its pinned digest before it is read.
    assert set(PAINT["2.0-turbo"].options["sha256"]) == {"vae/diffusion_pytorch_model.bin"}


def test_the_turbo_model_loads_from_the_downloaded_files_alone(tiny_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "hunyuan3d-paint"
    spec = tiny_model_set(tmp_path).spec("paint")
    kept = {copy.parent / name for name in ("hunyuan3d-paint/" + f for f in spec.allow_patterns)}
    shutil.copytree(tiny_root / "hunyuan3d-paint", copy)
    for path in [p for p in copy.rglob("*") if p.is_file() and p not in kept]:
        path.unlink()  # what the download leaves out
    assert missing_files(spec, copy) == []
    paint_loader(spec)(copy, torch.device("cpu"))


def test_the_delight_download_takes_every_config_and_safetensors_and_no_pickle() -> None:
    chosen = _downloaded(DELIGHT.allow_patterns, REAL_DELIGHT_FOLDER)
    assert chosen == sorted(name for name in REAL_DELIGHT_FOLDER if not name.endswith(".bin"))


@pytest.fixture(scope="module")
def paint_folder(tiny_root: Path) -> Path:
    prepare_torchvision()  # hy3dgen imports torchvision
    return tiny_root / "hunyuan3d-paint" / PAINT_SUBFOLDER


def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    different = [key for key in a if a[key].dtype != b[key].dtype or not torch.equal(a[key], b[key])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_the_unet_from_the_safetensors_is_the_unet_from_the_pickle(paint_folder: Path) -> None:
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    ours = load_paint_unet(paint_folder / "unet", torch.device("cpu"), torch.float32)
    # hy3dgen's own loader: torch.load of unet/diffusion_pytorch_model.bin.
    theirs = UNet2p5DConditionModel.from_pretrained(str(paint_folder / "unet"), torch_dtype=torch.float32)
    _same_tensors(ours.state_dict(), theirs.state_dict())


def test_the_vae_from_the_safetensors_is_the_vae_from_the_pickle(paint_folder: Path) -> None:
    from diffusers import AutoencoderKL

    loaded = [AutoencoderKL.from_pretrained(str(paint_folder / "vae"), use_safetensors=safe).state_dict()
              for safe in (True, False)]
    _same_tensors(*loaded)


def test_the_texture_models_load_without_any_pickle(tiny_root: Path, tmp_path: Path, paint_folder: Path) -> None:
    copy = tmp_path / "hunyuan3d-paint"
    shutil.copytree(tiny_root / "hunyuan3d-paint", copy)
    for pickle in copy.rglob("*.bin"):
        pickle.unlink()  # what the download now leaves out
    tiny = tiny_model_set(tmp_path, paint="2.0")  # the turbo folder has its VAE only as a pickle
    assert missing_files(tiny.spec("paint"), copy) == [] and missing_files(tiny.spec("delight"), copy) == []
    multiview_loader(tiny.spec("paint"))(copy, torch.device("cpu"))
    delight_loader(tiny.spec("delight"))(copy, torch.device("cpu"))
