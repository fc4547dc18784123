"""One rigger as the rest of the backend reaches it: a skeleton and skin weights from a mesh.

A rigger reads a ``RigMesh`` (positions and triangles in img23d's frame) and, optionally, the
artist's ``Skeleton``; it returns a ``Rig``: the skeleton it bound to (the given one, with its own
names, or one it made), the ``Skin``, where the skeleton came from and what the user should be told.
``table`` names the riggers by their ``--weights`` choice; ``geometric`` is the one that needs no
model. A rigger that runs a model says so in its ``RigModel`` (as ``parts.generator.PartsRow`` and
``PartGenerator`` do for a parts model): its name, its role in the model manager, its spec, loader,
time estimate and preflight, and its rig through a loaded network. ``driver`` reads them; nothing
outside this room names a rigger's model. A second model rigger is one more folder and one more line
in the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from ..models.specs import ModelReplica, ModelSpec
from .skeleton import BadSkeleton, Skeleton
from .skin import Skin

# Where a rig's skeleton came from, as the command and rig.json say it.
GIVEN, FROM_SHAPE, SINGLE_BONE = "given", "shape", "single bone"
FROM_SHAPE_TEXT = "a skeleton from the shape alone"


@dataclass(frozen=True)
class RigMesh:
    positions: np.ndarray   # (V, 3) float64, img23d's frame
    triangles: np.ndarray   # (F, 3) int64

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.positions.min(axis=0), self.positions.max(axis=0)

    def surface(self) -> tuple["RigMesh", np.ndarray]:
        """The mesh of the vertices its triangles use, and their rows here: what is rigged. A vertex no triangle
        uses (a leftover in a file's buffer) sized the voxel grid on its own: one 20 units off a figure left its
        19 bones a single one."""
        used = np.unique(self.triangles)
        return RigMesh(self.positions[used], np.searchsorted(used, self.triangles)), used


@dataclass(frozen=True)
class RigOptions:
    humanoid_names: bool = True   # Mixamo's names for a skeleton img23d makes, when it is a humanoid
    seed: int = 0                 # for riggers that draw (a model's sampling); the geometric one draws nothing
    model_folder: Path | None = None   # a model rigger's files (skintokens.rigger.model_folder)
    short_decoding: bool = False       # the tiny replica's short decoding (skintokens.rigger.TINY_DECODING)


@dataclass(frozen=True)
class Rig:
    skeleton: Skeleton
    skin: Skin
    source: str                          # GIVEN, FROM_SHAPE or SINGLE_BONE (or a model's name)
    humanoid: bool = False               # named as a humanoid (Mixamo's names)
    notes: list[str] = field(default_factory=list)   # sentences for the user
    seconds: dict[str, float] = field(default_factory=dict)


class RigTime(Protocol):
    """A model rigger's expected rig, said before it starts."""

    total_s: float       # seconds on the device it runs on
    joints: int          # the skeleton the estimate is for (not known before the model writes it)


@dataclass(frozen=True)
class RigModel:
    """What a rigger that runs a model brings beside its rig: the driver registers, checks and runs it
    through these, naming none."""

    name: str                                            # as notes and progress say it ("SkinTokens")
    role: str                                            # its role in the model manager
    spec: Callable[[str, Path], ModelSpec]               # (models "default" or "tiny", tiny root) -> its spec
    folder: Callable[[str, Path], Path | None]           # its files here (a replica written on first use), or None
    loader: Callable[[ModelSpec], Any]                   # the manager's loader for its spec
    estimate: Callable[[ModelSpec, Any], RigTime]        # (spec, device) -> its expected rig
    preflight: Callable[[ModelSpec, Any, bool], Any]     # (spec, device, accept_long): one sentence when it cannot
    rig_network: Callable[[Any, RigMesh, RigOptions], Rig]   # a mesh rigged by its loaded network
    component: str                                       # its full-size component (``bench/full_size_models.py``)
    full_size_spec: Callable[[Path], ModelSpec]          # its full-size replica under a root
    replica: ModelReplica                                # its random-weight replica, built at a size


@dataclass(frozen=True)
class Rigger:
    name: str            # its --weights choice name
    summary: str         # one line for --help and rig.json
    rig: Callable[[RigMesh, Skeleton | None, RigOptions], Rig]
    model: RigModel | None = None   # None: it runs no model (the geometric binding)


def check_near(mesh: RigMesh, skeleton: Skeleton) -> None:
    """Refuse a skeleton whose bounding box does not meet the mesh's (another file's, another scale's)."""
    low, high = mesh.bounds()
    bone_low, bone_high = skeleton.bounds()
    slack = 0.05 * float(np.ptp(mesh.positions, axis=0).max())  # a bone tip just outside the skin is fine
    if (bone_low > high + slack).any() or (bone_high < low - slack).any():
        raise BadSkeleton("the skeleton lies outside the mesh (their bounding boxes do not meet): it belongs to "
                          "another mesh or another scale, so nothing was bound")
