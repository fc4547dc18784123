"""Textured meshes whose sides differ, for the projection's tests and benchmark (bench/view_projection.py).

Each mesh's texture is a pattern that tells front from back and left from right: the base colour
depends on which way the surface faces (warm at the front, cool at the back, green left, violet
right), with stripes along the height, so a photo from one side pasted on another side shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from img23d_backend.views.cameras import Window, camera_for
from img23d_backend.views.renders import camera_at, render, to_image
from img23d_protocol import SIDE_AZIMUTH_DEGREES
from img23d_protocol.frame import from_gltf, to_gltf
from PIL import Image

TEXTURE_SIZE = 256


def _pattern(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """RGB in 0..1 at surface points with their normals: the side's hue, stripes along z."""
    front, back = np.array([0.9, 0.35, 0.15]), np.array([0.15, 0.35, 0.9])
    left, right = np.array([0.2, 0.75, 0.25]), np.array([0.7, 0.25, 0.75])
    x, y = normals[:, 0:1], normals[:, 1:2]
    hue = (np.clip(-y, 0, 1) * front + np.clip(y, 0, 1) * back + np.clip(x, 0, 1) * left
           + np.clip(-x, 0, 1) * right) / np.maximum(np.abs(x) + np.abs(y), 1e-6)
    hue = np.where((np.abs(x) + np.abs(y)) > 0.3, hue, np.array([0.85, 0.85, 0.8]))  # tops and bottoms pale
    stripes = 0.75 + 0.25 * np.sign(np.sin(points[:, 2:3] * 18.0))
    return np.clip(hue * stripes, 0, 1)


def _barrel_pattern(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """A barrel's look: staves round it (every 20 degrees, alternately lighter), the front half striped across
    and the back half checkered, the hue turning with the side as ``_pattern``'s does; so a photo turned a
    few degrees, or tilted, pastes every stave and stripe out of place."""
    hue = _pattern(points, normals) / (0.75 + 0.25 * np.sign(np.sin(points[:, 2:3] * 18.0)))
    azimuth = np.degrees(np.arctan2(points[:, 1], points[:, 0]))[:, None]
    staves = 0.85 + 0.15 * np.sign(np.sin(np.radians(azimuth) * 18.0))
    stripes = 0.7 + 0.3 * np.sign(np.sin(points[:, 2:3] * 24.0))
    checker = 0.7 + 0.3 * np.sign(np.sin(np.radians(azimuth) * 12.0) * np.sin(points[:, 2:3] * 16.0))
    side = np.where(points[:, 1:2] < 0, stripes, checker)
    return np.clip(hue * staves * side, 0, 1)


def textured(mesh: trimesh.Trimesh, size: int = TEXTURE_SIZE, pattern=_pattern) -> trimesh.Trimesh:
    """``mesh`` with one UV island per face pair laid out on a grid, its texture baked from ``pattern``."""
    faces = np.asarray(mesh.faces)
    count = len(faces)
    cells = int(np.ceil(np.sqrt(count)))
    cell = 1.0 / cells
    pad = 0.12 * cell
    corners = np.array([[pad, pad], [cell - pad, pad], [pad, cell - pad]])
    index = np.arange(count)
    origin = np.stack([(index % cells) * cell, (index // cells) * cell], axis=1)
    uvs = (origin[:, None, :] + corners[None]).reshape(-1, 2)
    vertices = np.asarray(mesh.vertices)[faces.reshape(-1)]
    split = trimesh.Trimesh(vertices=vertices, faces=np.arange(3 * count).reshape(-1, 3), process=False)
    # Bake: every texel in a triangle's cell takes the pattern at its barycentric point.
    rows, columns = np.mgrid[0:size, 0:size]
    u, v = columns / (size - 1), 1 - rows / (size - 1)
    cell_index = np.clip((u // cell).astype(int), 0, cells - 1) + cells * np.clip((v // cell).astype(int), 0, cells - 1)
    local = np.stack([(u - (u // cell) * cell - pad) / (cell - 2 * pad), (v - (v // cell) * cell - pad) /
                      (cell - 2 * pad)], axis=-1)
    valid = cell_index < count
    face = np.where(valid, cell_index, 0)
    a, b = np.clip(local[..., 0], 0, 1), np.clip(local[..., 1], 0, 1)
    scale = np.maximum(a + b, 1.0)
    a, b = a / scale, b / scale
    tri = vertices.reshape(-1, 3, 3)[face]
    points = tri[..., 0, :] * (1 - a - b)[..., None] + tri[..., 1, :] * a[..., None] + tri[..., 2, :] * b[..., None]
    normals = np.asarray(mesh.face_normals)[face]
    colour = pattern(points.reshape(-1, 3), normals.reshape(-1, 3)).reshape(size, size, 3)
    colour[~valid] = 0.5
    texture = Image.fromarray((colour * 255 + 0.5).astype(np.uint8), "RGB")
    split.visual = trimesh.visual.TextureVisuals(uv=uvs, material=trimesh.visual.material.PBRMaterial(
        baseColorTexture=texture))
    return split


def box() -> trimesh.Trimesh:
    return textured(trimesh.creation.box((0.8, 0.5, 1.0)))


def vase() -> trimesh.Trimesh:
    """A cylinder with a waist: smooth sides that turn through every direction."""
    cylinder = trimesh.creation.cylinder(radius=0.35, height=1.0, sections=24)
    vertices = np.asarray(cylinder.vertices).copy()
    vertices[:, :2] *= (1.0 - 0.25 * np.cos(vertices[:, 2:3] * np.pi * 2))
    return textured(trimesh.Trimesh(vertices=vertices, faces=cylinder.faces, process=False))


def barrel(size: int = 512) -> trimesh.Trimesh:
    """A barrel: a bulging tube closed by two lids, its side's texture wrapped round it (u the angle, v the
    height, the seam at the back; the lids in the atlas's top strip), with staves round it, striped at the
    front and checkered at the back (``_barrel_pattern``): its outline is the same from every side, only its
    colours tell them."""
    turns, rings, side_v = 96, 24, 0.75
    angle = np.linspace(np.pi / 2, 5 * np.pi / 2, turns + 1)   # from the back (+Y) round, the seam there
    height = np.linspace(-0.5, 0.5, rings + 1)
    a, z = np.meshgrid(angle, height)
    radius = 0.35 * (1.0 + 0.12 * np.cos(z * np.pi))
    side = np.stack([radius * np.cos(a), radius * np.sin(a), z], axis=-1).reshape(-1, 3)
    index = np.arange((rings + 1) * (turns + 1)).reshape(rings + 1, turns + 1)
    quads = np.stack([index[:-1, :-1], index[:-1, 1:], index[1:, 1:], index[1:, :-1]], axis=-1).reshape(-1, 4)
    faces = [np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])]
    uvs = [np.stack([(np.arange(turns + 1) / turns)[None].repeat(rings + 1, 0),
                     side_v * (np.arange(rings + 1) / rings)[:, None].repeat(turns + 1, 1)], axis=-1).reshape(-1, 2)]
    vertices, lid_radius = [side], 0.35 * (1.0 + 0.12 * np.cos(0.5 * np.pi))
    for lid, (z_lid, u0) in enumerate(((0.5, 0.0), (-0.5, 0.5))):   # the top lid, then the bottom
        start = sum(len(v) for v in vertices)
        ring = np.stack([lid_radius * np.cos(angle[:-1]), lid_radius * np.sin(angle[:-1]),
                         np.full(turns, z_lid)], axis=1)
        vertices.append(np.concatenate([[[0.0, 0.0, z_lid]], ring]))
        around = start + 1 + np.arange(turns)
        fan = np.stack([np.full(turns, start), around, np.roll(around, -1)], axis=1)
        faces.append(fan if z_lid > 0 else fan[:, ::-1])
        centre = np.array([u0 + 0.125, side_v + 0.125])
        uvs.append(np.concatenate([[centre], centre + 0.12 * np.stack([np.cos(angle[:-1]), np.sin(angle[:-1])], 1)]))
    mesh = trimesh.Trimesh(vertices=np.concatenate(vertices), faces=np.concatenate(faces), process=False)
    # Bake: texel (row, col) at u = col / (size - 1), v = 1 - row / (size - 1), as the projection places it.
    rows, columns = np.mgrid[0:size, 0:size]
    u, v = columns / (size - 1), 1 - rows / (size - 1)
    ta = angle[0] + u * (angle[-1] - angle[0])
    tz = -0.5 + v / side_v
    tr = 0.35 * (1.0 + 0.12 * np.cos(tz * np.pi))
    points = np.stack([tr * np.cos(ta), tr * np.sin(ta), tz], axis=-1).reshape(-1, 3)
    normals = np.stack([np.cos(ta), np.sin(ta), np.zeros_like(ta)], axis=-1).reshape(-1, 3)
    colour = _barrel_pattern(points, normals).reshape(size, size, 3)
    # The lids: pale wood with a dark ring, so a tilt shows.
    lid = v > side_v
    ring = np.abs(np.hypot((u % 0.5) - 0.125, v - side_v - 0.125) - 0.07) < 0.012
    colour[lid] = np.array([0.85, 0.8, 0.65])
    colour[lid & ring] = np.array([0.3, 0.2, 0.1])
    mesh.visual = trimesh.visual.TextureVisuals(uv=np.concatenate(uvs), material=trimesh.visual.material.PBRMaterial(
        baseColorTexture=Image.fromarray((colour * 255 + 0.5).astype(np.uint8), "RGB")))
    return mesh


def figure() -> trimesh.Trimesh:
    """A character-like shape: a body, a head and two arms that hide part of the body from the sides."""
    parts = [trimesh.creation.box((0.5, 0.3, 0.8)),
             trimesh.creation.icosphere(subdivisions=1, radius=0.2).apply_translation((0, 0, 0.6)),
             trimesh.creation.box((0.12, 0.18, 0.6)).apply_translation((0.34, 0, 0.05)),
             trimesh.creation.box((0.12, 0.18, 0.6)).apply_translation((-0.34, 0, 0.05))]
    return textured(trimesh.util.concatenate(parts))


def bare(mesh: trimesh.Trimesh, colour: tuple[int, int, int] = (128, 128, 128)) -> trimesh.Trimesh:
    """The same mesh and UVs with a flat texture: a stand-in for a paint model's guess."""
    copy = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    size = mesh.visual.material.baseColorTexture.size
    copy.visual = trimesh.visual.TextureVisuals(uv=mesh.visual.uv, material=trimesh.visual.material.PBRMaterial(
        baseColorTexture=Image.new("RGB", size, colour)))
    return copy


def write_glb(mesh: trimesh.Trimesh, path: Path) -> Path:
    """``mesh`` (Blender's axes) as a GLB an artist would hand to ``retexture``."""
    turned = mesh.copy()
    turned.vertices = to_gltf(np.asarray(mesh.vertices))   # what a GLB holds and the mesh reader turns back
    turned.export(path, file_type="glb")
    return path


def read_glb(path: Path) -> trimesh.Trimesh:
    """A GLB (as ``retexture`` writes it) back in Blender's axes, with its UVs and colour texture."""
    loaded = trimesh.load(path, force="mesh", process=False)
    loaded.vertices = from_gltf(np.asarray(loaded.vertices))
    return loaded


def side_renders(mesh: trimesh.Trimesh, sides: tuple[str, ...], size: int = 256) -> dict[str, Image.Image]:
    """What each side's camera sees of ``mesh``: RGBA pictures with a real alpha channel."""
    centre, window = frame(mesh, size)
    texture = mesh.visual.material.baseColorTexture
    return {side: to_image(render(mesh, texture, camera_at(SIDE_AZIMUTH_DEGREES[side], centre), window))
            for side in sides}


def frame(mesh: trimesh.Trimesh, size: int) -> tuple[np.ndarray, Window]:
    """The mesh's centre and a window every camera around it sees it whole in."""
    vertices = np.asarray(mesh.vertices)
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    return centre, Window(float(np.linalg.norm(vertices - centre, axis=1).max()) * 1.1, size)


def photo_from(mesh: trimesh.Trimesh, side: str, yaw: float, pitch: float, size: int = 200,
               farther: float = 1.0) -> Image.Image:
    """``mesh`` as a camera turned ``yaw`` and raised ``pitch`` off ``side`` sees it, an RGBA picture;
    ``farther`` times as far away (the object that much smaller in the picture)."""
    centre, window = frame(mesh, size)
    return to_image(render(mesh, mesh.visual.material.baseColorTexture, camera_for(side, centre, None, yaw, pitch),
                           Window(window.half * farther, size)))


def seen_from(mesh: trimesh.Trimesh, texture: Image.Image, azimuth: float, size: int) -> np.ndarray:
    """``mesh`` with ``texture`` as the camera at ``azimuth`` sees it: a float RGBA render, for ``psnr``."""
    centre, window = frame(mesh, size)
    return render(mesh, texture, camera_at(azimuth, centre), window)


def toned(photo: Image.Image, gain: tuple[float, float, float]) -> Image.Image:
    """The photo as a darker or warmer camera takes it: each channel scaled, the cut-out kept."""
    rgba = np.asarray(photo.convert("RGBA"), dtype=np.float64)
    rgba[..., :3] = np.clip(rgba[..., :3] * np.asarray(gain), 0, 255)
    return Image.fromarray(rgba.astype(np.uint8), "RGBA")


def psnr(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR (dB) of two float RGBA renders over the pixels both cover."""
    both = (reference[..., 3] > 0.5) & (other[..., 3] > 0.5)
    error = float(np.mean((reference[both][:, :3] - other[both][:, :3]) ** 2))
    return 10 * float(np.log10(1.0 / max(error, 1e-10)))
