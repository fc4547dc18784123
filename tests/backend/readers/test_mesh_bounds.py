"""Issue 58 item 3 and 4: a mesh out of reach, with no surface, or collapsed by 32-bit positions far out
is one ``bad_request`` sentence when it is read (Re-texture's and Retopo's one reader), where 50
triangles on one point and a sphere 10^9 from the origin ended in ``internal`` with a traceback, and a
sphere scaled by 10^30 hung the UV unwrap for good."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from img23d_protocol import ErrorCode, ProtocolError

from cli_inprocess import RunCli

from img23d_backend.readers.mesh_bounds import MAX_EXTENT, check_mesh_bounds

SPHERE = trimesh.creation.icosphere(subdivisions=2)


def _said(positions: np.ndarray, faces: np.ndarray, stored: type = np.float32) -> str:
    with pytest.raises(ProtocolError) as raised:
        check_mesh_bounds(np.asarray(positions, np.float64), faces, np.dtype(stored))
    assert raised.value.code is ErrorCode.BAD_REQUEST
    return raised.value.message


def test_fifty_triangles_on_one_point_have_no_surface() -> None:
    said = _said(np.zeros((150, 3)), np.arange(150).reshape(50, 3))
    assert said == ("the mesh has no surface: its 50 triangles all have zero area (its vertices lie on one point "
                    "or one line)")


def test_a_sphere_collapsed_by_32_bit_positions_far_out_says_where_and_what_to_do() -> None:
    far = np.asarray(SPHERE.vertices + 1e9, np.float32).astype(np.float64)  # as a GLB stores it: one point
    said = _said(far, SPHERE.faces)
    assert said.startswith("the mesh has no surface") and "1,000,000,000 units from the origin, where its 32-bit " \
        "positions are 64 apart" in said and "move it to the origin first" in said


@pytest.mark.parametrize("scale, shift", [(1e30, 0.0), (1.0, 2 * MAX_EXTENT), (MAX_EXTENT, 0.0)])
def test_a_mesh_out_of_reach_is_refused_before_any_stage(scale: float, shift: float) -> None:
    said = _said(SPHERE.vertices * scale + shift, SPHERE.faces, np.float64)
    assert said.startswith("the mesh reaches") and "scale it down or move it toward the origin first" in said


def test_a_small_32_bit_mesh_too_far_out_keeps_its_sentence() -> None:
    said = _said(SPHERE.vertices + 1e6, SPHERE.faces)
    assert said.startswith("the mesh lies 1,000,001 units from the origin and is only")


@pytest.mark.parametrize("positions, stored", [(SPHERE.vertices, np.float32), (SPHERE.vertices * 1e8, np.float32),
                                               (SPHERE.vertices + 1e6, np.float64)])
def test_meshes_within_reach_pass(positions: np.ndarray, stored: type) -> None:
    check_mesh_bounds(np.asarray(positions, np.float64), SPHERE.faces, np.dtype(stored))


@pytest.mark.parametrize("command", ["retopo", "retexture"])
def test_the_commands_say_the_sentence_without_a_traceback(cli: RunCli, tmp_path: Path,
                                                           command: str) -> None:
    mesh = tmp_path / "point.ply"
    trimesh.Trimesh(np.zeros((150, 3)), np.arange(150).reshape(50, 3), process=False).export(mesh)
    extra = ["--models", "tiny"] if command == "retopo" else ["--models", "tiny", "--no-materials"]
    args = [command, str(mesh), *([str(tmp_path / "unused.png")] if command == "retexture" else []), *extra,
            "--out", str(tmp_path / "runs")]
    if command == "retexture":
        from PIL import Image
        Image.new("RGB", (64, 64), (200, 100, 50)).save(tmp_path / "unused.png")
    done = cli(*args)
    assert done.returncode == 2, done.stderr
    said, kept = done.stderr.strip().splitlines()[-2:]   # the sentence, then the run folder it kept
    assert said.startswith("error: the mesh has no surface") and kept.startswith("run folder (kept): ") and \
        "Traceback" not in done.stderr, done.stderr
