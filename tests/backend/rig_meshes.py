"""A biped and a quadruped built from tubes, with the skeleton they were built on and each vertex's bone.

Each bone is a closed tube around its segment (rings along it, caps at both ends); tubes overlap at the
joints as primitives do (a non-manifold union, as AI and blockout meshes often are). A vertex's true bone
is the bone whose tube it belongs to. Img23d's frame: Z up, the front facing -Y, the left on +X.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from img23d_backend.rigging.skeleton import Skeleton


@dataclass(frozen=True)
class RiggedMesh:
    positions: np.ndarray
    triangles: np.ndarray
    skeleton: Skeleton
    truth: np.ndarray      # (V,) each vertex's bone


# (name, parent, head, tail, radius): the biped stands 1.85 tall in an A-pose-free T-pose, legs apart
# by more than two voxels (the shell's dilation would join closer ones).
BIPED = (
    ("hips", None, (0, 0, 0.95), (0, 0, 1.15), 0.15),
    ("spine", "hips", (0, 0, 1.15), (0, 0, 1.5), 0.15),
    ("neck", "spine", (0, 0, 1.5), (0, 0, 1.6), 0.05),
    ("head", "neck", (0, 0, 1.6), (0, 0, 1.85), 0.1),
    ("upper_arm_L", "spine", (0.17, 0, 1.42), (0.5, 0, 1.42), 0.05),
    ("forearm_L", "upper_arm_L", (0.5, 0, 1.42), (0.8, 0, 1.42), 0.045),
    ("upper_arm_R", "spine", (-0.17, 0, 1.42), (-0.5, 0, 1.42), 0.05),
    ("forearm_R", "upper_arm_R", (-0.5, 0, 1.42), (-0.8, 0, 1.42), 0.045),
    ("thigh_L", "hips", (0.12, 0, 0.93), (0.12, 0, 0.5), 0.065),
    ("shin_L", "thigh_L", (0.12, 0, 0.5), (0.12, 0, 0.05), 0.055),
    ("thigh_R", "hips", (-0.12, 0, 0.93), (-0.12, 0, 0.5), 0.065),
    ("shin_R", "thigh_R", (-0.12, 0, 0.5), (-0.12, 0, 0.05), 0.055),
)
QUADRUPED = (
    ("pelvis", None, (0, 0.45, 0.6), (0, 0.1, 0.6), 0.14),
    ("chest", "pelvis", (0, 0.1, 0.6), (0, -0.4, 0.6), 0.15),
    ("neck", "chest", (0, -0.4, 0.6), (0, -0.55, 0.8), 0.07),
    ("head", "neck", (0, -0.55, 0.8), (0, -0.8, 0.82), 0.09),
    ("tail", "pelvis", (0, 0.45, 0.6), (0, 0.8, 0.7), 0.03),
    *((f"{leg}_{end}_{side}", parent if upper else f"{leg}_upper_{side}",
       (x, y, 0.55 if upper else 0.3), (x, y, 0.3 if upper else 0.02), 0.05)
      for leg, y, parent in (("front", -0.33, "chest"), ("back", 0.38, "pelvis"))
      for side, x in (("L", 0.1), ("R", -0.1))
      for end, upper in (("upper", True), ("lower", False))),
)


def tube(head: np.ndarray, tail: np.ndarray, radius: float, rings: int = 8, sides: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube around the segment: ``rings`` rings of ``sides`` vertices, a centre vertex per cap."""
    head, tail = np.asarray(head, float), np.asarray(tail, float)
    axis = (tail - head) / np.linalg.norm(tail - head)
    other = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(axis, other)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    circle = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    along = np.linspace(0, 1, rings)
    ring_points = head + along[:, None, None] * (tail - head) + radius * circle[None]
    points = np.concatenate([ring_points.reshape(-1, 3), [head, tail]])
    faces = []
    for r in range(rings - 1):
        for s in range(sides):
            a, b = r * sides + s, r * sides + (s + 1) % sides
            c, d = a + sides, b + sides
            faces += [(a, b, d), (a, d, c)]
    first, last = rings * sides, rings * sides + 1
    for s in range(sides):
        faces.append((first, (s + 1) % sides, s))
        top = (rings - 1) * sides
        faces.append((last, top + s, top + (s + 1) % sides))
    return points, np.array(faces)


def build(table: tuple, rings: int = 8, sides: int = 12) -> RiggedMesh:
    names = [row[0] for row in table]
    positions, triangles, truth = [], [], []
    count = 0
    for bone, (_, _, head, tail, radius) in enumerate(table):
        points, faces = tube(np.array(head), np.array(tail), radius, rings, sides)
        positions.append(points)
        triangles.append(faces + count)
        truth.append(np.full(len(points), bone))
        count += len(points)
    skeleton = Skeleton(tuple(names), np.array([row[2] for row in table], float), np.array([row[3] for row in table], float),
                        tuple(-1 if row[1] is None else names.index(row[1]) for row in table))
    return RiggedMesh(np.concatenate(positions), np.concatenate(triangles), skeleton, np.concatenate(truth))


def biped(rings: int = 8, sides: int = 12) -> RiggedMesh:
    return build(BIPED, rings, sides)


def quadruped(rings: int = 8, sides: int = 12) -> RiggedMesh:
    return build(QUADRUPED, rings, sides)
