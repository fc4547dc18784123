"""``Skeleton``: what a rig's bones are, in the mesh's own frame (img23d's: Z up).

A bone is a joint: its name, its head (where it turns), its tail (where it points) and its parent's
index (-1 for a root). Several roots make a forest, which glTF's skins allow (a skin's joints need no
common root) and which Blender's importer turns into one armature. Checked when made: names unique
and non-empty, parents in range, no cycle, every number finite, so every later step may trust it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from img23d_protocol.rig_bones import cycle_start


class BadSkeleton(ValueError):
    """A skeleton that cannot rig anything: the sentence says why."""


@dataclass(frozen=True)
class Skeleton:
    names: tuple[str, ...]
    heads: np.ndarray        # (J, 3) float64
    tails: np.ndarray        # (J, 3) float64
    parents: tuple[int, ...]  # -1: a root

    def __post_init__(self) -> None:
        heads = np.asarray(self.heads, dtype=np.float64).reshape(-1, 3)
        tails = np.asarray(self.tails, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "tails", tails)
        object.__setattr__(self, "names", tuple(str(name) for name in self.names))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        count = len(self.names)
        if count == 0:
            raise BadSkeleton("the skeleton has no joints")
        if not len(heads) == len(tails) == len(self.parents) == count:
            raise BadSkeleton(f"the skeleton's {count} names, {len(heads)} heads, {len(tails)} tails and "
                              f"{len(self.parents)} parents do not match")
        if not (np.isfinite(heads).all() and np.isfinite(tails).all()):
            raise BadSkeleton("a joint of the skeleton has a position that is not a finite number")
        if any(not name for name in self.names) or len(set(self.names)) != count:
            raise BadSkeleton("the skeleton's joint names must be unique and not empty")
        if any(not -1 <= p < count or p == j for j, p in enumerate(self.parents)):
            raise BadSkeleton("a joint of the skeleton names a parent that does not exist (or itself)")
        looped = cycle_start(self.parents)
        if looped is not None:
            raise BadSkeleton(f"the skeleton's parents form a cycle through {self.names[looped]!r}")

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def roots(self) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == -1]

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    def order(self) -> list[int]:
        """The joints with every parent before its children (roots first, then breadth-first)."""
        ordered, queue = [], list(self.roots)
        while queue:
            joint = queue.pop(0)
            ordered.append(joint)
            queue.extend(self.children(joint))
        return ordered

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        points = np.concatenate([self.heads, self.tails])
        return points.min(axis=0), points.max(axis=0)

    def check_lengths(self) -> None:
        """``BadSkeleton`` for a bone whose tail is its head (against the skeleton's size): a given skeleton's
        may not be (one crashed the binding, its axis no direction); while one is built, heads stand for tails."""
        size = max(float(np.ptp(np.concatenate([self.heads, self.tails]), axis=0).max()), 1e-300)
        short = np.flatnonzero(np.linalg.norm(self.tails - self.heads, axis=1) <= 1e-9 * size)
        if len(short):
            raise BadSkeleton(f"the skeleton's bone {self.names[short[0]]!r} has no length (its head is its tail)")

    def renamed(self, names: list[str] | tuple[str, ...]) -> "Skeleton":
        return Skeleton(tuple(names), self.heads, self.tails, self.parents)

    def moved(self, heads: np.ndarray, tails: np.ndarray) -> "Skeleton":
        """The same bones at other positions (a frame turn, a scale)."""
        return Skeleton(self.names, heads, tails, self.parents)


def tails_from_children(heads: np.ndarray, parents: list[int] | tuple[int, ...],
                        leaf_fraction: float = 0.5) -> np.ndarray:
    """Tails where a file stores heads only (a glTF skin): a joint with children points at their heads'
    mean (one child: at its head, as Blender's importer does); a leaf continues its parent's direction for
    ``leaf_fraction`` of the parent's length; a lone root points up (Z) by a tenth of the skeleton's size."""
    heads = np.asarray(heads, dtype=np.float64)
    tails = np.empty_like(heads)
    size = float(np.ptp(heads, axis=0).max()) if len(heads) > 1 else 1.0
    size = size if size > 0 else 1.0
    children: dict[int, list[int]] = {}
    for joint, parent in enumerate(parents):
        children.setdefault(parent, []).append(joint)
    for joint in range(len(heads)):
        kids = children.get(joint, [])
        if kids:
            tails[joint] = heads[kids].mean(axis=0)
        elif parents[joint] != -1:
            direction = heads[joint] - heads[parents[joint]]
            tails[joint] = heads[joint] + leaf_fraction * direction
        else:
            tails[joint] = heads[joint]
        if np.linalg.norm(tails[joint] - heads[joint]) < 1e-9 * size:
            tails[joint] = heads[joint] + np.array([0.0, 0.0, 0.1 * size])  # a bone needs a length
    return tails
