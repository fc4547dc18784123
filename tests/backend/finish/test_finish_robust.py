"""The finish on meshes that broke it (issue 54): the same quads whatever the vertex order; a mesh
far from the origin remeshed as near it, or refused in one sentence when its stored positions are
too coarse there; the remesh worker's memory bounded; a result that lost part of the mesh or runs
across it, or whose quads stand off the surface, never called a success; a mesh with no area, or too small for quads, said in one
sentence. Small meshes made here (a marching-cubes ball of about 3,000 triangles)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree
from skimage import measure

from img23d_backend.finish import coverage as coverage_module
from img23d_backend.finish import instant_meshes
from img23d_backend.finish.canonical import canonical
from img23d_backend.finish.coverage import Coverage, coverage
from img23d_backend.finish.retopo import NothingToRemesh, RetopoSettings, retopologize
from cli_inprocess import run_cli
from testdata import SOURCE_PYTHONPATH

# In lane B's share, for the lanes' balance (about 27 CPU-seconds; as test_view_projection.py says).
pytestmark = pytest.mark.lane_b

needs_instant_meshes = pytest.mark.skipif(
    not any(os.path.isdir(os.path.join(p, "pynanoinstantmeshes")) for p in sys.path if p),
    reason="pynanoinstantmeshes is not installed in this environment")
FAR = 1e6


def _ball(cells: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """A closed marching-cubes ball of radius 0.7 about the origin (about 3,000 triangles)."""
    axis = np.linspace(-1.0, 1.0, cells)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    vertices, faces, _, _ = measure.marching_cubes(0.7 - np.sqrt(x * x + y * y + z * z), 0.0,
                                                   spacing=(2.0 / (cells - 1),) * 3)
    return vertices - 1.0, faces.astype(np.int64)


def _cube_grid(low: np.ndarray, high: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed box of 6 n^2 quads, wound outwards, between ``low`` and ``high``."""
    mesh = trimesh.creation.box(bounds=np.array([low, high]))
    points: dict[tuple, int] = {}
    quads = []
    for normal in np.eye(3).tolist() + (-np.eye(3)).tolist():
        normal = np.array(normal)
        axis = int(np.argmax(np.abs(normal)))
        u, v = [a for a in range(3) if a != axis]
        if normal[axis] < 0:
            u, v = v, u
        for i in range(n):
            for j in range(n):
                face = []
                for di, dj in ((0, 0), (1, 0), (1, 1), (0, 1)):
                    t = np.zeros(3, dtype=int)
                    t[axis] = n if normal[axis] > 0 else 0
                    t[u], t[v] = i + di, j + dj
                    face.append(points.setdefault(tuple(t), len(points)))
                quads.append(face)
    grid = np.array(list(points), dtype=np.float64) / n
    bounds = mesh.bounds
    return bounds[0] + grid * (bounds[1] - bounds[0]), np.array(quads, dtype=np.int64)


# Stand-ins for Instant Meshes (module level, so the spawned worker imports them by name).
def _first_half_only(vertices: np.ndarray, faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed quads, as many as asked for, around the lower half of the mesh only: a part lost."""
    n = int(round(np.sqrt(vertex_count * 4.04 / 6)))
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    return _cube_grid(low, np.array([(low[0] + high[0]) / 2, high[1], high[2]]), n)


def _turned_sides(vertices: np.ndarray, faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed quads on the (ball-shaped) mesh, as many as asked for, one side of six facing inwards:
    the faces a remesh makes where it runs across a part thinner than its quads."""
    n = int(round(np.sqrt(vertex_count * 4.04 / 6)))
    points, quads = _cube_grid(vertices.min(axis=0), vertices.max(axis=0), n)
    centre = vertices.mean(axis=0)
    radius = np.linalg.norm(vertices - centre, axis=1).mean()
    points = centre + radius * (points - centre) / np.linalg.norm(points - centre, axis=1, keepdims=True)
    side = len(quads) // 6
    quads[:side] = quads[:side, ::-1]
    return points, quads


def _greedy(vertices: np.ndarray, faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Reserves 8 GB, as the far mesh's field did (untouched: nothing is used if the bound lets it through)."""
    hoard = np.empty(8 << 30, dtype=np.uint8)
    return np.zeros((4, 3)) + hoard[:1], np.array([[0, 1, 2, 3]])


@needs_instant_meshes
def test_the_quads_do_not_depend_on_the_order_of_vertices_and_faces() -> None:
    vertices, faces = _ball()
    first = retopologize(vertices, faces, RetopoSettings("quads", 600))
    rng = np.random.default_rng(3)
    order = rng.permutation(len(vertices))
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    shuffled = renumber[faces][rng.permutation(len(faces))]
    shuffled = np.roll(shuffled, 1, axis=1)  # each face from another corner, its winding kept
    second = retopologize(vertices[order], shuffled, RetopoSettings("quads", 600))
    assert first.method == second.method == "instant-meshes"
    np.testing.assert_array_equal(first.quads, second.quads)
    np.testing.assert_array_equal(first.vertices, second.vertices)


@needs_instant_meshes
def test_a_mesh_far_from_the_origin_gets_quads_as_good_as_near_it() -> None:
    vertices, faces = _ball()
    far = retopologize(vertices + FAR, faces, RetopoSettings("quads", 600))
    assert far.method == "instant-meshes" and far.fallback is None
    assert abs(len(far.quads) - 600) <= 0.15 * 600
    # float32 output: a position 10^6 away is kept to 0.0625; the ball's radius is 0.7
    radius = np.linalg.norm(np.asarray(far.vertices, np.float64) - FAR, axis=1)
    assert np.abs(radius - 0.7).max() < 0.07


def test_the_remesh_workers_memory_is_bounded() -> None:
    vertices, faces = _ball(8)
    with pytest.raises(instant_meshes.InstantMeshesFailed, match="ran out of the 1.0 GB of memory"):
        instant_meshes.remesh_in_worker(vertices, faces, 10, work=_greedy, limit=1 << 30)
    assert instant_meshes.memory_limit(40_000, 1238) < 16 << 30  # a shape model's mesh: well under the machine


def test_quads_that_left_part_of_the_mesh_out_are_not_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instant_meshes, "remesh_arrays", _first_half_only)
    vertices, faces = _ball()
    result = retopologize(vertices, faces, RetopoSettings("quads", 600))
    assert result.quads is None and result.method == "quadric"
    assert result.fallback.startswith("quads failed: they left part of the mesh out (a point ")


def test_quads_that_run_across_the_surface_are_not_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instant_meshes, "remesh_arrays", _turned_sides)
    vertices, faces = _ball()
    result = retopologize(vertices, faces, RetopoSettings("quads", 600))
    assert result.quads is None and result.method == "quadric"
    assert "ran across thin parts or separate pieces" in result.fallback


def test_a_mesh_with_no_area_is_refused() -> None:
    points = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], dtype=np.float64)
    with pytest.raises(NothingToRemesh, match="none of the mesh's 2 faces has any area"):
        retopologize(points, np.array([[0, 1, 2], [1, 2, 3]]), RetopoSettings("quads", 600))


def test_the_canonical_mesh_is_the_same_for_any_numbering_and_lies_in_a_unit_box() -> None:
    vertices, faces = _ball(10)
    mesh = canonical(vertices * 1e3 + 5.0, faces)
    order = np.random.default_rng(0).permutation(len(vertices))
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    again = canonical(vertices[order] * 1e3 + 5.0, renumber[faces][::-1])
    np.testing.assert_array_equal(mesh.faces, again.faces)
    np.testing.assert_array_equal(mesh.vertices, again.vertices)
    assert np.linalg.norm(np.ptp(mesh.vertices, axis=0)) == pytest.approx(1.0)
    np.testing.assert_allclose(mesh.to_input(mesh.vertices).min(axis=0), (vertices * 1e3 + 5.0).min(axis=0))


def _argv(mesh: Path, out: Path, faces: int = 300) -> list[str]:
    return ["retopo", str(mesh), "--out", str(out), "--topology", "quads", "--faces", str(faces), "--bake-size", "128",
            "--device", "cpu"]


def _retopo(mesh: Path, out: Path, faces: int = 300) -> subprocess.CompletedProcess:
    """The command in a process of its own, with a time limit (a mesh with no area kept Instant
    Meshes' worker busy for good before it was refused)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE_PYTHONPATH, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "img23d_backend", *_argv(mesh, out, faces)],
                          capture_output=True, text=True, env=env, timeout=150)


def test_the_command_says_a_mesh_with_no_area_in_one_sentence(tmp_path: Path) -> None:
    mesh = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], [[0, 1, 2], [1, 2, 3]], process=False)
    mesh.export(tmp_path / "line.ply")
    done = _retopo(tmp_path / "line.ply", tmp_path / "runs")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    # Said by the one mesh reader (readers.mesh_bounds), before the finish's own check would.
    # The sentence, then the run folder it kept (as every command's failed job says it).
    said, kept = done.stderr.strip().splitlines()[-2:]
    assert said.startswith("error: the mesh has no surface: its 2 triangles all have zero area")
    assert said.endswith("[bad_request]") and kept.startswith("run folder (kept): ")


@needs_instant_meshes
def test_the_command_remeshes_a_64_bit_mesh_far_from_the_origin_and_refuses_a_32_bit_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vertices, faces = _ball()
    trimesh.Trimesh(vertices + FAR, faces, process=False).export(tmp_path / "far.obj")  # text: 64-bit positions
    done = run_cli(capsys, *_argv(tmp_path / "far.obj", tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    [run] = (tmp_path / "runs").iterdir()
    low = trimesh.load(run / "far.glb", force="mesh")
    # the GLB stores float32: 10^6 away, 0.0625 apart; the ball's radius is 0.7
    radius = np.linalg.norm(np.asarray(low.vertices, np.float64) - FAR, axis=1)
    assert np.abs(radius - 0.7).max() < 0.1
    assert abs(len(low.faces) // 2 - 300) <= 45
    trimesh.Trimesh(vertices + FAR, faces, process=False).export(tmp_path / "far.glb")  # glTF: 32-bit positions
    done = run_cli(capsys, *_argv(tmp_path / "far.glb", tmp_path / "refused"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    said, kept = done.stderr.strip().splitlines()[-2:]   # the sentence, then the run folder it kept
    assert kept.startswith("run folder (kept): ")
    assert said.startswith("error: the mesh lies 1,000,001 units from the origin and is only 2.38 across: its "
                           "32-bit positions are 0.0625 apart there (2.6 % of its size), too coarse to keep its shape")


@needs_instant_meshes
def test_the_command_says_when_a_mesh_is_too_small_for_quads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pyramid = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0.8]],
                              [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [0, 2, 1]], process=False)
    pyramid.export(tmp_path / "five.ply")
    done = run_cli(capsys, *_argv(tmp_path / "five.ply", tmp_path / "runs", faces=100))
    assert done.returncode == 0, done.stderr
    assert "quads failed: " in done.stdout and "kept its 5 triangles instead" in done.stdout



def test_triangles_far_over_the_budget_are_said_in_one_sentence() -> None:
    # A closed pyramid of six triangles asked for three (the settings take any count from one; the
    # command's own bound is 100): no collapse keeps its surface, so six come back, which was said
    # nowhere, as a small mesh came back a third off its target without a word.
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0.8]], dtype=np.float64)
    faces = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [0, 2, 1], [0, 3, 2]])
    result = retopologize(vertices, faces, RetopoSettings("triangles", 3))
    assert result.faces_out == 6 and result.fallback == (
        "decimation stopped at 6 triangles, 100 % over the 3 asked: no further collapse keeps the surface")
    assert retopologize(vertices, faces, RetopoSettings("triangles", 6)).fallback is None  # within: nothing to say


def test_a_quad_across_a_fold_stands_off_by_what_its_middle_is_from_the_walls() -> None:
    """A quad spanning a V-shaped fold (each vertex on a wall, as the armadillo's quads across a bend
    had them): its middle lies over the fold's floor, farther from the surface than any vertex."""
    depth, half = 0.5, 1.0  # walls from (+-half, 0) down to the floor line (0, -depth), along z in [0, 1]
    walls = np.array([[-half, 0.0, 0.0], [0.0, -depth, 0.0], [half, 0.0, 0.0],
                      [-half, 0.0, 1.0], [0.0, -depth, 1.0], [half, 0.0, 1.0]])
    faces = np.array([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4]])
    lid = np.array([[-half, 0.0, 0.0], [half, 0.0, 0.0], [half, 0.0, 1.0], [-half, 0.0, 1.0]])
    side = 1.0
    measured = coverage(walls, faces, lid, np.array([[0, 1, 2], [0, 2, 3]]), facing=False, quad_side=side)
    expected = depth * half / np.hypot(depth, half)  # the lid's middle (0, 0) to either wall's line
    # Sampled a quarter of a side apart: never over the truth, at most that spacing short of it.
    assert expected / side - coverage_module.STAND_OFF_SAMPLES <= measured.stand_off <= expected / side + 1e-9
    assert coverage(walls, faces, lid, np.array([[0, 1, 2], [0, 2, 3]]), facing=False).stand_off == 0.0  # triangles


def test_a_quad_standing_off_the_surface_is_said_for_what_it_is() -> None:
    assert Coverage(0.0, 0.0, 0.5).reason is None
    assert Coverage(0.0, 0.0, 1.0).reason == ("a quad stood 1.0 of a quad's side off the surface (it spans a "
                                              "crease or a gap narrower than a quad)")


@needs_instant_meshes
def test_quads_that_stand_off_the_surface_are_not_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is the quads' own: with no stand-off allowed, the ball's quads fail it and the
    artist is told so with the triangles made instead."""
    monkeypatch.setattr(coverage_module, "STAND_OFF_LIMIT", 0.0)
    vertices, faces = _ball()
    result = retopologize(vertices, faces, RetopoSettings("quads", 600))
    assert result.quads is None and result.method == "quadric"
    assert "of a quad's side off the surface" in result.fallback


@pytest.mark.parametrize("third", [(0.3, 0.002, 0.0), (0.999, 0.001, 0.001), (0.5, 0.8, 0.1)],
                         ids=["sliver", "needle", "plain"])
def test_the_surface_grid_reaches_every_point_of_a_triangle_and_a_sliver_takes_rows_not_a_square(third) -> None:
    """Every point of the triangle within the spacing of a grid point, the weights its area; a sliver's points
    grow with its area and length (a 1-long, 0.002-high one: under 200), not with its long edge's square (5,151
    before: a 10-unit rod's retopo took over five minutes in the checks' grids)."""
    triangle = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], third]])
    points, owners, weights = coverage_module.grid_points(triangle, 0.01)
    rng = np.random.default_rng(5)
    u = rng.random((20_000, 2))
    u[u.sum(axis=1) > 1] = 1 - u[u.sum(axis=1) > 1]
    inside = triangle[0, 0] + u[:, :1] * (triangle[0, 1] - triangle[0, 0]) + u[:, 1:] * (triangle[0, 2] - triangle[0, 0])
    assert cKDTree(points).query(inside)[0].max() <= 0.01 and (owners == 0).all()
    area = 0.5 * np.linalg.norm(np.cross(triangle[0, 1] - triangle[0, 0], triangle[0, 2] - triangle[0, 0]))
    assert weights.sum() == pytest.approx(area)
    assert len(points) < 400 if third[1] < 0.01 else len(points) == 5_151   # a plain triangle keeps its grid
