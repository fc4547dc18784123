"""What a GLB img23d wrote says made it (its ``asset``: ``gltf.made_by``), and the Khronos glTF validator's
verdict on it: shared by the tests of each command's GLBs (Generate, Re-texture, Retopo, parts, rig)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from img23d_backend.finish.glb import read_glb_json
from rig_glb_files import VALIDATOR


def credits(path: Path) -> dict[str, Any]:
    """The GLB's ``asset``, checked to be img23d's: its generator, and each credited model's licence named, with
    its terms and the address of its text, in the extras and in the copyright a viewer shows."""
    asset = read_glb_json(path)["asset"]
    assert asset["version"] == "2.0" and asset["generator"].startswith("img23d "), asset
    assert asset["extras"]["generator"] == "img23d", asset
    for model in asset["extras"]["models"]:
        assert model["licence"] and model["licence_url"].startswith("https://"), model
        assert model["model"] in asset["copyright"] and model["licence_terms"] in asset["copyright"], asset
    return asset


def models(path: Path) -> dict[str, str]:
    """Role -> the repository of each model the GLB credits (a role of several repositories: the last)."""
    return {model["role"]: model["model"] for model in credits(path)["extras"]["models"]}


# Each file's issues, one JSON line a file, from one node process (its start is most of a file's time).
VALIDATE_ALL_JS = """
const v = require(process.argv[2]);
(async () => {
  for (const path of process.argv.slice(3)) {
    const r = await v.validateBytes(new Uint8Array(require('fs').readFileSync(path)));
    console.log(JSON.stringify(r.issues));
  }
})();
"""


def assert_valid(*paths: Path) -> None:
    """The Khronos glTF validator finds no error in any of ``paths`` (skipped where it is not installed)."""
    if shutil.which("node") is None or not VALIDATOR.is_dir():
        pytest.skip("the Khronos glTF validator (npm gltf-validator) is not installed here")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "validate.js"
        script.write_text(VALIDATE_ALL_JS)
        out = subprocess.run(["node", str(script), str(VALIDATOR), *map(str, paths)], capture_output=True, text=True,
                             timeout=60, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == len(paths), out
    for path, line in zip(paths, lines):
        issues = json.loads(line)
        assert issues["numErrors"] == 0, (path.name, issues["messages"])
