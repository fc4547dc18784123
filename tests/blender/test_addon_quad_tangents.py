"""A finished object's normal map decodes in the frame it was baked in once Blender has its quads back.

The backend finishes a bumpy sphere as quads (tests/blender/quad_tangents_backend.py, run by the
backend's Python) and writes the frame its bake used, per corner. The add-on imports the GLB by its
real path (``scene_import.import_glb``, quads restored), and Blender's own MikkTSpace
(``Mesh.calc_tangents``) on those quads must rebuild that frame: a quad split by MikkTSpace along
another diagonal than the file's triangles, or a quad whose triangles lie in two UV charts, turns or
flips it (docs/game-ready.md, "Normal map, in MikkTSpace")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, BACKEND_PYTHON, REPO  # noqa: E402

MADE_WITHIN = 300  # seconds for the backend's finish (seconds on a quiet machine; the CI shares two cores)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quad tangents")
    try:
        subprocess.run([BACKEND_PYTHON, str(Path(__file__).with_name("quad_tangents_backend.py")), str(folder)],
                       cwd=REPO, check=True, timeout=MADE_WITHIN, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the backend did not finish the test's mesh within {MADE_WITHIN} s")
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"the backend failed to finish the test's mesh:\n{exc.stderr[-3000:]}")
    return folder


def _key(position: np.ndarray, uv: np.ndarray) -> bytes:
    """A corner by its values as Blender holds them: float32 positions, and UVs whose v the GLB
    stores as 1 - v and the importer turns back in float32 (so the match is exact)."""
    return np.asarray(position, np.float32).tobytes() + np.asarray(uv, np.float32).tobytes()


def _as_imported(uvs: np.ndarray) -> np.ndarray:
    return np.stack([uvs[:, 0].astype(np.float32), np.float32(1.0) - (1.0 - uvs[:, 1]).astype(np.float32)], axis=1)


def _degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh): MikkTSpace's quads there too
def test_blenders_tangents_on_the_restored_quads_are_the_baked_frame(addon, scene, finished: Path) -> None:
    frame = np.load(finished / "frame.npz")
    reference: dict[bytes, list[int]] = {}
    positions, uvs = frame["positions"].reshape(-1, 3), _as_imported(frame["uvs"].reshape(-1, 2))
    for corner, key in enumerate(map(_key, positions, uvs)):
        reference.setdefault(key, []).append(corner)
    baked_tangents, baked_normals = frame["tangents"].reshape(-1, 3), frame["normals"].reshape(-1, 3)
    baked_signs = frame["signs"].reshape(-1)

    notes: list[str] = []
    obj = sys.modules[f"{ADDON_MODULE}.scene_import"].import_glb(finished / "finished.glb", "bumpy", notes)
    mesh = obj.data
    assert notes == [] and sum(len(p.vertices) == 4 for p in mesh.polygons) == int(frame["quads"]) > 200
    mesh.calc_tangents()
    loops = len(mesh.loops)
    vertex, tangent, sign = np.zeros(loops, np.int32), np.zeros(loops * 3, np.float32), np.zeros(loops, np.float32)
    uv, normal = np.zeros(loops * 2, np.float32), np.zeros(loops * 3, np.float32)
    mesh.loops.foreach_get("vertex_index", vertex)
    mesh.loops.foreach_get("tangent", tangent)
    mesh.loops.foreach_get("bitangent_sign", sign)
    mesh.uv_layers.active.data.foreach_get("uv", uv)
    mesh.corner_normals.foreach_get("vector", normal)
    co = np.zeros(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    co, tangent, uv, normal = co.reshape(-1, 3), tangent.reshape(-1, 3), uv.reshape(-1, 2), normal.reshape(-1, 3)

    turned, flipped, normal_off = np.zeros(loops), np.zeros(loops, bool), np.zeros(loops)
    for loop in range(loops):
        candidates = reference.get(_key(co[vertex[loop]], uv[loop]))
        assert candidates, f"corner {loop} of Blender's mesh is at no corner of the finished file"
        angles = _degrees(tangent[loop], baked_tangents[candidates])
        best = candidates[int(np.argmin(angles))]
        turned[loop] = angles.min()
        flipped[loop] = sign[loop] != baked_signs[best]
        normal_off[loop] = _degrees(normal[loop], baked_normals[best])
    assert (turned < 1.0).mean() >= 0.99, f"{(turned >= 1.0).sum()} of {loops} corners turned by 1 degree or more"
    assert not flipped.any(), f"{flipped.sum()} corners flipped their bitangent"
    assert (normal_off < 1.0).all()
    bpy.data.objects.remove(obj)
