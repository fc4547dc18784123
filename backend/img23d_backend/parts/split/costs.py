"""What a split's own geometry costs before it starts (the renders, the lifting, the labelling and the
cut; the grounding and matting models come on top), and its refusal, in one sentence, past what it holds.

Two bounds, both checked before anything is rendered:

* ``MAX_SPLIT_TRIANGLES`` (the protocol's limits, which the add-on reads too): the labelling and the cut hold
  the face graph and its system; on the 2-core development CPU a fused mesh of 625,572 faces took 12 s to render, 13 s to label and 3 s to cut, at a peak of
  1.2 GB (``bench/parts_split.py``'s meshes, issue 73): 2,000,000 faces is about 1.5 minutes and 4 GB.
* ``MAX_FRAGMENTS``: the rasterizer holds every (pixel, face) it covers on a render at once, about
  20 bytes each. A surface covers a render about once (the fused chair at 512 px: 139,000 of its
  262,144 pixels); 20,000 large random triangles cover it 460 times (121 million: 2.4 GB and some 20 s
  a render, ten renders). Each face's area on each render, summed, counts them before any is drawn.

The seconds said before the run: ``SECONDS_PER_FACE`` (render set-up, lifting, labelling and cut per
face), ``SECONDS_PER_FRAGMENT`` and ``SECONDS_PER_PIXEL``, fitted to those runs on the development CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from img23d_protocol import MAX_SPLIT_TRIANGLES, ErrorCode, ProtocolError

from .renders import DIRECTIONS, camera_towards, window_of
from .surface import Surface

MAX_FRAGMENTS = 20_000_000      # covered (pixel, face) pairs on one render: about 0.4 GB held at once
SECONDS_PER_FACE = 45e-6        # 625,572 faces: 28.9 s to render, lift, label and cut (1.2 s of it pixels)
SECONDS_PER_FRAGMENT = 0.19e-6  # 2,000 random triangles at 512 px: 115 million fragments in 21.9 s
SECONDS_PER_PIXEL = 0.27e-6     # a render's pixels, read and shaded whatever the mesh


@dataclass(frozen=True)
class SplitCost:
    """A split's geometric work: its faces, its renders and the fragments the most covered one holds."""

    faces: int
    renders: int
    size: int
    fragments: float        # all renders together
    most_fragments: float   # the render that holds the most

    @property
    def depth(self) -> float:
        """How many faces deep the most covered render is, on average over its pixels."""
        return self.most_fragments / max(self.size * self.size, 1)

    @property
    def seconds(self) -> float:
        return (SECONDS_PER_FACE * self.faces + SECONDS_PER_FRAGMENT * self.fragments
                + SECONDS_PER_PIXEL * self.renders * self.size * self.size)


def split_cost(surface: Surface, size: int, directions: tuple[tuple[float, float], ...] = DIRECTIONS) -> SplitCost:
    """The cost of rendering ``surface`` at ``size`` pixels from ``directions`` and splitting it: each face's
    area in pixels on each render (orthographic: its projected triangle's area), summed per render."""
    window = window_of(surface, size)
    scale = (size / (2 * window.half)) ** 2
    corners = surface.vertices[surface.faces]
    edge_one, edge_two = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    cross = np.cross(edge_one, edge_two)    # twice each face's area along its normal
    centre = (surface.vertices.min(axis=0) + surface.vertices.max(axis=0)) / 2
    per_render = [float(np.abs(cross @ camera_towards(azimuth, elevation, centre).forward).sum()) / 2 * scale
                  for azimuth, elevation in directions]
    return SplitCost(surface.face_count, len(directions), size, float(sum(per_render)), max(per_render, default=0.0))


def check_faces(faces: int) -> None:
    """``bad_request`` in one sentence past ``MAX_SPLIT_TRIANGLES`` (checked on the file's triangles, before
    welding)."""
    if faces > MAX_SPLIT_TRIANGLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh has {faces:,} faces, more than the {MAX_SPLIT_TRIANGLES:,} a split holds "
                            f"(about {MAX_SPLIT_TRIANGLES * SECONDS_PER_FACE / 60:.1f} min and 4 GB on a 2-core CPU), "
                            "so it is not "
                            "split: decimate it first (Blender's Decimate modifier)")


def check_cost(cost: SplitCost) -> None:
    """``bad_request`` in one sentence when the split is past ``MAX_SPLIT_TRIANGLES`` or ``MAX_FRAGMENTS``."""
    check_faces(cost.faces)
    if cost.most_fragments > MAX_FRAGMENTS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh's {cost.faces:,} faces would cover a {cost.size}-pixel render {cost.depth:,.0f} "
                            f"deep ({cost.most_fragments:,.0f} face pixels, at most {MAX_FRAGMENTS:,}), where a "
                            "surface covers it about once, so it looks like a heap of overlapping triangles and is "
                            "not split: a smaller --render-size, or a mesh with a surface, can be")
