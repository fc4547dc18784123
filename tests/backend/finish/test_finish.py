"""The finished mesh as the artist sets it: face budget (or every face), smoothing, holes, small pieces.

The clean-up runs on the repository's example mesh (examples/house_mesh.glb: 40,000 faces, one
watertight piece, like a shape model's output), with a
hole cut into it and a small separate piece beside it; the job test puts such a mesh where the
shape model's would be and checks the GLB the job writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from testdata import FAST_OPTIONS, HOUSE, MESH
from img23d_backend.families.hunyuan3d import shape
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.mesh import cleanup
from img23d_protocol import GenerateRequest, JobOptions, OptionError


@pytest.fixture(scope="module")
def real() -> trimesh.Trimesh:
    return trimesh.load(MESH, force="mesh")


def holed(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """The mesh with the faces around one vertex removed: one hole of a few dozen edges."""
    centres = mesh.vertices[mesh.faces].mean(axis=1)
    keep = np.linalg.norm(centres - mesh.vertices[100], axis=1) > 0.03
    assert 20 < (~keep).sum() < 200
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)[keep]


def with_small_piece(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray, int]:
    """The mesh and, apart from it, a small closed piece (a handle) with 0.2 % of its faces."""
    piece = trimesh.creation.icosphere(subdivisions=1, radius=0.05)  # 80 faces
    piece.apply_translation([1.5, 0, 0])
    vertices = np.vstack([mesh.vertices, piece.vertices])
    faces = np.vstack([mesh.faces, piece.faces + len(mesh.vertices)])
    return vertices, faces, len(piece.faces)


def test_the_defaults_are_what_every_job_did_before() -> None:
    options = JobOptions()
    assert cleanup.Finish.from_options(options) == cleanup.Finish(face_budget=40_000, smoothing=0, fill_holes=0,
                                                                  min_piece=cleanup.FLOATER_FACE_RATIO)


def test_a_face_budget_of_zero_keeps_every_face(real: trimesh.Trimesh) -> None:
    kept = cleanup.clean_mesh(real.vertices, real.faces, cleanup.Finish(face_budget=0))[1]
    budget = cleanup.clean_mesh(real.vertices, real.faces, cleanup.Finish(face_budget=5_000))[1]
    assert len(kept) == len(real.faces) == 40_000
    assert 4_500 <= len(budget) <= 5_000


def test_fill_holes_closes_a_hole_and_zero_leaves_it_open(real: trimesh.Trimesh) -> None:
    vertices, faces = holed(real)
    left_v, left_f, left = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0))
    filled_v, filled_f, filled = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, fill_holes=1000))
    assert not trimesh.Trimesh(left_v, left_f).is_watertight and left.holes_filled == 0
    assert trimesh.Trimesh(filled_v, filled_f).is_watertight
    assert filled.holes_filled == len(filled_f) - len(left_f) > 0 and not filled.holes_left_open


def test_fill_holes_leaves_holes_larger_than_asked(real: trimesh.Trimesh) -> None:
    vertices, faces = holed(real)  # its hole has well over 8 boundary edges
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, fill_holes=8))
    assert not trimesh.Trimesh(v, f).is_watertight and stats.holes_filled == 0


def test_a_mesh_that_is_not_manifold_still_gets_its_holes_filled_or_says_so() -> None:
    # Two cubes sharing one edge (non-manifold), one of them missing a face: pymeshlab's hole filter
    # refuses such a mesh; the clean-up repairs it first rather than failing the target.
    a = trimesh.creation.box()
    b = trimesh.creation.box()
    b.apply_translation([1, 1, 0])
    vertices = np.vstack([a.vertices, b.vertices])
    faces = np.vstack([a.faces[1:], b.faces + len(a.vertices)])
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, fill_holes=100, min_piece=0))
    assert len(f) > 0 and (stats.holes_filled > 0 or stats.holes_left_open)


def test_min_piece_zero_keeps_a_small_piece_the_default_removes(real: trimesh.Trimesh) -> None:
    vertices, faces, piece_faces = with_small_piece(real)
    _, removed_f, removed = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0))
    _, kept_f, kept = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, min_piece=0))
    assert removed.floaters_removed == piece_faces and len(removed_f) == 40_000
    assert kept.floaters_removed == 0 and len(kept_f) == 40_000 + piece_faces
    _, finer_f, _ = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, min_piece=0.001))
    assert len(finer_f) == 40_000 + piece_faces  # its 0.2 % is over 0.1 %: kept
    _, largest_f, _ = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, min_piece=1.0))
    assert len(largest_f) == 40_000  # 1: only the largest piece stays


def test_smoothing_smooths_without_shrinking() -> None:
    rng = np.random.default_rng(3)
    sphere = trimesh.creation.icosphere(subdivisions=4)
    noisy = sphere.vertices * (1 + rng.uniform(-0.03, 0.03, size=(len(sphere.vertices), 1)))
    v, f, _ = cleanup.clean_mesh(noisy, sphere.faces, cleanup.Finish(smoothing=10))
    unsmoothed, _, _ = cleanup.clean_mesh(noisy, sphere.faces, cleanup.Finish())
    radius_noise = lambda vs: float(np.std(np.linalg.norm(vs, axis=1)))  # noqa: E731
    assert len(f) == len(sphere.faces)
    assert radius_noise(unsmoothed) == pytest.approx(radius_noise(noisy), rel=1e-4)  # 0: untouched
    assert radius_noise(v) < radius_noise(noisy) / 2
    assert abs(np.linalg.norm(v, axis=1).mean() - 1.0) < 0.02  # Taubin keeps the size


@pytest.mark.parametrize("option, value, allowed", [
    ("smoothing", 101, "0 to 100"), ("fill_holes", -1, "leave holes open"), ("min_piece", 1.5, "0 to 1"),
    ("face_budget", 50, "keep every face")])
def test_each_finishing_option_is_checked_with_its_range_named(option: str, value, allowed: str) -> None:
    with pytest.raises(OptionError, match=allowed):
        JobOptions(**{option: value}).validate()


def test_a_job_writes_the_mesh_the_finishing_options_ask_for(tiny_root: Path, tmp_path: Path, real, monkeypatch) -> None:
    # The shape model's meshes replaced by the example mesh with a hole and a small piece: what the
    # job does with them from there on (clean-up, GLB, manifest) is the production path.
    vertices, faces = holed(real)
    piece = trimesh.creation.icosphere(subdivisions=1, radius=0.05)
    piece.apply_translation([1.5, 0, 0])
    raw = trimesh.util.concatenate([trimesh.Trimesh(vertices, faces, process=False), piece])
    monkeypatch.setattr(shape, "generate_shapes", lambda pipe, images, *a, **k: [raw.copy() for _ in images])
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))

    def run(**finish) -> tuple[trimesh.Trimesh, dict]:
        options = JobOptions(**{**FAST_OPTIONS, **finish})
        data = engine.run(GenerateRequest(id="t", image=str(HOUSE), targets=["house"], options=options),
                               Job(id="t", emit=lambda event: None))
        [record] = data.targets
        manifest = json.loads(Path(data.manifest).read_text())
        assert manifest["options"]["fill_holes"] == options.fill_holes
        return trimesh.load(Path(data.run_dir) / record.mesh, force="mesh"), record.cleanup

    default_mesh, default_stats = run(face_budget=40_000)
    finished_mesh, finished_stats = run(face_budget=0, fill_holes=1000, min_piece=0, smoothing=2)
    assert default_stats["floaters_removed"] == len(piece.faces) and default_stats["holes_filled"] == 0
    assert len(default_mesh.split(only_watertight=False)) == 1 and not default_mesh.is_watertight
    assert len(finished_mesh.split(only_watertight=False)) == 2  # the small piece kept
    assert finished_stats["holes_filled"] > 0 and finished_stats["floaters_removed"] == 0
    assert all(part.is_watertight for part in finished_mesh.split(only_watertight=False))
    assert len(finished_mesh.faces) == finished_stats["faces_out"] > len(faces)  # every face kept
