"""Each image editor (its tiny replica from the shared tiny set) keeps the editor role's contract
(role_contracts_pictures.EditorContract): two small crops."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.catalog import DEFAULT_EDITOR
from role_contracts_pictures import EditorContract, EditorSubject


class TestDefaultEditorContract(EditorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def editor_subject(cls, tiny_root: Path) -> EditorSubject:
        return EditorSubject(DEFAULT_EDITOR, tiny_root)
