"""Paths and settings the tests share (imported by name: ``from testdata import HOUSE``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# This checkout's backend, protocol and client sources, for sys.path and a child process's PYTHONPATH:
# .venv and .venv-py313 find them by themselves (scripts/setup_env.sh), but .venv-blender42 (bpy
# alone) and a host's environment over SSH do not.
SOURCE_PATHS = [str(REPO / "protocol"), str(REPO / "backend"), str(REPO / "client")]
SOURCE_PYTHONPATH = os.pathsep.join(SOURCE_PATHS)
# The repository's own examples (examples/README.md: made by scripts/make_example.py, CC0): every
# test that needs "a picture" or "a mesh" uses these, so a clone alone passes the test command.
EXAMPLES = REPO / "examples"
HOUSE = EXAMPLES / "house_scene.png"      # several nameable parts, each in the tiny grounding's box
SUBJECT = EXAMPLES / "snowman.png"        # one subject on a transparent background (real alpha)
MESH = EXAMPLES / "house_mesh.glb"        # one closed mesh, no UVs, as many faces as a shape model's
MESH_FACES, MESH_VERTICES = 40_000, 20_002  # tests/test_examples.py checks them against the file

# Real reference data nobody on this project made (a real Hunyuan3D-2 output): only on the team's
# machines and in CI, beside the clone. Tests of it are marked ``needs_shared_data`` and skip
# elsewhere, with a reason starting SHARED_SKIP (tests/conftest.py counts them for the test
# command). IMG23D_SHARED_DATA moves it; pointing it at a missing folder runs as a lone clone would.
SHARED_DATA = Path(os.environ.get("IMG23D_SHARED_DATA") or REPO.parent / "shared" / "data")
REAL_MESH = SHARED_DATA / "hunyuan3d_shape_output.glb"
SHARED_SKIP = "needs the team's reference data in ../shared/data"

# Options that make a tiny-model job take seconds on a 2-core CPU.
FAST_OPTIONS = {"steps": 3, "octree_resolution": 32, "face_budget": 2000, "texture": False}
# Painting with the tiny models at sizes that take seconds.
FAST_PAINT = {"texture": True, "texture_size": 256, "render_size": 256, "delight_steps": 2, "paint_steps": 2}
