"""A tiny replica's folder linked into a test's own folder, and one of its files damaged there: the
editors' and the material model's "damaged or missing file is one sentence" tests share this.

Each file of the copy is a link to the tiny set's, so damaging one (``damage``) replaces the link
with a file of its own and never writes through to the shared tiny set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def linked_copy(tiny_root: Path, tmp_path: Path, folder: str) -> Path:
    """The tiny set's ``folder`` again under ``tmp_path / "tiny"``, each file a link to the original."""
    copy = tmp_path / "tiny" / folder
    shutil.copytree(tiny_root / folder, copy, copy_function=os.symlink)
    return copy


def rewrite(path: Path, data: bytes) -> None:
    """``path`` (a link) replaced by a file of its own holding ``data``."""
    path.unlink()
    path.write_bytes(data)


def damage(path: Path, missing: bool) -> None:
    """``path`` removed (``missing``), or damaged: a weights file cut to half, any other file garbage."""
    if missing:
        path.unlink()
    elif path.suffix == ".safetensors":
        rewrite(path, path.read_bytes()[: path.stat().st_size // 2])
    else:
        rewrite(path, b"{\x00garbage: [\n")
