"""The geometric binding and the shape-alone skeleton on fused creatures (issue 73 item 2): one
watertight surface from capsules along a known skeleton, each vertex's true bone the nearest capsule's.

The targets are the issue's: >= 85 % of vertices on their true bone, >= 95 % away from the joints, a limb
swung 60 degrees leaving >= 99 % of the rest within 1 % of the height, the shape-alone skeleton's joint
count within 20 % and its CD-J2J under 5 % of the height. The figures here are 1.2 cm surfaces with gaps
of 2 cm (the bench's are 0.6 cm with 1 cm gaps: bench/results/rig-binding-cpu.json); the bench measures
the same thresholds on finer meshes, so the tests hold them exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from fused_creatures import FusedCreature, biped, quadruped
from rig_meshes import biped as tube_biped
from img23d_backend.rigging import metrics
from img23d_backend.rigging.geometric import bind, rig, side_of
from img23d_backend.rigging.inside import surface_side
from img23d_backend.rigging.medial import mirror_plane, symmetrised
from img23d_backend.rigging.rigger import RigMesh, RigOptions
from img23d_backend.rigging.skeleton import Skeleton
from img23d_backend.rigging.thickness import bone_radii
from img23d_backend.rigging.voxels import voxelise


@pytest.fixture(scope="module")
def close_biped() -> FusedCreature:
    """Arms hanging 2 cm from the torso, legs 2 cm apart."""
    return biped("close", gap=0.02)


@pytest.fixture(scope="module")
def close_quadruped() -> FusedCreature:
    """A tail, and the front legs 2 cm apart."""
    return quadruped(gap=0.02)


def _swing_leaves_rest(creature: FusedCreature, weights: np.ndarray, limb: str) -> tuple[float, float]:
    """The share of the vertices outside ``limb`` that move no more than 1 % of the height when the limb
    turns 60 degrees forwards (about X at its head) by linear blend skinning, and the least move of the
    limb's own far bones."""
    moving = creature.subtree(limb)
    pivot = creature.skeleton.heads[creature.bone(limb)]
    turn = Rotation.from_rotvec([np.radians(60), 0, 0]).as_matrix()
    share = weights[:, moving].sum(axis=1, keepdims=True)
    posed = share * ((creature.positions - pivot) @ turn.T + pivot) + (1 - share) * creature.positions
    shift = np.linalg.norm(posed - creature.positions, axis=1)
    rest = ~np.isin(creature.truth, moving)
    far = np.isin(creature.truth, moving[1:])
    return float((shift[rest] <= 0.01 * creature.height).mean()), float(shift[far].min())


@pytest.mark.parametrize("which, limb", [("close_biped", "upper_arm_L"), ("close_quadruped", "front_upper_L")])
def test_a_fused_creature_is_bound_to_its_true_bones_and_a_swung_limb_drags_nothing(which, limb, request) -> None:
    creature: FusedCreature = request.getfixturevalue(which)
    made = rig(RigMesh(creature.positions, creature.triangles), creature.skeleton, RigOptions())
    strongest, truth, away = made.skin.strongest, creature.truth, ~creature.near_joint
    assert metrics.strongest_bone_accuracy(strongest, truth) >= 0.85
    assert metrics.strongest_bone_accuracy(strongest[away], truth[away]) >= 0.95
    # The torso as an artist splits it: the pelvis is the hips' (it went to the thighs: 19-33 %).
    for region in ("hips", "spine", "chest"):
        own = truth == creature.bone(region)
        assert metrics.strongest_bone_accuracy(strongest[own], truth[own]) >= 0.8, region
    still, limb_moves = _swing_leaves_rest(creature, made.skin.dense(creature.skeleton.count), limb)
    assert still >= 0.99          # the other leg 2 cm away, the torso beside the arm: they stay
    assert limb_moves > 0.1


def _joints(skeleton: Skeleton) -> np.ndarray:
    leaves = [j for j in range(skeleton.count) if not skeleton.children(j)]
    return np.concatenate([skeleton.heads, skeleton.tails[leaves]])


@pytest.mark.parametrize("which", ["close_biped", "close_quadruped"])
def test_the_shape_alone_keeps_limbs_that_nearly_touch_and_is_mirror_symmetric(which, request) -> None:
    creature: FusedCreature = request.getfixturevalue(which)
    made = rig(RigMesh(creature.positions, creature.triangles), None, RigOptions())
    found, true = _joints(made.skeleton), _joints(creature.skeleton)
    assert abs(len(found) - len(true)) <= 0.2 * len(true)          # 5 joints for 17 when limbs merged
    assert metrics.joint_chamfer(found, true) < 0.05 * creature.height
    assert metrics.joint_chamfer(found, found * [-1, 1, 1]) < 0.005 * creature.height
    names = made.skeleton.names
    if which == "close_biped":
        assert made.humanoid and {"LeftUpLeg", "RightUpLeg", "LeftArm", "RightArm"} <= set(names)
    else:   # four legs; the rear half of the body carries the back legs: spine, not tail
        assert len({name.rsplit("_", 1)[0] for name in names if name.startswith("leg_")}) == 4
        assert any(name.startswith("tail") for name in names)
        for bone, name in enumerate(names):
            parent = made.skeleton.parents[bone]
            if name.startswith("leg_") and parent >= 0 and not names[parent].startswith("leg_"):
                assert not names[parent].startswith("tail"), (name, names[parent])


def test_a_skeleton_is_made_symmetric_across_the_shapes_own_plane() -> None:
    # A shape symmetric about X = 0.3 (not the origin): the plane is found, a lopsided pair is averaged.
    box = trimesh.creation.box((0.4, 0.2, 0.2))
    box.apply_translation([0.3, 0, 0])
    volume = voxelise(np.asarray(box.vertices), np.asarray(box.faces), cells=40)
    plane = mirror_plane(volume)
    assert plane == pytest.approx(0.3, abs=volume.pitch / 2)
    lopsided = Skeleton(("root", "left", "right"), np.array([[0.3, 0, 0], [0.3, 0, 0], [0.3, 0, 0]]),
                        np.array([[0.3, 0, 0.1], [0.5, 0, -0.02], [0.14, 0, 0.0]]), (-1, 0, 0))
    even = symmetrised(lopsided, plane, reach=0.1)
    mirrored = even.tails * [-1, 1, 1] + [2 * plane, 0, 0]
    assert np.allclose(mirrored[1], even.tails[2], atol=1e-9) and even.tails[0][0] == pytest.approx(plane)
    assert even.tails[1] == pytest.approx([0.3 + 0.18 + (plane - 0.3), 0, -0.01], abs=volume.pitch)
    tilted = trimesh.creation.box((0.4, 0.2, 0.2))
    tilted.vertices[tilted.vertices[:, 0] > 0, 2] += 0.3            # one end raised: no mirror plane
    assert mirror_plane(voxelise(np.asarray(tilted.vertices), np.asarray(tilted.faces), cells=40)) is None


def test_the_side_of_the_surface_holds_for_a_mesh_wound_inside_out() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    for faces in (np.asarray(sphere.faces), np.asarray(sphere.faces)[:, ::-1]):
        side = surface_side(np.asarray(sphere.vertices), faces, pitch=0.1)
        inner = side.signed(np.array([[0.0, 0, 0.4], [0.35, 0, 0]]))
        outer = side.signed(np.array([[0, 0.55, 0.0]]))
        assert np.isfinite(inner).all() and (inner < -0.05).all() and outer[0] == pytest.approx(0.05, abs=0.01)


def test_each_bones_thickness_is_its_capsules_radius(close_biped) -> None:
    volume = voxelise(close_biped.positions, close_biped.triangles)
    radii = bone_radii(volume, close_biped.skeleton.heads, close_biped.skeleton.tails,
                       side_of(close_biped.positions, close_biped.triangles, volume))
    middle = np.median(radii[:, 2:7], axis=1)
    for name in ("hips", "spine", "chest", "upper_arm_L", "thigh_R"):
        bone = close_biped.bone(name)
        assert middle[bone] == pytest.approx(close_biped.radii[bone], rel=0.1), name
    assert bind(close_biped.positions, close_biped.triangles, close_biped.skeleton).sides_kept_apart


def test_overlapping_pieces_still_get_a_skeleton_from_the_shape() -> None:
    # rig_meshes' biped is a tube per bone, passing through each other: each tube's inner walls read as
    # surface, and a cut along them broke the body into pieces (a single bone came out): the cut is
    # dropped where it does so.
    made = tube_biped()
    shaped = rig(RigMesh(made.positions, made.triangles), None, RigOptions())
    assert shaped.humanoid and shaped.skeleton.count >= 12


def test_a_mesh_whose_winding_disagrees_with_itself_is_bound_without_the_side_test() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    faces = np.asarray(sphere.faces).copy()
    flipped = np.random.default_rng(3).random(len(faces)) < 0.5      # half the faces wound the other way
    faces[flipped] = faces[flipped][:, ::-1]
    positions = np.asarray(sphere.vertices)
    volume = voxelise(positions, faces)
    assert side_of(positions, faces, volume) is None
    assert side_of(positions, np.asarray(sphere.faces), volume) is not None


def test_a_limb_without_a_twin_stays_where_it_is_joined_to_its_child_and_gets_its_twin() -> None:
    # One arm of a symmetric shape, its twin lost by the thinning: its own mirror image is nearest to it,
    # but it lies off the plane; set on the plane it turned the arm's first bone up the spine, away from
    # its child (the Pose Test then swung the arm about its own length).
    lone = Skeleton(("spine", "arm", "forearm", "neck"),
                    np.array([[0.3, 0, -0.5], [0.3, 0, 0.1], [0.46, 0, 0.1], [0.3, 0, 0.1]]),
                    np.array([[0.3, 0, 0.1], [0.46, 0, 0.1], [0.7, 0, 0.1], [0.3, 0, 0.3]]), (-1, 0, 1, 0))
    even = symmetrised(lone, 0.3, reach=0.2)
    assert np.allclose(even.tails[1], [0.46, 0, 0.1]) and np.allclose(even.heads[2], even.tails[1])
    assert even.heads[0][0] == pytest.approx(0.3) and even.tails[0][0] == pytest.approx(0.3)
    # ... and the lost twin comes back: the arm's mirror image, on the spine.
    assert even.count == 6 and even.parents[4:] == (0, 4)
    assert np.allclose(even.heads[4], [0.3, 0, 0.1]) and np.allclose(even.tails[4:], [[0.14, 0, 0.1], [-0.1, 0, 0.1]])


def test_a_figure_of_joined_cylinders_gets_both_arms() -> None:
    # tests/blender/test_addon_rig.py's figure: one cylinder a part, passing into each other. Thinning
    # lost its right arm whole (scan order); the mirror brings it back, and the figure is a humanoid.
    parts = [trimesh.creation.cylinder(radius=radius, segment=np.array([head, tail], float), sections=12)
             for head, tail, radius in (((0, 0, 0.95), (0, 0, 1.15), 0.15), ((0, 0, 1.15), (0, 0, 1.5), 0.15),
                                        ((0, 0, 1.5), (0, 0, 1.85), 0.1), ((0.17, 0, 1.42), (0.8, 0, 1.42), 0.05),
                                        ((-0.17, 0, 1.42), (-0.8, 0, 1.42), 0.05),
                                        ((0.12, 0, 0.93), (0.12, 0, 0.05), 0.06), ((-0.12, 0, 0.93), (-0.12, 0, 0.05), 0.06))]
    figure = trimesh.util.concatenate(parts)
    made = rig(RigMesh(np.asarray(figure.vertices), np.asarray(figure.faces)), None, RigOptions())
    assert made.humanoid and {"LeftArm", "RightArm", "LeftHand", "RightHand"} <= set(made.skeleton.names)
    hands = dict(zip(made.skeleton.names, made.skeleton.tails))
    assert hands["LeftHand"][0] > 0.6 > -0.6 > hands["RightHand"][0]


def test_bones_whose_ends_lie_on_the_surface_keep_their_ends() -> None:
    """A column whose two bones start at its sole and end at its top: the sole's ring on the lower bone, the top's
    on the upper (a bone end on the surface has no depth there; read as no thickness, it bound both ends to the
    other bone: tests/addon/test_remote_jobs.py's column found it)."""
    column = trimesh.creation.box(extents=(0.2, 0.2, 1.0))
    column = column.subdivide().subdivide()
    column.apply_translation((0, 0, 0.5))
    skeleton = Skeleton(("lower", "upper"), np.array([[0, 0, 0], [0, 0, 0.5]], float),
                        np.array([[0, 0, 0.5], [0, 0, 1.0]], float), (-1, 0))
    binding = bind(np.asarray(column.vertices), np.asarray(column.faces), skeleton)
    strongest = binding.skin.joints[np.arange(len(column.vertices)), binding.skin.weights.argmax(axis=1)]
    z = np.asarray(column.vertices)[:, 2]
    assert set(strongest[z < 0.1].tolist()) == {0} and set(strongest[z > 0.9].tolist()) == {1}
