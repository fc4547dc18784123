"""A humanoid read off the medial axis: its head, hands and feet among the axis tree's free ends, its
bones laid where anatomy puts the joints (``anatomy``), and the rest of the tree left out.

The medial axis of a figure made of primitives has more ends than a figure has limbs: a box's corners,
a hand box's two corners, a foot's heel. A skeleton cut from every chain of it gets bones that follow
no limb (spurs from the hips to a box torso's corners), and a chain cut into equal bones puts its joints
where equal lengths fall: an arm from the chest's centre cut in three has a clavicle for an upper arm
and no wrist. So, on an upright figure (Z up, its middle at X = ``middle``):

* the head is the highest free end near the middle; each foot the free end of the lowest quarter on its
  side that is farthest from the head along the tree; each hand, of the free ends left on its side,
  the farthest from the head, if its way to the spine is an arm's (a quarter of the height long, out to
  the side, its end above the lowest quarter, sharing no way with a leg);
* the hips are where the feet's ways to the head meet, the chest where the higher arm's way meets the
  spine; where both meet at one point (a box torso thins to one), the chest is put up the spine at the
  shoulders' height;
* bones: a short root bone at the hips (the hips), the spine to the chest in one to three bones, the neck
  and head in one or two, each arm from the chest to its shoulder (a clavicle), elbow, wrist and end,
  each leg from its hip (the hips' child: no bone from the pelvis's middle to the hip) to its knee,
  ankle, the ball of its foot and end.

A hand on one side only (the thinning can lose one arm of a pair whole) is the other's mirror image
where the figure is mirror-symmetric. Anything else (no head, a foot missing, an arm that is a leg's
branch, a figure longer than tall: a quadruped) is no humanoid: None, and the caller cuts the tree
as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import anatomy
from .skeleton import Skeleton

TURN_WINDOW = 0.05   # a turn along the axis is measured over this part of the height (its steps zigzag)


@dataclass(frozen=True)
class _Tree:
    """The axis tree hung from the head: each node's next node towards it and its distance from it."""

    head: int
    upward: dict[int, int]
    far: dict[int, float]

    def way(self, node: int) -> list[int]:
        """The nodes from ``node`` to the head."""
        nodes = [node]
        while nodes[-1] != self.head:
            nodes.append(self.upward[nodes[-1]])
        return nodes


def humanoid_skeleton(points: np.ndarray, edges: list[tuple[int, int]], middle: float, mirrored: bool,
                      bone_length: float) -> Skeleton | None:
    """The humanoid on the axis tree (``points`` joined by ``edges``), or None (see the module's docstring);
    ``mirrored``: the figure is mirror-symmetric across X = ``middle``; ``bone_length``: about how long the
    spine's bones are. Bones are named ``bone_NN``: ``names.humanoid_names`` names them."""
    near: dict[int, set[int]] = {}
    for a, b in edges:
        near.setdefault(a, set()).add(b)
        near.setdefault(b, set()).add(a)
    if not near:
        return None
    used = np.array(sorted(near))
    low, tall = float(points[used, 2].min()), float(np.ptp(points[used, 2]))
    if tall < 0.8 * float(np.ptp(points[used, 1])):
        return None   # longer than tall: no standing figure
    side = points[:, 0] - middle
    leaves = [n for n in used if len(near[n]) == 1]
    tops = [n for n in leaves if abs(side[n]) < 0.1 * tall and points[n, 2] > low + 0.6 * tall]
    if not tops:
        return None
    tree = _hung(near, max(tops, key=lambda n: points[n, 2]), points)
    feet = [max((n for n in leaves if sign * side[n] > 0.02 * tall and points[n, 2] < low + 0.3 * tall),
                key=lambda n: tree.far[n], default=None) for sign in (1, -1)]
    if None in feet:
        return None
    foot_ways = [tree.way(foot) for foot in feet]
    hips = next(n for n in foot_ways[0] if n in set(foot_ways[1]))
    spine = tree.way(hips)
    if len(spine) < 2:
        return None
    legs = [foot_way[:foot_way.index(hips) + 1][::-1] for foot_way in foot_ways]   # from the hips down
    arms: list[list[int] | None] = [_arm(tree, leaves, set(feet), sign, spine, set().union(*legs) - {hips},
                                         points, side, low, tall) for sign in (1, -1)]
    missing = [k for k in (0, 1) if arms[k] is None]
    if len(missing) == 2 or (missing and not mirrored):
        return None
    arm_lines = [_smoothed(points[arm]) for arm in arms if arm is not None]
    if missing:    # lost by the thinning: the other arm's mirror image
        arm_lines.append(arm_lines[0] * [-1, 1, 1] + [2 * middle, 0, 0])
    window = TURN_WINDOW * tall
    spine_line = _smoothed(points[spine])
    if mirrored:   # the spine, neck and head lie on the plane (thinning bends a head's short axis off it)
        spine_line = spine_line * [0, 1, 1] + [middle, 0, 0]
    spine_arc = anatomy.arc(spine_line)
    chest = max(float(spine_arc[spine.index(arm[0])]) for arm in arms if arm is not None)
    if chest < 0.2 * spine_arc[-1]:
        # The arms leave the spine where the legs do (a box torso): the chest is at the shoulders' height.
        shoulders = np.mean([anatomy.at(line, anatomy.arm(line, window).shoulder)[2] for line in arm_lines])
        risen = np.flatnonzero(spine_line[:, 2] >= shoulders)
        chest = float(spine_arc[risen[0]]) if len(risen) else 0.0
        chest = float(np.clip(chest, 0.2 * spine_arc[-1], 0.6 * spine_arc[-1]))
    leg_lines = [_smoothed(points[leg]) for leg in legs]
    return _bones(spine_line, chest, arm_lines, leg_lines, tall, window, bone_length)


def _hung(near: dict[int, set[int]], head: int, points: np.ndarray) -> _Tree:
    upward: dict[int, int] = {}
    far = {head: 0.0}
    queue = [head]
    while queue:
        node = queue.pop()
        for other in near[node]:
            if other not in far:
                upward[other] = node
                far[other] = far[node] + float(np.linalg.norm(points[other] - points[node]))
                queue.append(other)
    return _Tree(head, upward, far)


def _arm(tree: _Tree, leaves: list[int], feet: set[int], sign: int, spine: list[int], legs: set[int],
         points: np.ndarray, side: np.ndarray, low: float, tall: float) -> list[int] | None:
    """The arm on the ``sign`` side: its nodes from where it leaves the spine to its hand, or None."""
    best: list[int] | None = None
    on_spine = set(spine)
    for leaf in leaves:
        if leaf in feet or leaf == tree.head or sign * side[leaf] <= 0 or points[leaf, 2] < low + 0.25 * tall:
            continue
        nodes = tree.way(leaf)
        join = next(n for n in nodes if n in on_spine)
        out = nodes[:nodes.index(join) + 1]
        if (tree.far[leaf] - tree.far[join] < 0.25 * tall or float(np.max(sign * side[out])) < 0.1 * tall
                or legs & set(out) or join == tree.head):
            continue
        if best is None or tree.far[leaf] > tree.far[best[-1]]:
            best = out[::-1]
    return best


def _smoothed(line: np.ndarray, reach: int = 2) -> np.ndarray:
    """``line`` averaged over ``reach`` points either side, its ends kept: the axis steps from voxel to
    voxel, and a zigzag lengthens the arc that the proportions are measured along."""
    if len(line) <= 2 * reach + 1:
        return line
    kernel = np.ones(2 * reach + 1) / (2 * reach + 1)
    padded = np.concatenate([np.repeat(line[:1], reach, axis=0), line, np.repeat(line[-1:], reach, axis=0)])
    smooth = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(3)], axis=1)
    smooth[0], smooth[-1] = line[0], line[-1]
    return smooth


def _cuts(line: np.ndarray, marks: list[float], least: float) -> list[np.ndarray]:
    """The points at ``marks`` along ``line``, a mark nearer than ``least`` to the one before dropped."""
    kept: list[float] = []
    for mark in marks:
        if not kept or mark - kept[-1] >= least:
            kept.append(mark)
    return [anatomy.at(line, mark) for mark in kept]


def _bones(spine_line: np.ndarray, chest: float, arms: list[np.ndarray],
           legs: list[np.ndarray], tall: float, window: float, bone_length: float) -> Skeleton:
    heads: list[np.ndarray] = []
    tails: list[np.ndarray] = []
    parents: list[int] = []

    def chain(points: list[np.ndarray], parent: int) -> int:
        for head, tail in zip(points, points[1:]):
            heads.append(head), tails.append(tail), parents.append(parent)
            parent = len(heads) - 1
        return parent

    least = 0.01 * tall
    root = chain([spine_line[0], spine_line[0] + [0.0, 0.0, bone_length / 3]], -1)
    top = float(anatomy.arc(spine_line)[-1])
    count = int(np.clip(round(chest / bone_length), 1, 3))
    spine_top = chain(_cuts(spine_line, list(np.linspace(0.0, chest, count + 1)), least), root)
    count = int(np.clip(round((top - chest) / bone_length), 1, 2))
    chain(_cuts(spine_line, list(np.linspace(chest, top, count + 1)), least), spine_top)
    for line in arms:
        joints = anatomy.arm(line, window)
        marks = [joints.shoulder, joints.elbow, joints.wrist, joints.end]
        chain([anatomy.at(spine_line, chest)] + _cuts(line, marks, least), spine_top)
    for line in legs:
        joints = anatomy.leg(line, tall, window)
        marks = [joints.hip, joints.knee, joints.ankle] + ([joints.ball] if joints.ball is not None else []) \
            + [joints.end]
        chain(_cuts(line, marks, least), root)
    names = tuple(f"bone_{j:02d}" for j in range(len(heads)))
    return Skeleton(names, np.array(heads), np.array(tails), tuple(parents))
