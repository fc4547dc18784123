"""Pieces' code (``parts.generator.PartGenerator``): each network a part of the model manager's, the call that
makes the parts through the manager in two phases, and its replica (the two maps written, not drawn: the
identity and glTF's up axis, so its answer is known)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from img23d_protocol import ErrorCode, ProtocolError
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from img23d_backend.env.job_control import CancelToken
from img23d_backend.models.handles import PartLoaders
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.specs import ModelReplica, ModelSpec
from img23d_backend.parts.generator import PartGenerator
from img23d_backend.parts.part import PartMesh, PartProgress, PartsRequest

from .model import NAME, PART_BYTES

ROLE = "parts"
SHAPES = {"lift": (3, 3), "order": (1, 3)}


def networks() -> dict[str, torch.nn.Linear]:
    """Its two maps, with the weights its answer is known from: the identity, and glTF's +Y."""
    lift, order = torch.nn.Linear(3, 3, bias=False), torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        lift.weight.copy_(torch.eye(3))
        order.weight.copy_(torch.tensor([[0.0, 1.0, 0.0]]))
    return {"lift": lift, "order": order}


def _load(folder: Path, device: Any, name: str) -> LoadedModel:
    network = torch.nn.Linear(SHAPES[name][1], SHAPES[name][0], bias=False)
    network.load_state_dict(torch.load(Path(folder) / f"{name}.pt", map_location="cpu", weights_only=True))
    network.to(device)
    return LoadedModel(obj=network, modules=[network])


def loader(spec: ModelSpec) -> PartLoaders:
    return PartLoaders(loaders={name: partial(_load, name=name) for name in SHAPES}, sizes=dict(PART_BYTES))


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def check_request(request: PartsRequest) -> None:
    if request.vertices is None:
        raise _bad("Pieces reads a mesh of the whole object: give one")
    if request.faces is None or len(request.faces) == 0:
        raise _bad("the mesh has no faces: Pieces finds its parts among its triangles")


def generate(manager: Any, request: PartsRequest, progress: Callable[[PartProgress], None],
             cancel: CancelToken) -> list[PartMesh]:
    """The mesh's connected pieces, lowest first, at most ``max_parts``: ``lift`` alone, then ``order`` alone."""
    check_request(request)
    started = time.monotonic()
    faces = np.asarray(request.faces, np.int64)
    with manager.use(ROLE, ("lift",)) as held, torch.no_grad():
        vertices = held["lift"](torch.as_tensor(np.asarray(request.vertices, np.float32))).numpy()
    cancel.check()
    count = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    _, label = connected_components(coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                                               shape=(count, count)), directed=False)
    pieces = [np.flatnonzero(label[faces[:, 0]] == value) for value in np.unique(label[faces[:, 0]])]
    with manager.use(ROLE, ("order",)) as held, torch.no_grad():
        heights = [float(held["order"](torch.as_tensor(vertices[np.unique(faces[piece])])).mean())
                   for piece in pieces]
    chosen = [pieces[i] for i in np.argsort(heights, kind="stable")][:request.max_parts]
    parts = []
    for index, piece in enumerate(chosen):
        cancel.check()
        used, local = np.unique(faces[piece], return_inverse=True)
        name = request.names[index] if index < len(request.names) else f"part_{index + 1:02d}"
        parts.append(PartMesh(index=index, name=name, vertices=vertices[used].astype(np.float32),
                              faces=local.reshape(-1, 3).astype(np.int64)))
        elapsed = time.monotonic() - started
        progress(PartProgress(index + 1, elapsed, elapsed / (index + 1) * len(chosen)))
    return parts


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    for name, network in networks().items():
        torch.save(network.state_dict(), Path(folder) / f"{name}.pt")
    return {"class": "Pieces"}, 0


GENERATOR = PartGenerator(name=NAME, loader=loader, generate=generate,
                          replica=ModelReplica(build=_build, construct=networks,
                                               published_params={"lift": 9, "order": 3}))
