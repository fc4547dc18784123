"""A skeleton from the shape alone: the filled voxels' medial axis as chains of bones.

When no skeleton is given and no model makes one, the geometric binding still needs bones. The filled
volume (``voxels``) is thinned to its medial axis (``skimage.morphology.skeletonize``, Lee's 3-D
thinning), the axis voxels joined to their 26 neighbours and cut to a tree (a minimum spanning tree: a
handle's loop is opened), short spurs pruned (a thinning leaves whiskers at every bump and corner: a
leaf chain shorter than 1.5 times the body's radius where it leaves, from the distance transform, is a
bump, not a limb), and the tree cut into chains at its junctions (junctions closer than the body is thick are merged: two legs leave a
torso at one hip, not at two), each chain into one to four bones of equal length, except that a limb
(a chain from a junction to a free end) has its first bone end where it leaves the body (where the
axis has thinned to ``LIMB_THICKNESS`` times the limb's own thickness) and the rest share what is left:
on bench/rig_binding.py's fused quadruped the legs' tops come within 4-5 cm of the true joints and the
knees within 7 cm (14 cm both with equal lengths; CD-J2J 5.0-5.3 % of the height -> 3.6-4.0 %). One short root bone
stands at the chosen junction (pointing up) so that the skeleton has a single root; every junction is
tried as that root and one that makes a humanoid (``names.humanoid_names``) is preferred, else the
junction nearest the volume's centre. No other anatomy is known there: a knee falls where equal lengths put it.

Before all that, an upright figure whose axis has a head, two hands and two feet is read as a humanoid
(``humanoid_axis``): only the ways between those five ends are kept (a box torso's corners, a hand box's
fork are left out) and the bones are laid where anatomy puts the shoulders, elbows, wrists, hips, knees
and ankles (``anatomy``), so that Mixamo's names land on the bones they name.

The volume it thins is the one the binding's graph keeps apart (``geodesic.apart``): two legs 1 cm
apart, which the filled voxels join, are two legs here, not one thick one.

A mirror-symmetric shape gets a mirror-symmetric skeleton: thinning deletes voxels in scan order, so
the two sides of a symmetric volume thin differently (a leg ending a voxel or a bone short of its twin).
The plane is sought across X (img23d's frame puts the character's left on +X) through the volume's
centroid; where the mirrored volume lands on itself (``MIRROR_OVERLAP`` of its voxels), each bone is
paired with the bone nearest its mirror image (both ways), the pair is averaged across the plane, a
bone that is its own twin (the spine) is set on the plane, and a limb that has no twin (thinning lost
one arm of a pair of tubes) gets its mirror image.

A shape whose axis is too short to hold a chain (a ball, a crate, a blockout) is *degenerate*: it gets a
single bone along its longest principal axis, and the caller says so in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .humanoid_axis import humanoid_skeleton
from .names import chains, humanoid_names
from .skeleton import Skeleton
from .voxels import VoxelVolume

SPUR_FRACTION = 0.08     # a leaf chain shorter than this part of the shape's size is a whisker
BONE_FRACTION = 0.15     # a chain gets about one bone per this part of the shape's size (one to four)
MIN_AXIS_FRACTION = 0.3  # a medial axis shorter than this part of the shape's size is no skeleton
MIRROR_OVERLAP = 0.9     # this share of the mirrored voxels on filled ones: the shape is symmetric
TWIN_FRACTION = 0.1      # a bone's twin lies within this part of the shape's size of its mirror image
LIMB_THICKNESS = 1.25    # a limb has left the body where the axis is no thicker than this times the limb


@dataclass(frozen=True)
class ShapeSkeleton:
    skeleton: Skeleton
    degenerate: bool   # True: the single bone of a shape without a usable axis


def skeleton_from_shape(volume: VoxelVolume) -> ShapeSkeleton:
    """The medial-axis skeleton of ``volume`` (see the module's docstring); bones named ``bone_NN``."""
    points, radii, edges = _axis_tree(volume)
    size = float(np.ptp(volume.centres(np.argwhere(volume.filled)), axis=0).max())
    if len(points):
        edges = _prune(points, radii, edges, SPUR_FRACTION * size)
        points, edges = _merge_junctions(points, radii, edges, SPUR_FRACTION * size)
    length = sum(float(np.linalg.norm(points[a] - points[b])) for a, b in edges)
    if length < MIN_AXIS_FRACTION * size:
        return ShapeSkeleton(_single_bone(volume), degenerate=True)
    neighbours = _neighbours(len(points), edges)
    junctions = [n for n, near in neighbours.items() if len(near) >= 3]
    centre = volume.centres(np.argwhere(volume.filled)).mean(axis=0)
    if not junctions:  # one chain: from its lower end up
        ends = [n for n, near in neighbours.items() if len(near) == 1]
        return ShapeSkeleton(_skeleton(points, neighbours, min(ends, key=lambda n: points[n][2]), size, False), False)
    plane = mirror_plane(volume)
    fitted = humanoid_skeleton(points, edges, plane if plane is not None else float(centre[0]), plane is not None,
                               BONE_FRACTION * size)
    if fitted is not None:
        fitted = symmetrised(fitted, plane, TWIN_FRACTION * size) if plane is not None else fitted
        if humanoid_names(fitted) is not None:
            return ShapeSkeleton(fitted, False)
    junctions.sort(key=lambda n: float(np.linalg.norm(points[n] - centre)))
    candidates = []
    for root in junctions:
        candidate = _skeleton(points, neighbours, root, size, True, radii)
        candidate = symmetrised(candidate, plane, TWIN_FRACTION * size) if plane is not None else candidate
        if humanoid_names(candidate) is not None:
            return ShapeSkeleton(candidate, False)
        candidates.append(candidate)
    return ShapeSkeleton(candidates[0], False)


def mirror_plane(volume: VoxelVolume) -> float | None:
    """The X of the shape's mirror plane (see the module's docstring), or None if it has none."""
    cells = np.argwhere(volume.filled)
    middle = float(cells[:, 0].mean())
    mirrored = cells.copy()
    mirrored[:, 0] = np.round(2 * middle - cells[:, 0]).astype(np.int64)
    inside = (mirrored[:, 0] >= 0) & (mirrored[:, 0] < volume.filled.shape[0])
    landed = np.zeros(len(cells), dtype=bool)
    landed[inside] = volume.filled[tuple(mirrored[inside].T)]
    if landed.mean() < MIRROR_OVERLAP:
        return None
    return float(volume.origin[0] + (middle + 0.5) * volume.pitch)


def symmetrised(skeleton: Skeleton, plane: float, reach: float) -> Skeleton:
    """``skeleton`` made mirror-symmetric across X = ``plane``: each bone and its twin (the bone nearest
    its mirror image, the choice mutual, within ``reach``) averaged; a bone its own twin (within a fifth
    of ``reach``: one lying across the plane, not an arm whose twin is missing) set on the plane. A bone
    whose head was its parent's tail keeps it so. A limb with no twin at all (a leaf chain: thinning in
    scan order can lose one of a pair whole) gets its mirror image, on its parent's twin."""
    def mirror(p: np.ndarray) -> np.ndarray:
        return p * [-1, 1, 1] + [2 * plane, 0, 0]

    heads, tails = skeleton.heads.copy(), skeleton.tails.copy()
    apart = (np.linalg.norm(mirror(heads)[:, None] - heads[None], axis=2)
             + np.linalg.norm(mirror(tails)[:, None] - tails[None], axis=2)) / 2          # (J, J)
    twin = apart.argmin(axis=1)
    paired = np.array([twin[twin[bone]] == bone and apart[bone, twin[bone]] <= (reach / 5 if twin[bone] == bone
                                                                                 else reach)
                       for bone in range(skeleton.count)])
    for bone in np.flatnonzero(paired):
        heads[bone] = (skeleton.heads[bone] + mirror(skeleton.heads[twin[bone]])) / 2
        tails[bone] = (skeleton.tails[bone] + mirror(skeleton.tails[twin[bone]])) / 2
    for bone in skeleton.order():
        parent = skeleton.parents[bone]
        if parent >= 0 and np.allclose(skeleton.heads[bone], skeleton.tails[parent]):
            heads[bone] = tails[parent]
    names, parents = list(skeleton.names), list(skeleton.parents)
    heads_list, tails_list = list(heads), list(tails)
    for chain in chains(skeleton).values():
        parent = skeleton.parents[chain.bones[0]]
        if chain.children or parent < 0 or paired[chain.bones].any() or not paired[parent]:
            continue
        attach = int(twin[parent])
        for bone in chain.bones:
            names.append(f"mirror_{len(names):02d}")
            heads_list.append(mirror(heads[bone]))
            tails_list.append(mirror(tails[bone]))
            parents.append(attach)
            attach = len(names) - 1
    return Skeleton(tuple(names), np.array(heads_list), np.array(tails_list), tuple(parents))


def _axis_tree(volume: VoxelVolume) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """The axis voxels' centres, the body's radius at each, and the edges of their spanning tree."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
    from skimage.morphology import skeletonize

    axis = np.argwhere(skeletonize(volume.filled))
    if len(axis) < 2:
        return np.zeros((0, 3)), np.zeros(0), []
    index = {tuple(cell): n for n, cell in enumerate(axis)}
    rows, cols, lengths = [], [], []
    for n, cell in enumerate(axis):
        for offset in np.argwhere(np.ones((3, 3, 3))) - 1:
            other = index.get(tuple(cell + offset))
            if other is not None and other > n:
                rows.append(n), cols.append(other), lengths.append(float(np.linalg.norm(offset)))
    graph = coo_matrix((lengths, (rows, cols)), shape=(len(axis), len(axis))).tocsr()
    # The largest piece only: a loose speck's own little axis is no part of the character.
    _, labels = connected_components(graph, directed=False)
    keep = labels == np.bincount(labels).argmax()
    tree = minimum_spanning_tree(graph[keep][:, keep]).tocoo()
    radii = volume.depth[tuple(axis[keep].T)] * volume.pitch
    return volume.centres(axis[keep]), radii, list(zip(tree.row.tolist(), tree.col.tolist()))


def _neighbours(count: int, edges: list[tuple[int, int]]) -> dict[int, set[int]]:
    near: dict[int, set[int]] = {}
    for a, b in edges:
        near.setdefault(a, set()).add(b)
        near.setdefault(b, set()).add(a)
    return near


def _walk(neighbours: dict[int, set[int]], start: int, first: int) -> list[int]:
    """The path from ``start`` through ``first`` to the next junction or leaf."""
    path = [start, first]
    while len(neighbours[path[-1]]) == 2:
        path.append(next(n for n in neighbours[path[-1]] if n != path[-2]))
    return path


def _prune(points: np.ndarray, radii: np.ndarray, edges: list[tuple[int, int]],
           spur: float) -> list[tuple[int, int]]:
    for _ in range(6):  # a pruned whisker may leave another behind it; a few rounds settle it
        neighbours = _neighbours(len(points), edges)
        removed: set[tuple[int, int]] = set()
        for leaf in [n for n, near in neighbours.items() if len(near) == 1]:
            path = _walk(neighbours, leaf, next(iter(neighbours[leaf])))
            if len(neighbours[path[-1]]) >= 3 and _length(points, path) < max(spur, 1.5 * radii[path[-1]]):
                removed.update({(min(a, b), max(a, b)) for a, b in zip(path, path[1:])})
        if not removed:
            break
        edges = [(a, b) for a, b in edges if (min(a, b), max(a, b)) not in removed]
    return edges


def _merge_junctions(points: np.ndarray, radii: np.ndarray, edges: list[tuple[int, int]],
                     spur: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Junctions joined by a chain shorter than the body's radius there become one, at their middle."""
    neighbours = _neighbours(len(points), edges)
    owner = np.arange(len(points))
    points = points.copy()
    for junction in [n for n, near in neighbours.items() if len(near) >= 3]:
        for first in neighbours[junction]:
            path = _walk(neighbours, junction, first)
            end = path[-1]
            if len(neighbours[end]) >= 3 and end > junction and \
                    _length(points, path) < max(spur, radii[junction], radii[end]):
                middle = points[path].mean(axis=0)
                keep = owner[junction]
                for node in path:
                    owner[owner == owner[node]] = keep
                points[keep] = middle
    merged = {(min(owner[a], owner[b]), max(owner[a], owner[b])) for a, b in edges if owner[a] != owner[b]}
    return points, sorted(merged)


def _length(points: np.ndarray, path: list[int]) -> float:
    return float(np.linalg.norm(np.diff(points[path], axis=0), axis=1).sum())


def _leaf_limb(neighbours: dict[int, set[int]], path: list[int]) -> bool:
    """A chain from a junction to a free end: a limb (a leg, an arm, a tail, a neck and head)."""
    return len(neighbours[path[0]]) >= 3 and len(neighbours[path[-1]]) == 1


def _leaves_body(radii: np.ndarray, steps: np.ndarray) -> float | None:
    """How far along a limb's chain it leaves the body: the first point whose thickness has fallen to
    ``LIMB_THICKNESS`` times the limb's own (the median over the chain's far half); None where the chain
    starts no thicker than that or leaves it only past its middle (no body to leave)."""
    own = float(np.median(radii[len(radii) // 2:]))
    thin = np.flatnonzero(radii <= LIMB_THICKNESS * own)
    if not len(thin) or thin[0] == 0 or steps[thin[0]] > 0.5 * steps[-1]:
        return None
    return float(steps[thin[0]])


def _skeleton(points: np.ndarray, neighbours: dict[int, set[int]], root: int, size: float,
              root_bone: bool, radii: np.ndarray | None = None) -> Skeleton:
    heads: list[np.ndarray] = []
    tails: list[np.ndarray] = []
    parents: list[int] = []
    if root_bone:
        heads.append(points[root])
        tails.append(points[root] + np.array([0.0, 0.0, 0.05 * size]))
        parents.append(-1)
    queue = [(root, first, 0 if root_bone else -1) for first in sorted(neighbours[root])]
    seen = {root}
    while queue:
        start, first, parent = queue.pop(0)
        path = _walk(neighbours, start, first)
        seen.update(path[1:])
        line = points[path]
        steps = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
        count = int(np.clip(round(steps[-1] / (BONE_FRACTION * size)), 1, 4))
        at = np.linspace(0.0, steps[-1], count + 1)
        exit_at = _leaves_body(radii[path], steps) if radii is not None and _leaf_limb(neighbours, path) else None
        if exit_at is not None and count >= 2:
            # A limb's first bone ends where the limb leaves the body; its other bones share the rest.
            at = np.concatenate([[0.0], np.linspace(exit_at, steps[-1], count)])
        marks = [np.array([np.interp(s, steps, line[:, k]) for k in range(3)]) for s in at]
        for head, tail in zip(marks, marks[1:]):
            heads.append(head), tails.append(tail), parents.append(parent)
            parent = len(heads) - 1
        end = path[-1]
        queue.extend((end, nxt, parent) for nxt in sorted(neighbours[end]) if nxt not in seen)
    names = tuple(f"bone_{j:02d}" for j in range(len(heads)))
    return Skeleton(names, np.array(heads), np.array(tails), tuple(parents))


def _single_bone(volume: VoxelVolume) -> Skeleton:
    """One bone through the volume's centre along its longest principal axis, pointing up where it can."""
    centres = volume.centres(np.argwhere(volume.filled))
    centre = centres.mean(axis=0)
    _, _, axes = np.linalg.svd(centres - centre, full_matrices=False)
    axis = axes[0] if axes[0][2] >= 0 else -axes[0]
    reach = (centres - centre) @ axis
    return Skeleton(("root",), centre + reach.min() * axis, centre + reach.max() * axis, (-1,))
