"""Shared fixtures: the tiny offline models, sample data, and a fast job setting."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
HOUSE = SHARED_DATA / "house_scene.png"
PENGUIN = SHARED_DATA / "penguin_sign.png"
REAL_MESH = SHARED_DATA / "hunyuan3d_shape_output.glb"

# Nothing in the tests may reach the Hugging Face hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(REPO / "backend"))

# Options that make a tiny-model job take seconds on a 2-core CPU.
FAST_OPTIONS = {"steps": 3, "octree_resolution": 32, "face_budget": 2000}


@pytest.fixture(scope="session")
def tiny_root() -> Path:
    from img23d_backend.tiny_models import ensure_tiny_models

    return ensure_tiny_models()


@pytest.fixture(scope="session")
def backend_env(tiny_root: Path) -> dict[str, str]:
    """Environment for a backend subprocess: offline, tiny models, quiet threads."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "IMG23D_TINY_MODELS": str(tiny_root), "PYTHONUNBUFFERED": "1",
                "OMP_NUM_THREADS": "2"})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "backend"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
