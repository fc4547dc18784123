"""Each step of the clean-up on meshes built for it: shared vertices, bad faces, small pieces at the
ratio, holes (closed outward, left open over the size asked or where the boundary is not manifold),
smoothing that keeps size on an open mesh too. ``test_finish.py`` runs the same on the real mesh.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh

from img23d_backend.mesh import cleanup, decimator, holes, repair

KEEP_ALL = cleanup.Finish(face_budget=0, min_piece=0)


def sphere(subdivisions: int = 2) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=subdivisions)


def without_faces_around(mesh: trimesh.Trimesh, vertex: int) -> np.ndarray:
    """The faces of ``mesh`` minus those that use ``vertex``: a hole with the vertex's ring as its rim."""
    return np.asarray(mesh.faces)[~(mesh.faces == vertex).any(axis=1)]


def test_duplicate_vertices_are_merged_and_repeated_or_degenerate_faces_dropped() -> None:
    body = sphere()
    # Every face on its own three vertices (as a triangle soup), some faces twice (once reversed),
    # a face with a repeated vertex and one with three points on a line.
    soup_v = body.vertices[body.faces].reshape(-1, 3)
    soup_f = np.arange(len(soup_v)).reshape(-1, 3)
    line = len(soup_v) + np.arange(3)
    vertices = np.vstack([soup_v, [[0, 0, 0], [1, 1, 1], [2, 2, 2]]])
    faces = np.vstack([soup_f, soup_f[:5], soup_f[5:9, ::-1], [[0, 0, 1]], [line]])
    v, f, stats = cleanup.clean_mesh(vertices, faces, KEEP_ALL)
    assert (len(v), len(f)) == (len(body.vertices), len(body.faces)) == (stats.vertices_out, stats.faces_out)
    assert trimesh.Trimesh(v, f).is_watertight and stats.floaters_removed == 0


def test_minus_zero_and_zero_are_one_position() -> None:
    vertices = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-0.0, 0, 0], [0, 0, 1]])
    merged_v, merged_f = repair.merge_duplicate_vertices(vertices, np.array([[0, 1, 2], [3, 2, 4]]))
    assert len(merged_v) == 4 and merged_f.tolist() == [[0, 1, 2], [0, 2, 3]]


@pytest.mark.parametrize("ratio, removed", [(0.015, False), (0.017, True)])
def test_a_piece_is_removed_below_the_ratio_of_the_largest_and_kept_at_it(ratio: float, removed: bool) -> None:
    body = sphere(3)  # 1280 faces; the small piece's 20 are 1.5625 % of them
    piece = trimesh.creation.icosphere(subdivisions=0, radius=0.1)
    piece.apply_translation([3, 0, 0])
    vertices = np.vstack([body.vertices, piece.vertices])
    faces = np.vstack([body.faces, piece.faces + len(body.vertices)])
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, min_piece=ratio))
    assert stats.floaters_removed == (20 if removed else 0) and len(f) == 1280 + (0 if removed else 20)
    assert len(v) == len(body.vertices) + (0 if removed else len(piece.vertices))  # its vertices go too


def test_pieces_are_joined_by_edges_not_by_a_single_vertex() -> None:
    # A small tetrahedron touching the sphere at one vertex is a piece of its own (as pymeshlab's
    # components were); the shared vertex stays, the body needs it.
    body = sphere(3)
    tip = body.vertices[0]
    tet_v = np.array([tip + [0.02, 0, 0], tip + [0, 0.02, 0], tip + [0, 0, 0.02]])
    tet_f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    lookup = np.array([0, len(body.vertices), len(body.vertices) + 1, len(body.vertices) + 2])
    vertices = np.vstack([body.vertices, tet_v])
    faces = np.vstack([body.faces, lookup[tet_f]])
    assert len(np.unique(repair.piece_labels(faces, len(vertices)))) == 2
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0))
    assert stats.floaters_removed == 4 and len(v) == len(body.vertices) and len(f) == len(body.faces)


def outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per face: its normal points away from the origin (the sphere's centre)."""
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return np.einsum("ij,ij->i", normals, corners.mean(axis=1)) > 0


def test_holes_are_closed_with_faces_wound_like_their_neighbours() -> None:
    body = sphere(3)
    faces = without_faces_around(body, 0)
    faces = faces[~(faces == 200).any(axis=1)]  # a second hole elsewhere
    rings = [len(np.unique(body.faces[(body.faces == x).any(axis=1)])) - 1 for x in (0, 200)]  # 5 and 6 edges
    v, f, stats = cleanup.clean_mesh(body.vertices, faces, cleanup.Finish(face_budget=0, fill_holes=6))
    closed = trimesh.Trimesh(v, f)
    added = f[len(faces):]
    assert stats.holes_filled == len(added) == sum(k - 2 for k in rings) and not stats.holes_left_open
    assert closed.is_watertight and closed.is_winding_consistent and closed.volume > 0
    assert outward(v, added).all() and outward(v, f).all()


def test_a_lone_triangle_is_not_closed_by_its_own_back_face() -> None:
    v, f, stats = cleanup.clean_mesh(np.eye(3), np.array([[0, 1, 2]]), cleanup.Finish(face_budget=0, fill_holes=10))
    assert len(f) == 1 and stats.holes_filled == 0


def _bowl(depth: float) -> tuple[np.ndarray, np.ndarray]:
    """A round sheet 2 wide, bulging ``depth`` at its centre (0: a flat disc), open along its 32-edge rim."""
    rings, around = 6, 32
    angles = np.linspace(0, 2 * np.pi, around, endpoint=False)
    radii = np.linspace(0, 1, rings + 1)[1:]
    points = [[0.0, 0.0, -depth]] + [[r * np.cos(t), r * np.sin(t), -depth * (1 - r * r)] for r in radii
                                     for t in angles]
    faces = [[0, 1 + (i + 1) % around, 1 + i] for i in range(around)]
    for ring in range(rings - 1):
        inner, outer = 1 + ring * around, 1 + (ring + 1) * around
        for i in range(around):
            j = (i + 1) % around
            faces += [[inner + i, inner + j, outer + j], [inner + i, outer + j, outer + i]]
    return np.asarray(points), np.asarray(faces)


@pytest.mark.parametrize("depth, closed", [(0.0, False), (0.02, False), (0.8, True)])
def test_a_sheets_outline_is_not_a_hole_but_a_deep_bowls_rim_is(depth: float, closed: bool) -> None:
    """A quad or a disc was "closed" with its own faces reversed, coincident with them (they flicker): the one
    boundary of a piece that would enclose nearly nothing is a sheet's outline. A bowl's rim is still a hole."""
    vertices, faces = _bowl(depth)
    v, f, stats = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, fill_holes=100))
    assert (stats.holes_filled > 0) == closed and trimesh.Trimesh(v, f).is_watertight == closed
    square, _, stats = cleanup.clean_mesh(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]]),
                                          np.array([[0, 1, 2], [0, 2, 3]]),
                                          cleanup.Finish(face_budget=0, fill_holes=10))
    assert stats.holes_filled == 0


def test_a_hole_in_a_thin_closed_board_is_closed() -> None:
    """A tabletop 1.5 % as thick as it is wide, one triangle missing, encloses little once closed: it was taken
    for a sheet's outline and left open. Its hole is small beside the board."""
    board = trimesh.creation.box(extents=(1.0, 0.6, 0.015))
    v, f, stats = cleanup.clean_mesh(board.vertices, board.faces[1:], cleanup.Finish(face_budget=0, fill_holes=10))
    assert stats.holes_filled == 1 and trimesh.Trimesh(v, f).is_watertight


@pytest.mark.parametrize("fill_holes, filled", [(5, False), (6, True)])
def test_a_hole_is_closed_only_when_it_has_at_most_the_edges_asked(fill_holes: int, filled: bool) -> None:
    # "Fill holes: up to N edges" includes N (pymeshlab's filter closed only holes under N).
    body = sphere(3)
    faces = without_faces_around(body, 0)  # vertex 0 of an icosphere has 5 or 6 neighbours
    ring = len(np.unique(body.faces[(body.faces == 0).any(axis=1)])) - 1
    fill_holes += ring - 6
    v, f, stats = cleanup.clean_mesh(body.vertices, faces, cleanup.Finish(face_budget=0, fill_holes=fill_holes))
    assert trimesh.Trimesh(v, f).is_watertight == filled
    assert stats.holes_filled == (ring - 2 if filled else 0) and not stats.holes_left_open


def test_a_larger_hole_is_closed_without_crossing_faces() -> None:
    # A hole of a few dozen edges on a curved surface: ear clipping follows the curve.
    body = sphere(4)
    near = np.linalg.norm(body.vertices[body.faces].mean(axis=1) - body.vertices[0], axis=1) < 0.25
    faces = np.asarray(body.faces)[~near]
    loops, broken = holes.boundary_loops(faces, len(body.vertices))
    assert len(loops) == 1 and len(loops[0]) > 20 and not broken
    v, f, stats = cleanup.clean_mesh(body.vertices, faces, cleanup.Finish(face_budget=0, fill_holes=1000))
    closed = trimesh.Trimesh(v, f)
    assert closed.is_watertight and closed.is_winding_consistent and stats.holes_filled == len(loops[0]) - 2
    assert outward(v, f[len(faces):]).all()
    assert closed.volume == pytest.approx(body.volume, rel=0.01)  # a cap, not a fold


def test_holes_meeting_at_a_vertex_are_left_open_and_said_so_while_others_close() -> None:
    # Two holes sharing one rim vertex (a bow tie): the loops through it cannot be followed round.
    # A third hole, elsewhere, is still closed.
    body = sphere(3)
    faces = np.asarray(body.faces)
    ring = set(np.unique(faces[(faces == 0).any(axis=1)]).tolist()) - {0}
    rim = min(ring)
    # A face on that rim vertex whose other two vertices are off the ring: its hole touches the
    # first one at ``rim`` only.
    lone = next(i for i, face in enumerate(faces.tolist())
                if rim in face and not ({*face} - {rim}) & (ring | {0}))
    far = int(np.argmin(body.vertices @ body.vertices[0]))  # the opposite side
    gone = (faces == 0).any(axis=1) | (faces == far).any(axis=1)
    gone[lone] = True
    loops, broken = holes.boundary_loops(faces[~gone], len(body.vertices))
    assert broken and len(loops) == 1 and far not in loops[0]
    v, f, stats = cleanup.clean_mesh(body.vertices, faces[~gone], cleanup.Finish(face_budget=0, fill_holes=100))
    assert stats.holes_left_open and stats.holes_filled == len(loops[0]) - 2
    assert len(f) == (~gone).sum() + stats.holes_filled


def noisy_grid(size: int = 30, noise: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A flat square of (size - 1)^2 x 2 faces in z = 0 with its points jittered up and down."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size))
    z = np.random.default_rng(5).uniform(-noise, noise, size=xs.shape)
    vertices = np.column_stack([xs.ravel(), ys.ravel(), z.ravel()])
    index = np.arange(size * size).reshape(size, size)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel()
    return vertices, np.vstack([np.column_stack([a, b, d]), np.column_stack([a, d, c])])


def test_smoothing_an_open_mesh_flattens_it_and_keeps_its_rim_in_place() -> None:
    # A rim vertex averages only along the rim: the square keeps its outline rather than
    # shrinking inwards from its edges.
    vertices, faces = noisy_grid()
    v, f, _ = cleanup.clean_mesh(vertices, faces, cleanup.Finish(face_budget=0, smoothing=10))
    assert len(f) == len(faces)
    rms = lambda z: float(np.sqrt(np.mean(z ** 2)))  # noqa: E731
    assert rms(v[:, 2]) < rms(vertices[:, 2]) / 2  # pymeshlab: 0.0117 -> 0.0047
    extent = v[:, :2].max(axis=0) - v[:, :2].min(axis=0)
    assert extent == pytest.approx([2.0, 2.0], abs=0.02)


def test_a_large_mesh_is_decimated_in_a_worker_process_to_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """fast-simplification holds the GIL: decimating on the tail thread stalled the job's thread, which drives
    the GPU. A large mesh goes to a worker process, with the same faces out as decimating here."""
    body = sphere(5)  # 20,480 faces, counted as large here
    monkeypatch.setattr(decimator, "WORKER_FACES", 10_000)
    finish = cleanup.Finish(face_budget=2_000)
    try:
        v, f, stats = cleanup.clean_mesh(body.vertices, body.faces, finish)
        worker = decimator.worker_pid()
    finally:
        decimator.WORKER.drop()
    assert worker is not None and worker != os.getpid()
    here_v, here_f = cleanup.decimate(np.asarray(body.vertices, np.float32), np.asarray(body.faces), 2_000)
    assert np.array_equal(v, here_v) and np.array_equal(f, here_f) and stats.faces_out <= 2_000


def test_without_a_worker_the_decimation_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    body = sphere(5)
    monkeypatch.setattr(decimator, "WORKER_FACES", 10_000)

    def no_worker() -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(decimator.WORKER, "pool", no_worker)
    v, f, stats = cleanup.clean_mesh(body.vertices, body.faces, cleanup.Finish(face_budget=2_000))
    assert 0 < stats.faces_out <= 2_000 and trimesh.Trimesh(v, f).is_watertight
