"""The game-ready benchmark's inputs (``bench/game_ready.py``): which meshes, coloured how, and the
same mesh renumbered.

* **Generated**: the bundled example mesh, the real Hunyuan3D-2 output (``../shared/data``; skipped,
  saying so, where absent) and the "AI-like" meshes ``scripts/ai_like_meshes.py`` makes (seeded).
* **Scanned**, made by no one here: meshes from CGAL's data set as Debian's ``libcgal-demo`` package
  ships it (``/usr/share/doc/libcgal-dev/data.tar.gz``, or any copy given with ``--cgal-data``;
  ``apt-get download libcgal-demo && dpkg -x libcgal-demo_*.deb DIR`` unpacks it without its
  dependencies): the Stanford bunny (``bunny00.off``, 75,408 faces, a reconstruction of the range
  scans) and the armadillo (52,000 faces). Where the file is absent they are skipped, saying so.
* **Colour**: each mesh is given a colour, a smooth gradient with stripes over its box
  (``colour_of``), as a 1024 px texture on the paint's UVs (``unwrap_arrays``; a painted mesh) or, for the meshes named
  in ``VERTEX_COLOURED``, as glTF ``COLOR_0`` vertex colours (linear, as glTF defines them), so
  that both ways a mesh carries colour go through the bake. The Hunyuan3D-2 mesh stays grey.
* **Orderings**: ``shuffled`` writes the same mesh with its vertices and faces in a random order
  (each face started at another corner, its winding kept): the finish must not depend on it.
"""

from __future__ import annotations

import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "scripts"))

import ai_like_meshes  # noqa: E402

from img23d_backend.finish.bake.dilate import dilate  # noqa: E402
from img23d_backend.finish.bake.uv_raster import rasterize_uv  # noqa: E402
from img23d_backend.uv.unwrap import unwrap_arrays  # noqa: E402

EXAMPLE = REPO / "examples" / "house_mesh.glb"
SHARED = REPO.parent / "shared" / "data"
HUNYUAN = "hunyuan3d_shape_output.glb"  # ../shared/data/SOURCES.md
CGAL_DATA = Path("/usr/share/doc/libcgal-dev/data.tar.gz")  # Debian's libcgal-demo
SCANNED = {"scan: bunny (CGAL bunny00.off)": "data/meshes/bunny00.off",
           "scan: armadillo (CGAL armadillo.off)": "data/meshes/armadillo.off"}
VERTEX_COLOURED = ("ai-mug", "scan: armadillo (CGAL armadillo.off)")
TEXTURE = 1024


@dataclass(frozen=True)
class Input:
    """One mesh of the set: where its file is, as the command takes it, and how it is coloured."""

    name: str
    source: Path           # the mesh as found or made (geometry)
    colour: str            # "texture", "vertex" or "grey"
    origin: str            # "generated" or "scanned"


def mesh_set(work: Path, cgal_data: Path | None = None) -> tuple[list[Input], list[str]]:
    """The inputs, and a note for each that was skipped (a file not on this machine)."""
    notes: list[str] = []
    inputs = [Input("example (house_mesh.glb)", EXAMPLE, "texture", "generated")]
    if (SHARED / HUNYUAN).exists():
        inputs.append(Input("hunyuan3d-2 output", SHARED / HUNYUAN, "grey", "generated"))
    else:
        notes.append(f"{SHARED / HUNYUAN} is not here: the real Hunyuan3D-2 mesh was skipped")
    ai_like_meshes.main([str(work / "ai-like")])
    for name in ai_like_meshes.SHAPES:
        inputs.append(Input(name, work / "ai-like" / f"{name}.glb",
                            "vertex" if name in VERTEX_COLOURED else "texture", "generated"))
    archive = cgal_data or CGAL_DATA
    if archive.is_file():
        with tarfile.open(archive) as tar:
            for name, member in SCANNED.items():
                target = work / "scanned" / Path(member).name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                inputs.append(Input(name, target, "vertex" if name in VERTEX_COLOURED else "texture", "scanned"))
    else:
        notes.append(f"{archive} is not here (Debian's libcgal-demo): the scanned meshes were skipped")
    return inputs, notes


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's surface as a file reader gives it (no merging: the command welds it itself)."""
    mesh = trimesh.load(path, force="mesh", process=False)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def colour_of(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The procedural colour (0..1): a smooth gradient over the bounding box with stripes across it
    (five periods along the box's diagonal), so that both the broad colour and a detail a few
    texels wide must cross the bake."""
    t = (points - low) / (high - low)
    base = np.stack([t[:, 0], 0.5 + 0.4 * np.sin(6.0 * t[:, 1]), t[:, 2]], axis=1)
    stripes = 0.75 + 0.25 * np.sin(2.0 * np.pi * 5.0 * t.sum(axis=1) / 3.0)
    return (0.15 + 0.85 * base * stripes[:, None]).clip(0.0, 1.0)


def textured(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """The mesh on the paint's UVs with a ``TEXTURE`` px texture of ``colour_of`` (sRGB), as a painted mesh is."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    split, split_faces, uvs = unwrap_arrays(vertices, faces)
    cover = rasterize_uv(uvs, split_faces, TEXTURE)
    points = np.einsum("nk,nkd->nd", cover.bary, split[split_faces[cover.face]])
    pixels = np.zeros((TEXTURE, TEXTURE, 3))
    pixels[cover.rows, cover.cols] = colour_of(points, low, high)
    pixels, _ = dilate(pixels, cover.mask(), 4)
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, metallicFactor=0.0, roughnessFactor=1.0)
    return trimesh.Trimesh(split, split_faces, visual=trimesh.visual.TextureVisuals(uv=uvs, material=material),
                           process=False)


def vertex_coloured(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """The mesh with ``colour_of`` as its vertex colours, written to a GLB as COLOR_0 (linear values)."""
    colours = np.round(colour_of(vertices, vertices.min(axis=0), vertices.max(axis=0)) * 255).astype(np.uint8)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=np.column_stack([colours, np.full(len(colours), 255)]))
    return mesh


def grey(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """An uncoloured mesh with the material a finished GLB gets when its high mesh had no colour
    (``finish.glb``), so both renders match."""
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[200, 200, 200, 255], metallicFactor=0.0,
                                                   roughnessFactor=1.0)
    return trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(material=material), process=False)


def high_file(item: Input, vertices: np.ndarray, faces: np.ndarray, target: Path) -> trimesh.Trimesh:
    """The coloured input written as the GLB the command is given (and rendered); returns the mesh."""
    maker = {"texture": textured, "vertex": vertex_coloured, "grey": grey}[item.colour]
    mesh = maker(vertices, faces)
    target.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(str(target), file_type="glb", include_normals=True)
    return mesh


def shuffled(mesh: trimesh.Trimesh, seed: int, target: Path) -> Path:
    """``mesh`` (as ``high_file`` made it) renumbered: its vertices (with their UVs or colours) and
    faces in a random order, each face started at another corner, written as a GLB."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(mesh.vertices))
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    faces = renumber[np.asarray(mesh.faces)][rng.permutation(len(mesh.faces))]
    faces = np.roll(faces, int(rng.integers(1, 3)), axis=1)
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        uv = None if visual.uv is None else np.asarray(visual.uv)[order]
        visual = trimesh.visual.TextureVisuals(uv=uv, material=visual.material)
        out = trimesh.Trimesh(np.asarray(mesh.vertices)[order], faces, visual=visual, process=False)
    else:
        out = trimesh.Trimesh(np.asarray(mesh.vertices)[order], faces, process=False)
        out.visual = trimesh.visual.ColorVisuals(out, vertex_colors=np.asarray(visual.vertex_colors)[order])
    out.export(str(target), file_type="glb", include_normals=True)
    return target
