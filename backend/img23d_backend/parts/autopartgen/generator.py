"""AutoPartGen behind the parts interface (``parts.generator.PartGenerator``): the model manager's loaders
for its three networks, each a part of its own (``models.handles.PartLoaders``: DINOv2, the DiT, the
VAE), the call that makes the parts through the manager, and its replica.

Each part is read on its own from the model's folder (the DiT's and the VAE's files) or its further
source (DINOv2's folder, ``models.hub.source_dirs``), in float32 (``model``'s docstring says why), and run
under bfloat16 autocast on a CUDA GPU as the release runs them (``precision``). The
sizes are the tiny replica's when the spec says it is one (``options["replica"] == "tiny"``), else the
released ones.

``generate`` runs in the phases the preflight counts (``parts.memory``): the conditioner alone reads every
picture (``part_loop.condition``), then the DiT and the VAE alternate part after part (each part decoded
before the next is drawn) while the conditioner may leave the device. On a device whose budget holds one
network at a time, the manager moves them in and out at each ``use``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

from ...models.handles import PartLoaders
from ...models.hub import source_dirs
from ...models.placement import LoadedModel
from ...models.replica_common import Size
from ...models.specs import ModelReplica, ModelSpec
from ..generator import PartGenerator
from ..part import PartMesh, PartsRequest
from . import config as sizes
from . import replica
from .config import AutoPartGenConfig
from .loader import NETWORKS, AutoPartGenNetworks, load_network
from .model import NAME, PARAMETERS, PART_BYTES
from .part_loop import condition, generate_parts
from .precision import autocast

ROLE = "parts"


def config_of(spec: ModelSpec) -> AutoPartGenConfig:
    """The sizes ``spec``'s files were written at: the tiny replica's, or the released ones."""
    return sizes.tiny() if spec.options.get("replica") == "tiny" else sizes.full()


def _load(folder: Path, device: Any, name: str, spec: ModelSpec) -> LoadedModel:
    dino = source_dirs(spec)[0] if spec.sources else Path(folder) / replica.DINO_FOLDER
    return load_network(name, Path(folder), dino, config_of(spec), device, torch.float32)


def loader(spec: ModelSpec) -> PartLoaders:
    """Each network read on its own, with its float32 size as the estimate until it is measured (a replica
    of another size has its parts' shares of the spec's size)."""
    total = sum(PART_BYTES.values())
    return PartLoaders(loaders={name: partial(_load, name=name, spec=spec) for name in NETWORKS},
                       sizes={name: spec.size_bytes * PART_BYTES[name] // total for name in NETWORKS})


def generate(manager: Any, request: PartsRequest, progress: Callable[[Any], None], cancel: Any) -> list[PartMesh]:
    """The request's parts from the manager's parts model, its three networks made resident for the loop."""
    spec = manager.spec(ROLE)
    with manager.use(ROLE, ("conditioner",)) as held, autocast(manager.device_of(ROLE)):
        conditioning = condition(request, held["conditioner"])
    with manager.use(ROLE, ("dit", "vae")) as held, autocast(manager.device_of(ROLE)):
        networks = AutoPartGenNetworks(config_of(spec), None, held["dit"], held["vae"])
        return generate_parts(request, networks, progress, cancel, conditioning)


def _build(dest: Path, size: Size) -> tuple[dict[str, Any], int]:
    return replica.build(dest, replica.config(size)), replica.SEED


def _construct() -> dict[str, Any]:
    return replica.construct(replica.config("full"))


# No parameter count is published for AutoPartGen: these are the architecture's own (``model.PARAMETERS``).
GENERATOR = PartGenerator(name=NAME, loader=loader, generate=generate,
                          replica=ModelReplica(build=_build, construct=_construct,
                                               published_params={"dit": PARAMETERS["dit"], "vae": PARAMETERS["vae"]}))
