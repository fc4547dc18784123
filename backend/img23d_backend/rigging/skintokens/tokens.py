"""Skeleton tokens to and from joints: bins, branches, parents and tails in the model's [-1, 1] frame.

Read from upstream ``src/tokenizer/tokenizer_part.py`` (``discretize``, ``undiscretize``, ``tokenize``,
``detokenize``) and the port's ``make_skeleton`` reading (chris-straka/skintokens ``tokenizer.rs``): a bin is
``clip(round((x + 1) / 2 * 256), 0, 255)`` (numpy rounds half to even, as ``torch.round`` does) and reads
back at its centre, ``(bin + 0.5) / 256 * 2 - 1``. A joint written right after its parent is three bins; any
other joint is ``branch``, the parent's three bins, its own three. Each joint's parent is the earlier joint
nearest to the parent position it was written with (ties to the latest, as upstream's reversed scan).

Tails are img23d's rule (upstream's ``make_skeleton`` tail extrusion was not read): a joint continued by the
next joint in the sequence has that joint's head as its tail; any other joint (a leaf, or one whose children
all branch off) points on along its parent's direction by half its own bone's length, a root without children
up +Y (the model's up) by 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import BOS, BRANCH, CLASS_IDS_ALL, EOS, NUM_DISCRETE, PAD, PART_IDS_ALL

LEAF_SCALE = 0.5
ROOT_TAIL = 0.05


@dataclass
class SkeletonTokens:
    """A decoded skeleton in the model's frame: heads, tails and parents (-1 for the root)."""

    joints: np.ndarray  # (J, 3) float32
    tails: np.ndarray  # (J, 3) float32
    parents: np.ndarray  # (J,) int64


def discretize(x: np.ndarray) -> np.ndarray:
    """Coordinates in [-1, 1] to bins 0-255 (half to even, as upstream's numpy round)."""
    t = (np.asarray(x, dtype=np.float64) + 1.0) / 2.0 * NUM_DISCRETE
    return np.clip(np.round(t), 0, NUM_DISCRETE - 1).astype(np.int64)


def undiscretize(bins: np.ndarray) -> np.ndarray:
    """Bins back to coordinates at each bin's centre (float32, as upstream)."""
    return ((np.asarray(bins).astype(np.float32) + 0.5) / NUM_DISCRETE * 2.0 - 1.0).astype(np.float32)


def tokenize(joints: np.ndarray, parents: np.ndarray, cls_token: int) -> list[int]:
    """A skeleton's tokens (parents before children, root first), as upstream writes a training sequence."""
    bins = discretize(joints)
    tokens = [BOS, cls_token]
    for i in range(len(bins)):
        if i and parents[i] != i - 1:
            tokens += [BRANCH, *bins[parents[i]].tolist()]
        tokens += bins[i].tolist()
    return [*tokens, EOS]


def detokenize(tokens: list[int]) -> SkeletonTokens:
    """The skeleton in ``tokens`` (``bos`` ... ``eos``, trailing pads allowed); ``ValueError`` if malformed."""
    ids = [int(t) for t in tokens]
    while ids and ids[-1] == PAD:
        ids.pop()
    if not ids or ids[0] != BOS or ids[-1] != EOS:
        raise ValueError("skeleton tokens must run from bos to eos")
    ids = ids[1:-1]
    heads: list[np.ndarray] = []
    wanted_parents: list[np.ndarray] = []
    continued: list[bool] = []  # joint i continued by joint i + 1 written right after it
    i, branch = 0, False
    while i < len(ids):
        token = ids[i]
        if token < NUM_DISCRETE:
            width = 6 if branch else 3
            if i + width > len(ids) or any(t >= NUM_DISCRETE for t in ids[i:i + width]):
                raise ValueError("a joint's bins are cut short")
            if branch:
                wanted_parents.append(undiscretize(np.array(ids[i:i + 3])))
                heads.append(undiscretize(np.array(ids[i + 3:i + 6])))
            else:
                head = undiscretize(np.array(ids[i:i + 3]))
                if heads:
                    continued[-1] = True
                wanted_parents.append(heads[-1] if heads else head)
                heads.append(head)
            continued.append(False)
            i += width
            branch = False
        elif token == BRANCH:
            branch = True
            i += 1
        elif token in PART_IDS_ALL or token in CLASS_IDS_ALL:
            i += 1
        else:
            raise ValueError(f"token {token} cannot be in a skeleton")
    if not heads:
        raise ValueError("the skeleton has no joints")
    joints = np.stack(heads).astype(np.float32)
    parents = np.full(len(joints), -1, dtype=np.int64)
    for k in range(1, len(joints)):
        d = ((joints[:k] - wanted_parents[k]) ** 2).sum(axis=1)
        parents[k] = k - 1 - int(np.argmin(d[::-1]))  # the latest of equal distances, as upstream
    return SkeletonTokens(joints, _tails(joints, parents, continued), parents)


def _tails(joints: np.ndarray, parents: np.ndarray, continued: list[bool]) -> np.ndarray:
    tails = joints.copy()
    for k in range(len(joints)):
        if continued[k] and parents[k + 1] == k:
            tails[k] = joints[k + 1]
            continue
        p = parents[k]
        direction = joints[k] - joints[p] if p >= 0 else np.zeros(3, np.float32)
        if p < 0 or not np.any(direction):
            tails[k] = joints[k] + np.array([0.0, ROOT_TAIL, 0.0], np.float32)
        else:
            tails[k] = joints[k] + direction * LEAF_SCALE
    return tails
