"""A finished GLB arrives in Blender closed (issue 54): the vertex copies a glTF writer makes along
UV seams and hard edges are welded on import, every corner keeping the file's normal and UV, and
the quads are restored as before; parts that only touch at a point stay apart. The finished mesh is
the backend's own: ``retopo`` run on the example mesh, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, BACKEND_PYTHON  # noqa: E402
from finished_glb import read_glb, write_glb  # noqa: E402
from mesh_topology import blender_topology, islands  # noqa: E402
from testdata import MESH  # noqa: E402

QUADS = 300   # small, so the finish takes seconds; the example mesh is closed and has hard edges


def _import(path: Path, name: str, notes: list[str] | None = None):
    return sys.modules[f"{ADDON_MODULE}.scene_import"].import_glb(path, name, notes)


def _file_topology(arrays: dict[str, np.ndarray]) -> tuple[int, int, int]:
    """Islands, open edges and edges with more than two faces of the file's triangles once equal
    positions are one vertex."""
    _, welded = np.unique(arrays["POSITION"], axis=0, return_inverse=True)
    triangles = welded.reshape(-1)[arrays["indices"]]
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, uses = np.unique(edges, axis=0, return_counts=True)
    return islands(int(welded.max()) + 1, unique), int((uses == 1).sum()), int((uses > 2).sum())


def _corners(mesh) -> tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray]:
    """Per corner: its face's key (the face's corner positions, sorted), position, normal and UV."""
    count = len(mesh.loops)
    positions = np.empty(3 * len(mesh.vertices), dtype=np.float32)
    mesh.vertices.foreach_get("co", positions)
    corner_verts = np.empty(count, dtype=np.int64)
    mesh.loops.foreach_get("vertex_index", corner_verts)
    normals = np.empty(3 * count, dtype=np.float32)
    mesh.corner_normals.foreach_get("vector", normals)
    uvs = np.empty(2 * count, dtype=np.float32)
    mesh.uv_layers.active.data.foreach_get("uv", uvs)
    at = positions.reshape(-1, 3)[corner_verts]
    keys = []
    for polygon in mesh.polygons:
        corners = range(polygon.loop_start, polygon.loop_start + polygon.loop_total)
        keys += [tuple(sorted(tuple(at[c]) for c in corners))] * polygon.loop_total
    return keys, at, normals.reshape(-1, 3), uvs.reshape(-1, 2)


def _files_corners(arrays: dict[str, np.ndarray], quads: int) -> dict[tuple, list[tuple[np.ndarray, np.ndarray]]]:
    """What the file gives each corner of each face Blender should make (quad k from triangles 2k and
    2k + 1, then the triangles), in Blender's axes: (face key, position) -> [(normal, UV), ...]."""
    def blender(points: np.ndarray) -> np.ndarray:
        return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)

    positions, normals = blender(arrays["POSITION"]), blender(arrays["NORMAL"])
    uvs = arrays["TEXCOORD_0"] * [1, -1] + [0, 1]  # glTF's UV origin is the top left, Blender's the bottom
    triangles = arrays["indices"]
    faces = [triangles[2 * k:2 * k + 2].ravel() for k in range(quads)] + list(triangles[2 * quads:])
    expected: dict[tuple, list] = {}
    for corners in faces:
        key = tuple(sorted({tuple(positions[c]) for c in corners}))
        for c in corners:
            expected.setdefault((key, tuple(positions[c])), []).append((normals[c], uvs[c]))
    return expected


def _worst_corner(mesh, arrays: dict[str, np.ndarray], quads: int) -> tuple[float, float]:
    """The largest angle (degrees) between a corner's normal in Blender and the file's for that
    corner, and the largest UV difference; each corner compared with the nearest of its face's
    corners at its position in the file (a quad's diagonal corners come from either triangle)."""
    expected = _files_corners(arrays, quads)
    keys, at, normals, uvs = _corners(mesh)
    worst_angle = worst_uv = 0.0
    for key, position, normal, uv in zip(keys, at, normals, uvs):
        candidates = expected[(key, tuple(position))]
        angle = min(np.degrees(np.arccos(np.clip(np.dot(normal, n) / np.linalg.norm(n), -1, 1))) for n, _ in candidates)
        worst_angle = max(worst_angle, angle)
        worst_uv = max(worst_uv, min(float(np.abs(uv - u).max()) for _, u in candidates))
    return worst_angle, worst_uv


@pytest.fixture(scope="module")
def finished_house(tmp_path_factory: pytest.TempPathFactory, backend_env: dict[str, str]) -> Path:
    """The example mesh finished to quads by the backend's own ``retopo`` command."""
    out = tmp_path_factory.mktemp("weld runs")
    done = subprocess.run([BACKEND_PYTHON, "-m", "img23d_backend", "retopo", str(MESH), "--topology", "quads",
                           "--faces", str(QUADS), "--bake-size", "128", "--out", str(out)],
                          env=backend_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return next(out.glob("*/house_mesh.glb"))


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_finished_mesh_arrives_closed_with_the_files_normals_and_uvs_per_corner(addon, scene, finished_house) -> None:
    arrays = read_glb(finished_house)
    assert _file_topology(arrays) == (1, 0, 0)  # the example mesh is one closed part, and its quads too
    assert len(np.unique(arrays["POSITION"], axis=0)) < len(arrays["POSITION"])  # the file split vertices
    notes: list[str] = []
    obj = _import(finished_house, "house", notes)
    mesh = obj.data
    quads = sum(len(p.vertices) == 4 for p in mesh.polygons)
    assert notes == [] and quads == len(mesh.polygons) and abs(quads - QUADS) <= 0.15 * QUADS
    assert blender_topology(mesh) == (1, 0, 0, 0)  # main's import: 8 islands, 294 open edges, 57 loose
    assert len(mesh.vertices) == len(np.unique(arrays["POSITION"], axis=0))
    angle, uv = _worst_corner(mesh, arrays, quads)
    assert angle < 0.1 and uv < 1e-6, (angle, uv)


def _cube(at: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A unit cube as a glTF writer leaves a box with hard edges: each side its own four vertices
    with the side's normal, quad k as triangles 2k, 2k + 1. Positions, triangles, UVs, normals."""
    positions, triangles, normals = [], [], []
    for axis in range(3):
        for side in (0.0, 1.0):
            u, v = [(axis + 1) % 3, (axis + 2) % 3][:: 1 if side else -1]
            corners = []
            for du, dv in ((0, 0), (1, 0), (1, 1), (0, 1)):
                point = np.zeros(3)
                point[axis], point[u], point[v] = side, du, dv
                corners.append(point + at)
            base = len(positions)
            positions += corners
            normal = np.zeros(3)
            normal[axis] = 1.0 if side else -1.0
            normals += [normal] * 4
            triangles += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    positions = np.array(positions)
    uvs = np.tile([[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]], (6, 1)) + np.repeat(np.arange(6) * 0.08, 4)[:, None]
    return positions, np.array(triangles), uvs, np.array(normals)


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_hard_edged_box_arrives_as_one_closed_box_whose_edges_stay_hard(addon, scene, tmp_path) -> None:
    positions, triangles, uvs, normals = _cube((0.0, 0.0, 0.0))
    path = write_glb(tmp_path / "box.glb", positions, triangles, uvs, 6, normals)
    obj = _import(path, "box")
    mesh = obj.data
    assert len(mesh.vertices) == 8 and sorted(len(p.vertices) for p in mesh.polygons) == [4] * 6
    assert blender_topology(mesh) == (1, 0, 0, 0)  # main's import: 6 islands, 24 open edges
    angle, uv = _worst_corner(mesh, read_glb(path), 6)
    assert angle < 0.1 and uv < 1e-6, (angle, uv)  # every side flat: the corners kept their own normals


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_parts_that_touch_at_a_point_stay_apart(addon, scene, tmp_path) -> None:
    # Two boxes corner to corner: (1, 1, 1) is in both, but no edge is: welding it would make a
    # vertex that is not manifold, where the file has two that are.
    first, second = _cube((0.0, 0.0, 0.0)), _cube((1.0, 1.0, 1.0))
    positions = np.concatenate([first[0], second[0]])
    triangles = np.concatenate([first[1], second[1] + len(first[0])])
    path = write_glb(tmp_path / "two boxes.glb", positions, triangles, np.concatenate([first[2], second[2]]), 12,
                     np.concatenate([first[3], second[3]]))
    mesh = _import(path, "boxes").data
    assert len(mesh.vertices) == 16 and len(mesh.polygons) == 12
    assert blender_topology(mesh) == (2, 0, 0, 0)
    touching = [v for v in mesh.vertices if tuple(v.co) == (1.0, -1.0, 1.0)]  # glTF's (1, 1, 1) in Blender's axes
    assert len(touching) == 2


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_two_quads_sharing_two_edges_arrive_as_two_joined_quads(addon, scene, tmp_path) -> None:
    # A doublet, as a quad remesher can leave one: quads (0, 1, 2, 3) and (2, 1, 0, 4) share the
    # edges 0-1 and 1-2, and both are cut along 0-2, so as triangles four faces meet on one diagonal
    # (a weld of the triangles would crowd it). Every triangle has its own copies, as where hard edges
    # run everywhere. The file's quads have no such edge: two quads, five vertices, one piece.
    corners = np.array([[0.0, 0, 0], [1, 0, 0.2], [1, 1, 0], [0, 1, 0.5], [0.5, -1, 0.4]])
    triangles = [(0, 1, 2), (0, 2, 3), (2, 1, 0), (2, 0, 4)]
    positions = corners[np.ravel(triangles)]
    normals = np.repeat([np.cross(corners[b] - corners[a], corners[c] - corners[a]) for a, b, c in triangles], 3, 0)
    path = write_glb(tmp_path / "doublet.glb", positions, np.arange(12).reshape(4, 3), positions[:, :2] / 2, 2,
                     normals / np.linalg.norm(normals, axis=1, keepdims=True))
    notes: list[str] = []
    mesh = _import(path, "doublet", notes).data
    assert notes == [] and [len(p.vertices) for p in mesh.polygons] == [4, 4]
    assert len(mesh.vertices) == 5 and blender_topology(mesh) == (1, 4, 0, 0)
    angle, uv = _worst_corner(mesh, read_glb(path), 2)
    assert angle < 0.1 and uv < 1e-6, (angle, uv)


def test_a_sliver_whose_corners_share_a_position_keeps_its_three_vertices(addon, scene, tmp_path) -> None:
    # Triangle 0 has two corners at one position (vertices 1 and 2): its two edges from vertex 0 are
    # open and lie on the same positions, which would weld 1 and 2 into a face with one vertex twice.
    # Triangles 1 and 2 are a quad cut along its diagonal, welded as usual.
    positions = np.array([[0.0, 0, 0], [1, 0, 0], [1, 0, 0],
                          [2, 0, 0], [3, 0, 0], [3, 1, 0], [2, 0, 0], [3, 1, 0], [2, 1, 0]])
    triangles = np.array([(0, 1, 2), (3, 4, 5), (6, 7, 8)])
    path = write_glb(tmp_path / "sliver.glb", positions, triangles, positions[:, :2] / 4, None)
    mesh = _import(path, "sliver").data
    assert [len(set(p.vertices)) for p in mesh.polygons] == [3, 3, 3]
    assert len(mesh.vertices) == 7 and blender_topology(mesh) == (2, 7, 0, 0)
