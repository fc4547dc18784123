"""The licence-clean family's texture in jobs: Generate (on the command line) and Re-texture paint with
Step1X-3D's texture model over SDXL (the tiny replicas), with hy3dgen not importable; a paint model
that cannot load keeps the untextured meshes with one sentence; a machine too small is told before
the job starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from clean_cli_run import CleanCliRun
from artist_meshes import mesh_file, uv_sphere
from testdata import FAST_OPTIONS, SUBJECT

import img23d_backend.families.hunyuan3d.raster as tencent_raster
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.families.step1x import texture_folders
from img23d_backend.families.table import FAMILIES
from img23d_backend.models import preflight
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_backend.families.step1x.texture_folders import CLEAN_PAINT, TINY_CLEAN_PAINT
from img23d_backend.uv import fill as tencent_fill
from img23d_protocol import CLEAN, ErrorCode, GenerateRequest, JobOptions, Progress, ProtocolError, RetextureRequest

# Two multiview steps (the model's own are 50) and a small texture: the chain, not its quality.
PAINT = {"texture": True, "texture_size": 256, "render_size": 256, "paint_steps": 2}

pytestmark = [pytest.mark.clean_texture,  # the clean family's texture model (pytest.ini)
              pytest.mark.skipif(not SUBJECT.is_file(), reason=f"needs the example picture {SUBJECT}")]


@pytest.fixture(scope="module")
def no_hy3dgen(request: pytest.FixtureRequest):
    """For this module's in-process jobs: any import of hy3dgen (or its rasterizer) fails."""
    patch = pytest.MonkeyPatch()
    request.addfinalizer(patch.undo)
    for name in [name for name in sys.modules if name == "hy3dgen" or name.startswith("hy3dgen.")]:
        patch.delitem(sys.modules, name)
    patch.setitem(sys.modules, "hy3dgen", None)
    patch.setitem(sys.modules, "custom_rasterizer", None)


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory, no_hy3dgen) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root, family=CLEAN),
                                 runs_dir=tmp_path_factory.mktemp("runs"), device="cpu"))


def _textured_glb(path: Path) -> trimesh.Trimesh:
    mesh = trimesh.load(path, force="mesh")
    assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices), path
    texture = mesh.visual.material.baseColorTexture
    assert texture is not None and texture.size == (256, 256), path
    assert np.asarray(texture.convert("RGB")).std() > 0, "a flat texture: nothing was painted"
    return mesh


def test_a_textured_clean_job_on_the_command_line_paints_without_hy3dgen(clean_textured_cli_run: CleanCliRun) -> None:
    # The session's one textured clean job (clean_cli_run.py): hy3dgen on its path refuses to import.
    done, out, mark = clean_textured_cli_run.done, clean_textured_cli_run.out, clean_textured_cli_run.hy3dgen_mark
    assert done.returncode == 0, done.stderr[-3000:]
    assert not mark.exists(), "the clean family imported hy3dgen"
    assert "texture skipped" not in done.stdout and "FAILED" not in done.stdout, done.stdout
    [run] = list(out.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["texture_skipped"] is None
    paint = manifest["models"]["paint"]
    assert paint["id"] == "tiny/step1x-3d-texture" and paint["subfolder"] == "Step1X-3D-Texture"
    assert [source["id"] for source in paint["sources"]] == ["tiny/stable-diffusion-xl-base-1.0",
                                                             "tiny/sdxl-vae-fp16-fix"]
    [record] = manifest["records"]
    assert record["status"] == "done" and record["textured"]
    assert {"paint_render", "paint_sync", "paint_multiview", "paint_bake"} <= set(record["timings"])
    assert manifest["options"]["texture_sync"] is True   # upstream's texture sync, on by default
    _textured_glb(run / record["mesh"])
    # The run folder keeps what the model saw and made: six views, their position and normal maps.
    views = run / "views" / record["stem"]
    for kind in ("view", "position", "normal"):
        assert sorted(p.name for p in views.glob(f"{kind}_*.png")) == [f"{kind}_{i}.png" for i in range(6)]
    kept = json.loads((views / "paint.json").read_text())
    assert kept["model"].startswith("tiny/step1x-3d-texture") and 0 < kept["painted_fraction"] <= 1
    assert kept["texture_sync"] is True


def test_re_texture_on_the_clean_family_paints_the_artists_mesh_in_its_own_uvs(engine: Engine,
                                                                               tmp_path: Path) -> None:
    path = mesh_file(uv_sphere(16, 24), tmp_path / "sphere.npz", with_uvs=True)
    events: list = []
    request = RetextureRequest(id="r", image=str(SUBJECT), mesh=str(path), name="statue",
                               options=JobOptions(**{**PAINT, "face_budget": 40_000, "texture_sync": False}))
    data = engine.run(request, Job(id="r", emit=events.append))
    assert data.uvs is None and not data.uv_created and not data.proxy
    # The job turned the texture sync off: the manifest and the paint record say so, and it did not run.
    run = Path(data.run_dir)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["options"]["texture_sync"] is False
    [record] = manifest["records"]
    assert "paint_sync" not in record["timings"] and "paint_multiview" in record["timings"]
    [kept] = run.glob("views/*/paint.json")
    assert json.loads(kept.read_text())["texture_sync"] is False
    texture = np.asarray(Image.open(data.texture))
    assert texture.shape == (256, 256, 3) and texture.std() > 0
    # The paint stage's progress runs from the maps through each step to each view baked (1 + 2 + 6).
    paint = [e for e in events if isinstance(e, Progress) and e.stage == "paint" and e.total == 9]
    assert [e.step for e in paint] == list(range(1, 10))  # and hy3dgen was never needed (no_hy3dgen)


def test_re_texture_through_a_proxy_bakes_with_the_clean_familys_own_rasterizer_and_filling(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Above the face budget, the artist's mesh is painted through a proxy and the texture baked into
    # its own UVs: with the family's rasterizer and filling, never the ports of Tencent's code.
    def never(*args, **kwargs):
        raise AssertionError("the licence-clean family ran Tencent-derived code")

    monkeypatch.setattr(tencent_raster, "rasterize", never)
    monkeypatch.setattr(tencent_raster, "interpolate", never)
    monkeypatch.setattr(tencent_fill, "fill_texture", never)
    path = mesh_file(uv_sphere(16, 24), tmp_path / "sphere.npz", with_uvs=True)
    request = RetextureRequest(id="p", image=str(SUBJECT), mesh=str(path), name="statue",
                               options=JobOptions(**{**PAINT, "face_budget": 200, "texture_sync": False}))
    data = engine.run(request, Job(id="p", emit=lambda event: None))
    assert data.proxy and not data.uv_created
    texture = np.asarray(Image.open(data.texture))
    assert texture.shape == (256, 256, 3) and texture.std() > 0


def test_a_view_size_the_model_cannot_take_is_a_bad_request(tiny_root: Path, tmp_path: Path, no_hy3dgen) -> None:
    models = tiny_model_set(tiny_root, family=CLEAN)
    paint = models.spec("paint")
    odd = dataclasses.replace(paint, options={**paint.options, "view_size": 60})  # not a multiple of 32
    engine = Engine(EngineSettings(models=dataclasses.replace(models, paint=odd), runs_dir=tmp_path / "runs",
                                   device="cpu"))
    path = mesh_file(uv_sphere(8, 12), tmp_path / "sphere.npz", with_uvs=True)
    request = RetextureRequest(id="r", image=str(SUBJECT), mesh=str(path), name="statue", options=JobOptions(**PAINT))
    with pytest.raises(ProtocolError) as refused:
        engine.run(request, Job(id="r", emit=lambda event: None))
    assert refused.value.code is ErrorCode.BAD_REQUEST and "multiple of 32" in refused.value.message


def test_a_paint_model_that_cannot_load_keeps_the_untextured_mesh_and_says_so_once(
        tiny_root: Path, tmp_path: Path, no_hy3dgen) -> None:
    copy = tmp_path / TINY_CLEAN_PAINT
    shutil.copytree(tiny_root / TINY_CLEAN_PAINT, copy, copy_function=os.symlink)
    adapter = copy / "Step1X-3D" / "Step1X-3D-Texture" / "step1x-3d-ig2v.safetensors"
    adapter.unlink()  # a link to the replica's file: never write through it
    adapter.write_bytes(b"\x00not a safetensors file" * 64)
    models = tiny_model_set(tiny_root, family=CLEAN)
    paint = models.spec("paint")
    broken = dataclasses.replace(paint, local_path=copy / "Step1X-3D", sources=tuple(
        dataclasses.replace(source, local_path=copy / Path(source.local_path or "").name) for source in paint.sources))
    engine = Engine(EngineSettings(models=dataclasses.replace(models, paint=broken), runs_dir=tmp_path / "runs",
                                   device="cpu"))
    events: list = []
    request = GenerateRequest(id="job", image=str(SUBJECT), options=JobOptions(**{**FAST_OPTIONS, **PAINT}))
    data = engine.run(request, Job(id="job", emit=events.append))
    manifest = json.loads(Path(data.manifest).read_text())
    [record] = manifest["records"]
    assert manifest["status"] == "finished" and record["status"] == "done" and not record["textured"]
    sentence = manifest["texture_skipped"]
    assert sentence.startswith("texture skipped: the paint model (tiny/step1x-3d-texture")
    assert data.texture_skipped == sentence
    assert [e.message for e in events if isinstance(e, Progress) and e.message == sentence] == [sentence]
    mesh = trimesh.load(Path(data.run_dir) / record["mesh"], force="mesh")
    assert len(mesh.faces) > 100 and getattr(mesh.visual, "uv", None) is None


def test_a_machine_too_small_for_the_clean_paint_model_is_told_before_the_job_starts() -> None:
    # The real model's parts (8.74 GB in float16, twice that in a CPU's float32) beside 12 GB in all.
    small = preflight.Room(host=12 * 10**9)
    weights = FAMILIES[CLEAN].paint_model(CLEAN_PAINT, "cpu")
    assert weights.weights == 2 * CLEAN_PAINT.size_bytes and CLEAN_PAINT.size_bytes == texture_folders.CLEAN_PAINT_BYTES == int(8.74e9)
    with pytest.raises(ProtocolError) as refused:
        preflight.check_job(JobOptions(texture=True, texture_size=1024), "cpu", room=small, shape=False,
                            own_paint=weights)
    error = refused.value
    assert error.code is ErrorCode.OUT_OF_MEMORY
    assert error.message.startswith("texturing with the Step1X-3D texture model needs about 2")
    assert "its weights 17.5 GB" in error.message and "12.0 GB in all: turn texture off" in error.message
    assert error.message.count(".") <= 4  # one sentence (the decimals are its only other dots)
    # Without texture, or with the room it needs, nothing is refused.
    preflight.check_job(JobOptions(texture=False), "cpu", room=small, shape=False, own_paint=weights)
    preflight.check_job(JobOptions(texture=True, texture_size=1024), "cpu", room=preflight.Room(host=64 * 10**9),
                        shape=False, own_paint=weights)


def test_the_engine_counts_the_clean_paint_weights_in_the_dtype_they_run_in(tmp_path: Path) -> None:
    clean = Engine(EngineSettings(models=model_set("default", family=CLEAN), runs_dir=tmp_path, device="cpu"))
    assert clean.can_paint and clean.own_paint.weights == 2 * texture_folders.CLEAN_PAINT_BYTES  # float32 on a CPU
    hunyuan = Engine(EngineSettings(models=model_set("default"), runs_dir=tmp_path, device="cpu"))
    assert hunyuan.own_paint is None
