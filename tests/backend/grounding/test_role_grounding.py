"""Every grounding model of the room's table (its tiny replica from the shared tiny set) keeps the grounding role's
contract (role_contracts_shared.GroundingContract): the tiny scene asked for its house."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.grounding.table import GROUNDING_PACKAGES
from role_contracts_shared import GroundingContract, SharedSubject


class TestGroundingContract(GroundingContract):
    @pytest.fixture(scope="class", params=tuple(GROUNDING_PACKAGES))
    @classmethod
    def subject(cls, request: pytest.FixtureRequest, tiny_root: Path) -> SharedSubject:
        return SharedSubject(request.param, tiny_root)
