"""The material model (Marigold-IID-Appearance's tiny replica from the shared tiny set) keeps the material role's
contract (role_contracts_pictures.MaterialContract): two views of 20 x 24 pixels."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.catalog import DEFAULT_MATERIALS
from role_contracts_pictures import MaterialContract, MaterialSubject


class TestMarigoldContract(MaterialContract):
    @pytest.fixture(scope="class")
    @classmethod
    def material_subject(cls, tiny_root: Path) -> MaterialSubject:
        return MaterialSubject(DEFAULT_MATERIALS, tiny_root)
