"""The geometric binding on a real generated mesh: Hunyuan3D-2's own example output (``../shared/data``,
``hunyuan3d_shape_output.glb``: a chibi girl, one watertight surface of 40,000 triangles, as the shape model
makes them), bound to an armature placed by hand as an artist would for Skin to Selected Armature. Known
answers by region: the head (everything above the neck, pigtails included) is the head bone's, and each leg
below the skirt is its own leg's, left apart from right. The file is real reference data, on the team's
machines only: without it the test says so and skips."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from testdata import REAL_MESH  # the real Hunyuan3D-2 output: ../shared/data only

from img23d_backend.gltf.frame import from_gltf
from img23d_backend.rigging.geometric import rig
from img23d_backend.rigging.rigger import RigMesh, RigOptions
from img23d_backend.rigging.skeleton import Skeleton

# (name, head, tail, parent) in img23d's frame (Z up, the character's left on +X), read off the mesh's slices:
# legs below z = -0.3, the skirt and torso to z = 0, the head above (1.08 tall in all), the body at y = -0.1.
_BONES = [("hips", (0, -.1, -.3), (0, -.1, -.22), None), ("spine", (0, -.1, -.22), (0, -.1, -.05), "hips"),
          ("neck", (0, -.1, -.05), (0, -.05, .03), "spine"), ("head", (0, -.05, .03), (0, 0, .5), "neck")]
for _side, _x in (("L", 1), ("R", -1)):
    _BONES += [(f"thigh_{_side}", (_x * .08, -.1, -.3), (_x * .08, -.1, -.42), "hips"),
               (f"shin_{_side}", (_x * .08, -.1, -.42), (_x * .08, -.1, -.54), f"thigh_{_side}"),
               (f"upper_arm_{_side}", (_x * .12, -.1, -.08), (_x * .2, -.1, -.17), "spine"),
               (f"forearm_{_side}", (_x * .2, -.1, -.17), (_x * .26, -.1, -.25), f"upper_arm_{_side}")]


def _armature() -> Skeleton:
    names = [bone[0] for bone in _BONES]
    return Skeleton(tuple(names), np.array([bone[1] for bone in _BONES], dtype=float),
                    np.array([bone[2] for bone in _BONES], dtype=float),
                    tuple(-1 if bone[3] is None else names.index(bone[3]) for bone in _BONES))


@pytest.mark.needs_shared_data(REAL_MESH.name)
def test_a_real_generated_character_is_bound_head_to_head_and_leg_to_leg() -> None:
    mesh = trimesh.load(REAL_MESH, force="mesh")
    positions, triangles = from_gltf(np.asarray(mesh.vertices)), np.asarray(mesh.faces)
    armature = _armature()
    bound = rig(RigMesh(positions, triangles), armature, RigOptions())
    strongest = np.array(armature.names)[bound.skin.strongest]
    x, z = positions[:, 0], positions[:, 2]
    head = z > 0.06
    assert head.sum() > 8000 and (strongest[head] == "head").mean() >= 0.99
    for side, on_side in (("L", x > 0.02), ("R", x < -0.02)):
        leg = (z < -0.36) & on_side
        assert leg.sum() > 1000 and np.isin(strongest[leg], [f"thigh_{side}", f"shin_{side}"]).all(), side
