"""An img23d rig opened in Blender with the glTF importer's defaults has its bones along the limbs (issue 73
item 3): the importer points each bone along its joint node's own +Y, so the file's rotations are what the
artist sees. One small quadruped (``tests/backend/rig_bone_files.py``: spine bones pointing forward, legs
down, a tail back and up), written by the backend, imported once; run on Blender 4.2, 5.0 and 5.2."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import BACKEND_PYTHON, REPO  # noqa: E402
from testdata import SOURCE_PYTHONPATH  # noqa: E402

WITHIN_DEGREES = 15.0   # the bound; written as Blender's exporter writes them, they come within 1e-3


def _written_quadruped(folder: Path) -> tuple[Path, dict]:
    """The rigged quadruped made by the backend's own Python (Blender 4.2's environment has no backend)."""
    path = folder / "quadruped.glb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE_PYTHONPATH, str(REPO / "tests" / "backend")])}
    done = subprocess.run([BACKEND_PYTHON, str(REPO / "tests" / "backend" / "rig_bone_files.py"), str(path)],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    return path, json.loads(done.stdout)


@pytest.fixture
def imported(tmp_path: Path):
    """The quadruped's file imported with the importer's defaults; what it made is removed afterwards."""
    path, truth = _written_quadruped(tmp_path)
    before = set(bpy.data.objects)
    assert bpy.ops.import_scene.gltf(filepath=str(path)) == {"FINISHED"}
    made = set(bpy.data.objects) - before
    yield made, truth
    for obj in made:
        bpy.data.objects.remove(obj, do_unlink=True)


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_a_rig_opens_in_blender_with_every_bone_along_its_limb(imported) -> None:
    made, truth = imported
    [armature] = [o for o in made if o.type == "ARMATURE"]
    [body] = [o for o in made if o.type == "MESH" and o.vertex_groups]
    assert sorted(bone.name for bone in armature.data.bones) == sorted(truth["names"])
    turn = np.array(armature.matrix_world.to_3x3())
    place = np.array(armature.matrix_world)
    off = {}
    for name, head, tail in zip(truth["names"], truth["heads"], truth["tails"]):
        bone = armature.data.bones[name]
        seen = turn @ np.array(bone.tail_local - bone.head_local)
        true = np.subtract(tail, head)
        cosine = seen @ true / (np.linalg.norm(seen) * np.linalg.norm(true))
        off[bone.name] = math.degrees(math.acos(min(1.0, max(-1.0, cosine))))
        world_head = place[:3, :3] @ np.array(bone.head_local) + place[:3, 3]
        assert np.allclose(world_head, head, atol=1e-4), (bone.name, world_head, head)
    assert max(off.values()) < WITHIN_DEGREES, off
    # The bind pose is the rest pose: the armature leaves every vertex where the mesh has it.
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    deformed = np.array([body.matrix_world @ v.co for v in evaluated.data.vertices])
    rest = np.array(truth["positions"])
    nearest = np.sqrt(((deformed[:, None, :] - rest[None]) ** 2).sum(axis=2)).min(axis=1)
    assert len(deformed) == len(rest) and nearest.max() < 1e-4, nearest.max()
