"""The texture model's VAE runs in the precision its config's ``force_upcast`` asks for, as
diffusers' SDXL pipelines (and upstream's, copied from them) run it: decoding in float32 when the
VAE is float16 and the flag is set, encoding in float32 whenever it is set. The fp16-fix VAE's
published config sets it false (the replica's too); a folder that sets it true is upcast.

The tiny replica's files are loaded through the production loader in float16 on the CPU, with
the VAE's ``config.json`` rewritten; hooks on the encoder and decoder see the dtype each ran in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from img23d_backend.families.step1x.texture import vae
from img23d_backend.families.step1x.texture.loader import load_texture_model
from img23d_backend.families.step1x.texture_folders import VAE_FILES, TextureFolders
from img23d_backend.families.step1x.texture import replica

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)


def _folders(tiny_root: Path, tmp_path: Path, force_upcast: bool | None) -> TextureFolders:
    """The tiny texture model, its VAE folder a copy whose config sets ``force_upcast`` (None: the
    replica's own, as the published file)."""
    root = tiny_root / "step1x-texture"
    vae_folder = root / replica.VAE_FOLDER
    if force_upcast is not None:
        vae_folder = tmp_path / replica.VAE_FOLDER
        vae_folder.mkdir()
        for name in VAE_FILES:
            os.link(root / replica.VAE_FOLDER / name, vae_folder / name)
        config = json.loads((vae_folder / "config.json").read_text(encoding="utf-8"))
        (vae_folder / "config.json").unlink()
        (vae_folder / "config.json").write_text(json.dumps({**config, "force_upcast": force_upcast}), encoding="utf-8")
    return TextureFolders.from_snapshots(root / replica.SDXL_FOLDER, vae_folder, root / replica.STEP1X_FOLDER)


def _run(model) -> tuple[list[tuple[str, torch.dtype, torch.dtype]], torch.Tensor, torch.Tensor]:
    """Encode a picture and decode it again: each half's (input dtype, weight dtype), the latents, the image."""
    seen: list[tuple[str, torch.dtype, torch.dtype]] = []
    for name, part in (("encode", model.vae.encoder), ("decode", model.vae.decoder)):
        part.register_forward_pre_hook(
            lambda module, args, name=name: seen.append((name, args[0].dtype, module.conv_in.weight.dtype)))
    pixels = torch.rand((1, 3, 64, 64), generator=torch.Generator().manual_seed(3)) * 2 - 1
    latents = vae.encode(model.vae, pixels, torch.Generator().manual_seed(4), model.dtype)
    return seen, latents, vae.decode(model.vae, latents)


def test_the_published_fp16_fix_config_runs_the_vae_in_half_precision(tiny_root: Path, tmp_path: Path) -> None:
    model = load_texture_model(_folders(tiny_root, tmp_path, None), "cpu", torch.float16)
    assert model.vae.config.force_upcast is False
    seen, latents, image = _run(model)
    assert seen == [("encode", torch.float16, torch.float16), ("decode", torch.float16, torch.float16)]
    assert latents.dtype == torch.float16 and image.dtype == torch.float32 and torch.isfinite(image).all()


@pytest.mark.parametrize("working, force_upcast, encode_dtype, decode_dtype", [
    (torch.float16, True, torch.float32, torch.float32),     # diffusers upcasts both halves
    (torch.float16, False, torch.float16, torch.float16),    # the fp16-fix VAE's own setting
    (torch.bfloat16, True, torch.float32, torch.bfloat16),   # encoding upcasts whenever asked; decoding only from fp16
    (torch.float32, True, torch.float32, torch.float32),
], ids=["fp16-upcast", "fp16-as-is", "bf16-upcast", "fp32"])
def test_force_upcast_is_read_from_the_vaes_config(tiny_root: Path, tmp_path: Path, working: torch.dtype,
                                                   force_upcast: bool, encode_dtype: torch.dtype,
                                                   decode_dtype: torch.dtype) -> None:
    model = load_texture_model(_folders(tiny_root, tmp_path, force_upcast), "cpu", working)
    assert model.vae.config.force_upcast is force_upcast
    seen, latents, image = _run(model)
    assert seen == [("encode", encode_dtype, encode_dtype), ("decode", decode_dtype, decode_dtype)]
    # The latents come back in the model's dtype, the VAE as it was loaded.
    assert latents.dtype == working and image.dtype == torch.float32 and torch.isfinite(image).all()
    assert {parameter.dtype for parameter in model.vae.parameters()} == {working}


def test_an_upcast_decode_is_the_float32_decode_of_the_same_weights(tiny_root: Path, tmp_path: Path) -> None:
    half = load_texture_model(_folders(tiny_root, tmp_path, True), "cpu", torch.float16)
    latents = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(5))
    upcast = vae.decode(half.vae, latents.half())
    reference = half.vae.float()   # the float16 weights widened: exactly what the upcast runs
    with torch.inference_mode():
        expected = reference.decode(latents.half().float() / reference.config.scaling_factor).sample
    torch.testing.assert_close(upcast, expected, rtol=0, atol=0)
