"""A test-only second rigger that runs a "model", registered by a test in the rigging table (one line in
``RIGGER_MODULES``; tests/backend/rigging/test_role_riggers.py sets its protocol and licence rows beside it): what a
second rigger brings is its folder (this module stands for it) and those lines, and the rig job registers,
checks, estimates and runs it through the engine's model manager without naming it; it keeps the rigger role's
contract (role_contracts.RiggerContract).

Its network is one file (``bone.json``: the name of the one bone it makes); its rig stands that bone up the
mesh's vertical axis, through the middle of its bounding box, from its lowest point to its highest, with
every vertex's whole weight on it: an answer known from the mesh alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.specs import ModelReplica, ModelSpec
from img23d_backend.rigging.rigger import Rig, RigMesh, RigModel, RigOptions, Rigger
from img23d_backend.rigging.skeleton import BadSkeleton, Skeleton
from img23d_backend.rigging.skin import Skin

NAME, ROLE, FILE = "Upright", "second-rigging", "bone.json"
HOME = Path("/nonexistent")   # where its files are: the test that registers it sets it to a folder of its own


@dataclass(frozen=True)
class Expected:
    total_s: float
    joints: int


def write_folder(folder: Path, bone: str = "spine") -> Path:
    """Its files: the one bone's name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(json.dumps({"bone": bone}), encoding="utf-8")
    return folder


def spec(models: str, root: Path) -> ModelSpec:
    """Its files in ``HOME`` rather than under the tiny set's ``root``: a test's folder, not the shared set's; its
    replica's repository named as the tiny set's replicas are (``tiny/...``), whose licence row says what it
    replicates."""
    repo = "tiny/upright" if models == "tiny" else "test/upright"
    return ModelSpec(role=ROLE, repo_id=repo, local_path=HOME / "upright", allow_patterns=(FILE,),
                     exact_files=True, size_bytes=1 << 10, options={"replica": "tiny"} if models == "tiny" else {})


def load(folder: Path, device: Any) -> LoadedModel:
    return LoadedModel(obj=json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))["bone"], modules=[])


def rig_network(bone: str, mesh: RigMesh, options: RigOptions) -> Rig:
    low, high = mesh.bounds()
    middle = (low + high) / 2
    skeleton = Skeleton((bone,), [[middle[0], middle[1], low[2]]], [[middle[0], middle[1], high[2]]], (-1,))
    count = len(mesh.positions)
    skin = Skin(joints=np.zeros((count, 4), np.int64), weights=np.tile(np.float32([1, 0, 0, 0]), (count, 1)))
    return Rig(skeleton=skeleton, skin=skin, source=NAME)


def rig(mesh: RigMesh, skeleton: Skeleton | None, options: RigOptions) -> Rig:
    if skeleton is not None or options.model_folder is None:
        raise BadSkeleton("the upright rigger makes its own skeleton from its files")
    return rig_network(load(options.model_folder, "cpu").obj, mesh, options)


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    write_folder(Path(folder))
    return {"class": "Upright"}, 0


RIGGER = Rigger(name="upright", summary="one bone up the middle (a test's)", rig=rig,
                model=RigModel(name=NAME, role=ROLE, spec=spec, folder=lambda models, root: write_folder(HOME / "upright"),
                               loader=lambda spec: load, estimate=lambda spec, device: Expected(2.0, 1),
                               preflight=lambda spec, device, accept_long: None, rig_network=rig_network,
                               component="upright", full_size_spec=lambda root: spec("default", root),
                               replica=ModelReplica(build=_build, construct=dict, published_params={})))
