"""What the add-on's fault tests share: the sample images, the add-on's preferences, a fake backend, a job."""

from __future__ import annotations

import stat
from importlib import import_module
from pathlib import Path

import bpy

from blender_support import ADDON_MODULE, BACKEND_PYTHON
from testdata import HOUSE, SUBJECT  # noqa: F401  (the fault tests import them from here)

FAKE_BACKEND = Path(__file__).with_name("fake_backend.py")
SLOW = {"steps": 200, "octree_resolution": 32}


def _protocol():
    return import_module(f"{ADDON_MODULE}.job_runner").protocol


def _prefs():
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


def _runs_dir() -> Path:
    return Path(_prefs().runs_dir)


def _fake_python(tmp_path: Path, mode: str) -> Path:
    script = tmp_path / f"fake-python-{mode}"
    script.write_text(f'#!/bin/sh\nexec "{BACKEND_PYTHON}" "{FAKE_BACKEND}" {mode} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _runner(addon, scene, targets: list[str], image: Path = HOUSE, **options):
    protocol = _protocol()
    runner_mod = import_module(f"{ADDON_MODULE}.job_runner")
    request = protocol.GenerateRequest(image=str(image), targets=targets,
                                       options=protocol.JobOptions(**{"steps": 3, "octree_resolution": 32, "texture": False,
                                                                      "face_budget": 2000, **options}))
    return runner_mod.JobRunner(addon.runtime.session(), scene, request, Path(image).stem)
