"""The print's solid geometry on small meshes, without files: repairs, self-intersections, hollowing, walls, the
plate (``img23d_backend.printing``: repair, intersections, hollow, thickness, plate, counts)."""

from __future__ import annotations

from pathlib import Path

import manifold3d
import numpy as np
import pytest
import trimesh

from img23d_backend.printing.counts import check_triangle_count
from img23d_backend.printing.hollow import hollow
from img23d_backend.printing.intersections import crossing_pairs
from img23d_backend.printing.plate import CLEARANCE_MM, arrange
from img23d_backend.printing.repair import arrays_of, repair, wound_alike
from img23d_backend.printing.thickness import thinnest_wall
from img23d_protocol import MAX_PRINT_TRIANGLES, ProtocolError


def _sphere() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3, radius=1.0)


def _solid_volume(result) -> float:
    assert result.refused is None and result.solid is not None
    assert result.solid.status() == manifold3d.Error.NoError
    return float(result.solid.volume())


def test_a_sphere_with_a_hole_is_closed() -> None:
    sphere = _sphere()
    kept = sphere.faces[np.linalg.norm(sphere.triangles_center - [0.3, 0.3, 0.9], axis=1) > 0.35]
    result = repair("ball", sphere.vertices, kept)
    assert _solid_volume(result) == pytest.approx(sphere.volume, rel=0.01)
    assert result.repairs == ["closed 1 hole"]


def test_a_flipped_patch_is_turned_back_outward() -> None:
    sphere = _sphere()
    faces = sphere.faces.copy()
    patch = sphere.triangles_center[:, 0] > 0.6
    faces[patch] = faces[patch][:, ::-1]
    result = repair("ball", sphere.vertices, faces)
    assert _solid_volume(result) == pytest.approx(sphere.volume, rel=1e-6)
    assert result.repairs == [f"turned {int(patch.sum()):,} faces that faced inward"]


def test_a_fused_pair_becomes_one_body_without_crossing_surfaces() -> None:
    first, second = _sphere(), _sphere()
    second.apply_translation((0.73, 0.01, 0.02))  # off the icosphere's symmetry: real crossings, not touches
    fused = trimesh.util.concatenate([first, second])
    assert len(crossing_pairs(fused.vertices, fused.faces)) > 50  # the input passes through itself
    result = repair("pair", fused.vertices, fused.faces)
    union = manifold3d.Manifold.sphere(1.0, 64) + manifold3d.Manifold.sphere(1.0, 64).translate((0.73, 0.01, 0.02))
    assert _solid_volume(result) == pytest.approx(union.volume(), rel=0.03)
    assert len(crossing_pairs(*arrays_of(result.solid))) == 0


def test_an_open_sheet_is_one_sentence_naming_it() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    result = repair("sign", vertices, np.array([[0, 1, 2], [0, 2, 3]]))
    assert result.solid is None
    assert result.refused.startswith("sign is an open sheet with no inside")
    ring = trimesh.creation.annulus(r_min=0.2, r_max=0.5, height=0.1)  # its top alone: a sheet with a hole in it
    top = ring.faces[ring.face_normals[:, 2] > 0.9]
    assert repair("washer", ring.vertices, top).refused.startswith("washer is an open sheet with no inside")


def test_a_piece_of_one_face_is_wound_as_it_is() -> None:
    """The root of issue 97's "truth value of an array ... is ambiguous": the winding read each face's step from its
    parent as ``graph[parents, faces]``, which SciPy answers with a sparse matrix, not an array, when no face has
    a parent (a piece of one face)."""
    assert wound_alike(np.array([[0, 1, 2]]), 3).tolist() == [[0, 1, 2]]
    # Two faces running the same way along their shared edge 1-2: the second is turned.
    assert wound_alike(np.array([[0, 1, 2], [1, 2, 3]]), 4).tolist() == [[0, 1, 2], [3, 2, 1]]


def _fan(count: int, apex: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``count`` triangles around ``apex``, each sharing an edge with the next: one piece."""
    angles = np.linspace(0.0, 0.5 * np.pi, count + 1)
    rim = np.stack([0.3 * np.cos(angles), 0.3 * np.sin(angles), 0.1 * np.ones_like(angles)], axis=1)
    vertices = np.vstack([[0.0, 0.0, 0.0], rim]) + apex
    return vertices, np.array([[0, i + 1, i + 2] for i in range(count)])


@pytest.mark.parametrize("faces", [1, 2, 3])
def test_loose_bits_of_fewer_than_four_faces_are_left_out_and_the_body_kept(faces: int) -> None:
    sphere = _sphere()
    stray, fan = _fan(faces, (3.0, 0.0, 0.0))
    single, one = _fan(1, (0.0, 3.0, 0.0))
    vertices = np.vstack([sphere.vertices, stray, single])
    joined = np.vstack([sphere.faces, fan + len(sphere.vertices), one + len(sphere.vertices) + len(stray)])
    result = repair("ball", vertices, joined)
    assert _solid_volume(result) == pytest.approx(sphere.volume, rel=1e-6) and result.bodies == 1
    assert result.repairs == ["left out 2 loose bits of fewer than four faces"]


def test_an_object_of_one_triangle_is_an_open_sheet() -> None:
    vertices, faces = _fan(1, (0.0, 0.0, 0.0))
    result = repair("chip", vertices, faces)
    assert result.solid is None and result.refused.startswith("chip is an open sheet with no inside")


def test_edges_of_three_faces_are_rebuilt_as_the_solid_they_bound() -> None:
    first = trimesh.creation.box((1, 1, 1))
    second = first.copy()
    second.apply_translation((1, 1, 0))  # the two cubes share one edge: four faces on it
    joined = trimesh.util.concatenate([first, second])
    joined.merge_vertices()
    result = repair("blocks", joined.vertices, joined.faces)
    assert _solid_volume(result) == pytest.approx(2.0, rel=0.06)
    assert result.rebuilt_cell is not None and "rebuilt" in result.repairs[-1]


def test_a_hollowed_cube_keeps_the_shells_volume_and_its_wall() -> None:
    cube = manifold3d.Manifold.cube((20.0, 20.0, 20.0))
    made = hollow("cube", cube, wall_mm=2.0, holes=0, drain_mm=3.0)
    assert made.hollow and float(made.solid.volume()) == pytest.approx(20 ** 3 - 16 ** 3, rel=0.01)
    walls = thinnest_wall(*arrays_of(made.solid), bound_mm=0.8)
    assert walls.thinnest_mm == pytest.approx(2.0, abs=0.05) and walls.thin_share == 0.0


def test_drain_holes_open_the_hollow() -> None:
    cube = manifold3d.Manifold.cube((20.0, 20.0, 20.0))
    sealed = hollow("cube", cube, wall_mm=2.0, holes=0, drain_mm=3.0)
    made = hollow("cube", cube, wall_mm=2.0, holes=2, drain_mm=3.0)
    assert not sealed.drained and len(sealed.solid.decompose()) == 2  # the hollow is a pocket of its own
    assert made.drained and len(made.holes) == 2 and len(made.solid.decompose()) == 1
    # Each hole took a 3 mm cylinder out of the 2 mm floor under the hollow (its 24 sides: within 2 %).
    assert float(sealed.solid.volume() - made.solid.volume()) == pytest.approx(2 * np.pi * 1.5 ** 2 * 2.0, rel=0.05)


def test_a_thin_fin_is_found() -> None:
    body = manifold3d.Manifold.cube((20.0, 20.0, 20.0))
    fin = manifold3d.Manifold.cube((10.0, 0.3, 8.0)).translate((19.0, 10.0, 6.0))  # 0.3 mm thick, reaching out
    walls = thinnest_wall(*arrays_of(body + fin), bound_mm=0.8)
    assert walls.thinnest_mm == pytest.approx(0.3, abs=0.01) and walls.thin_share > 0.001


def test_overlapping_footprints_are_spread_apart_on_the_plate() -> None:
    plate = arrange({"house": (-40.0, -40.0, 40.0, 40.0), "chimney": (10.0, 10.0, 18.0, 18.0)})
    assert plate.spread
    moved = {name: (box[0] + plate.moves[name][0], box[2] + plate.moves[name][0]) for name, box in
             {"house": (-40.0, -40.0, 40.0, 40.0), "chimney": (10.0, 10.0, 18.0, 18.0)}.items()}
    assert moved["house"][1] + CLEARANCE_MM <= moved["chimney"][0]
    apart = arrange({"a": (0.0, 0.0, 10.0, 10.0), "b": (30.0, 0.0, 40.0, 10.0)})
    assert not apart.spread and apart.moves["a"] == apart.moves["b"]  # the layout's places kept, centred


def test_a_mesh_over_the_print_bound_is_refused_from_its_header(tmp_path: Path) -> None:
    """A PLY that declares 5 million faces: refused from its header (its body is never read: it has none)."""
    path = tmp_path / "huge.ply"
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                     b"property float z\nelement face 5000000\nproperty list uchar int vertex_indices\nend_header\n")
    with pytest.raises(ProtocolError) as refused:
        check_triangle_count(path)
    assert f"has 5,000,000 triangles; a print takes at most {MAX_PRINT_TRIANGLES:,}" in refused.value.message
    obj = tmp_path / "small.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n  f 1 3 2\n")
    assert check_triangle_count(obj) == 2


@pytest.mark.parametrize(("through", "crossing"), [(0.1, 1), (1e-8, 0)])
def test_a_crossing_within_a_files_rounding_is_a_touch(through: float, crossing: int) -> None:
    """An edge that passes through a triangle crosses it; one that reaches a rounding's width through is a touch
    (the 640,000-triangle bench mesh's 3MF had such a pair, at its cut base, and failed its check)."""
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0],  # a triangle in the plane z = 0
                         [0.2, 0.2, -through], [0.25, 0.2, 1], [0.2, 0.25, 1]], dtype=float)
    assert len(crossing_pairs(vertices, np.array([[0, 1, 2], [3, 4, 5]]))) == crossing
