"""The user's folder for what the add-on makes: runs, the backend's environment, logs.

It survives upgrades of the add-on. A leaf: everything may import it; it imports nothing of
ours but the installer's environment layout. (The add-on's own files are in ``paths``, which
must load without Blender: the installer's command line uses it.)
"""

from __future__ import annotations

from pathlib import Path

import bpy
from img23d_installer.env_health import env_python

ADDON_ID = __package__


def user_dir() -> Path:
    """The add-on's own folder for files that survive upgrades (runs, backend environment, logs)."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, create=True))
    except ValueError:  # loaded as a legacy add-on, not an extension
        return Path(bpy.utils.user_resource("DATAFILES", path="img23d", create=True))


def installed_env_dir() -> Path:
    """Where the backend installer puts its environment."""
    return user_dir() / "backend-env"


def installed_env_python() -> Path:
    """The interpreter of the installer's environment."""
    return env_python(installed_env_dir())
