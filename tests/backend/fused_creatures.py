"""Fused creatures of known skeleton: capsules along the bones, unioned into one watertight surface.

A generated mesh is one fused surface, not a tube per bone (``rig_meshes``), so the binding is
measured on figures made the way a remesher makes them: each bone is a capsule (a segment swept by a
sphere), the capsules' signed distances are unioned (their minimum) on a grid of ``spacing``, marching
cubes (scikit-image) takes the zero level, and a light Taubin smoothing (trimesh) takes the staircase
off without shrinking. Each vertex's true bone is the capsule whose surface is nearest (the least
signed distance, ``|p - segment| - radius``): where two capsules fuse, the crease between them is
where that choice changes, as an artist's weight split falls at the crease. A vertex is *near a joint*
when it lies within ``JOINT_REACH`` times the thicker capsule's radius of a joint (a child's head):
there the crease is a matter of taste, and both bones are right.

Figures (img23d's frame: Z up, the front facing -Y, the left on +X; 1.75 m tall, 1.84 m long):
``biped("T")`` and ``biped("A")`` with pelvis, spine, chest, neck, head, shoulders, arms, hands, legs
and feet (19 bones); ``biped("close")`` with the arms hanging ``gap`` from the torso and the legs
``gap`` apart; ``quadruped()`` with a two-bone tail, ``quadruped(gap=...)`` with the front legs ``gap``
apart; ``humanoid()`` of human proportions (its hands a hand long, with clavicles). Spacing 1.2 cm builds
one in about a tenth of a second (half a second with the first imports); a gap needs a spacing under about
two thirds of it to stay open in the surface. ``blockout()`` is no capsule figure: a box torso, cylinder
limbs, box hands and feet and a sphere head fused into one surface, its skeleton unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from img23d_backend.rigging.skeleton import Skeleton

JOINT_REACH = 1.0
SPACING = 0.012


@dataclass(frozen=True)
class FusedCreature:
    name: str
    positions: np.ndarray
    triangles: np.ndarray
    skeleton: Skeleton
    radii: np.ndarray       # (J,) each bone's capsule radius
    truth: np.ndarray       # (V,) each vertex's bone: the nearest capsule's
    near_joint: np.ndarray  # (V,) bool: within JOINT_REACH radii of a joint

    @property
    def height(self) -> float:
        return float(np.ptp(self.positions, axis=0).max())

    def bone(self, name: str) -> int:
        return self.skeleton.names.index(name)

    def subtree(self, name: str) -> list[int]:
        """The bone and all its descendants."""
        moving = {self.bone(name)}
        for _ in range(self.skeleton.count):
            moving |= {j for j, p in enumerate(self.skeleton.parents) if p in moving}
        return sorted(moving)


Row = tuple[str, "str | None", tuple[float, float, float], tuple[float, float, float], float]


def _capsule_distance(points: np.ndarray, head: np.ndarray, tail: np.ndarray, radius: float) -> np.ndarray:
    axis = tail - head
    t = np.clip((points - head) @ axis / float(axis @ axis), 0.0, 1.0)
    return np.linalg.norm(points - (head + t[..., None] * axis), axis=-1) - radius


def _surface(field: np.ndarray, low: np.ndarray, spacing: float, smoothing: int) -> tuple[np.ndarray, np.ndarray]:
    """The zero level of a signed distance ``field`` sampled from ``low`` every ``spacing``: positions, triangles."""
    import trimesh
    from skimage.measure import marching_cubes

    vertices, faces, _, _ = marching_cubes(field, level=0.0, spacing=(spacing,) * 3)
    mesh = trimesh.Trimesh(vertices + low, faces, process=True)
    mesh.update_faces(mesh.nondegenerate_faces())   # marching cubes' zero-area slivers at grid corners
    mesh.remove_unreferenced_vertices()
    if smoothing:
        trimesh.smoothing.filter_taubin(mesh, iterations=smoothing)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def build(name: str, rows: list[Row], spacing: float = SPACING, smoothing: int = 6) -> FusedCreature:
    """The fused surface of ``rows`` (name, parent, head, tail, radius), its skeleton and truth."""
    names = [row[0] for row in rows]
    heads = np.array([row[2] for row in rows], float)
    tails = np.array([row[3] for row in rows], float)
    radii = np.array([row[4] for row in rows], float)
    skeleton = Skeleton(tuple(names), heads, tails, tuple(-1 if r[1] is None else names.index(r[1]) for r in rows))
    low = np.minimum(heads, tails).min(axis=0) - radii.max() - 3 * spacing
    high = np.maximum(heads, tails).max(axis=0) + radii.max() + 3 * spacing
    shape = np.ceil((high - low) / spacing).astype(int) + 1
    field = np.full(shape, 1.0)
    # Each capsule only where it can be the nearest surface: its own box, a few cells beyond (fast).
    for head, tail, radius in zip(heads, tails, radii):
        first = np.maximum(np.floor((np.minimum(head, tail) - radius - low) / spacing).astype(int) - 2, 0)
        last = np.minimum(np.ceil((np.maximum(head, tail) + radius - low) / spacing).astype(int) + 3, shape)
        axes = [low[k] + spacing * np.arange(first[k], last[k]) for k in range(3)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        box = tuple(slice(a, b) for a, b in zip(first, last))
        field[box] = np.minimum(field[box], _capsule_distance(grid, head, tail, radius))
    positions, triangles = _surface(field, low, spacing, smoothing)
    signed = np.stack([_capsule_distance(positions, h, t, r) for h, t, r in zip(heads, tails, radii)], axis=1)
    truth = signed.argmin(axis=1)
    near = np.zeros(len(positions), dtype=bool)
    for child, parent in enumerate(skeleton.parents):
        if parent >= 0:
            reach = JOINT_REACH * max(radii[child], radii[parent])
            near |= np.linalg.norm(positions - heads[child], axis=1) < reach
    return FusedCreature(name, positions, triangles, skeleton, radii, truth, near)


def _mirrored(rows: list[Row]) -> list[Row]:
    """``rows`` with every ``_L`` row followed by its ``_R`` mirror (X negated)."""
    out: list[Row] = []
    for name, parent, head, tail, radius in rows:
        out.append((name, parent, head, tail, radius))
        if name.endswith("_L"):
            flip = (lambda p: (-p[0], p[1], p[2]))
            out.append((name[:-2] + "_R", parent[:-2] + "_R" if parent and parent.endswith("_L") else parent,
                        flip(head), flip(tail), radius))
    return out


def biped(pose: str = "T", gap: float = 0.015, spacing: float = SPACING) -> FusedCreature:
    """A 1.75 m biped: ``pose`` "T" (arms out), "A" (arms 45 degrees down) or "close" (arms hanging
    ``gap`` from the torso, the legs ``gap`` apart)."""
    torso, leg = 0.13, 0.065
    hip_x = leg + gap / 2 if pose == "close" else 0.1
    rows: list[Row] = [
        ("hips", None, (0, 0, 0.92), (0, 0, 1.05), torso),
        ("spine", "hips", (0, 0, 1.05), (0, 0, 1.2), 0.12),
        ("chest", "spine", (0, 0, 1.2), (0, 0, 1.3), 0.125),
        ("neck", "chest", (0, 0, 1.3), (0, 0, 1.58), 0.05),
        ("head", "neck", (0, 0, 1.58), (0, 0, 1.66), 0.09),
    ]
    shoulder = np.array([0.06, 0, 1.4])
    arm_top = np.array([0.18, 0, 1.4])
    if pose == "T":
        direction = np.array([1.0, 0, 0])
    elif pose == "A":
        direction = np.array([np.cos(np.radians(45)), 0, -np.sin(np.radians(45))])
    else:   # hanging: the arm's surface ``gap`` from the chest's (radius 0.135) and the hips'
        arm_top = np.array([torso + gap + 0.045, 0, 1.36])
        direction = np.array([0.0, 0, -1.0])
    elbow = arm_top + 0.27 * direction
    wrist = elbow + 0.25 * direction
    hand = wrist + 0.1 * direction
    rows += [
        ("shoulder_L", "chest", tuple(shoulder), tuple(arm_top), 0.05),
        ("upper_arm_L", "shoulder_L", tuple(arm_top), tuple(elbow), 0.045),
        ("forearm_L", "upper_arm_L", tuple(elbow), tuple(wrist), 0.038),
        ("hand_L", "forearm_L", tuple(wrist), tuple(hand), 0.03),
        ("thigh_L", "hips", (hip_x, 0, 0.9), (hip_x, 0, 0.5), leg),
        ("shin_L", "thigh_L", (hip_x, 0, 0.5), (hip_x, 0, 0.1), 0.05),
        ("foot_L", "shin_L", (hip_x, 0, 0.1), (hip_x, -0.14, 0.04), 0.04),
    ]
    return build(f"biped {pose}", _mirrored(rows), spacing)


def quadruped(gap: float | None = None, spacing: float = SPACING) -> FusedCreature:
    """A quadruped 1.84 m from nose to tail, with a two-bone tail (19 bones); ``gap``: the front legs that
    far apart (else 0.12)."""
    leg = 0.055
    front_x = leg + gap / 2 if gap is not None else 0.115
    rows: list[Row] = [
        ("hips", None, (0, 0.45, 0.75), (0, 0.2, 0.75), 0.15),
        ("spine", "hips", (0, 0.2, 0.75), (0, -0.1, 0.76), 0.14),
        ("chest", "spine", (0, -0.1, 0.76), (0, -0.35, 0.78), 0.16),
        ("neck", "chest", (0, -0.35, 0.8), (0, -0.55, 1.0), 0.07),
        ("head", "neck", (0, -0.55, 1.0), (0, -0.8, 1.02), 0.09),
        ("tail_1", "hips", (0, 0.5, 0.78), (0, 0.72, 0.82), 0.04),
        ("tail_2", "tail_1", (0, 0.72, 0.82), (0, 0.92, 0.8), 0.03),
    ]
    for leg_name, y, parent, x in (("front", -0.3, "chest", front_x), ("back", 0.4, "hips", 0.11)):
        rows += [
            (f"{leg_name}_upper_L", parent, (x, y, 0.7), (x, y, 0.4), leg),
            (f"{leg_name}_lower_L", f"{leg_name}_upper_L", (x, y, 0.4), (x, y, 0.08), 0.045),
            (f"{leg_name}_foot_L", f"{leg_name}_lower_L", (x, y, 0.08), (x, y - 0.1, 0.04), 0.04),
        ]
    return build("quadruped" if gap is None else f"quadruped, front legs {gap * 100:.1f} cm apart",
                 _mirrored(rows), spacing)


def humanoid(pose: str = "A", spacing: float = 0.02) -> FusedCreature:
    """A 1.75 m figure of human proportions (a hand as long as a hand: ``biped``'s are stubs), its arms
    level (``pose`` "T") or 40 degrees down ("A"), with clavicles, feet and a neck (19 bones). The limb
    joints are the named bones' heads: upper_arm (shoulder), forearm (elbow), hand (wrist), thigh (hip),
    shin (knee), foot (ankle)."""
    rows: list[Row] = [
        ("hips", None, (0, 0, 0.92), (0, 0, 1.04), 0.13),
        ("spine", "hips", (0, 0, 1.04), (0, 0, 1.22), 0.12),
        ("chest", "spine", (0, 0, 1.22), (0, 0, 1.36), 0.13),
        ("neck", "chest", (0, 0, 1.36), (0, 0, 1.54), 0.05),
        ("head", "neck", (0, 0, 1.56), (0, 0, 1.65), 0.095),
    ]
    down = np.radians(40 if pose == "A" else 0)
    direction = np.array([np.cos(down), 0, -np.sin(down)])
    shoulder = np.array([0.19, 0, 1.42])
    elbow = shoulder + 0.30 * direction
    wrist = elbow + 0.26 * direction
    rows += [
        ("clavicle_L", "chest", (0.05, 0, 1.42), tuple(shoulder), 0.05),
        ("upper_arm_L", "clavicle_L", tuple(shoulder), tuple(elbow), 0.045),
        ("forearm_L", "upper_arm_L", tuple(elbow), tuple(wrist), 0.038),
        ("hand_L", "forearm_L", tuple(wrist), tuple(wrist + 0.16 * direction), 0.03),
        ("thigh_L", "hips", (0.095, 0, 0.9), (0.095, 0, 0.49), 0.07),
        ("shin_L", "thigh_L", (0.095, 0, 0.49), (0.095, 0, 0.09), 0.05),
        ("foot_L", "shin_L", (0.095, 0, 0.09), (0.095, -0.15, 0.035), 0.04),
    ]
    return build(f"humanoid {pose}", _mirrored(rows), spacing)


def _box_distance(points: np.ndarray, centre: tuple[float, ...], half: tuple[float, ...]) -> np.ndarray:
    outside = np.abs(points - np.asarray(centre)) - np.asarray(half)
    return np.linalg.norm(np.maximum(outside, 0.0), axis=-1) + np.minimum(outside.max(axis=-1), 0.0)


def _cylinder_distance(points: np.ndarray, head: tuple[float, ...], tail: tuple[float, ...],
                       radius: float) -> np.ndarray:
    """A flat-ended cylinder's signed distance."""
    head_, axis = np.asarray(head, float), np.asarray(tail, float) - np.asarray(head, float)
    length = float(np.linalg.norm(axis))
    along = (points - head_) @ (axis / length)
    across = np.linalg.norm(points - head_ - along[..., None] * (axis / length), axis=-1) - radius
    outside = np.stack([across, np.abs(along - length / 2) - length / 2], axis=-1)
    return np.linalg.norm(np.maximum(outside, 0.0), axis=-1) + np.minimum(outside.max(axis=-1), 0.0)


def blockout(spacing: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A 1.9 m humanoid blockout fused into one surface (positions, triangles): a box torso 0.5 m wide,
    cylinder legs under its bottom corners, cylinder arms held level, box hands and feet, a cylinder neck
    and a sphere head; mirror-symmetric across X = 0, the left on +X."""
    low, high = np.array([-0.95, -0.3, -0.05]), np.array([0.95, 0.3, 1.95])
    grid = np.stack(np.meshgrid(*[np.arange(low[k], high[k], spacing) for k in range(3)], indexing="ij"), axis=-1)
    parts = [_box_distance(grid, (0, 0, 1.19), (0.25, 0.12, 0.31)),
             _cylinder_distance(grid, (0, 0, 1.48), (0, 0, 1.6), 0.06),
             np.linalg.norm(grid - [0, 0, 1.69], axis=-1) - 0.12]
    for x in (1, -1):
        parts += [_cylinder_distance(grid, (0.23 * x, 0, 1.42), (0.5 * x, 0, 1.42), 0.05),
                  _cylinder_distance(grid, (0.5 * x, 0, 1.42), (0.75 * x, 0, 1.42), 0.0425),
                  _box_distance(grid, (0.83 * x, 0, 1.42), (0.08, 0.025, 0.05)),
                  _cylinder_distance(grid, (0.14 * x, 0, 0.9), (0.14 * x, 0, 0.5), 0.06),
                  _cylinder_distance(grid, (0.14 * x, 0, 0.5), (0.14 * x, 0, 0.08), 0.048),
                  _box_distance(grid, (0.14 * x, -0.05, 0.04), (0.06, 0.12, 0.04))]
    return _surface(np.min(parts, axis=0), low, spacing, smoothing=0)
