"""Every model family keeps the shape and paint families' contracts (role_contracts_families): Hunyuan3D-2 and the
licence-clean Step1X-3D family, each on its tiny replicas as the test command builds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from img23d_protocol import MODEL_FAMILIES

from role_contracts_families import FamilySubject, PaintFamilyContract, ShapeFamilyContract


class TestFamilyContracts(ShapeFamilyContract, PaintFamilyContract):
    @pytest.fixture(scope="class", params=tuple(MODEL_FAMILIES))
    @classmethod
    def family_subject(cls, request: pytest.FixtureRequest, tiny_root: Path) -> FamilySubject:
        return FamilySubject(request.param, tiny_root)
