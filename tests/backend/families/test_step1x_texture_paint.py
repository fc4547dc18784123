"""Step1X-3D's texture chain end to end on the tiny replica: a mesh and a cut-out in, a textured mesh
(UVs and a base-colour image) out, with hy3dgen not importable, seeded, reporting progress, cancellable.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from clean_texture_replica import red_cutout, texture_folders

from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.texture.bake import BakeSettings
from img23d_backend.families.step1x.texture.generate import MultiviewSettings
from img23d_backend.families.step1x.texture.loader import load_texture_model
from img23d_backend.families.step1x.texture.paint import PaintRecord, TextureSettings, paint_mesh, paint_steps
from img23d_backend.families.step1x.texture.sync import SyncSettings
from img23d_backend.families.step1x.texture import replica
from img23d_protocol import ErrorCode, ProtocolError

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

# The texture sync on, as by default, in a 128-texel latent texture (upstream's 16 texels per latent pixel).
FAST = TextureSettings(views=MultiviewSettings(steps=2, size=64, sync=SyncSettings(texture_size=128)),
                       bake=BakeSettings(texture_size=128, render_size=128))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("step1x-texture")
    replica.build(root, replica.config("tiny"))
    return load_texture_model(texture_folders(root), "cpu", torch.float32)


def _mesh() -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=2.0)
    mesh.apply_translation((0.5, 0.0, 0.0))
    return mesh


@pytest.fixture(scope="module")
def painted(model, request: pytest.FixtureRequest):
    # hy3dgen (Tencent's licence) must not be needed: any import of it fails during the run.
    patch = pytest.MonkeyPatch()
    request.addfinalizer(patch.undo)
    patch.setitem(sys.modules, "hy3dgen", None)
    patch.setitem(sys.modules, "custom_rasterizer", None)
    steps: list[tuple[int, int, str]] = []
    record = PaintRecord()
    mesh = paint_mesh(model, _mesh(), red_cutout(), 7, FAST, lambda done, total, message: steps.append(
        (done, total, message)), record=record)
    return mesh, steps, record


def test_the_mesh_comes_back_with_uvs_and_a_base_colour_texture_in_its_own_frame(painted) -> None:
    mesh, _, _ = painted
    source = _mesh()
    texture = mesh.visual.material.baseColorTexture
    assert texture.size == (128, 128) and texture.mode == "RGB"
    assert len(mesh.visual.uv) == len(mesh.vertices) and np.isfinite(mesh.visual.uv).all()
    np.testing.assert_allclose(mesh.bounds, source.bounds, atol=1e-9)   # not left normalised
    pixels = np.asarray(texture)
    assert pixels.std() > 0   # painted, not a flat fill
    loaded = trimesh.load(io.BytesIO(mesh.export(file_type="glb")), file_type="glb", force="mesh")
    assert loaded.visual.material.baseColorTexture.size == (128, 128)


def test_progress_counts_the_maps_each_step_and_each_view(painted) -> None:
    _, steps, record = painted
    total = paint_steps(FAST)
    assert total == 1 + 2 + 6
    assert [done for done, _, _ in steps] == list(range(1, total + 1)) and {t for _, t, _ in steps} == {total}
    assert steps[0][2] == "rendered position and normal maps" and steps[-1][2] == "baked view 6/6"
    assert len(record.views) == len(record.positions) == len(record.normals) == 6
    assert all(view.size == (64, 64) for view in record.views)
    assert record.painted_fraction > 0.9   # a sphere: every view sees most of it
    # The texture sync is on by default: the mesh laid out as its latent atlas is a phase of its own.
    assert set(record.timings) == {"render", "sync", "multiview", "bake"} and record.texture_sync


def test_the_control_maps_are_the_meshs_own(painted) -> None:
    _, _, record = painted
    # The sphere (radius 2 at x = 0.5) normalised: radius 0.4 at x = 0.1, not moved to the centre.
    centre, radius = np.array([0.1, 0.0, 0.0]), 0.4
    middle = 0.55 * (65 / 64 - 1)   # pixel 32's centre, in the frame's units
    for view, (right, up, towards) in ((0, ((1, 0, 0), (0, 1, 0), (0, 0, 1))), (4, ((-1, 0, 0), (0, 0, 1), (0, 1, 0)))):
        lateral = middle * np.array(right) - middle * np.array(up) - centre
        lateral -= (lateral @ np.array(towards)) * np.array(towards)
        normal = lateral + np.sqrt(radius ** 2 - lateral @ lateral) * np.array(towards)
        normal = normal / radius
        z_up = np.array([normal[0], -normal[2], normal[1]])
        np.testing.assert_allclose(np.asarray(record.normals[view])[32, 32], (z_up / 2 + 0.5) * 255, atol=4)
        assert (np.asarray(record.normals[view])[0, 0] == 128).all()   # mid grey off the mesh
        assert (np.asarray(record.positions[view])[0, 0] == 128).all()


def test_a_seed_gives_the_same_texture_and_another_seed_another(model, painted) -> None:
    mesh, _, _ = painted
    again = paint_mesh(model, _mesh(), red_cutout(), 7, FAST)
    assert np.array_equal(np.asarray(again.visual.material.baseColorTexture),
                          np.asarray(mesh.visual.material.baseColorTexture))
    other = paint_mesh(model, _mesh(), red_cutout(), 8, FAST)
    assert not np.array_equal(np.asarray(other.visual.material.baseColorTexture),
                              np.asarray(mesh.visual.material.baseColorTexture))


def test_a_cancelled_paint_stops_and_says_so(model) -> None:
    token, seen = CancelToken(), []

    def on_step(done: int, total: int, message: str) -> None:
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(ProtocolError) as caught:
        paint_mesh(model, _mesh(), red_cutout(), 0, FAST, on_step, token)
    assert caught.value.code == ErrorCode.CANCELLED and seen == [1, 2]


def test_views_the_model_cannot_make_are_refused_before_any_work(model) -> None:
    steps: list[int] = []
    with pytest.raises(ValueError, match="multiple of"):
        paint_mesh(model, _mesh(), red_cutout(), 0, TextureSettings(views=MultiviewSettings(steps=1, size=50)),
                   lambda done, total, message: steps.append(done))
    assert steps == []
