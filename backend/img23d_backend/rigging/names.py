"""Bone names: Mixamo's for a humanoid skeleton, names by chain otherwise.

A humanoid is read from the skeleton's structure alone, in the mesh's own frame (Z up, the character's
left on +X, as Blender's ``.L`` bones are): one root bone (the hips) from whose tail two chains go down
(the legs) and one goes up (the spine); the spine's last bone has two chains going out to either side of
X (the arms) and one going up (the neck and head). Mixamo's names (its rigs prefix them ``mixamorig:``;
the bare names are what retargeting tools match: Hips, Spine, Spine1, Spine2, Neck, Head, LeftShoulder,
LeftArm, LeftForeArm, LeftHand, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase and the Right ones) go to a
limb's bones by anatomy, not by how many there are: ``anatomy`` finds where the shoulder, elbow and wrist
(the hip, knee and ankle) lie along the limb, each falls on the joint nearest it, and a bone is named for
the joints it lies between. Bones before the shoulder are the clavicle (``LeftShoulder``), between it and
the elbow the upper arm (``LeftArm``, a second one ``LeftArm1``), and so on; before the hip, a bone from
the pelvis's middle out to it is ``LeftHip`` (Mixamo has no such bone: its thigh hangs from the hips),
after the ankle the foot and its toe. So a clavicle is never the upper arm, and a bone between the
forearm and the hand never the hand. Anything else is named by chain: ``spine_01`` for the root's chain,
then ``leg_L_01``, ``arm_R_02``, ``neck_01``, ``tail_01`` by where each chain goes (a chain going back or
forward that carries legs is ``spine``: a quadruped's rear half is no tail). A skeleton the user gave
keeps its own names: these are for skeletons img23d made.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from . import anatomy
from .skeleton import Skeleton

SPINE = ("Spine", "Spine1", "Spine2")
ARM = ("Shoulder", "Arm", "ForeArm", "Hand")
LEG = ("Hip", "UpLeg", "Leg", "Foot")   # "Hip": a bone from the pelvis's middle out to the hip (Mixamo has none)
TOE = "ToeBase"
MIXAMO_NAMES = ("Hips", *SPINE, "Neck", "Head",
                *(f"{side}{bone}" for side in ("Left", "Right") for bone in ARM + LEG[1:] + (TOE,)))


@dataclass(frozen=True)
class Chain:
    bones: list[int]        # a run of bones, each the only child of the one before
    children: list[int]     # the first bones of the chains that start at its last bone's tail


def chains(skeleton: Skeleton) -> dict[int, Chain]:
    """The skeleton cut into chains at every bone with several children, keyed by each chain's first bone."""
    found: dict[int, Chain] = {}
    starts = list(skeleton.roots)
    while starts:
        bone = starts.pop(0)
        run = [bone]
        while len(kids := skeleton.children(run[-1])) == 1:
            run.append(kids[0])
        found[bone] = Chain(run, kids)
        starts.extend(kids)
    return found


def humanoid_names(skeleton: Skeleton) -> list[str] | None:
    """Mixamo's names for each bone if ``skeleton`` is a humanoid (see the module's docstring), else None."""
    if len(skeleton.roots) != 1:
        return None
    cut = chains(skeleton)
    root = cut[skeleton.roots[0]]
    if len(root.bones) != 1 or len(root.children) != 3:
        return None
    hips = root.bones[0]
    base = skeleton.tails[hips]
    rise = {start: _end(skeleton, cut[start])[2] - base[2] for start in root.children}
    ups = [start for start in root.children if rise[start] > 0]
    downs = [start for start in root.children if rise[start] < 0]
    if len(ups) != 1 or len(downs) != 2:
        return None
    spine = cut[ups[0]]
    if len(spine.children) != 3:
        return None
    chest = skeleton.tails[spine.bones[-1]]
    neck = max(spine.children, key=lambda start: _end(skeleton, cut[start])[2])
    arms = [start for start in spine.children if start != neck]
    legs = sorted(downs, key=lambda start: -_end(skeleton, cut[start])[0])    # +X first: the left
    arms = sorted(arms, key=lambda start: -_end(skeleton, cut[start])[0])
    if not (_side(skeleton, cut[arms[0]], chest) > 0 > _side(skeleton, cut[arms[1]], chest)
            and _side(skeleton, cut[legs[0]], base) > 0 > _side(skeleton, cut[legs[1]], base)):
        return None
    names = chain_names(skeleton)  # sub-branches (fingers, toes) keep chain names
    names[hips] = "Hips"
    _name_chain(names, spine.bones, SPINE, "Spine")
    neck_names = ("Neck", "Head") if len(cut[neck].bones) >= 2 else ("Head",)
    _name_chain(names, cut[neck].bones, neck_names, "Head", keep_last=True)
    height = float(np.ptp(np.concatenate([skeleton.heads, skeleton.tails])[:, 2]))
    for side, arm, leg in (("Left", arms[0], legs[0]), ("Right", arms[1], legs[1])):
        _name_limb(names, side, cut[arm].bones, _arm_cuts(skeleton, cut[arm].bones, chest), ARM)
        _name_limb(names, side, cut[leg].bones,
                   _leg_cuts(skeleton, cut[leg].bones, skeleton.heads[hips], height), LEG)
    return names if len(set(names)) == len(names) else None


def _joints(skeleton: Skeleton, bones: list[int], start: np.ndarray) -> tuple[np.ndarray, int]:
    """A limb's polyline: ``start`` (the body's middle), then its bones' heads and its last tail; and how
    many points come before the limb's first joint (``start`` is left out where it is that joint)."""
    joints = np.concatenate([skeleton.heads[bones], skeleton.tails[bones[-1:]]])
    if np.allclose(start, joints[0]):
        return joints, 0
    return np.concatenate([start[None], joints]), 1


def _placed(steps: np.ndarray, targets: tuple[float, ...]) -> tuple[int, ...]:
    """The increasing joint indices nearest the ``targets`` (arc positions), all together; none where the
    limb has fewer joints than targets (a limb of one bone)."""
    return min(combinations(range(len(steps)), len(targets)), default=(),
               key=lambda picked: sum(abs(steps[i] - t) for i, t in zip(picked, targets)))


def _arm_cuts(skeleton: Skeleton, bones: list[int], chest: np.ndarray) -> tuple[int, ...]:
    """The joints (0 the arm's first head, len(bones) its end) at its shoulder, elbow and wrist."""
    line, before = _joints(skeleton, bones, chest)
    found = anatomy.arm(line)
    return _placed(anatomy.arc(line)[before:], (found.shoulder, found.elbow, found.wrist))


def _leg_cuts(skeleton: Skeleton, bones: list[int], pelvis: np.ndarray, height: float) -> tuple[int, ...]:
    """The joints at a leg's hip, knee and ankle."""
    line, before = _joints(skeleton, bones, pelvis)
    found = anatomy.leg(line, height)
    return _placed(anatomy.arc(line)[before:], (found.hip, found.knee, found.ankle))


def _name_limb(names: list[str], side: str, bones: list[int], cuts: tuple[int, ...], words: tuple[str, ...]) -> None:
    """Name a limb's bones by the anatomical joints they lie between: the bones before the first cut get
    ``words[0]``, those between the first and second ``words[1]`` and so on; a part of several bones numbers
    the rest (``LeftForeArm1``), a foot's second bone is its toe. A limb of one bone is the upper arm or
    thigh."""
    if len(bones) < 2:
        names[bones[0]] = side + words[1]
        return
    bounds = (0, *cuts, len(bones))
    for word, first, last in zip(words, bounds, bounds[1:]):
        for k, bone in enumerate(bones[first:last]):
            if word == "Foot" and k:
                names[bone] = f"{side}{TOE}" + (str(k - 1) if k > 1 else "")
            else:
                names[bone] = side + word + (str(k) if k else "")


def chain_names(skeleton: Skeleton) -> list[str]:
    """Names by chain: ``spine_01`` for the root's chain and any chain that carries it straight on and
    has chains after it, or carries legs, then each chain by its direction and by its side of the root
    (the body's middle)."""
    names = [f"bone_{j:02d}" for j in range(skeleton.count)]
    size = float(np.ptp(np.concatenate([skeleton.heads, skeleton.tails]), axis=0).max()) or 1.0
    middle = float(skeleton.heads[skeleton.roots[0]][0])
    used: dict[str, int] = {}
    spine: set[int] = set()
    found = chains(skeleton)
    for start, chain in found.items():
        parent = skeleton.parents[start]
        # Straight on from the spine is more spine, unless nothing follows it (a tail, a neck and head).
        role = "spine" if parent == -1 or (parent in spine and chain.children
                                           and _straight_on(skeleton, parent, chain)) \
            else _role(skeleton, chain)
        if role in ("tail", "head") and any(_role(skeleton, found[kid]) == "leg" for kid in chain.children):
            role = "spine"   # a chain that carries legs is the body (a quadruped's rear half), not a tail
        if role == "spine":
            spine.update(chain.bones)
        side = (float(_end(skeleton, chain)[0]) - middle) / size if role != "spine" else 0.0
        label = role if abs(side) < 0.02 else f"{role}_{'L' if side > 0 else 'R'}"
        used[label] = used.get(label, 0) + 1
        if used[label] > 1:
            label = f"{label}{used[label]}"
        for number, bone in enumerate(chain.bones, start=1):
            names[bone] = f"{label}_{number:02d}"
    return names


def _straight_on(skeleton: Skeleton, parent: int, chain: Chain) -> bool:
    """The chain goes on within 30 degrees of its parent bone's direction."""
    before = skeleton.tails[parent] - skeleton.heads[parent]
    after = _end(skeleton, chain) - skeleton.heads[chain.bones[0]]
    cosine = float(before @ after) / ((np.linalg.norm(before) * np.linalg.norm(after)) or 1.0)
    return cosine > np.cos(np.radians(30))


def _end(skeleton: Skeleton, chain: Chain) -> np.ndarray:
    return skeleton.tails[chain.bones[-1]]


def _side(skeleton: Skeleton, chain: Chain, origin: np.ndarray) -> float:
    return float(_end(skeleton, chain)[0] - origin[0])


def _role(skeleton: Skeleton, chain: Chain) -> str:
    """Where a chain goes from its start: down (a leg), up (a neck), out to a side (an arm), back (a tail)."""
    move = _end(skeleton, chain) - skeleton.heads[chain.bones[0]]
    x, y, z = move / (np.linalg.norm(move) or 1.0)
    if z < -0.6:
        return "leg"
    if z > 0.6:
        return "neck"
    if abs(x) >= abs(y):
        return "arm"
    return "tail" if y > 0 else "head"  # img23d's front faces -Y: +Y is behind


def _name_chain(names: list[str], bones: list[int], pattern: tuple[str, ...], extra: str,
                keep_last: bool = False) -> None:
    """Give ``bones`` the names of ``pattern``: from its start (a short chain loses the last names), or,
    with ``keep_last``, so that the chain's last bone gets the pattern's last name (the head)."""
    count = len(bones)
    if count <= len(pattern):
        chosen = list(pattern[len(pattern) - count:]) if keep_last else list(pattern[:count])
    else:
        extras = [f"{extra}{k}" for k in range(1, count - len(pattern) + 1)]
        chosen = list(pattern[:-1]) + extras + [pattern[-1]] if keep_last else list(pattern) + extras
    for bone, name in zip(bones, chosen):
        names[bone] = name
