"""Generate's names made in parts too (``GenerateRequest.parts``: "lamp (shade, arm, base)"): once a name's
object is written, the parts model draws its parts from the object's own cut-out and its mesh, so the object
arrives whole and in parts in the same run.

The parts come in the whole's frame (the mesh the model is given is the object's GLB, glTF's axes), in the
run folder's ``<stem>_parts/``; with the names given, each is found on the object's cut-out and the masks
become the part mask (kept there as ``part_mask.png``), else the model finds the parts. The colour: the whole
is painted once, and each part takes its share by baking the painted whole onto the part's own UVs (the
finish's bake), so the parts agree where they meet; a part's hidden faces (inside a joint) read the whole's
nearest surface. A part that cannot be made leaves the object whole, said in one sentence.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import trimesh
from img23d_protocol import ErrorCode, ProtocolError, check_parts
from img23d_protocol.target_parts import TargetParts

from ...catalog import PARTS_ROLE
from ...parts import costs, driver, memory
from ...parts.indexed_mask import coloured
from ...parts.part import DEFAULT_STEPS, check_limits
from ...parts.part import PartsRequest as ModelRequest
from ...parts.table import offered, row_of
from ...runs.folders import TargetRecord
from ..base import JobRun
from ..context import EngineContext
from ..loaders import ensure_parts_model

log = logging.getLogger(__name__)


def wanted(request: Any) -> dict[str, list[str]]:
    """The request's names to make in parts, by their case-folded name (Regenerate's request has none)."""
    return {name.casefold(): parts for name, parts in (getattr(request, "parts", None) or {}).items()}


def check_request(request: Any) -> None:
    """Each name to make in parts is a name of the job."""
    check_parts(getattr(request, "parts", None) or {}, request.targets)


def check_model(request: Any, engine: EngineContext) -> None:
    """A job with names made in parts registers the parts model if the backend has none yet, and its parts' grid
    and each name's parts are within that model's limits."""
    names = wanted(request)
    if not names:
        return
    if not ensure_parts_model(engine.manager, engine.settings.models):
        raise ProtocolError(ErrorCode.MODEL_MISSING, "this model set has no parts model: making a name in parts "
                                                     "needs one")
    model = offered(engine.manager.spec(PARTS_ROLE))
    check_limits(model, getattr(request, "parts_grid", 0) or None, None, grid_flag="the parts' decoding grid")
    for name, parts in names.items():
        if len(parts) > model.max_parts:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{len(parts)} parts are named for {name!r}, and {model.label} "
                                                       f"makes at most {model.max_parts}")


def check_memory(request: Any, engine: EngineContext) -> None:
    """Names made in parts: the parts model fits at the parts' grid. Their time is a stage of the Generate's whole
    estimate (``estimate``), weighed against the hour with the rest: a Generate of "lamp (shade, arm, base)" started
    with no time check, some 14 hours on this project's CPU."""
    if not wanted(request):
        return
    spec = engine.manager.spec(PARTS_ROLE)
    memory.check_parts(row_of(spec), getattr(request, "parts_grid", 0) or offered(spec).default_grid,
                       engine.manager.device_of(PARTS_ROLE))


def estimate(request: Any, engine: EngineContext) -> tuple[str, float] | None:
    """The names made in parts as a stage of the job's estimate: what it says ("2 names in up to 42 parts") and its
    seconds, each name's drawing as the parts command weighs it (``parts.costs``); None without such names."""
    names = wanted(request)
    if not names:
        return None
    spec, device = engine.manager.spec(PARTS_ROLE), engine.manager.device_of(PARTS_ROLE)
    model = offered(spec)
    grid = getattr(request, "parts_grid", 0) or model.default_grid
    # Named parts are drawn from a mask of one value each (the estimate counts its values); "lamp ()" up to the most.
    estimates = [costs.request_estimate(spec, device, ModelRequest(
        image=None, vertices=np.zeros((1, 3)), grid=grid, steps=DEFAULT_STEPS, max_parts=len(parts) or model.max_parts,
        mask=np.arange(len(parts) + 1)[None] if parts else None)) for parts in names.values()]
    return (f"{len(names)} name{'s' if len(names) > 1 else ''} in up to "
            f"{sum(e.parts for e in estimates)} parts", sum(e.total_s for e in estimates))


def make_parts(run: JobRun, records: list[TargetRecord], cutouts: dict[str, Any]) -> None:
    """Each finished object whose name is to be made in parts, drawn in parts beside its whole."""
    names = wanted(run.request)
    for record in records:
        if record.status != "done" or record.target.casefold() not in names or record.variation > 1:
            continue
        try:
            _make(run, record, names[record.target.casefold()], cutouts[record.anchor])
        except Exception as exc:  # the boundary of one object's parts: the whole stays, said in one sentence
            run.keep_target(record, exc, "drawing the parts of", "whole, without parts")
            log.warning("the parts of %s were not made: %s", record.stem, exc)
        run.run_folder.save_manifest()


def _make(run: JobRun, record: TargetRecord, names: list[str], cutout: Any) -> None:
    whole = trimesh.load(run.run_folder.path(record.mesh or ""), force="mesh")
    folder = f"{record.stem}_parts"
    mask = None
    if names:
        mask = driver.names_mask(run, cutout, names, f"{folder}/detections.json")
        if mask is None:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, f"none of its parts ({', '.join(names)}) was found on "
                                                            "its cut-out")
    mask_file = run.run_folder.write_image(f"{folder}/part_mask.png", coloured(mask)) if mask is not None else None
    model = offered(run.manager.spec(PARTS_ROLE))
    grid = getattr(run.request, "parts_grid", 0) or model.default_grid
    request = ModelRequest(image=cutout, vertices=np.asarray(whole.vertices, np.float32),
                           faces=np.asarray(whole.faces, np.int64), mask=mask,
                           names=tuple(driver.found_names(names, mask)) if mask is not None else (),
                           max_parts=max(len(names), 1) if names else model.max_parts,
                           seed=record.seed if record.seed is not None else run.options.seed,
                           grid=grid, steps=DEFAULT_STEPS)
    made = driver.draw(run, request, what=record.target)
    painted = whole if record.textured else None
    with run.stage("export"):
        written = driver.write_parts(run, made, record.stem, folder, painted=painted, target=record.target)
    spec = run.manager.spec(PARTS_ROLE)
    record.parts = TargetParts(files={part.name: part.mesh for part in written.parts}, combined=written.combined,
                               model=row_of(spec).name, licence=spec.licence.licence.name,
                               mask=run.run_folder.relative(mask_file) if mask_file is not None else None,
                               textured=painted is not None)


__all__ = ["check_model", "check_request", "make_parts", "wanted"]
