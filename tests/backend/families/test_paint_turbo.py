"""The turbo paint model (Hunyuan3D-Paint-v2-0-Turbo) with its tiny replica, on the CPU: upstream's
timesteps, one UNet batch per step, every tensor of its files loaded (its VAE written as the real
SD 2.x pickle, with diffusers' legacy attention names), the guidance embedding its UNet config
asks for, and a textured GLB."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()

import torch  # noqa: E402
import trimesh  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402

from img23d_backend.families.hunyuan3d.fast_load import load_paint_vae  # noqa: E402
from img23d_backend.models.registry import paint_steps  # noqa: E402
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_backend.families.hunyuan3d.specs import PAINT_TURBO_SUBFOLDER
from img23d_backend.env.job_control import CancelToken# noqa: E402
from img23d_backend.families.hunyuan3d.paint import PaintSettings, has_uvs, paint_mesh  # noqa: E402
from img23d_backend.families.hunyuan3d.paint_models import delight_loader  # noqa: E402
from img23d_backend.families.hunyuan3d.turbo import TurboMultiview, paint_loader, turbo_timesteps  # noqa: E402
from img23d_protocol import ErrorCode, ProtocolError  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def turbo_folder(tiny_root: Path) -> Path:
    return tiny_root / "hunyuan3d-paint" / PAINT_TURBO_SUBFOLDER


@pytest.fixture(scope="module")
def turbo(tiny_root: Path) -> TurboMultiview:
    spec = tiny_model_set(tiny_root).spec("paint")  # the default: turbo
    return paint_loader(spec)(tiny_root / "hunyuan3d-paint", CPU).obj


def test_the_default_paint_model_is_turbo_at_the_pinned_revision() -> None:
    paint = model_set("default").spec("paint")
    assert paint.subfolder == "hunyuan3d-paint-v2-0-turbo" and paint.revision == "9cd649ba6913f7a852e3286bad86bfa9a2d83dcf"
    assert paint_steps(paint, 0) == 10 and paint_steps(paint, 4) == 4 and paint_steps(paint, 50) == 30
    assert paint_steps(model_set("default", paint="2.0").spec("paint"), 0) == 30


def test_the_turbo_timesteps_are_upstreams() -> None:
    # Upstream: DDIMSolver(ddim_timesteps=30) over 1000 training steps, indices range(29, 0, -3).
    grid = (np.arange(1, 31) * (1000 // 30)).round().astype(int) - 1
    assert turbo_timesteps(10) == [int(grid[i]) for i in range(29, -1, -3)]
    assert turbo_timesteps(10) == [989, 890, 791, 692, 593, 494, 395, 296, 197, 98]
    assert turbo_timesteps(30) == [int(t) for t in grid[::-1]]
    assert turbo_timesteps(1) == [989]
    with pytest.raises(ValueError):
        turbo_timesteps(31)


def test_the_loaded_turbo_weights_are_the_files_tensors(turbo: TurboMultiview, turbo_folder: Path) -> None:
    unet = turbo.pipeline.unet.state_dict()
    with safe_open(str(turbo_folder / "unet" / "diffusion_pytorch_model.safetensors"), framework="pt") as reader:
        assert sorted(reader.keys()) == sorted(unet)  # strict: every key of the file, nothing else
        different = [k for k in reader.keys() if not torch.equal(reader.get_tensor(k).float(), unet[k])]
    assert not different, f"{len(different)} UNet tensors differ, e.g. {different[:3]}"
    vae = turbo.pipeline.vae.state_dict()
    pickled = torch.load(turbo_folder / "vae" / "diffusion_pytorch_model.bin", weights_only=True)
    assert {_current_name(k) for k in pickled} == set(vae) and len(pickled) == len(vae)
    different = [k for k in pickled if not torch.equal(pickled[k], vae[_current_name(k)])]
    assert not different, f"{len(different)} VAE tensors differ from the file's, e.g. {different[:3]}"
    assert type(turbo.pipeline.scheduler).__name__ == "LCMScheduler"


# diffusers' renames of the mid-block attention saved before 0.14 (modeling_utils'
# _fix_state_dict_keys_on_load), written out here so the test does not lean on the loader's call.
_LEGACY = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


def _current_name(key: str) -> str:
    if ".mid_block.attentions." not in key:
        return key
    for old, new in _LEGACY.items():
        key = key.replace(old, new)
    return key


def test_the_turbo_vae_is_written_as_the_real_pickle(turbo_folder: Path) -> None:
    # The real file (sha256 1b4889b6...): SD 2.x's VAE as torch.save of a plain dict, float32, with
    # the mid-block attentions under diffusers' legacy names, and a config with no scaling_factor.
    pickled = torch.load(turbo_folder / "vae" / "diffusion_pytorch_model.bin", weights_only=True)
    assert type(pickled) is dict and all(t.dtype == torch.float32 for t in pickled.values())
    attention = sorted(k for k in pickled if k.startswith("decoder.mid_block.attentions.0."))
    assert attention == sorted(f"decoder.mid_block.attentions.0.{name}.{kind}" for kind in ("weight", "bias")
                               for name in ("group_norm", "query", "key", "value", "proj_attn"))
    assert pickled["encoder.mid_block.attentions.0.query.weight"].ndim == 2  # Linear, as the old block's
    assert "scaling_factor" not in json.loads((turbo_folder / "vae" / "config.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["bin", "safetensors"])
def test_a_vae_with_legacy_attention_names_loads_as_diffusers_loads_it(turbo_folder: Path, tmp_path: Path,
                                                                       kind: str) -> None:
    from diffusers import AutoencoderKL
    from safetensors.torch import save_file

    pickled = torch.load(turbo_folder / "vae" / "diffusion_pytorch_model.bin", weights_only=True)
    shutil.copy(turbo_folder / "vae" / "config.json", tmp_path / "config.json")
    if kind == "bin":
        torch.save(pickled, tmp_path / "diffusion_pytorch_model.bin")
    else:
        save_file(pickled, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    loaded = load_paint_vae(tmp_path, CPU, torch.float32).state_dict()
    reference = AutoencoderKL.from_pretrained(str(tmp_path), use_safetensors=kind == "safetensors").state_dict()
    assert sorted(loaded) == sorted(reference)
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)
    assert torch.equal(loaded["decoder.mid_block.attentions.0.to_out.0.weight"],
                       pickled["decoder.mid_block.attentions.0.proj_attn.weight"])


def test_the_full_size_turbo_vae_has_the_real_files_248_legacy_named_tensors() -> None:
    from img23d_backend.families.hunyuan3d import paint_replica as hunyuan_paint

    with torch.device("meta"):
        vae = hunyuan_paint.construct_multiview(hunyuan_paint.FULL)["vae"]
    state = hunyuan_paint.legacy_vae_state(vae)
    assert len(state) == 248 and all(t.dtype == torch.float32 for t in state.values())
    assert {k for k in state if ".proj_attn." in k} == {f"{part}.mid_block.attentions.0.proj_attn.{kind}"
                                                        for part in ("encoder", "decoder") for kind in ("weight", "bias")}
    assert not [k for k in state if ".to_q." in k or ".to_out." in k]


def test_the_vae_pickle_is_read_only_with_its_digest(turbo_folder: Path) -> None:
    import hashlib

    pickle = turbo_folder / "vae" / "diffusion_pytorch_model.bin"
    assert not (turbo_folder / "vae" / "diffusion_pytorch_model.safetensors").exists()  # as the real folder
    digest = hashlib.sha256(pickle.read_bytes()).hexdigest()
    assert load_paint_vae(pickle.parent, CPU, torch.float32, digest).config.latent_channels == 4
    with pytest.raises(ProtocolError) as refused:
        load_paint_vae(pickle.parent, CPU, torch.float32, "0" * 64)
    assert refused.value.code is ErrorCode.MODEL_DAMAGED and "download it again" in refused.value.message


def _cutout() -> Image.Image:
    pixels = np.zeros((160, 200, 4), dtype=np.uint8)
    pixels[30:130, 40:150] = (220, 120, 40, 255)
    return Image.fromarray(pixels, "RGBA")


def test_turbo_paints_a_textured_glb_in_one_batch_per_step(turbo: TurboMultiview, tiny_root: Path) -> None:
    delighter = delight_loader(tiny_model_set(tiny_root).spec("delight"))(tiny_root / "hunyuan3d-paint", CPU).obj
    batches: list[tuple[int, ...]] = []
    forward = turbo.pipeline.unet.forward

    def counting(sample, *args, **kwargs):  # type: ignore[no-untyped-def]
        batches.append(tuple(sample.shape))
        return forward(sample, *args, **kwargs)

    turbo.pipeline.unet.forward = counting
    try:
        painted = paint_mesh(trimesh.creation.icosphere(subdivisions=2), _cutout(), delighter=delighter,
                             multiview=turbo, device=CPU, cancel=CancelToken(), progress=lambda *a: None,
                             settings=PaintSettings(texture_size=128, render_size=128, view_size=64,
                                                    delight_steps=1, multiview_steps=10))
    finally:
        del turbo.pipeline.unet.forward
    # Ten steps, each one UNet pass over the six views with no classifier-free copy.
    assert batches == [(1, 6, 4, 8, 8)] * 10
    assert [int(t) for t in turbo.pipeline.scheduler.timesteps] == turbo_timesteps(10)
    reloaded = trimesh.load(io.BytesIO(painted.export(file_type="glb")), file_type="glb", force="mesh")
    assert has_uvs(reloaded) and len(reloaded.faces) == len(painted.faces)
    texture = reloaded.visual.material.baseColorTexture
    assert isinstance(texture, Image.Image) and texture.size == (128, 128)
    assert np.asarray(texture.convert("RGB")).std() > 0  # painted, not one flat colour


def _turbo_folder_with_unet(tiny_root: Path, tmp_path: Path, config_width: int | None, weights_width: int | None) -> Path:
    """The tiny turbo folder again (links), its UNet remade: its config naming ``config_width`` as
    ``time_cond_proj_dim`` (None: not at all), its weights built with ``weights_width``."""
    from safetensors.torch import save_file

    from img23d_backend.families.hunyuan3d import paint_replica as hunyuan_paint
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    root = tmp_path / "hunyuan3d-paint"
    shutil.copytree(tiny_root / "hunyuan3d-paint", root, copy_function=os.symlink)
    unet_dir = root / PAINT_TURBO_SUBFOLDER / "unet"
    config = json.loads((unet_dir / "config.json").read_text(encoding="utf-8"))
    inner = hunyuan_paint._unet(hunyuan_paint.TINY, 1, cross_attention_dim=1024, time_embedding_dim=1280,
                                **({"time_cond_proj_dim": weights_width} if weights_width else {}))
    state = {k: v.contiguous() for k, v in UNet2p5DConditionModel(inner).state_dict().items()}
    config.pop("time_cond_proj_dim", None)
    if config_width is not None:
        config["time_cond_proj_dim"] = config_width
    for name in ("config.json", "diffusion_pytorch_model.safetensors"):
        (unet_dir / name).unlink()
    (unet_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    save_file(state, str(unet_dir / "diffusion_pytorch_model.safetensors"))
    return root


def test_the_turbo_replica_has_no_guidance_embedding(turbo: TurboMultiview) -> None:
    assert turbo.pipeline.unet.unet.config.get("time_cond_proj_dim") is None and turbo.timestep_cond is None


def test_a_turbo_unet_whose_config_sets_time_cond_proj_dim_gets_upstreams_guidance_embedding(
        tiny_root: Path, tmp_path: Path) -> None:
    folder = _turbo_folder_with_unet(tiny_root, tmp_path, config_width=32, weights_width=32)
    model = paint_loader(tiny_model_set(tiny_root).spec("paint"))(folder, CPU).obj
    # Upstream: get_guidance_scale_embedding(guidance_scale - 1) with its pipeline's guidance scale 2.0.
    expected = model.pipeline.get_guidance_scale_embedding(torch.tensor([1.0]), embedding_dim=32)
    assert torch.equal(model.timestep_cond, expected)
    seen: list = []
    hook = model.pipeline.unet.unet.time_embedding.register_forward_hook(
        lambda module, args, output: seen.append(args[1] if len(args) > 1 else None))
    try:
        blank = torch.ones(6, 3, 64, 64)
        model(_cutout(), blank, blank, [0, 1, 2, 3, 4, 5], size=64, steps=2, seed=1)
    finally:
        hook.remove()
    assert len(seen) == 2 and all(torch.equal(condition, expected) for condition in seen)


def test_guidance_weights_under_a_config_without_the_key_are_refused_at_load(tiny_root: Path, tmp_path: Path) -> None:
    # A revision whose weights gained the guidance projection but whose config did not: refused,
    # never run without the input it was distilled with.
    folder = _turbo_folder_with_unet(tiny_root, tmp_path, config_width=None, weights_width=32)
    with pytest.raises(RuntimeError, match="time_embedding.cond_proj"):
        paint_loader(tiny_model_set(tiny_root).spec("paint"))(folder, CPU)
