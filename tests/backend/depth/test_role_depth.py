"""Every depth model of the room's table (its tiny replica from the shared tiny set) keeps the depth role's
contract (role_contracts_shared.DepthContract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.depth.table import DEPTH_PACKAGES
from role_contracts_shared import DepthContract, SharedSubject


class TestDepthContract(DepthContract):
    @pytest.fixture(scope="class", params=tuple(DEPTH_PACKAGES))
    @classmethod
    def subject(cls, request: pytest.FixtureRequest, tiny_root: Path) -> SharedSubject:
        return SharedSubject(request.param, tiny_root)
