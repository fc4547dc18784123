"""An earlier commit's backend and protocol, taken from git into a folder, for the benchmarks that run it beside
this tree's, each in a process of its own (``host_stages.py``, ``tiny_textured.py``). Standard library only: the
driver imports neither version."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def earlier_tree(revision: str, folder: Path) -> Path:
    """``revision``'s ``backend/img23d_backend`` and ``protocol/img23d_protocol``, written under ``folder/before``
    (the folder a version's ``PYTHONPATH`` names, as this tree's root is for the version at hand)."""
    old = folder / "before"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "backend/img23d_backend",
                              "protocol/img23d_protocol"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    return old
