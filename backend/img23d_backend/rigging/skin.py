"""``Skin``: each vertex's strongest four joints and their weights, as glTF's JOINTS_0/WEIGHTS_0 hold them.

glTF 2.0 (section 3.7.3.3, "Skinned Mesh Attributes") asks that a vertex's weights be non-negative and sum
to 1 within float tolerance; four per vertex is what one JOINTS_0/WEIGHTS_0 pair carries and what game
engines read. The weights are renormalised in float32, the precision the file stores, with the largest
absorbing what rounding left, so each row's float32 sum is 1 to within one unit in the last place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INFLUENCES = 4


@dataclass(frozen=True)
class Skin:
    joints: np.ndarray   # (V, 4) int64: joint indices, strongest first
    weights: np.ndarray  # (V, 4) float32: each row sums to 1

    def __post_init__(self) -> None:
        if self.joints.shape != self.weights.shape or self.joints.ndim != 2 or self.joints.shape[1] != INFLUENCES:
            raise ValueError(f"a skin holds (V, {INFLUENCES}) joints and weights, not {self.joints.shape} "
                             f"and {self.weights.shape}")
        # The Khronos validator warns of a joint index beside a zero weight (ACCESSOR_JOINTS_USED_ZERO_WEIGHT:
        # "Joint has zero weight but has non-zero value"): an unused influence names joint 0.
        object.__setattr__(self, "joints", np.where(self.weights == 0, 0, self.joints).astype(np.int64))

    @property
    def vertex_count(self) -> int:
        return len(self.joints)

    @property
    def strongest(self) -> np.ndarray:
        """Each vertex's strongest joint."""
        return self.joints[:, 0]

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "Skin":
        """The strongest four of ``dense`` (V, J) non-negative weights, renormalised. A row of zeros is an
        error of the caller's: every vertex must have some joint."""
        dense = np.asarray(dense, dtype=np.float64)
        if dense.ndim != 2 or dense.shape[1] == 0:
            raise ValueError("dense weights must be (V, J) with J >= 1")
        if (dense < 0).any() or not np.isfinite(dense).all():
            raise ValueError("weights must be finite and non-negative")
        vertices, count = dense.shape
        padded = dense if count >= INFLUENCES else np.concatenate(
            [dense, np.zeros((vertices, INFLUENCES - count))], axis=1)
        # Ties fall to the lower joint index (a stable sort of the negated weights): the same answer every run.
        order = np.argsort(-padded, axis=1, kind="stable")[:, :INFLUENCES]
        weights = np.take_along_axis(padded, order, axis=1)
        if (weights[:, 0] <= 0).any():
            raise ValueError(f"{int((weights[:, 0] <= 0).sum())} vertices have no weight on any joint")
        # A padded column (a skeleton of fewer than four joints) points at joint 0 with weight 0.
        joints = np.where(order < count, order, 0)
        return cls(joints.astype(np.int64), normalised(weights))

    def dense(self, joint_count: int) -> np.ndarray:
        """The (V, joint_count) weights, zero where a joint is not among a vertex's four."""
        out = np.zeros((self.vertex_count, joint_count))
        rows = np.repeat(np.arange(self.vertex_count), INFLUENCES)
        np.add.at(out, (rows, self.joints.reshape(-1)), self.weights.reshape(-1).astype(np.float64))
        return out


def normalised(weights: np.ndarray) -> np.ndarray:
    """Rows of non-negative weights scaled to sum to 1 in float32 (see the module's docstring)."""
    rows = np.asarray(weights, dtype=np.float64)
    rows = rows / rows.sum(axis=1, keepdims=True)
    out = rows.astype(np.float32)
    out[:, 0] += np.float32(1.0) - out.sum(axis=1, dtype=np.float32)  # column 0 is the largest
    return out
