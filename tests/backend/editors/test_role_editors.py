"""Each image editor of the room's table (its tiny replica from the shared tiny set) keeps the editor role's
contract (role_contracts_pictures.EditorContract): two small crops. Qwen-Image-Edit-2511 too, whose tiny replica
runs its own three phases (tests/test_role_contracts_cover_rows.py holds every row to a contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.editors.table import EDITOR_PACKAGES
from role_contracts_pictures import EditorContract, EditorSubject


class TestEditorContract(EditorContract):
    @pytest.fixture(scope="class", params=tuple(EDITOR_PACKAGES))
    @classmethod
    def editor_subject(cls, request: pytest.FixtureRequest, tiny_root: Path) -> EditorSubject:
        return EditorSubject(request.param, tiny_root)
