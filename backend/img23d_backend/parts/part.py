"""A parts request and its answer, whichever parts model runs it: ``PartsRequest`` (a picture, a mesh, or
both, with an optional mask), ``PartMesh`` (one part, in the input's frame) and ``PartProgress`` (one
report per part), and the limits the command line checks. Light: no numpy, no torch, no model code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line reads this module's limits before anything heavy loads
    import numpy as np

MAX_PARTS = 40   # AutoPartGen's release: its part loop's limit
GRIDS = (32, 64, 128, 256, 512)   # decoding grids: 256 and 512 as the release decodes, smaller for a quick look
DEFAULT_GRID = 256
DEFAULT_STEPS = 50               # denoising steps per part, the release's


@dataclass(frozen=True)
class PartsRequest:
    image: Any = None                      # a PIL picture (RGBA: its alpha frames the object), or None
    vertices: np.ndarray | None = None     # a mesh of the whole object [V, 3], or None
    faces: np.ndarray | None = None        # its triangles [F, 3]
    mask: np.ndarray | None = None         # [H, W] integers the picture's size: one part per non-zero value
    # Names for the parts (fewer than the parts is fine: the others are part_NN): in the order the parts are
    # made, or with a mask, one per mask value in increasing order (the first name to the smallest value).
    names: tuple[str, ...] = ()
    max_parts: int = MAX_PARTS
    seed: int = 0
    grid: int = 256                        # the finest decoding grid's cells per side (256 or 512 in use)
    steps: int = 50                        # denoising steps per latent (the release's 50)


@dataclass(frozen=True)
class PartMesh:
    index: int                             # its place in the order the parts were made
    name: str                              # the request's name for it, or "part_<index>"
    vertices: np.ndarray                   # [V, 3] float32, in the input mesh's frame (the model's without one)
    faces: np.ndarray                      # [F, 3] int64
    note: str = ""                         # one sentence when its decoding stopped short of the asked grid


@dataclass(frozen=True)
class PartProgress:
    part: int                              # the part being made, from 1
    seconds: float                         # seconds since the request began
    estimate: float                        # seconds the whole request will take, as it looks now
