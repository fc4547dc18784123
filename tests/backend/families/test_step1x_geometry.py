"""Step1X-3D geometry in img23d's own code, loaded from the replica of the published folder.

The replica writes what the folder holds as far as upstream's code shows it (keys, dtypes,
configs); these tests load it through the production loader and check the parts against direct
computations: diffusers' own block for the single-stream rewrite, a dense grid for the
hierarchical one, an analytic sphere for the surface's place and winding.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open
from safetensors.torch import save_file

from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, denoise, generate_geometry
from img23d_backend.families.step1x.geometry.loader import load_geometry
from img23d_backend.families.step1x.geometry.visual_encoder import prepare_cutout
from img23d_backend.surfaces.volume import GridSettings, GridStats, extract_surface, hierarchical_grid
from img23d_backend.families.step1x.specs import STEP1X_WEIGHTS
from img23d_protocol import ErrorCode, ProtocolError
from testdata import SOURCE_PYTHONPATH

FAST = GeometrySettings(steps=3, grid=GridSettings(resolution=32))
RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def model(geometry_folder: Path):
    return load_geometry(geometry_folder, "cpu", torch.float32)


def _disc(offset: int = 0, size: tuple[int, int] = (200, 160)) -> Image.Image:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((30 + offset, 40, 110 + offset, 120), fill=(200, 60, 40, 255))
    return image


def _keys(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as reader:
        return {key: str(reader.get_slice(key).get_dtype()) for key in reader.keys()}


def test_the_replica_writes_upstreams_keys_in_float32(geometry_folder: Path) -> None:
    transformer = _keys(geometry_folder / "transformer" / STEP1X_WEIGHTS)
    vae = _keys(geometry_folder / "vae" / STEP1X_WEIGHTS)
    visual = _keys(geometry_folder / "visual_encoder" / STEP1X_WEIGHTS)
    assert all(key.startswith("dit_model.") for key in transformer)
    assert {"dit_model.time_proj.linear_1.weight", "dit_model.proj_cross_attention.weight",
            "dit_model.transformer_blocks.0.attn.add_q_proj.weight",
            "dit_model.single_transformer_blocks.0.proj_mlp.weight", "dit_model.norm_out.linear.weight"} <= set(transformer)
    # The whole autoencoder, its training-only encoder included, as upstream's state_dict has it.
    assert {"encoder.input_proj.weight", "encoder.cross_attn_sharp.attn.c_kv.weight",
            "encoder.self_attn.resblocks.0.attn.c_qkv.weight", "encoder.ln_post.weight", "pre_kl.weight",
            "post_kl.weight", "transformer.resblocks.0.attn.c_qkv.weight", "decoder.query_proj.weight",
            "decoder.cross_attn_decoder.attn.c_kv.weight", "decoder.output_proj.bias"} <= set(vae)
    assert "transformer.resblocks.0.attn.c_qkv.bias" not in vae   # qkv_bias false, as configured
    # transformers 4.x names for DINOv2 (5.x renames them: the pin keeps them loadable).
    assert "dino_model.encoder.layer.0.attention.attention.query.weight" in visual
    assert "dino_model.embeddings.register_tokens" in visual
    assert {*transformer.values(), *vae.values(), *visual.values()} == {"F32"}


def test_loaded_weights_equal_the_files_tensors(geometry_folder: Path, model) -> None:
    for part, module in (("transformer", model.denoiser), ("vae", model.vae), ("visual_encoder", model.visual)):
        with safe_open(str(geometry_folder / part / STEP1X_WEIGHTS), framework="pt") as reader:
            state = module.state_dict()
            for name, tensor in state.items():
                assert torch.equal(tensor, reader.get_tensor(name)), f"{part}: {name} differs from the file"
            skipped = set(reader.keys()) - set(state)
            assert all(key.startswith(("encoder.", "pre_kl.")) for key in skipped), sorted(skipped)[:5]


def test_a_missing_or_foreign_key_is_refused_by_name(geometry_folder: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(geometry_folder, broken)
    path = broken / "transformer" / STEP1X_WEIGHTS
    with safe_open(str(path), framework="pt") as reader:
        state = {key: reader.get_tensor(key) for key in reader.keys()}
    state.pop("dit_model.proj_out.weight")
    save_file(state, str(path))
    with pytest.raises(RuntimeError, match="dit_model.proj_out.weight"):
        load_geometry(broken, "cpu", torch.float32)
    state["dit_model.proj_out.weight"] = torch.zeros(8, 64)
    state["dit_model.unknown.weight"] = torch.zeros(1)
    save_file(state, str(path))
    with pytest.raises(RuntimeError, match="unknown.weight"):
        load_geometry(broken, "cpu", torch.float32)


def test_a_folder_without_a_part_names_it(geometry_folder: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(geometry_folder, broken)
    (broken / "vae" / STEP1X_WEIGHTS).unlink()
    with pytest.raises(FileNotFoundError, match="vae/diffusion_pytorch_model.safetensors missing"):
        load_geometry(broken, "cpu", torch.float32)


def test_the_single_stream_rewrite_equals_diffusers_block(model) -> None:
    from img23d_backend.families.step1x.geometry.denoiser import _single_stream

    block = model.denoiser.dit_model.single_transformer_blocks[0].double()
    generator = torch.Generator().manual_seed(3)
    context, hidden = torch.randn(2, 5, 64, generator=generator).double(), torch.randn(2, 7, 64, generator=generator).double()
    temb = torch.randn(2, 64, generator=generator).double()
    try:
        expected_context, expected_hidden = block(hidden_states=hidden, encoder_hidden_states=context, temb=temb)
        joined = _single_stream(block, torch.cat([context, hidden], dim=1), temb)
        torch.testing.assert_close(joined, torch.cat([expected_context, expected_hidden], dim=1), rtol=1e-10, atol=1e-10)
    finally:
        block.float()


def _sphere(points: torch.Tensor, radius: float = 0.6) -> torch.Tensor:
    return radius - points.norm(dim=-1)   # positive inside, as the decoder's field


def test_the_hierarchical_grid_matches_the_dense_one_where_it_matters() -> None:
    # A truncated distance, as the model was trained on: saturated (+-1) away from the surface.
    def field(points: torch.Tensor) -> torch.Tensor:
        return (_sphere(points) / 0.05).clamp(-1, 1)

    settings = GridSettings(resolution=64, bounds=1.05, chunk=4096, min_coarse=16)
    assert settings.resolutions() == [16, 32, 64]
    stats = GridStats()
    grid = hierarchical_grid(field, settings, torch.device("cpu"), stats)
    axis = torch.linspace(-1.05, 1.05, 65)
    dense = field(torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1))
    assert torch.equal(grid > 0, dense > 0), "a point changed sides"
    # Every point in the band around the surface was asked for, not interpolated.
    near = dense.abs() < 1
    assert torch.equal(grid[near], dense[near])
    assert stats.queried < stats.dense / 3, (stats.queried, stats.dense)


def test_the_surface_lies_on_the_sphere_and_faces_outwards() -> None:
    import trimesh

    grid = hierarchical_grid(_sphere, GridSettings(resolution=64), torch.device("cpu"))
    vertices, faces = extract_surface(grid, 1.05)
    radii = np.linalg.norm(vertices, axis=1)
    # Upstream's extractor divides by resolution + 1: its radius would read 0.6 x 64/65 = 0.591.
    assert abs(radii.mean() - 0.6) < 0.003, radii.mean()
    mesh = trimesh.Trimesh(vertices, faces)
    assert mesh.volume > 0 and abs(mesh.volume - 4 / 3 * math.pi * 0.6 ** 3) < 0.02


def test_no_surface_is_none() -> None:
    grid = hierarchical_grid(lambda p: torch.full((len(p),), -1.0), GridSettings(resolution=32),
                             torch.device("cpu"))
    assert extract_surface(grid, 1.05) is None


def test_the_cutout_is_prepared_as_trained() -> None:
    prepared = prepare_cutout(_disc(offset=60))
    assert prepared.mode == "RGB" and prepared.size == (200, 200)
    pixels = np.asarray(prepared)
    coloured = np.argwhere((pixels != 255).any(axis=2))
    top, left = coloured.min(axis=0)
    bottom, right = coloured.max(axis=0) + 1
    assert abs((bottom - top) - 0.95 * 160) <= 2 and abs((right - left) - 0.95 * 160) <= 2
    assert abs((top + bottom) / 2 - 100) <= 1 and abs((left + right) / 2 - 100) <= 1
    with pytest.raises(ValueError, match="empty"):
        prepare_cutout(Image.new("RGBA", (20, 20)))


def test_the_first_step_moves_nothing(model) -> None:
    # One step, and its velocity zeroed as upstream's use_zero_init: the latents are the noise.
    latents = denoise(model, [_disc()], [5], GeometrySettings(steps=1))
    noise = torch.randn((64, 8), generator=torch.Generator("cpu").manual_seed(5))
    torch.testing.assert_close(latents[0], noise)


def test_meshes_depend_on_their_seed_alone(model) -> None:
    events: list[tuple[int, int]] = []
    together = generate_geometry(model, [_disc(), _disc(30)], [11, 12], FAST, cancel=CancelToken(),
                                 progress=lambda stage, step, total, message: events.append((step, total)))
    alone = generate_geometry(model, [_disc()], [11], FAST, cancel=CancelToken(), progress=lambda *a: None)
    assert all(mesh is not None and mesh.is_watertight for mesh in together)
    np.testing.assert_allclose(together[0].vertices, alone[0].vertices, atol=1e-4)
    assert not np.array_equal(together[0].vertices, together[1].vertices)
    assert events[-1][0] == events[-1][1] == FAST.steps + 2


def test_a_raw_distance_from_the_decoder_is_decoded_narrowly_and_said_once(model, monkeypatch) -> None:
    """Issue 54, item 13: the real weights may give a raw signed distance (upstream's training config
    does not truncate it). The decoder's query answers one here; the job's two targets are decoded
    with a truncated field's band, and the progress says so once."""
    settings = GeometrySettings(steps=2, grid=GridSettings(resolution=64, min_coarse=16))
    monkeypatch.setattr(model.vae, "query", lambda points, tokens: _sphere(points, 0.5))
    messages: list[str] = []
    meshes = generate_geometry(model, [_disc(), _disc(30)], [1, 2], settings, cancel=CancelToken(),
                               progress=lambda stage, step, total, message: messages.append(message))
    said = [message for message in messages if "not a truncated distance" in message]
    assert len(said) == 1, messages
    assert re.fullmatch(r"shape decoding: 9\d% of the coarse grid lies within the band of the surface \(\|value\| < "
                        r"0\.95\), so the field is not a truncated distance: refining within \|value\| < 0\.009\d* "
                        r"instead, 0\.0095 units either side of the surface as a truncated field's band", said[0]), said
    for mesh in meshes:
        assert mesh is not None and abs(np.linalg.norm(mesh.vertices, axis=1).mean() - 0.5) < 0.005


def test_cancel_ends_the_job(model) -> None:
    token = CancelToken()

    def progress(*args: object) -> None:
        token.cancel()

    with pytest.raises(ProtocolError) as caught:
        generate_geometry(model, [_disc()], [1], FAST, cancel=token, progress=progress)
    assert caught.value.code == ErrorCode.CANCELLED


def test_the_clean_chain_runs_where_hy3dgen_cannot_be_imported(geometry_folder: Path) -> None:
    script = f"""
import sys
sys.modules["hy3dgen"] = None   # any import of hy3dgen now fails
import torch
from PIL import Image, ImageDraw
from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, generate_geometry
from img23d_backend.families.step1x.geometry.loader import load_geometry
from img23d_backend.surfaces.volume import GridSettings
model = load_geometry({str(geometry_folder)!r}, "cpu", torch.float32)
image = Image.new("RGBA", (64, 64)); ImageDraw.Draw(image).ellipse((10, 10, 50, 50), fill=(9, 9, 9, 255))
mesh, = generate_geometry(model, [image], [1], GeometrySettings(steps=2, grid=GridSettings(32)),
                          cancel=CancelToken(), progress=lambda *a: None)
assert mesh is not None and len(mesh.faces) > 0
assert not any(name.startswith("hy3dgen.") for name in sys.modules), "hy3dgen was imported"
print("faces", len(mesh.faces))
"""
    env = {**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("faces ")
