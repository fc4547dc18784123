"""Every matting model of the room's table (its tiny replica from the shared tiny set) keeps the matting role's
contract (role_contracts_shared.MattingContract): one small crop, read at the model's own side."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.matting.table import MATTING_PACKAGES
from role_contracts_shared import MattingContract, SharedSubject


class TestMattingContract(MattingContract):
    @pytest.fixture(scope="class", params=tuple(MATTING_PACKAGES))
    @classmethod
    def subject(cls, request: pytest.FixtureRequest, tiny_root: Path) -> SharedSubject:
        return SharedSubject(request.param, tiny_root)
