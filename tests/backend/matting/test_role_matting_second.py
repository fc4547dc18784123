"""A test-only second matting model (``second_matting``: Luma Key, dark pixels are the object's) keeps the matting
role's contract (role_contracts_shared.MattingContract) once registered as a real one would be, and a job's
cut-outs are its own.

A real second matting model is its folder (``matting/<model>/``: ``model.py``, ``matter.py``, its network and
replica: new files) and three existing files, which the fixture below stands in for, one mapping each:

1. ``backend/img23d_backend/matting/table.py``: one line in ``MATTING_PACKAGES``;
2. ``protocol/img23d_protocol/shared_models.py``: its row in ``MATTING_MODELS`` (the add-on's Matting choice, the
   command line's ``--matting`` help);
3. ``protocol/img23d_protocol/licences.py``: its repository's and its replica's rows in ``MODEL_LICENCES``.

The catalog (``--matting``'s choices, the model list, the model sets), the manager's loader, the batch size and
memory check, and the tiny set follow with no other change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image
from img23d_protocol import shared_models
from img23d_protocol.shared_models import SharedModel

from img23d_backend.catalog import MATTING, model_set, tiny_model_set
from img23d_backend.env.job_control import CancelToken
from img23d_backend.matting import table
from img23d_backend.matting.driver import matte, matting_loader
from img23d_backend.models.manager import ModelManager
from role_contracts_shared import MattingContract, SharedSubject
from second_matting.model import NAME, REPO, SIDE
from second_models import second_model


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The three existing files' lines, set for this module's tests alone, and its replica's folder."""
    row = SharedModel(NAME, "Luma Key", "Dark pixels are the object's", REPO)
    with second_model(tmp_path_factory, table.MATTING_PACKAGES, "second_matting", shared_models.MATTING_MODELS, row,
                      table.MATTING_CODE, table.MATTING_ROWS) as root:
        yield root


class TestSecondMattingModelContract(MattingContract):
    @pytest.fixture(scope="class")
    @classmethod
    def subject(cls, home: Path) -> SharedSubject:
        return SharedSubject(NAME, home)


def test_the_catalog_offers_it_and_its_cutouts_are_its_own(home: Path) -> None:
    assert NAME in MATTING and model_set("default", matting=NAME).matting == MATTING[NAME]
    spec = tiny_model_set(home, matting=NAME).matting
    assert spec.local_path == home / NAME and table.input_side(spec) == SIDE
    manager = ModelManager("cpu", budget_bytes=1 << 20)
    manager.register(spec, matting_loader(spec))
    crop = Image.new("RGB", (30, 20), (250, 250, 250))
    crop.paste((10, 10, 10), (0, 0, 15, 20))   # its left half dark: the object, by Luma Key's rule
    with manager.use("matting") as model:
        [cutout] = matte(model, [crop], batch_size=1, cancel=CancelToken(), progress=lambda *a: None,
                         input_size=table.input_side(spec))
    alpha = cutout.getchannel("A")
    assert alpha.getpixel((3, 10)) > 200 and alpha.getpixel((27, 10)) < 50
