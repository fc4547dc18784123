"""What a test-only second model of a shared room (grounding, matting) sets in the existing files a real one would
touch, for one test module: its package in the room's table, its row in the protocol's shared models, its licence
and its replica's; and a folder with its replica built by its own code (``second_model``)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, MutableMapping

import pytest
from img23d_protocol import licences
from img23d_protocol.licences import MIT, REPLICA, ModelLicence
from img23d_protocol.shared_models import SharedModel


@contextmanager
def second_model(factory: pytest.TempPathFactory, packages: MutableMapping[str, str], package: str,
                 models: MutableMapping[str, SharedModel], row: SharedModel, code: Any, rows: Any) -> Iterator[Path]:
    """The three existing files' lines, set while it is open: the room's table (``packages``), the protocol's row
    (``models``) and the licences of its repository (MIT here) and of its replica; it gives the folder holding
    its tiny replica, built by its own code (``code``'s, in the folder ``rows`` names)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(packages, row.name, package)
        patch.setitem(models, row.name, row)
        patch.setitem(licences.MODEL_LICENCES, row.repo_id, ModelLicence(row.repo_id, MIT, stated_in="README.md"))
        patch.setitem(licences.MODEL_LICENCES, f"tiny/{row.name}",
                      ModelLicence(f"tiny/{row.name}", REPLICA, stated_in="", replicates=row.repo_id))
        root = factory.mktemp(f"second-{row.name}")
        code[row.name].replica.build(root / rows[row.name].tiny_folder, "tiny")
        yield root
