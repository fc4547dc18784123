"""The jobs' one call after painting: every photo of an object colours what it sees of its mesh
(``views.projection``), for Generate and Re-texture alike.

The photos are the object's front cut-out (as the job cut it) and the cut-outs of its views kept in
the run folder (``TargetRecord.views``: side -> ``views_in/<stem>/<side>.png``). What became of each
photo goes into the record (``TargetRecord.projection``: side -> used, residual, perspective,
coverage, or the sentence why it was left out), and each sentence also into the manifest's warnings,
so the artist reads why a view coloured nothing while the job went on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from img23d_protocol import FRONT
from PIL import Image

from ...gltf.frame import from_gltf
from ...runs.folders import TargetRecord
from ...views.projection import ProjectionResult, colour_from_photos
from ..base import JobRun

LEFT_OUT = "view_left_out"


def colour_from_views(run: JobRun, record: TargetRecord, mesh: Any, front: Image.Image,
                      texture: Image.Image | None = None, gltf_axes: bool = False) -> Image.Image | None:
    """The texture of ``mesh`` (its base colour, or ``texture`` on its UVs) with the object's photos
    projected onto it, or None when the record has no views. ``gltf_axes``: the mesh is in glTF's
    axes (Y up, facing +Z: a Generate's meshes) rather than Blender's (a Re-texture's)."""
    if not record.views:
        return None
    photos = {FRONT: front.convert("RGBA")}
    for side, relative in record.views.items():
        with Image.open(run.run_folder.path(relative)) as picture:
            photos[side] = picture.convert("RGBA")
    with run.stage("projection"):
        result = colour_from_photos(_in_blender_axes(mesh) if gltf_axes else mesh, photos, texture)
    _record(run, record, result)
    return result.texture


def _in_blender_axes(mesh: Any) -> Any:
    """A copy of ``mesh`` (same faces and UVs) turned from glTF's axes into Blender's (the sides' cameras are in
    Blender's)."""
    turned = mesh.copy()
    turned.vertices = from_gltf(np.asarray(mesh.vertices))
    return turned


def _record(run: JobRun, record: TargetRecord, result: ProjectionResult) -> None:
    # Views left out before (unreadable, empty) keep their sentence beside what the photos did.
    record.projection = {**(record.projection or {}),
                         **{side: outcome.to_dict() for side, outcome in result.views.items()}}
    for side, sentence in result.left_out.items():
        run.run_folder.manifest.warnings.append({"stage": "projection", "code": LEFT_OUT, "message": sentence,
                                                 "target": record.target, "side": side})
