"""Qwen3-VL's code as the grounding driver calls it: one ``Grounder`` per size, the same loader, ask and
replica (the 2B's layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models.specs import ModelReplica, ModelSpec
from ..grounder import Grounder
from . import replica
from .ask import ground, load_grounding


def _loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return load_grounding


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    dims = replica.config(size)
    return replica.build(folder, dims), dims.seed


REPLICA = ModelReplica(build=_build, construct=lambda: replica.construct(replica.FULL),
                       published_params={"total": 2.1e9})  # "2B"; 1.7B text + 0.4B vision by its config

GROUNDERS: dict[str, Grounder] = {name: Grounder(name=name, loader=_loader, ask=ground, replica=REPLICA) for name in ("2b", "4b", "8b")}
