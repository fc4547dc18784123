"""The paint stage on CPU with the tiny paint replica: loaders, delight, painting, cancellation.

The tiny models have random weights, so the textures they paint are noise; what these tests
check is everything around them: devices and dtypes, sizes, UV handling, baking geometry
(with a stand-in multiview model whose views are known colours), GLB round trips, progress
and cancellation.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()

import torch  # noqa: E402
import trimesh  # noqa: E402
from PIL import Image  # noqa: E402

from img23d_backend.models import placement  # noqa: E402
from img23d_backend.models.manager import ModelManager  # noqa: E402
from img23d_backend.catalog import tiny_model_set  # noqa: E402
from img23d_protocol import ErrorCode, ProtocolError
from img23d_backend.env.job_control import CancelToken# noqa: E402
from img23d_backend.families.hunyuan3d.paint import (  # noqa: E402
    PaintSettings,
    has_uvs,
    paint_mesh,
    recenter_reference,
    with_uvs,
)
from img23d_backend.uv.fill import fill_texture, propagate_vertex_colors  # noqa: E402
from img23d_backend.families.hunyuan3d.paint_models import (  # noqa: E402
    Delighter,
    MultiviewDiffusion,
    camera_indices,
    delight_loader,
    multiview_loader,
)
from img23d_backend.families.hunyuan3d.turbo import paint_loader  # noqa: E402
from testdata import REAL_MESH  # noqa: E402  (the real Hunyuan3D-2 output: ../shared/data only)

CPU = torch.device("cpu")

# Small everything: a few seconds per painted mesh on a 2-core CPU.
FAST = dict(texture_size=256, render_size=256, view_size=64, delight_steps=2, multiview_steps=2)


@pytest.fixture(scope="module")
def manager(tiny_root: Path) -> ModelManager:
    """The production path: tiny specs, resolved and loaded by the model manager."""
    models = tiny_model_set(tiny_root)
    manager = ModelManager(CPU)
    manager.register(models.delight, delight_loader(models.delight))
    manager.register(models.paint, paint_loader(models.paint))  # the default: turbo
    return manager


@pytest.fixture(scope="module")
def models(manager: ModelManager) -> tuple[Delighter, MultiviewDiffusion]:
    with manager.use("delight") as delighter, manager.use("paint") as multiview:
        return delighter, multiview


def _cutout(size: tuple[int, int] = (200, 160)) -> Image.Image:
    """An orange box on a transparent background, off-centre, like a matting result."""
    pixels = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    pixels[30:130, 40:150] = (220, 120, 40, 255)
    return Image.fromarray(pixels, "RGBA")


def _sphere_with_uvs() -> trimesh.Trimesh:
    """An icosphere carrying its own (spherical) UVs, as an artist mesh would."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    x, y, z = sphere.vertices.T
    uv = np.stack([0.5 + np.arctan2(x, z) / (2 * np.pi), 0.5 + np.arcsin(np.clip(y, -1, 1)) / np.pi], axis=1)
    return trimesh.Trimesh(sphere.vertices, sphere.faces, visual=trimesh.visual.TextureVisuals(uv=uv),
                           process=False)


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, int, str]] = []

    def __call__(self, stage: str, step: int, total: int, message: str) -> None:
        self.events.append((stage, step, total, message))


def _paint(mesh: trimesh.Trimesh, models, progress=None, cancel=None, **overrides: Any) -> trimesh.Trimesh:
    delighter, multiview = models
    settings = PaintSettings(**{**FAST, **overrides})
    return paint_mesh(mesh, _cutout(), delighter=delighter, multiview=multiview, settings=settings,
                      device=CPU, cancel=cancel or CancelToken(), progress=progress or _Recorder())


def _base_color(mesh: trimesh.Trimesh) -> Image.Image:
    return mesh.visual.material.baseColorTexture


# ------------------------------------------------------------------------------ loaders


def test_loaders_build_fp32_cpu_pipelines(models, manager: ModelManager, tiny_root: Path) -> None:
    from diffusers import EulerAncestralDiscreteScheduler, LCMScheduler, StableDiffusionInstructPix2PixPipeline
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    delighter, multiview = models
    assert isinstance(delighter.pipeline, StableDiffusionInstructPix2PixPipeline)
    assert isinstance(multiview.pipeline.unet, UNet2p5DConditionModel)
    for pipe in (delighter.pipeline, multiview.pipeline):
        assert pipe.device == CPU and pipe.unet.dtype == torch.float32 and pipe.vae.dtype == torch.float32
    assert isinstance(delighter.pipeline.scheduler, EulerAncestralDiscreteScheduler)
    # The turbo model: LCM with trailing spacing, as upstream's; the 2.0 model: Euler ancestral.
    assert isinstance(multiview.pipeline.scheduler, LCMScheduler)
    assert multiview.pipeline.scheduler.config.timestep_spacing == "trailing"
    older = multiview_loader(tiny_model_set(tiny_root, paint="2.0").paint)(tiny_root / "hunyuan3d-paint", CPU).obj
    assert isinstance(older.pipeline.scheduler, EulerAncestralDiscreteScheduler)
    assert older.pipeline.scheduler.config.timestep_spacing == "trailing"
    snapshot = manager.snapshot()["models"]
    assert snapshot["delight"]["measured"] and snapshot["paint"]["measured"]
    assert snapshot["delight"]["bytes"] > 0 and snapshot["paint"]["bytes"] > 0


@pytest.mark.parametrize("paint", ["2.0-turbo", "2.0"])
def test_loaded_modules_cover_the_weights(tiny_root: Path, paint: str) -> None:
    models = tiny_model_set(tiny_root, paint=paint)
    loaded = paint_loader(models.paint)(tiny_root / "hunyuan3d-paint", CPU)
    pipe = loaded.obj.pipeline
    # The reference stream (unet_dual) lives inside the wrapped UNet, so moving it moves both.
    assert placement.weight_bytes(loaded) == sum(
        t.numel() * t.element_size() for m in (pipe.unet, pipe.vae) for t in m.state_dict().values())


@pytest.mark.parametrize("paint", ["2.0-turbo", "2.0"])
def test_multiview_loader_refuses_a_foreign_folder(tmp_path: Path, tiny_root: Path, paint: str) -> None:
    spec = tiny_model_set(tiny_root, paint=paint).paint
    folder = tmp_path / str(spec.subfolder)
    folder.mkdir()
    (folder / "model_index.json").write_text('{"unet": ["diffusers", "UNet2DConditionModel"]}')
    with pytest.raises(ProtocolError) as caught:
        paint_loader(spec)(tmp_path, CPU)
    assert caught.value.code is ErrorCode.MODEL_MISSING


# ------------------------------------------------------------------------------ delight


def test_delight_returns_requested_size_on_white(models) -> None:
    delighter, _ = models
    steps: list[tuple[int, int]] = []
    image = delighter(_cutout(), size=64, steps=2, seed=42, on_step=lambda s, t: steps.append((s, t)))
    assert image.size == (64, 64) and image.mode == "RGB"
    assert steps == [(1, 2), (2, 2)]
    pixels = np.asarray(image)
    alpha = np.asarray(_cutout().resize((64, 64), Image.Resampling.BICUBIC).getchannel("A"))
    assert (pixels[alpha == 0] == 255).all()  # outside the object: the white backdrop


def test_delight_is_deterministic_and_accepts_rgb(models) -> None:
    delighter, _ = models
    first = delighter(_cutout(), size=64, steps=2, seed=7)
    again = delighter(_cutout(), size=64, steps=2, seed=7)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    rgb = delighter(_cutout().convert("RGB"), size=32, steps=1, seed=7)
    assert rgb.size == (32, 32)


# ------------------------------------------------------------------------------ pieces


def test_camera_indices_follow_hy3dgens_table() -> None:
    assert camera_indices((0, 90, 180, 270, 0, 180), (0, 0, 0, 0, 90, -90)) == [21, 12, 15, 18, 43, 37]
    assert camera_indices((30,), (20,)) == [34]
    with pytest.raises(ValueError):
        camera_indices((0,), (45,))


@pytest.mark.parametrize("changes", [dict(camera_elevations=(0, 0, 0, 0, 90, 45)), dict(view_size=72),
                                     dict(render_size=96), dict(texture_size=16), dict(view_weights=(1.0,)),
                                     dict(delight_steps=0)])
def test_settings_are_validated(changes: dict) -> None:
    with pytest.raises(ProtocolError) as caught:
        PaintSettings(**changes).validate()
    assert caught.value.code is ErrorCode.BAD_REQUEST


def test_recenter_crops_to_alpha_and_squares() -> None:
    centred = recenter_reference(_cutout())
    assert centred.mode == "RGBA" and centred.width == centred.height == 110 + 2 * 22
    ys, xs = np.nonzero(np.asarray(centred.getchannel("A")))
    assert (ys.min(), ys.max() + 1 - 100) == (27, 27) and (xs.min(), xs.max() + 1 - 110) == (22, 22)
    assert recenter_reference(_cutout().convert("RGB")).mode == "RGB"
    with pytest.raises(ProtocolError):
        recenter_reference(Image.new("RGBA", (8, 8)))


def test_with_uvs_keeps_existing_uvs_and_unwraps_others() -> None:
    artist = _sphere_with_uvs()
    kept = with_uvs(artist)
    assert np.array_equal(kept.visual.uv, artist.visual.uv) and np.array_equal(kept.faces, artist.faces)
    bare = trimesh.creation.icosphere(subdivisions=2)
    assert not has_uvs(bare)
    unwrapped = with_uvs(bare)
    assert has_uvs(unwrapped) and len(unwrapped.faces) == len(bare.faces)
    assert len(unwrapped.vertices) >= len(bare.vertices)  # split along seams
    assert unwrapped.visual.uv.min() >= 0 and unwrapped.visual.uv.max() <= 1


def test_vertex_colors_spread_ring_by_ring() -> None:
    # A strip of 4 vertices: 0-1-2-3; only vertex 0 is known.
    vertices = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0.0]])
    faces = np.array([[0, 1, 1], [1, 2, 2], [2, 3, 3]])
    colors = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    out, known = propagate_vertex_colors(colors, np.array([True, False, False, False]), vertices, faces)
    assert known.all() and np.allclose(out, [[1, 0, 0]] * 4)


def test_fill_texture_fills_every_texel() -> None:
    mesh = with_uvs(trimesh.creation.icosphere(subdivisions=2))
    texture = np.zeros((64, 64, 3))
    painted = np.zeros((64, 64), dtype=bool)
    # Only the texels under the first ten vertices are painted (green); the rest is unseen.
    uv = mesh.visual.uv[:10]
    rows, cols = np.rint((1 - uv[:, 1]) * 63).astype(int), np.rint(uv[:, 0] * 63).astype(int)
    texture[rows, cols] = (0.0, 1.0, 0.0)
    painted[rows, cols] = True
    filled = fill_texture(texture, painted, np.asarray(mesh.vertices), np.asarray(mesh.faces),
                          np.asarray(mesh.visual.uv))
    assert filled.shape == (64, 64, 3) and filled.dtype == np.uint8
    assert (filled[..., 1] > 200).all() and (filled[..., [0, 2]] < 50).all()


def test_condition_maps_match_meshrenders_own_renders() -> None:
    from img23d_backend.families.hunyuan3d.paint import _mesh_renderer, _render_conditions

    settings = PaintSettings(texture_size=64, render_size=96, view_size=96)
    render = _mesh_renderer(with_uvs(trimesh.creation.icosphere(subdivisions=2)), settings, CPU)
    normals, positions = _render_conditions(render, settings)
    assert normals.shape == positions.shape == (6, 3, 96, 96)
    for view, (elevation, azimuth) in enumerate(zip(settings.camera_elevations, settings.camera_azimuths)):
        normal = render.render_normal(elevation, azimuth, use_abs_coor=True, return_type="th")
        position = render.render_position(elevation, azimuth, return_type="th")
        assert torch.equal(normals[view], normal.permute(2, 0, 1))
        assert torch.equal(positions[view], position.permute(2, 0, 1))


# ------------------------------------------------------------------------------ painting


def test_paint_icosphere(models) -> None:
    progress = _Recorder()
    painted = _paint(trimesh.creation.icosphere(subdivisions=3), models, progress=progress)
    assert has_uvs(painted)
    texture = _base_color(painted)
    assert isinstance(texture, Image.Image) and texture.size == (256, 256)
    steps = [step for _, step, _, _ in progress.events]
    assert steps == sorted(steps) and steps[-1] == progress.events[-1][2]
    assert {stage for stage, *_ in progress.events} == {"paint"}
    assert any("baked view 6/6" in message for *_, message in progress.events)


def test_paint_keeps_existing_uvs_exactly(models) -> None:
    artist = _sphere_with_uvs()
    painted = _paint(artist, models, texture_size=128)
    assert np.array_equal(painted.visual.uv, artist.visual.uv)
    assert np.array_equal(painted.vertices, artist.vertices) and np.array_equal(painted.faces, artist.faces)
    assert _base_color(painted).size == (128, 128)


def test_painted_mesh_survives_glb(models) -> None:
    painted = _paint(trimesh.creation.icosphere(subdivisions=2), models)
    data = painted.export(file_type="glb")
    loaded = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh")
    assert has_uvs(loaded)
    texture = loaded.visual.material.baseColorTexture
    assert texture is not None and texture.size == (256, 256)
    assert np.array_equal(np.asarray(texture.convert("RGB")), np.asarray(_base_color(painted).convert("RGB")))


class _ColouredViews:
    """A stand-in multiview model: view i is a flat colour, so baking can be checked."""

    def __init__(self, colours: list[tuple[float, float, float]]) -> None:
        self.colours = colours

    def __call__(self, reference, normals, positions, cameras, *, size, steps, seed, on_step=None):
        for step in range(1, steps + 1):
            if on_step is not None:
                on_step(step, steps)
        return torch.tensor(self.colours, dtype=torch.float32)[:, :, None, None].expand(-1, -1, size, size)


def test_views_bake_onto_the_surfaces_they_face(models) -> None:
    delighter, _ = models
    red, green, blue = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    # Cameras: front (+Z), right, back, left, top, bottom (hy3dgen's order).
    stand_in = _ColouredViews([red, green, blue, green, green, green])
    sphere = trimesh.creation.icosphere(subdivisions=3)
    painted = _paint(sphere, (delighter, stand_in), texture_size=256)
    texture = np.asarray(_base_color(painted)).astype(int)
    uv, normals = painted.visual.uv, painted.vertex_normals
    cols = np.rint(uv[:, 0] * 255).astype(int)
    rows = np.rint((1 - uv[:, 1]) * 255).astype(int)
    colours = texture[rows, cols]
    front, back = normals[:, 2] > 0.95, normals[:, 2] < -0.95
    assert front.any() and back.any()
    assert (colours[front].argmax(axis=1) == 0).all()  # red where the front camera looks
    assert (colours[back].argmax(axis=1) == 2).all()   # blue where the back camera looks


@pytest.mark.parametrize("cancel_at", ["removing lighting", "removing lighting from the reference 2/2",
                                       "unwrapped UVs", "rendered", "painting the views",
                                       "painting the views 2/2", "baked view 1/6"])
def test_cancel_between_steps(models, cancel_at: str) -> None:
    cancel = CancelToken()
    seen: list[str] = []

    def progress(stage: str, step: int, total: int, message: str) -> None:
        seen.append(message)
        if message.startswith(cancel_at):
            cancel.cancel()

    with pytest.raises(ProtocolError) as caught:
        _paint(trimesh.creation.icosphere(subdivisions=2), models, progress=progress, cancel=cancel)
    assert caught.value.code is ErrorCode.CANCELLED
    assert seen[-1].startswith(cancel_at)  # nothing ran after the step that saw the cancel


def test_cancel_before_start(models) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(ProtocolError) as caught:
        _paint(trimesh.creation.icosphere(subdivisions=1), models, cancel=cancel)
    assert caught.value.code is ErrorCode.CANCELLED


@pytest.mark.needs_shared_data(REAL_MESH.name)
def test_paint_real_shape_output(models) -> None:
    mesh = trimesh.load(REAL_MESH, force="mesh")
    assert len(mesh.faces) == 40000
    painted = _paint(mesh, models, texture_size=1024, render_size=512)
    assert has_uvs(painted) and len(painted.faces) == len(mesh.faces)
    assert _base_color(painted).size == (1024, 1024)
