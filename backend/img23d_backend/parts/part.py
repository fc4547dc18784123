"""A parts request and its answer, whichever parts model runs it: ``PartsRequest`` (a picture, a mesh, or
both, with an optional mask), ``PartMesh`` (one part, in the input's frame) and ``PartProgress`` (one
report per part), and ``check_limits``: a request against the grids and the most parts of the parts model that
runs it, as the protocol's row states them (``img23d_protocol.PartsModel``, what the add-on offers). Light: no
numpy, no torch, no model code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from img23d_protocol import DEFAULT_PARTS_MODEL, PARTS_MODELS, ErrorCode, PartsModel, ProtocolError

if TYPE_CHECKING:  # the command line reads this module's limits before anything heavy loads
    import numpy as np

# A request made in-process with no limits of its own takes the default parts model's; a job gives the limits of
# the model that runs it (``check_limits``).
_DEFAULT_ROW = PARTS_MODELS[DEFAULT_PARTS_MODEL]
DEFAULT_STEPS = 50               # denoising steps per part, AutoPartGen's release's


@dataclass(frozen=True)
class PartsRequest:
    image: Any = None                      # a PIL picture (RGBA: its alpha frames the object), or None
    vertices: np.ndarray | None = None     # a mesh of the whole object [V, 3], or None
    faces: np.ndarray | None = None        # its triangles [F, 3]
    mask: np.ndarray | None = None         # [H, W] integers the picture's size: one part per non-zero value
    # Names for the parts (fewer than the parts is fine: the others are part_NN): in the order the parts are
    # made, or with a mask, one per mask value in increasing order (the first name to the smallest value).
    names: tuple[str, ...] = ()
    max_parts: int = _DEFAULT_ROW.max_parts
    seed: int = 0
    grid: int = _DEFAULT_ROW.default_grid  # the finest decoding grid's cells per side (one of the model's grids)
    steps: int = 50                        # denoising steps per latent (the release's 50)


def check_limits(model: PartsModel, grid: int | None, max_parts: int | None, grid_flag: str = "the decoding grid",
                 parts_flag: str = "the most parts") -> None:
    """``grid`` (cells a side) and ``max_parts`` checked against ``model``'s row, None standing for the model's own
    (its default grid, its most parts); one sentence naming the model and its range, in the words of the caller's
    ``grid_flag`` and ``parts_flag`` (a command's flags)."""
    if grid is not None and grid not in model.grids:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{grid_flag} must be one of {', '.join(map(str, model.grids))} "
                                                   f"cells a side: {model.label} decodes at those, not {grid}")
    if max_parts is not None and not 1 <= max_parts <= model.max_parts:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{parts_flag} must be 1 to {model.max_parts}: {model.label} makes "
                            f"at most {model.max_parts} parts, not {max_parts}")

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
