"""Paths and settings the tests share (imported by name: ``from testdata import HOUSE``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# This checkout's backend and protocol sources, for sys.path and a child process's PYTHONPATH:
# .venv and .venv-py313 find them by themselves (scripts/setup_env.sh), but .venv-blender42 (bpy
# alone) and a host's environment over SSH do not.
SOURCE_PATHS = [str(REPO / "protocol"), str(REPO / "backend")]
SOURCE_PYTHONPATH = os.pathsep.join(SOURCE_PATHS)
SHARED_DATA = REPO.parent / "shared" / "data"
HOUSE = SHARED_DATA / "house_scene.png"
PENGUIN = SHARED_DATA / "penguin_sign.png"
REAL_MESH = SHARED_DATA / "hunyuan3d_shape_output.glb"

# Options that make a tiny-model job take seconds on a 2-core CPU.
FAST_OPTIONS = {"steps": 3, "octree_resolution": 32, "face_budget": 2000, "texture": False}
# Painting with the tiny models at sizes that take seconds.
FAST_PAINT = {"texture": True, "texture_size": 256, "render_size": 256, "delight_steps": 2, "paint_steps": 2}
