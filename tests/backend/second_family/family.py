"""Silhouette behind the family interface (``families.family.Family``)."""

from __future__ import annotations

from img23d_backend.families.family import Family, FamilyReplicas

from . import paint, shape
from .rows import NAME
from .specs import FACTS


def _replicas() -> FamilyReplicas:
    from .replicas import REPLICAS   # as a real family's: imported when a replica build asks

    return REPLICAS


FAMILY = Family(name=NAME, loaders={"shape": shape.loader, "paint": paint.loader}, sample_shapes=shape.sample_shapes,
                paint_target=paint.paint_target, paint_model=paint.paint_model, uv_bake=paint.UV_BAKE, facts=FACTS,
                warmup_modules=(), replicas=_replicas)
