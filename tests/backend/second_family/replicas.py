"""Silhouette's replicas (``families.family.FamilyReplicas``): each network's known weights written by its own
code, in the tiny set (its folders named for its models) and at full size (the same numbers: its models are
that small)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from img23d_backend.families.family import FamilyReplicas, FullSizeReplica
from img23d_backend.models.specs import ModelSpec

from . import paint, shape
from .rows import PAINT_NAME, SHAPE_NAME
from .specs import PAINT, SHAPE

BUILDERS: dict[str, Callable[[Path], dict[str, Any]]] = {SHAPE_NAME: shape.build, PAINT_NAME: paint.build}


def build_tiny(root: Path) -> dict[str, dict[str, Any]]:
    return {name: build(Path(root) / name) for name, build in BUILDERS.items()}


def _full_size(name: str, spec: ModelSpec, network: Callable[[], Any]) -> FullSizeReplica:
    folder = Path(f"full-size-{name}")
    return FullSizeReplica(name=name, spec=lambda root: spec.full_size_replica(Path(root) / folder), target=folder,
                           construct=lambda: {name: network()}, build=lambda at: (BUILDERS[name](Path(at)), 0),
                           published_params={name: sum(p.numel() for p in network().parameters())})


REPLICAS = FamilyReplicas(tiny_folders=tuple(BUILDERS), build_tiny=build_tiny,
                          full_size=(_full_size(SHAPE_NAME, SHAPE, shape.network),
                                     _full_size(PAINT_NAME, PAINT, paint.network)))
