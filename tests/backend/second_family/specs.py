"""Silhouette's facts (``families.facts.FamilyFacts``): its two models' rows, its replicas' specs and its figures.
Its own figures (a linear map per pixel, a slab of quads), not measured on a device: a test family's, small."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from img23d_backend.families.facts import FamilyFacts, TinyModels
from img23d_backend.models.dtypes import Precision
from img23d_backend.models.shape_memory import ShapeMemory
from img23d_backend.models.specs import ModelSpec

from .rows import NAME, PAINT_KIND, PAINT_NAME, PAINT_REPO, SHAPE_KIND, SHAPE_NAME, SHAPE_REPO

SHAPE_FILE, PAINT_FILE = "extruder.pt", "projector.pt"
VIEW_SIZE = 64   # the side of its one view (the picture, cropped to the object)

SHAPE = ModelSpec(role="shape", repo_id=SHAPE_REPO, allow_patterns=(SHAPE_FILE,), exact_files=True,
                  size_bytes=1 << 10, shape_kind=SHAPE_KIND)
PAINT = ModelSpec(role="paint", repo_id=PAINT_REPO, allow_patterns=(PAINT_FILE,), exact_files=True,
                  size_bytes=1 << 10, paint_kind=PAINT_KIND, options={"view_size": VIEW_SIZE})
# The slab's faces and vertices per grid cell, at most: a few bytes a point on the host, nothing on a device.
MEMORY = ShapeMemory(host_per_point=64, target_per_point=0, device_per_point=0, device_target_per_point=0,
                     dit_per_image=1 << 20)


def tiny_models(root: Path, paint: str, shape: str | None) -> TinyModels:
    """Its replicas under ``root``: each model's folder, named for it (``replicas`` writes them), of its kind."""
    return TinyModels(shape=replace(SHAPE.tiny_replica(root / SHAPE_NAME, SHAPE.size_bytes), shape_kind=SHAPE_KIND),
                      paint=replace(PAINT.tiny_replica(root / PAINT_NAME, PAINT.size_bytes), paint_kind=PAINT_KIND))


def _precision(device: Any) -> Precision:
    return Precision("float32")   # a few numbers: float32 on every device


FACTS = FamilyFacts(name=NAME, rows={"shape": {SHAPE_NAME: SHAPE}, "paint": {PAINT_NAME: PAINT}},
                    texture=lambda paint: (None, PAINT), tiny=tiny_models, shape_precision=_precision,
                    shape_memory=lambda precision, parameters: MEMORY)
