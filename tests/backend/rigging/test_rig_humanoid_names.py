"""A humanoid from the shape alone gets Mixamo's names by anatomy (issue 87): on a figure of primitives
fused into one surface, LeftArm begins at the shoulder (it began at the chest's centre: a clavicle),
LeftForeArm at the elbow, LeftHand at the wrist, LeftUpLeg at the hip (it ran from the pelvis's middle
to the hip), LeftLeg at the knee and LeftFoot at the ankle; turning one moves its own limb and no more.
A blockout with a box torso is a humanoid too, mirrored, without the spurs its corners made."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fused_creatures import FusedCreature, blockout, humanoid
from img23d_backend.rigging.geometric import rig
from img23d_backend.rigging.names import MIXAMO_NAMES, humanoid_names
from img23d_backend.rigging.rigger import Rig, RigMesh, RigOptions
from img23d_backend.rigging.skeleton import Skeleton

# Each Mixamo limb bone and the figure's bone that starts at the same joint.
LIMBS = {"Arm": "upper_arm", "ForeArm": "forearm", "Hand": "hand", "UpLeg": "thigh", "Leg": "shin", "Foot": "foot"}
SIDES = {"Left": ("L", 1.0), "Right": ("R", -1.0)}
BAND = 0.1   # of the height: how far from a turned joint the blend may move what is not the limb's


def _figure_of(arm: list[tuple[float, float]], leg: list[tuple[float, float, float]]) -> Skeleton:
    """Hips, spine and head, and a left arm and leg through ``arm`` (x, z; level, from the spine's top) and
    ``leg`` (x, y, z, from the pelvis's middle), the right ones their mirror images."""
    rows = [("hips", -1, (0, 0, 0.95), (0, 0, 1.04)), ("spine", 0, (0, 0, 0.95), (0, 0, 1.4)),
            ("head", 1, (0, 0, 1.4), (0, 0, 1.65))]
    for side, sign in (("L", 1), ("R", -1)):
        for part, points, parent in (("arm", [(sign * x, 0, z) for x, z in arm], 1),
                                     ("leg", [(sign * x, y, z) for x, y, z in leg], 0)):
            for k, (head, tail) in enumerate(zip(points, points[1:])):
                rows.append((f"{part}_{side}{k}", parent if k == 0 else len(rows) - 1, head, tail))
    return Skeleton(tuple(r[0] for r in rows), np.array([r[2] for r in rows], float),
                    np.array([r[3] for r in rows], float), tuple(r[1] for r in rows))


@pytest.mark.parametrize("arm, leg, arm_names, leg_names", [
    # A clavicle and the forearm with its hand in one bone; a bone from the pelvis's middle to the hip.
    ([(0, 1.4), (0.18, 1.4), (0.45, 1.4), (0.8, 1.4)],
     [(0, 0, 0.95), (0.1, 0, 0.88), (0.1, 0, 0.5), (0.1, 0, 0.1), (0.1, -0.14, 0.04)],
     ["Shoulder", "Arm", "ForeArm"], ["Hip", "UpLeg", "Leg", "Foot"]),
    # The upper arm in two bones (a chain longer than Mixamo's), no bone to the hip, a foot with its toe.
    ([(0, 1.4), (0.18, 1.4), (0.32, 1.4), (0.45, 1.4), (0.7, 1.4), (0.85, 1.4)],
     [(0.1, 0, 0.9), (0.1, 0, 0.5), (0.1, 0, 0.1), (0.1, -0.08, 0.06), (0.1, -0.14, 0.04)],
     ["Shoulder", "Arm", "Arm1", "ForeArm", "Hand"], ["UpLeg", "Leg", "Foot", "ToeBase"]),
    # A limb of one bone is the upper arm or the thigh (it once had no joints to place and raised).
    ([(0.15, 1.4), (0.8, 1.4)], [(0.1, 0, 0.9), (0.1, 0, 0.05)], ["Arm"], ["UpLeg"]),
])
def test_a_limb_is_named_by_the_joints_its_bones_meet_not_by_its_length(arm, leg, arm_names, leg_names) -> None:
    skeleton = _figure_of(arm, leg)
    named = dict(zip(skeleton.names, humanoid_names(skeleton)))
    for side, (letter, _) in SIDES.items():
        assert [named[f"arm_{letter}{k}"] for k in range(len(arm) - 1)] == [side + n for n in arm_names]
        assert [named[f"leg_{letter}{k}"] for k in range(len(leg) - 1)] == [side + n for n in leg_names]


@pytest.fixture(scope="module")
def figure() -> tuple[FusedCreature, Rig]:
    made = humanoid("A")
    return made, rig(RigMesh(made.positions, made.triangles), None, RigOptions())


def _limbs() -> list[tuple[str, str, str, float]]:
    return [(side + word, f"{true}_{letter}", side, sign)
            for side, (letter, sign) in SIDES.items() for word, true in LIMBS.items()]


def test_each_limb_bone_of_a_fused_humanoid_starts_at_its_joint(figure) -> None:
    made, rigged = figure
    assert rigged.humanoid
    heads = dict(zip(rigged.skeleton.names, rigged.skeleton.heads))
    for name, true, _, _ in _limbs():
        joint = made.skeleton.heads[made.bone(true)]
        length = float(np.linalg.norm(made.skeleton.tails[made.bone(true)] - joint))
        assert name in heads, f"no {name} among {sorted(heads)}"
        off = float(np.linalg.norm(heads[name] - joint))
        assert off <= 0.35 * length, f"{name} starts {off:.3f} from its joint ({length:.2f} long)"


@pytest.mark.parametrize("name, true, side, sign", _limbs())
def test_turning_a_limb_bone_moves_its_own_limb_only(figure, name, true, side, sign) -> None:
    made, rigged = figure
    skeleton = rigged.skeleton
    bone = skeleton.names.index(name)
    moving = {bone}
    for _ in range(skeleton.count):
        moving |= {j for j, parent in enumerate(skeleton.parents) if parent in moving}
    along = skeleton.tails[bone] - skeleton.heads[bone]
    axis = np.cross(along, [0.0, 1.0, 0.0])        # a limb of this figure lies in the XZ plane
    turn = Rotation.from_rotvec(np.radians(45) * axis / np.linalg.norm(axis)).as_matrix()
    share = rigged.skin.dense(skeleton.count)[:, sorted(moving)].sum(axis=1, keepdims=True)
    pivot = skeleton.heads[bone]
    posed = share * ((made.positions - pivot) @ turn.T + pivot) + (1 - share) * made.positions
    moved = np.linalg.norm(posed - made.positions, axis=1) > 0.01 * made.height
    own = np.isin(made.truth, made.subtree(true))
    assert moved[own].mean() > 0.9, f"{name} turned moves {moved[own].mean():.0%} of its own limb"
    assert not (moved & (sign * made.positions[:, 0] < 0)).any(), f"{name} moves the other half of the body"
    joint = made.skeleton.heads[made.bone(true)]
    stray = np.linalg.norm(made.positions[moved & ~own] - joint, axis=1)
    assert not len(stray) or stray.max() <= BAND * made.height, \
        f"{name} moves {len(stray)} vertices not its own, up to {stray.max():.3f} from its joint"


@pytest.fixture(scope="module")
def box_torso() -> Rig:
    positions, triangles = blockout()
    return rig(RigMesh(positions, triangles), None, RigOptions())


def test_a_box_torso_blockout_is_a_mirrored_humanoid_without_spurs(box_torso) -> None:
    skeleton, names = box_torso.skeleton, box_torso.skeleton.names
    assert box_torso.humanoid and set(names) <= set(MIXAMO_NAMES), names
    assert {f"{side}{word}" for side in SIDES for word in ("Arm", "ForeArm", "Hand", "UpLeg", "Leg")} <= set(names)
    height = float(np.ptp(np.concatenate([skeleton.heads, skeleton.tails])[:, 2]))
    hips = names.index("Hips")
    assert abs(skeleton.heads[hips][0]) < 0.005 * height and abs(skeleton.tails[hips][0]) < 0.005 * height
    for bone, name in enumerate(names):
        if name.startswith("Left"):
            twin = names.index("Right" + name[len("Left"):])
            assert np.allclose(skeleton.heads[twin], skeleton.heads[bone] * [-1, 1, 1], atol=0.01 * height), name
            assert np.allclose(skeleton.tails[twin], skeleton.tails[bone] * [-1, 1, 1], atol=0.01 * height), name
    # Five ends (the head, two hands, two feet): no bone runs off to a corner of the box.
    ends = [name for bone, name in enumerate(names) if not skeleton.children(bone)]
    assert len(ends) == 5, ends
