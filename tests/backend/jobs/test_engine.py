"""The chain in-process with the tiny models: per-target failures, instances, alpha, clean-up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE, REPO, SUBJECT
from img23d_backend.finish.bake.surface import closest_on_triangles
from img23d_backend.finish.quad_repair import project_onto
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import Artifact, Error, GenerateJobResult, GenerateRequest, JobOptions, ProtocolError
from img23d_backend.mesh import cleanup


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _run(engine: Engine, targets: list[str], image: Path = HOUSE, **options) -> tuple[GenerateJobResult, list]:
    events: list = []
    request = GenerateRequest(id="t", image=str(image), targets=targets,
                              options=JobOptions(**{**FAST_OPTIONS, **options}))
    data = engine.run(request, Job(id="t", emit=events.append))
    return data, events


def test_all_instances_gives_one_mesh_per_instance(engine: Engine) -> None:
    data, events = _run(engine, ["barrel"], keep="all")
    records = data.targets
    assert [(r.target, r.instance, r.stem) for r in records] == [
        ("barrel", 1, "barrel"), ("barrel", 2, "barrel-2"), ("barrel", 3, "barrel-3")]
    boxes = [r.box for r in records]
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    assert areas == sorted(areas, reverse=True)  # largest first
    assert len({r.seed for r in records}) == 3
    meshes = [e for e in events if isinstance(e, Artifact) and e.kind == "mesh"]
    assert [e.instance for e in meshes] == [1, 2, 3] and all(e.image_size == [1024, 1024] for e in meshes)


def test_real_alpha_on_the_whole_image_skips_matting(engine: Engine) -> None:
    before = engine.manager.counters()["matting"].loads_from_disk
    data, _ = _run(engine, [], image=SUBJECT)
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["image"]["has_alpha"] is True
    assert manifest["model_counters"]["matting"]["loads_from_disk"] == 0
    assert "grounding" not in manifest["timings"]  # no names: no grounding either
    assert engine.manager.counters()["matting"].loads_from_disk == before
    [record] = data.targets
    assert record.target == "snowman" and record.status == "done"


def test_a_named_object_alone_in_the_pictures_alpha_is_cut_out_by_that_alpha(engine: Engine, tmp_path: Path) -> None:
    """Issue 66 item 1: the picture's own alpha cuts the front out, as a view's does (the tiny matting's
    random weights would give anything but the artist's outline)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    # Inside the tiny grounding's fixed box for "house" (185, 105, 880, 860 of 1000).
    ImageDraw.Draw(picture).ellipse((300, 250, 800, 800), fill=(200, 120, 40, 255))
    path = tmp_path / "alone.png"
    picture.save(path)
    data, _ = _run(engine, ["house"], image=path)
    [record] = [r for r in data.targets if r.target == "house"]
    run = Path(data.run_dir)
    crop = np.asarray(Image.open(run / record.crop).getchannel("A"))
    cutout = np.asarray(Image.open(run / record.matte).getchannel("A"))
    assert record.status == "done" and crop.max() == 255 and np.array_equal(cutout, crop)


def test_a_surface_that_cannot_be_extracted_fails_that_target_only(engine: Engine, monkeypatch) -> None:
    from img23d_backend.families.hunyuan3d import shape

    real, calls = shape.latents_to_mesh, []

    def first_fails(pipe, decoded, settings):
        calls.append(decoded)
        # What surface extraction gives when marching cubes finds no surface.
        return None if len(calls) == 1 else real(pipe, decoded, settings)

    monkeypatch.setattr(shape, "latents_to_mesh", first_fails)
    data, events = _run(engine, ["house", "chimney"])
    status = {r.target: (r.status, (r.error or {}).get("code")) for r in data.targets}
    assert status == {"house": ("failed", "shape_failed"), "chimney": ("done", None)}
    errors = [e for e in events if isinstance(e, Error)]
    assert [(e.target, e.code) for e in errors] == [("house", "shape_failed")]
    assert "seed" in errors[0].message


def test_when_every_target_fails_the_job_fails_and_says_so(engine: Engine, monkeypatch) -> None:
    from img23d_backend.families.hunyuan3d import shape

    monkeypatch.setattr(shape, "generate_shapes", lambda pipe, images, *a, **k: [None] * len(images))
    with pytest.raises(ProtocolError) as caught:
        _run(engine, ["house"])
    assert caught.value.code.value == "shape_failed"
    # The newest run: by creation, not by name ("...-10" sorts before "...-9" within one second).
    runs = sorted(engine.settings.runs_dir.iterdir(), key=lambda run: run.stat().st_ctime_ns)
    manifest = json.loads((runs[-1] / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["records"][0]["status"] == "failed"
    assert (runs[-1] / "crops" / "house.png").is_file()  # what it finished is kept


def test_face_budget_is_applied(engine: Engine) -> None:
    data, _ = _run(engine, ["house"], octree_resolution=64, face_budget=500)
    [record] = data.targets
    assert 0 < record.faces <= 500
    mesh = trimesh.load(Path(data.run_dir) / record.mesh, force="mesh")
    assert len(mesh.faces) == record.faces


def test_cleanup_removes_floaters_and_degenerate_faces() -> None:
    body = trimesh.creation.icosphere(subdivisions=4)  # 5120 faces; the floater's 20 are under 0.5%
    floater = trimesh.creation.icosphere(subdivisions=0, radius=0.01)
    floater.apply_translation([3, 0, 0])
    vertices = np.vstack([body.vertices, floater.vertices])
    faces = np.vstack([body.faces, floater.faces + len(body.vertices),
                       [[0, 0, 1]],                        # degenerate: repeated vertex
                       body.faces[:5]])                    # duplicated faces
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=10_000))
    assert len(f) == len(body.faces)
    assert stats.floaters_removed == len(floater.faces)
    assert np.abs(v).max() < 1.01  # the floater at x=3 is gone


def test_cleanup_keeps_a_small_part_that_hy3dgen_keeps() -> None:
    # A separate part with 0.78% of the body's faces: over hy3dgen's 0.5% floater threshold, so
    # a real part (a handle, a spout), not noise.
    body = trimesh.creation.icosphere(subdivisions=4)  # 5120 faces
    part = trimesh.creation.cylinder(radius=0.05, height=0.3, sections=10)  # 40 faces
    part.apply_translation([1.5, 0, 0])
    assert 0.005 < len(part.faces) / len(body.faces) < 0.01
    vertices = np.vstack([body.vertices, part.vertices])
    faces = np.vstack([body.faces, part.faces + len(body.vertices)])
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=10_000))
    assert len(f) == len(body.faces) + len(part.faces) and stats.floaters_removed == 0
    assert v[:, 0].max() > 1.4  # the part is still there


def test_cleanup_decimates_to_the_budget_and_handles_empty_input() -> None:
    body = trimesh.creation.icosphere(subdivisions=4)  # 5120 faces
    v, f, stats = cleanup.clean_mesh(body.vertices, body.faces, cleanup.Finish(face_budget=1000))
    assert 900 <= len(f) <= 1000 and stats.faces_in == 5120
    v, f, stats = cleanup.clean_mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int), cleanup.Finish(face_budget=1000))
    assert len(f) == 0 and stats.faces_out == 0


def test_decimation_is_the_same_at_any_scale_and_keeps_the_example_houses_spike() -> None:
    # fast-simplification's thresholds are absolute: unscaled, a mesh in millimetres and the same
    # mesh in metres decimate differently, and its default aggressiveness cut the example house's
    # spike off at 2,000 faces (7.8 % of the diagonal away).
    house = trimesh.load(REPO / "examples" / "house_mesh.glb", force="mesh")
    vertices, faces = np.asarray(house.vertices, dtype=np.float64), np.asarray(house.faces)
    small_v, small_f = cleanup.decimate(vertices, faces, 2000)
    large_v, large_f = cleanup.decimate(vertices * 1000.0, faces, 2000)
    assert len(small_f) == 2000 and np.array_equal(small_f, large_f)
    assert np.allclose(large_v / 1000.0, small_v, atol=1e-5)
    diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0)))
    # A distance to a point of the surface is never below the distance to the surface: vertices
    # near by that bound are near; the others are measured against every triangle.
    bound = np.linalg.norm(project_onto(vertices, small_v, small_f, np.inf) - vertices, axis=1)
    doubtful = vertices[bound >= 0.005 * diagonal]
    triangles = small_v[small_f]
    exact = closest_on_triangles(doubtful[:, None, :], triangles[None, :, 0], triangles[None, :, 1],
                                 triangles[None, :, 2])[0].min(axis=1) if len(doubtful) else np.zeros(1)
    far = float(np.sqrt(exact.max()))
    assert far < 0.01 * diagonal, f"a vertex of the house is {100 * far / diagonal:.1f} % of the diagonal away"


# --- out of memory: free, retry once with lower settings, then fail only that target -----------

def test_shape_out_of_memory_is_retried_one_at_a_time_at_lower_settings(engine: Engine, monkeypatch) -> None:
    import torch

    from img23d_backend.families.hunyuan3d import shape

    real, calls = shape.generate_shapes, []

    def oom_for_batches(pipe, images, seeds, settings, **kwargs):
        calls.append((len(images), settings.octree_resolution, settings.batch_size))
        if len(images) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(pipe, images, seeds, settings, **kwargs)

    monkeypatch.setattr(shape, "generate_shapes", oom_for_batches)
    data, _ = _run(engine, ["house", "chimney"], octree_resolution=64)
    assert calls == [(2, 64, 0), (1, 32, 1), (1, 32, 1)]
    assert [r.status for r in data.targets] == ["done", "done"]
    manifest = json.loads(Path(data.manifest).read_text())
    [note] = manifest["errors"]
    assert note["code"] == "out_of_memory" and note["retried"] and "octree resolution 32" in note["message"]


def test_a_target_that_runs_out_of_memory_twice_fails_alone(engine: Engine, monkeypatch) -> None:
    from img23d_backend.families.hunyuan3d import shape

    real = shape.generate_shapes

    def chimney_never_fits(pipe, images, seeds, settings, **kwargs):
        if len(images) > 1 or seeds == [1]:  # the chimney is the second target: seed 0 + 1
            raise MemoryError()
        return real(pipe, images, seeds, settings, **kwargs)

    monkeypatch.setattr(shape, "generate_shapes", chimney_never_fits)
    data, events = _run(engine, ["house", "chimney"])
    status = {r.target: (r.status, (r.error or {}).get("code")) for r in data.targets}
    assert status == {"house": ("done", None), "chimney": ("failed", "out_of_memory")}
    assert any(isinstance(e, Error) and e.target == "chimney" and e.code == "out_of_memory" for e in events)


def test_matting_out_of_memory_is_retried_crop_by_crop(engine: Engine, monkeypatch) -> None:
    from img23d_backend.matting import driver as matting

    real, sizes = matting.matte, []

    def oom_for_batches(model, crops, **kwargs):
        sizes.append(len(crops))
        if len(crops) > 1:
            raise RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)")
        return real(model, crops, **kwargs)

    monkeypatch.setattr(matting, "matte", oom_for_batches)
    data, _ = _run(engine, ["house", "chimney", "barrel"])
    assert sizes == [3, 1, 1, 1]
    assert [r.status for r in data.targets] == ["done", "done", "done"]


def test_painting_out_of_memory_is_retried_with_every_view_rendered_smaller(engine: Engine, monkeypatch) -> None:
    import torch

    from img23d_backend.families.hunyuan3d import paint

    real, tried = paint.paint_mesh, []

    def oom_at_first(mesh, reference, *, settings, **kwargs):
        tried.append(settings)
        if len(tried) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return real(mesh, reference, settings=settings, **kwargs)

    monkeypatch.setattr(paint, "paint_mesh", oom_at_first)
    data, _ = _run(engine, ["chimney"], **FAST_PAINT)
    first, retry = tried
    assert retry.views == first.views == 6  # the top and bottom views too: they see what the others do not
    assert (retry.camera_azimuths, retry.camera_elevations, retry.view_weights) == (
        first.camera_azimuths, first.camera_elevations, first.view_weights)
    assert retry.render_size == first.render_size // 2 and retry.texture_size == first.texture_size
    [record] = data.targets
    assert record.status == "done" and record.textured
    [note] = json.loads(Path(data.manifest).read_text())["errors"]
    assert note["retried"] and "all 6 views at 128 px" in note["message"]


def test_other_errors_are_not_mistaken_for_out_of_memory(engine: Engine, monkeypatch) -> None:
    from img23d_backend.families.hunyuan3d import shape

    def broken(*args, **kwargs):
        raise ValueError("input image is empty")

    monkeypatch.setattr(shape, "generate_shapes", broken)
    with pytest.raises(ProtocolError) as caught:
        _run(engine, ["house"])
    assert caught.value.code.value == "internal" and "input image is empty" in caught.value.message


def _extract_with(engine: Engine, monkeypatch, run) -> ProtocolError:
    """Run a one-target job whose surface extractor's ``run`` is ``run``; the job's error."""
    from img23d_backend.families.hunyuan3d import shape_decode

    extractor = type("Extractor", (), {"run": staticmethod(run)})()
    monkeypatch.setattr(shape_decode, "surface_extractor", lambda device: extractor)
    with pytest.raises(ProtocolError) as caught:  # the job's only target failed
        _run(engine, ["house"])
    return caught.value


def test_dual_marching_cubes_finding_no_surface_fails_the_target_as_marching_cubes_does(engine: Engine,
                                                                                        monkeypatch) -> None:
    def marching_cubes(grid, **kwargs):  # skimage's, on a volume all inside or all outside
        raise ValueError("Surface level must be within volume data range.")

    def dual_marching_cubes(grid, **kwargs):  # diso's on the same volume: no error, an empty mesh
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)

    messages = []
    for run in (marching_cubes, dual_marching_cubes):
        assert _extract_with(engine, monkeypatch, run).code.value == "shape_failed"
        manifest = json.loads((sorted(engine.settings.runs_dir.iterdir())[-1] / "manifest.json").read_text())
        messages.append(manifest["records"][0]["error"]["message"])
    assert "no surface could be extracted for 'house'" in messages[0]
    assert messages[1] == messages[0]
