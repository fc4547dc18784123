"""Pictures and command lines the batch tests share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from testdata import FAST_OPTIONS, HOUSE

FAST_FLAGS = ["--models", "tiny", "--device", "cpu", "--steps", str(FAST_OPTIONS["steps"]),
              "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture", "--worker-threads", "1"]


def pictures(folder: Path, count: int, corrupt: bool = False) -> Path:
    """``count`` small, different pictures of the house (and a file that only claims to be one)."""
    folder.mkdir(parents=True, exist_ok=True)
    house = Image.open(HOUSE).convert("RGB")
    for index in range(count):
        house.resize((96 + 16 * index, 96 + 16 * index)).save(folder / f"picture-{index}.png")
    if corrupt:
        (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after the signature")
    return folder


def batch(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "img23d_backend", "batch", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def record(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def by_name(out: Path) -> dict[str, dict]:
    return {Path(p["image"]).name: p for p in record(out)["pictures"]}


def manifests(out: Path) -> dict[str, dict]:
    """Every run folder's manifest, by folder name."""
    return {m.parent.name: json.loads(m.read_text()) for m in out.glob("*/manifest.json")}
