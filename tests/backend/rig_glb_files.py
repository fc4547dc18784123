"""The rig tests' GLB files and their judge: the tube biped (``rig_meshes``) as an artist's textured GLB, the
same rigged by the geometric binding (the skin whose answer ``rig_meshes`` knows), and where the Khronos glTF
validator (npm gltf-validator, which scripts/test.sh installs) lies, with the script that runs it on a file.
Shared by the rig's glTF skin tests and its command's tests (``test_rig_gltf_skins``, ``test_rig_command``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.gltf.frame import to_gltf
from img23d_backend.rigging.geometric import bind
from img23d_backend.gltf.made_by import MadeBy
from img23d_backend.gltf.writer import write_gltf
from img23d_backend.rigging.gltf_skin import add_skin
from rig_meshes import biped

VALIDATOR = Path.home() / ".cache" / "img23d" / "gltf-validator" / "node_modules" / "gltf-validator"
VALIDATE_JS = """
const v = require(process.argv[2]);
const bytes = new Uint8Array(require('fs').readFileSync(process.argv[3]));
v.validateBytes(bytes).then(r => console.log(JSON.stringify(r.issues)));
"""


def _textured_biped(path: Path) -> Path:
    made = biped()
    uv = np.stack([made.positions[:, 0] + 0.5, made.positions[:, 2] / 2], axis=1)
    material = trimesh.visual.material.PBRMaterial(name="skin", baseColorTexture=Image.new("RGB", (8, 8), (200, 90, 40)))
    mesh = trimesh.Trimesh(to_gltf(made.positions), made.triangles, process=False,
                           visual=trimesh.visual.TextureVisuals(uv=uv, material=material))
    mesh.export(str(path), file_type="glb")
    return path


def _rigged(tmp_path: Path) -> Path:
    made = biped()
    gltf = gltf_scene.load(_textured_biped(tmp_path / "biped.glb"))
    mesh = gltf_scene.gather_mesh(gltf)
    add_skin(gltf, mesh, made.skeleton, bind(mesh.positions, mesh.triangles, made.skeleton).skin)
    write_gltf(gltf, tmp_path / "rigged.glb", MadeBy())
    return tmp_path / "rigged.glb"
