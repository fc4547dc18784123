"""Fixtures of the add-on's bpy-free tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import ssh_host
from testdata import REPO


@pytest.fixture(scope="session")
def host(tiny_root: Path):
    """A real SSH server on 127.0.0.1 whose user runs the backend (tests/ssh_host.py), for this run."""
    reason = ssh_host.available()
    if reason is not None:
        pytest.skip(f"no loopback SSH host here: {reason}")
    made = ssh_host.start(REPO, tiny_root)
    yield made
    made.stop()
