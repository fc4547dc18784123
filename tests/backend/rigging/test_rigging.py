"""The rigging room's geometry without files: types, the axis turn, names, the medial skeleton, the
geometric binding, weight transfer and RigNet's metrics (issue 65, items 1-3, 6, 8)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from img23d_backend.rigging import metrics
from img23d_backend.gltf.frame import from_gltf, to_gltf
from img23d_backend.rigging.geometric import bind
from img23d_backend.rigging.medial import skeleton_from_shape
from img23d_backend.rigging.names import MIXAMO_NAMES, chain_names, humanoid_names
from img23d_backend.rigging.rigger import RigMesh, RigOptions, check_near
from img23d_backend.rigging.geometric import rig
from img23d_backend.rigging.skeleton import BadSkeleton, Skeleton
from img23d_backend.rigging.skin import Skin
from img23d_backend.rigging.transfer import transfer_skin
from img23d_backend.rigging.voxels import voxelise
from rig_meshes import biped, quadruped, tube


def _chain(count: int = 3) -> Skeleton:
    heads = np.array([[0, 0, z] for z in range(count)], float)
    return Skeleton(tuple(f"b{j}" for j in range(count)), heads, heads + [0, 0, 1], tuple(range(-1, count - 1)))


def test_a_skeleton_refuses_cycles_bad_parents_and_numbers_but_keeps_a_forest() -> None:
    heads = np.zeros((2, 3))
    with pytest.raises(BadSkeleton, match="cycle"):
        Skeleton(("a", "b"), heads, heads + 1, (1, 0))
    with pytest.raises(BadSkeleton, match="parent"):
        Skeleton(("a", "b"), heads, heads + 1, (-1, 5))
    with pytest.raises(BadSkeleton, match="finite"):
        Skeleton(("a",), np.array([[np.nan, 0, 0]]), np.ones((1, 3)), (-1,))
    with pytest.raises(BadSkeleton, match="unique"):
        Skeleton(("a", "a"), heads, heads + 1, (-1, 0))
    with pytest.raises(BadSkeleton, match="no joints"):
        Skeleton((), np.zeros((0, 3)), np.zeros((0, 3)), ())
    forest = Skeleton(("a", "b"), heads, heads + 1, (-1, -1))
    assert forest.roots == [0, 1]


def test_the_skin_keeps_four_strongest_and_sums_to_one_in_float32() -> None:
    dense = np.array([[0.1, 0.5, 0.2, 0.05, 0.15], [0, 0, 3, 0, 0]])
    skin = Skin.from_dense(dense)
    assert skin.joints[0].tolist() == [1, 2, 4, 0] and skin.strongest.tolist() == [1, 2]
    assert skin.weights.dtype == np.float32
    assert np.abs(skin.weights.sum(axis=1, dtype=np.float32) - 1).max() <= np.finfo(np.float32).eps
    with pytest.raises(ValueError, match="no weight"):
        Skin.from_dense(np.zeros((1, 3)))


def test_the_axis_turn_keeps_left_and_front_and_mirrors_nothing() -> None:
    # An asymmetric mesh: an "L" whose foot points to +X (the left) and whose nose points to -Y (the front).
    points = np.array([[0, 0, 0], [0, 0, 2.0], [1.0, 0, 0], [0, -0.5, 2.0]])
    turned = to_gltf(points)
    assert turned[1].tolist() == [0, 2.0, 0]          # up is +Y
    assert turned[2].tolist() == [1.0, 0, 0]          # left stays +X
    assert turned[3][2] == pytest.approx(0.5)         # img23d's front (-Y) is glTF's front (+Z)
    assert np.linalg.det(np.stack([turned[2], turned[1] / 2, turned[3] - turned[1]])) == pytest.approx(
        np.linalg.det(np.stack([points[2], points[1] / 2, points[3] - points[1]])))
    assert np.allclose(from_gltf(turned), points)


def test_the_given_biped_is_named_as_mixamo_and_left_is_plus_x() -> None:
    made = biped()
    names = humanoid_names(made.skeleton)
    assert names is not None and set(names) <= set(MIXAMO_NAMES)
    named = dict(zip(made.skeleton.names, names))
    assert named["hips"] == "Hips" and named["head"] == "Head" and named["neck"] == "Neck"
    assert (named["upper_arm_L"], named["forearm_L"]) == ("LeftArm", "LeftForeArm")
    assert (named["thigh_R"], named["shin_R"]) == ("RightUpLeg", "RightLeg")
    mirrored = made.skeleton.moved(made.skeleton.heads * [-1, 1, 1], made.skeleton.tails * [-1, 1, 1])
    assert dict(zip(mirrored.names, humanoid_names(mirrored)))["upper_arm_L"] == "RightArm"


def test_a_quadruped_is_no_humanoid_and_gets_chain_names() -> None:
    skeleton = quadruped().skeleton
    assert humanoid_names(skeleton) is None
    names = chain_names(skeleton)
    assert names[0] == "spine_01" and len(set(names)) == len(names)
    assert {"leg_L_01", "leg_R_01"} <= set(names) and any(name.startswith("tail") for name in names)


def test_the_shape_alone_gives_the_biped_a_humanoid_skeleton_and_a_box_a_single_bone() -> None:
    made = biped()
    shaped = skeleton_from_shape(voxelise(made.positions, made.triangles))
    names = humanoid_names(shaped.skeleton)
    assert not shaped.degenerate and names is not None
    tails = dict(zip(names, shaped.skeleton.tails))
    assert tails["LeftHand"][0] > 0.6 > -0.6 > tails["RightHand"][0]      # the hands at the arms' ends, left on +X
    assert tails["Head"][2] > 1.7 and tails["LeftUpLeg"][0] > 0.05 > -0.05 > tails["RightUpLeg"][0]
    box = trimesh.creation.box((1.0, 0.8, 0.6))
    single = skeleton_from_shape(voxelise(box.vertices, box.faces))
    assert single.degenerate and single.skeleton.count == 1


@pytest.mark.parametrize("make", [biped, quadruped])
def test_the_geometric_binding_finds_each_vertex_its_own_bone(make) -> None:
    made = make()
    binding = bind(made.positions, made.triangles, made.skeleton)
    along = _along_own_bone(made)
    interior = (along > 0.2) & (along < 0.8)   # away from the joints, where two bones share a vertex
    # (the hips tube holds the thighs' tops: its lower sides are truly nearer a thigh, so not 100 %)
    assert metrics.strongest_bone_accuracy(binding.skin.strongest[interior], made.truth[interior]) > 0.93
    assert metrics.strongest_bone_accuracy(binding.skin.strongest, made.truth) > 0.8
    assert np.abs(binding.skin.weights.sum(axis=1) - 1).max() < 1e-6


def _along_own_bone(made) -> np.ndarray:
    heads, tails = made.skeleton.heads[made.truth], made.skeleton.tails[made.truth]
    axis = tails - heads
    return ((made.positions - heads) * axis).sum(axis=1) / (axis * axis).sum(axis=1)


def test_a_rotated_forearm_moves_its_vertices_and_leaves_the_rest() -> None:
    made = biped()
    skin = bind(made.positions, made.triangles, made.skeleton).skin
    forearm = made.skeleton.names.index("forearm_L")
    moved = _pose(made.positions, skin.dense(made.skeleton.count), made.skeleton, forearm, np.radians(60))
    shift = np.linalg.norm(moved - made.positions, axis=1)
    own = (made.truth == forearm) & (_along_own_bone(made) > 0.5)
    far = np.isin(made.truth, [made.skeleton.names.index(n) for n in ("head", "thigh_R", "shin_R", "forearm_R")])
    assert shift[own].min() > 0.1
    assert shift[far].max() < 0.01


def _pose(positions: np.ndarray, weights: np.ndarray, skeleton: Skeleton, bone: int, angle: float) -> np.ndarray:
    """Linear blend skinning with ``bone`` and its descendants turned by ``angle`` about Y at its head."""
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    pivot = skeleton.heads[bone]
    moving = {bone}
    for _ in range(skeleton.count):
        moving |= {j for j, p in enumerate(skeleton.parents) if p in moving}
    turned = (positions - pivot) @ turn.T + pivot
    share = weights[:, sorted(moving)].sum(axis=1, keepdims=True)
    return share * turned + (1 - share) * positions


def test_a_loose_speck_far_from_every_bone_still_gets_the_nearest_bone() -> None:
    made = biped()
    speck, faces = tube(np.array([1.5, 0, 1.42]), np.array([1.55, 0, 1.42]), 0.01, rings=2, sides=4)
    positions = np.concatenate([made.positions, speck])
    triangles = np.concatenate([made.triangles, faces + len(made.positions)])
    binding = bind(positions, triangles, made.skeleton)
    assert binding.fallback_vertices == len(speck)
    assert set(binding.skin.strongest[len(made.positions):]) == {made.skeleton.names.index("forearm_L")}


def test_a_mesh_with_a_hole_is_still_filled() -> None:
    made = biped()
    holed = made.triangles[np.arange(len(made.triangles)) % 97 != 0]   # about 1% of the faces gone
    whole = voxelise(made.positions, made.triangles).filled.sum()
    assert voxelise(made.positions, holed).filled.sum() == pytest.approx(whole, rel=0.05)


def test_the_rigger_makes_a_single_bone_for_a_prop_and_refuses_a_far_skeleton() -> None:
    box = trimesh.creation.box((1.0, 0.8, 0.6))   # a crate: no part longer than the body is thick
    made = rig(RigMesh(np.asarray(box.vertices), np.asarray(box.faces)), None, RigOptions())
    assert made.source == "single bone" and made.skeleton.count == 1 and "single bone" in made.notes[0]
    far = _chain().moved(_chain().heads + 100, _chain().tails + 100)
    with pytest.raises(BadSkeleton, match="outside the mesh"):
        check_near(RigMesh(np.asarray(box.vertices), np.asarray(box.faces)), far)


@pytest.mark.parametrize("thickness", [0.0, 1e-6])
def test_a_sheet_with_no_inside_is_bound_each_half_to_its_bone(thickness: float) -> None:
    """A card (a plane of two faces, or a box a micron thick) has every voxel centre off its surface: the side
    test would leave no voxel to measure through (an IndexError, "internal", before). Bound through the
    filled voxels alone, each half of the card goes to the bone along it."""
    card = trimesh.creation.box((2.0, 0.5, thickness)) if thickness else trimesh.Trimesh(
        [[-1, -0.25, 0], [1, -0.25, 0], [1, 0.25, 0], [-1, 0.25, 0]], [[0, 1, 2], [0, 2, 3]])
    card = card.subdivide().subdivide().subdivide()
    bones = Skeleton(("left", "right"), np.array([[-0.9, 0, 0], [0, 0, 0]]), np.array([[0, 0, 0], [0.9, 0, 0]]),
                     (-1, 0))
    made = rig(RigMesh(np.asarray(card.vertices), np.asarray(card.faces)), bones, RigOptions())
    x = np.asarray(card.vertices)[:, 0]
    clear = np.abs(x) > 0.2
    assert (made.skin.strongest[clear] == (x[clear] > 0)).all()


def test_weights_carried_to_a_coarser_mesh_keep_each_part_on_its_bone() -> None:
    high, low = biped(rings=10, sides=16), biped(rings=4, sides=6)
    skin = bind(high.positions, high.triangles, high.skeleton).skin
    carried = transfer_skin(high.positions, high.triangles, skin, high.skeleton.count, low.positions)
    direct = bind(low.positions, low.triangles, low.skeleton).skin
    assert metrics.strongest_bone_accuracy(carried.strongest, direct.strongest) > 0.9
    assert np.abs(carried.weights.sum(axis=1) - 1).max() < 1e-6


def test_rignet_metrics_on_known_answers() -> None:
    a = np.array([[0, 0, 0], [1, 0, 0.0]])
    assert metrics.joint_chamfer(a, a) == 0
    assert metrics.joint_chamfer(a, a + [0, 0, 0.5]) == pytest.approx(0.5)
    # one extra joint 3 away: one way 0, the other (0 + 0 + 3) / 3 = 1, averaged: 0.5
    assert metrics.joint_chamfer(a, np.concatenate([a, [[4, 0, 0]]])) == pytest.approx(0.5)
    predicted = np.array([[0.5, 0.5, 0], [1, 0, 0]])
    reference = np.array([[1.0, 0, 0], [0.5, 0, 0.5]])
    precision, recall = metrics.skin_precision_recall(predicted, reference)
    assert (precision, recall) == (pytest.approx(0.75), pytest.approx(0.75))   # (1/2 + 1) / 2 each
    assert metrics.skin_l1(predicted, reference) == pytest.approx(1.0)          # (1 + 1) / 2


def test_the_floor_drops_faint_influences_without_a_jump() -> None:
    from img23d_backend.rigging.geometric import floored

    skin = Skin(np.array([[3, 1, 2, 0]]), np.array([[0.7, 0.2, 0.06, 0.04]], np.float32))
    kept = floored(skin, 0.05)
    assert kept.joints[0].tolist()[:3] == [3, 1, 2]
    assert np.allclose(kept.weights[0], np.array([0.65, 0.15, 0.01, 0.0]) / 0.81, atol=1e-6)
    nearly = floored(Skin(np.array([[3, 1, 2, 0]]), np.array([[0.7, 0.2, 0.0501, 0.0499]], np.float32)), 0.05)
    assert nearly.weights[0, 2] < 1e-3   # an influence fades out as it nears the floor: no jump
