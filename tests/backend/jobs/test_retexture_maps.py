"""Re-texture sends every map it made (issue 47, part 2b; protocol 1.16): the colour and glTF's
metallicRoughness texture on the artist's own UVs, directly or through a proxy; off, or with a broken
material model, the colour alone and one sentence. The command line's GLB carries both; a GLB's
metallicRoughness travels into a Retopo's bake and out on its low mesh."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from testdata import FAST_PAINT, SUBJECT
from artist_meshes import mesh_file, uv_sphere
import glb_credits
from img23d_backend.finish.glb import read_glb_json
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.materials.marigold.model import MARIGOLD_WEIGHTS
from img23d_backend.catalog import tiny_model_set
from img23d_backend.readers.meshes import artist_mesh_file
from img23d_backend.session import Models, Session
from img23d_protocol import Artifact, ArtifactKind, JobOptions, RetextureJobResult, RetextureRequest


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _run(engine: Engine, mesh_path: Path, events: list, **options) -> RetextureJobResult:
    request = RetextureRequest(id="r", image=str(SUBJECT), mesh=str(mesh_path), name="statue",
                               options=JobOptions(**{**FAST_PAINT, "face_budget": 40_000, **options}))
    return engine.run(request, Job(id="r", emit=events.append))


def _kinds(events: list) -> list[str]:
    return [e.kind for e in events if isinstance(e, Artifact) and e.kind != ArtifactKind.RUN]


@pytest.mark.parametrize("rings, budget", [(24, 40_000), (180, 3000)], ids=["direct", "through-a-proxy"])
def test_retexture_sends_the_colour_and_the_metallic_roughness_map(engine: Engine, tmp_path: Path, rings: int,
                                                                   budget: int) -> None:
    sphere = uv_sphere(rings, 32 if rings < 100 else 180)
    events: list = []
    data = _run(engine, mesh_file(sphere, tmp_path / "sphere.npz", with_uvs=True), events, face_budget=budget)
    assert data.proxy == (budget < len(sphere.faces))
    assert data.metallic_roughness is not None and data.materials_skipped is None
    maps = np.asarray(Image.open(data.metallic_roughness))
    assert maps.shape == (256, 256, 3) == np.asarray(Image.open(data.texture)).shape
    assert Path(data.metallic_roughness) == Path(data.run_dir) / "metallic_roughness.png"
    assert (maps[:, :, 0] == 255).all()  # R unused, as glTF packs it
    assert maps[:, :, 1:].std() > 0  # the tiny model's (random) estimates, not a constant
    assert _kinds(events) == ["texture", "metallic_roughness"]
    assert engine.manager.counters()["materials"].loads_from_disk <= 1  # loaded once, kept between jobs


def test_without_materials_retexture_sends_the_colour_alone(engine: Engine, tmp_path: Path) -> None:
    events: list = []
    data = _run(engine, mesh_file(uv_sphere(24, 32), tmp_path / "s.npz", with_uvs=True), events, materials=False)
    assert data.metallic_roughness is None and data.materials_skipped is None
    assert not (Path(data.run_dir) / "metallic_roughness.png").exists()
    assert _kinds(events) == ["texture"]


def test_a_broken_material_model_keeps_the_colour_with_one_sentence(tiny_root: Path, tmp_path: Path) -> None:
    models = tiny_model_set(tiny_root)
    copy = tmp_path / "materials"
    shutil.copytree(models.materials.local_path, copy, copy_function=os.symlink)
    weights = copy / "unet" / MARIGOLD_WEIGHTS["unet"]
    weights.unlink()  # a link to the replica's file: never write through it
    weights.write_bytes(b"\x00not a safetensors file" * 64)
    broken = dataclasses.replace(models, materials=dataclasses.replace(models.materials, local_path=copy))
    engine = Engine(EngineSettings(models=broken, runs_dir=tmp_path / "runs", device="cpu"))
    events: list = []
    data = _run(engine, mesh_file(uv_sphere(24, 32), tmp_path / "s.npz", with_uvs=True), events)
    assert data.metallic_roughness is None and Image.open(data.texture).size == (256, 256)
    sentence = data.materials_skipped
    assert sentence is not None and sentence.startswith("materials skipped: the materials model") and "\n" not in sentence
    assert _kinds(events) == ["texture"]


def test_the_command_lines_glb_carries_both_maps_and_retopo_bakes_them(engine: Engine, tmp_path: Path) -> None:
    session = Session(engine.settings.runs_dir, Models(models="tiny"), engine=engine)
    sphere = uv_sphere(24, 32)
    glb_in = tmp_path / "sphere.glb"
    sphere.export(glb_in)
    painted = session.retexture(glb_in, SUBJECT, JobOptions(**{**FAST_PAINT, "face_budget": 40_000}))
    gltf = read_glb_json(painted.mesh)
    [material] = gltf["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert "baseColorTexture" in pbr and "metallicRoughnessTexture" in pbr and len(gltf["images"]) == 2
    assert pbr.get("metallicFactor", 1.0) == 1.0 and pbr.get("roughnessFactor", 1.0) == 1.0
    # The GLB read back as the add-on's mesh file carries the map beside the colour ...
    with artist_mesh_file(painted.mesh) as npz, np.load(npz) as arrays:
        assert arrays["metallic_roughness"].shape == (256, 256, 3) and arrays["base_color"].shape == (256, 256, 3)
    # ... and a Retopo bakes it onto the low mesh, with the colour and the normal map.
    finished = session.retopo(painted.mesh, JobOptions(topology="triangles", face_target=300, bake_size=128))
    low = read_glb_json(finished.mesh)
    [low_material] = low["materials"]
    assert "metallicRoughnessTexture" in low_material["pbrMetallicRoughness"] and "normalTexture" in low_material
    assert finished.finish["metallic_roughness"] and len(low["images"]) == 3
    # Each GLB names the models that made it: the painting's; a Retopo uses none (it reads the add-on's mesh file,
    # which names no model: what the painted GLB said is not carried through it).
    painted_by = glb_credits.models(painted.mesh)
    assert {"matting", "paint", "materials"} <= set(painted_by) and "shape" not in painted_by
    assert glb_credits.models(finished.mesh) == {}
    glb_credits.assert_valid(painted.mesh, finished.mesh)
    low_mesh = trimesh.load(finished.mesh, force="mesh", process=False)
    baked = np.asarray(low_mesh.visual.material.metallicRoughnessTexture.convert("RGB"))
    source = np.asarray(Image.open(painted.metallic_roughness)).astype(np.int64)
    # The baked roughness and metallic values are the painted map's (its range, not a constant fill).
    for channel in (1, 2):
        assert source[:, :, channel].min() - 2 <= baked[:, :, channel].mean() <= source[:, :, channel].max() + 2
    assert baked[:, :, 1:].std() > 0
