"""A test-only second parts model (``second_parts``: Pieces, a mesh's connected pieces, lowest first) keeps the
parts role's contract (role_contracts.PartsContract) once registered as a real one would be.

A real second parts model is its folder (``parts/<model>/``: ``model.py``, ``generator.py``, its networks and
replica: new files) and three existing files, which the fixture below stands in for, one mapping each:

1. ``backend/img23d_backend/parts/table.py``: one line in ``PARTS_PACKAGES``;
2. ``protocol/img23d_protocol/parts_models.py``: its row in ``PARTS_MODELS`` (the add-on's Parts By);
3. ``protocol/img23d_protocol/licences.py``: its repository's and its replica's rows in ``MODEL_LICENCES``.

(The protocol's wheel in ``wheels/`` is then rebuilt from the protocol's source, a generated file:
tests/wire/test_wheel.py.) The catalog, the parts loader, the driver's estimate and the tiny set follow with
no other change: the catalog reads the table when asked (``catalog.PARTS``), where a copy made on import
missed a model added after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from img23d_protocol import licences, parts_models
from img23d_protocol.licences import MIT, REPLICA, ModelLicence
from img23d_protocol.parts_models import PartsModel

from img23d_backend.catalog import PARTS, model_set
from img23d_backend.env.job_control import CancelToken
from img23d_backend.models.manager import ModelManager
from img23d_backend.parts import table
from img23d_backend.parts.part import PartsRequest
from role_contracts import PartsContract, PartsSubject
from second_parts.model import NAME, REPO


def cube(low: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32) + np.float32(low)
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], np.int64)
    return corners, faces


# Two cubes, the upper one first in the file: glTF's +Y up, so (0, 5, 0) is above (2, 0, 0).
UPPER, LOWER = cube((0.0, 5.0, 0.0)), cube((2.0, 0.0, 0.0))
VERTICES = np.concatenate([UPPER[0], LOWER[0]])
FACES = np.concatenate([UPPER[1], LOWER[1] + len(UPPER[0])])


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    """The three existing files' lines, set for this module's tests alone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(table.PARTS_PACKAGES, NAME, "second_parts")
        patch.setitem(parts_models.PARTS_MODELS, NAME, PartsModel(NAME, "Pieces", "Each connected piece a part",
                                                                    REPO, grids=(16,), default_grid=16, max_parts=8))
        patch.setitem(licences.MODEL_LICENCES, REPO, ModelLicence(REPO, MIT, stated_in="README.md"))
        patch.setitem(licences.MODEL_LICENCES, f"tiny/{NAME}", ModelLicence(f"tiny/{NAME}", REPLICA, stated_in="",
                                                                             replicates=REPO))
        yield


class TestSecondPartsModelContract(PartsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def parts_subject(cls, registered: None, tmp_path_factory: pytest.TempPathFactory) -> PartsSubject:
        root = tmp_path_factory.mktemp("second-parts")
        table.PARTS_CODE[NAME].replica.build(root / table.PARTS_ROWS[NAME].tiny_folder, "tiny")   # its own code
        return PartsSubject(NAME, root, PartsRequest(vertices=VERTICES, faces=FACES, max_parts=2),
                            PartsRequest(vertices=VERTICES, faces=np.zeros((0, 3), np.int64)))


def test_its_parts_are_the_meshes_pieces_lowest_first(registered: None, tmp_path: Path) -> None:
    assert NAME in PARTS and model_set("default", parts=NAME).parts == PARTS[NAME]
    spec = table.PARTS_ROWS[NAME].tiny_spec(tmp_path)
    table.PARTS_CODE[NAME].replica.build(Path(spec.local_path), "tiny")
    manager = ModelManager("cpu", budget_bytes=1 << 20)
    manager.register(spec, table.parts_loader(spec))
    parts = table.generator_of(spec).generate(manager, PartsRequest(vertices=VERTICES, faces=FACES,
                                                                    names=("base",)), lambda report: None,
                                              CancelToken())
    assert [part.name for part in parts] == ["base", "part_02"]
    for part, (vertices, faces) in zip(parts, (LOWER, UPPER)):
        assert np.array_equal(part.vertices, vertices) and np.array_equal(part.faces, faces)
