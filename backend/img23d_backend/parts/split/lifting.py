"""From masks on the renders to votes on the faces: each pixel a render shows votes for the name
whose mask holds it, for the face that pixel shows (the rasterizer's face ids are the visibility).

Where the masks of two names overlap on a pixel, the smaller mask (in that render) takes it: a box
for "lamp" or a loose cut-out of the shade's crop can hold the arm as well, while the arm's own
mask is the more specific answer for the pixels it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .renders import PartView

IN_MASK = 0.5   # a matte's value at and above which a pixel belongs to the name (BiRefNet's own midpoint)


@dataclass(frozen=True)
class Votes:
    """Per face and name, the weight of the pixels that voted for it; per face, how many pixels showed it."""

    scores: np.ndarray   # (F, N) float64
    shown: np.ndarray    # (F,) int64: pixels over all renders that show the face

    @property
    def voted(self) -> np.ndarray:
        """(F,) float64: the total weight of the votes each face got."""
        return self.scores.sum(axis=1)

    def found(self) -> np.ndarray:
        """(N,) bool: names some face has a vote for (a name no render found has none)."""
        return self.scores.sum(axis=0) > 0


def lift(views: list[PartView], masks: list[np.ndarray], face_count: int) -> Votes:
    """Votes from ``masks``: one (N, size, size) float array in 0..1 per render of ``views`` (a name
    not found on a render is all zeros there)."""
    names = masks[0].shape[0] if masks else 0
    scores = np.zeros(face_count * max(names, 1), dtype=np.float64)
    shown = np.zeros(face_count, dtype=np.int64)
    for view, mask in zip(views, masks):
        raster = view.raster
        face = raster.face[raster.mask]
        shown += np.bincount(face, minlength=face_count)
        if names == 0:
            continue
        values = mask[:, raster.mask]                          # (N, P) on the pixels that show a face
        inside = values >= IN_MASK
        # The smaller mask wins an overlap: rank each name's claim by its area on this render.
        areas = inside.sum(axis=1).astype(np.float64)
        claim = np.where(inside, -areas[:, None], -np.inf)
        winner = claim.argmax(axis=0)
        held = inside.any(axis=0)
        weight = values[winner, np.arange(values.shape[1])]
        scores += np.bincount(face[held] * names + winner[held], weights=weight[held], minlength=scores.size)
    return Votes(scores.reshape(face_count, max(names, 1))[:, :names], shown)
