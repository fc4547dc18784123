"""Each rigger that runs a model keeps the rigger role's contract (role_contracts.RiggerContract) on a small
biped's mesh file: SkinTokens' tiny replica from the shared tiny set, and the test-only second rigger
(``rig_second``: Upright) registered as a real second rigger would be.

A real second rigger is its folder (``rigging/<model>/``, its ``row.py``: new files) and at most three
existing files, which ``upright`` below stands in for, one mapping each:

1. ``backend/img23d_backend/rigging/table.py``: one line in ``RIGGER_MODULES``;
2. ``protocol/img23d_protocol/riggers.py``: its row in ``RIGGERS`` (the add-on's Rig By, ``--weights``);
3. ``protocol/img23d_protocol/licences.py``: its repository's and its replica's rows in ``MODEL_LICENCES``,
   where it is a new repository.

(The protocol's wheel in ``wheels/`` is then rebuilt from the protocol's source, a generated file:
tests/wire/test_wheel.py.) The driver reads the table when asked, so the line added here reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from img23d_protocol import MeshFile, licences, riggers, write_mesh_file
from img23d_protocol.licences import MIT, REPLICA, ModelLicence

from img23d_backend.rigging.table import RIGGER_MODULES
from rig_meshes import biped
from role_contracts import RiggerContract, RiggerSubject

import rig_second


@pytest.fixture(scope="module")
def mesh_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    figure = biped()
    path = tmp_path_factory.mktemp("mesh") / "hero.npz"
    loops = np.arange(len(figure.triangles) * 3, dtype=np.int32).reshape(-1, 3)
    return write_mesh_file(path, MeshFile(positions=figure.positions.astype(np.float32),
                                          triangles=figure.triangles.astype(np.int32), triangle_loops=loops))


@pytest.fixture(scope="module")
def upright(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The three existing files' lines for the second rigger, set for this module's tests alone; its files in
    a folder of its own (its spec's ``HOME``), written by its own replica code."""
    home = tmp_path_factory.mktemp("upright")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rig_second, "HOME", home)
        patch.setitem(RIGGER_MODULES, "upright", "rig_second")
        patch.setitem(riggers.RIGGERS, "upright", riggers.Rigger("upright", "Upright", "One bone up the middle",
                                                                 repo_id="test/upright"))
        patch.setitem(licences.MODEL_LICENCES, "test/upright", ModelLicence("test/upright", MIT,
                                                                            stated_in="README.md"))
        patch.setitem(licences.MODEL_LICENCES, "tiny/upright", ModelLicence("tiny/upright", REPLICA, stated_in="",
                                                                            replicates="test/upright"))
        model = rig_second.RIGGER.model
        assert model is not None
        model.replica.build(home / "upright", "tiny")
        yield


class TestSkinTokensContract(RiggerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def rigger_subject(cls, tiny_root: Path, mesh_file: Path) -> RiggerSubject:
        return RiggerSubject("model", tiny_root, mesh_file)


class TestSecondRiggerContract(RiggerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def rigger_subject(cls, upright: None, tiny_root: Path, mesh_file: Path) -> RiggerSubject:
        return RiggerSubject("upright", tiny_root, mesh_file)
