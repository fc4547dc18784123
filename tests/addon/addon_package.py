"""The add-on's bpy-free parts (client, installer), loaded the way installer/cli.py loads them:
the add-on folder as a package whose bpy-importing ``__init__`` never runs."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
_CLI = REPO / "blender_img23d" / "installer" / "cli.py"


def load(module: str) -> ModuleType:
    """``load("installer.install")`` -> the add-on's ``installer/install.py``."""
    spec = importlib.util.spec_from_file_location("img23d_installer_cli_bootstrap", _CLI)
    assert spec is not None and spec.loader is not None
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    cli.load_addon_package(REPO / "blender_img23d")
    return importlib.import_module(f"{cli.PACKAGE}.{module}")
