"""The material step's model, whichever it is: made resident through the job's model manager, its
activations checked against the memory free beside it, and each view's maps estimated
(``material_maps``, the call a job makes: ``jobs.steps.materials`` bakes them beside the colour).

The manager's loader for the materials role is the spec's model's (``materials_loader``: the one
loading path, with the manager's budget and offloading). A model that cannot be loaded or run raises
``skips.MaterialsUnavailable`` with one sentence (``skips.materials_sentence`` words it for the job),
so a job can keep its colour texture and say why; a cancel stays a cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from ..models.specs import ModelSpec
from ..stages.skips import materials_unavailable
from . import memory
from .table import material_of, row_of


@dataclass(frozen=True)
class MaterialMaps:
    """One view's estimates, float32 in [0, 1], the view's size ([height, width])."""

    roughness: np.ndarray
    metallic: np.ndarray


def processing_side(own: int, view_sides: Sequence[int]) -> int:
    """The side the material model processes views at: its own (768 for Marigold), or the views'
    longest side where that is smaller. Hunyuan3D-2's paint model paints 512 px views: upscaled to 768
    they cost 2.25 times the VAE's and the UNet's pixels and bring no more detail into the texture,
    since the maps are brought back to the view's size to be baked."""
    return min(own, max(view_sides, default=own))


def materials_loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    """The manager's loader for the materials role: the spec's model's."""
    return material_of(spec).loader(spec)


def material_maps(manager: Any, views: Sequence[Any], cancel: CancelToken, steps: int = 0,
                  resolution: int = 0) -> list[MaterialMaps]:
    """Each view's maps from the manager's materials model (made resident first, within its budget), as many
    views a call as fit in the memory free beside it (``memory.views_at_once``); ``skips.MaterialsUnavailable``
    with one sentence when it cannot be loaded or run, or when not even one view's activations fit (a cancel
    stays a cancel). ``steps`` 0: the fewest the model allows; ``resolution`` 0: ``processing_side``; a view
    with no pixels is the caller's ``bad_request``."""
    # Before the model's boundary below, which would word an empty view's failure as the model's own.
    for number, view in enumerate(views, 1):
        if 0 in view.size:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"view {number} has no pixels ({view.size[0]} x {view.size[1]}):"
                                                       " the material model needs a picture")
    try:
        spec = manager.spec("materials")
        material = material_of(spec)
        with manager.use("materials") as model:
            side = resolution or processing_side(material.resolution(model), [max(view.size) for view in views])
            # Its activations beside the loaded model, at the side it processes views at: as many views a call
            # as fit (one at least, or out of memory in one sentence).
            batch = memory.views_at_once(row_of(spec).memory, side, material.dtype(manager.device).itemsize,
                                         manager.device, len(views))
            return material.estimate(model, views, cancel, steps, side, batch)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise materials_unavailable(manager, exc) from exc
    except Exception as exc:  # the boundary of the material step: any failure keeps the colour texture
        raise materials_unavailable(manager, exc) from exc
