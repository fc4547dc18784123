"""The ``models`` inputs of ``bench/scene_truth.py``: each scene's picture through the product's own Generate (the
chain's grounding, matting, shape and depth models, in one ``api.Session`` for every scene), and each object as the
run placed it (its record's placement, the add-on's import transform on its GLB), in the run's camera frame.

With the tiny models (``--models tiny``, what this machine has) the boxes are the grounding replica's fixed answer
and the meshes random-weight blobs: the figures check the wiring from picture to scored scene, nothing more, and the
JSON says so (``weights``). With the real models (``--models default``, where their weights are) they are the
chain's own figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh
from img23d_backend.layout.standing import world_matrix
from img23d_backend.printing.sources import Placed
from img23d_backend.session import Models, Session
from img23d_protocol import JobOptions, ProtocolError

from scene_folder import GLTF_TO_BLENDER, SceneFolder
from scene_layout_inputs import to_camera

# Untextured, at the sizes the tests use: the layout reads only the shapes' bounds.
OPTIONS = {"steps": 3, "octree_resolution": 32, "face_budget": 2000, "texture": False}
WEIGHTS = {"tiny": "random weights (the tiny replicas): a check of the wiring, not of quality",
           "default": "the real models' weights"}


class ChainRun:
    """One Session's models, kept loaded across the scenes (``close`` when done)."""

    def __init__(self, models: str, depth: str, out: Path) -> None:
        self.session = Session(out, Models(models=models, depth=depth))
        self.weights = WEIGHTS.get(models, models)

    def close(self) -> None:
        self.session.close()

    def placed(self, scene: SceneFolder) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float, str | None]:
        """Each object the run placed, (camera-frame vertices, faces), the run's focal length in pixels, and the
        job's one sentence where it made nothing (no name found: the tiny grounding's fixed answer names a house,
        a chimney and a barrel)."""
        names = [item.name for item in scene.objects]
        try:
            result = self.session.generate(str(scene.root / "picture.png"), names, JobOptions(**OPTIONS))
        except ProtocolError as exc:
            return {}, 1.0, exc.message
        manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
        camera = manifest.get("scene", {}).get("camera", {})
        pitch, elevation = float(camera.get("pitch", 0.0)), float(camera.get("elevation", 0.0))
        focal = float(camera.get("focal_px", 1.0)) * scene.camera.resolution[0] / float(camera.get("width", 1))
        placed = {}
        for record in manifest.get("records", []):
            where = Placed.from_dict(record.get("placement"))
            if record.get("status") != "done" or where is None or not record.get("mesh"):
                continue
            mesh = trimesh.load(result.run_dir / record["mesh"], force="mesh", process=False)
            blender = np.asarray(mesh.vertices, dtype=np.float64) @ GLTF_TO_BLENDER.T
            matrix = world_matrix(blender.min(axis=0), blender.max(axis=0), where)
            world = blender @ matrix[:, :3].T + matrix[:, 3]
            placed[record["target"]] = (to_camera(world, pitch, elevation), np.asarray(mesh.faces, np.int64))
        return placed, focal, None

