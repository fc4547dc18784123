"""Fixtures the add-on's client tests share (tests/addon): the real backend of this checkout on the tiny models."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from session_waits import local_session

from img23d_client import session as session_mod


@pytest.fixture
def session(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[session_mod.BackendSession]:
    """A session on this checkout's backend, tiny models, CPU, offline; stopped after the test. A module
    that needs another backend (test_session_limits.py's fake) defines its own ``session``."""
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    session = local_session(tiny_root, tmp_path)
    yield session
    session.stop()
