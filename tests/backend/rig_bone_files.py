"""The tube quadruped (``rig_meshes``) as a rigged GLB whose answer is known: each vertex weighted wholly to
the bone whose tube it belongs to, the skeleton the one it was built on. Its bones point every way a rig's
do (forward along the spine, exactly -Y: Blender's roll has no smallest turn there; up and forward for the
neck, back and up for the tail, down for the legs), so a bone written pointing up cannot pass unseen.

Imported by the backend tests; run as a script by the Blender tests, whose Blender 4.2 environment has no
backend: ``python rig_bone_files.py OUT.glb`` writes the file and prints the truth as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import trimesh

from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.gltf.frame import to_gltf
from img23d_backend.gltf.made_by import MadeBy
from img23d_backend.gltf.writer import write_gltf
from img23d_backend.rigging.gltf_skin import add_skin
from img23d_backend.rigging.skin import Skin
from rig_meshes import RiggedMesh, quadruped


def quadruped_glb(path: Path, mesh_at: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> RiggedMesh:
    """The quadruped rigged into ``path``; ``mesh_at`` places its mesh node (glTF's frame), so the inverse
    bind matrices must carry that placement for the mesh to stay where it is."""
    made = quadruped(rings=3, sides=6)
    source = path.with_name(path.stem + "_source.glb")
    # The vertices are stored against the node's placement, so the world mesh is the quadruped itself.
    trimesh.Trimesh(to_gltf(made.positions) - np.asarray(mesh_at), made.triangles,
                    process=False).export(str(source))
    gltf = gltf_scene.load(source)
    mesh_node = next(n for n, node in enumerate(gltf.nodes) if node.mesh is not None)
    gltf.nodes[mesh_node].translation = [float(v) for v in mesh_at]
    mesh = gltf_scene.gather_mesh(gltf)
    skin = Skin.from_dense(np.eye(made.skeleton.count)[made.truth])
    add_skin(gltf, mesh, made.skeleton, skin)
    write_gltf(gltf, path, MadeBy())
    return made


if __name__ == "__main__":
    made = quadruped_glb(Path(sys.argv[1]), mesh_at=(0.25, 0.0, -0.5))
    print(json.dumps({"names": list(made.skeleton.names), "heads": made.skeleton.heads.tolist(),
                      "tails": made.skeleton.tails.tolist(), "positions": made.positions.tolist()}))
