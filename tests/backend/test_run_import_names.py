"""A run that comes back from a Ray worker as bytes goes through the protocol's one name checker
(``img23d_protocol.safe_names``), as the add-on's mirror does: names a disk cannot hold safely, or
that one disk would take for one file, write nothing; a killed write's leftover is not a result."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.runs.imports import import_run
from img23d_protocol import ProtocolError


@pytest.mark.parametrize("files", [{"nul.glb": b"x"}, {"views/CON/v.png": b"x"}, {".bashrc": b"x"},
                                   {"a.glb.": b"x"}, {"House.glb": b"a", "house.glb": b"b"},
                                   {"caf\u00e9.png": b"a", "cafe\u0301.png": b"b"}])
def test_unsafe_or_colliding_names_from_a_worker_write_nothing(tmp_path: Path, files: dict) -> None:
    with pytest.raises(ProtocolError, match="cannot name a file here"):
        import_run(tmp_path / "out", "20260101-x", {"manifest.json": b"{}", **files})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_killed_writes_leftover_is_left_behind_not_refused(tmp_path: Path) -> None:
    root = import_run(tmp_path, "20260101-x", {"manifest.json": b"{}", ".tmp-abc.glb": b"half",
                                                ".img23d-reserve": b"\0" * 16})
    assert sorted(p.name for p in root.iterdir()) == ["manifest.json"]
