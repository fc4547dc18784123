"""3D Gaussian splats made from a textured triangle mesh, and the 3DGS PLY file that holds them.

Shared by the backend (``generate --splats``) and the add-on (Object > Export Gaussian Splat), so
both write the same file from the same mesh. It is the protocol package's one module that needs
numpy: the backend's environment and every Blender have it, and nothing imports this module unless
it writes splats (the package's ``__init__`` leaves it out), so the rest of the package stays
standard-library only.

The surface is cut into patches of about one texel's (or one ``spacing``'s) size: each face is
split into k x k similar sub-triangles, and each sub-triangle becomes one flat Gaussian at its
centroid whose in-plane covariance is the sub-triangle's own (widened by ``COVER`` so neighbours
overlap into an opaque surface) and whose normal axis is tiny. Its colour is the texture's at the
centroid's UV.

The file is what graphdeco-inria/gaussian-splatting's ``GaussianModel.save_ply`` writes, in its
order: x y z, nx ny nz, f_dc_0..2, f_rest_0..44, opacity, scale_0..2, rot_0..3, every one a little-
endian float32, one ``vertex`` element. Its ``load_ply`` asserts 45 ``f_rest`` (SH degree 3), so
they are written, as zeros: the colour does not change with the view. The values are stored
before their activations, as 3DGS keeps them: scales as natural logs, opacity as a logit, colour
as the degree-0 SH coefficient ``(rgb - 0.5) / SH_C0``, the rotation as a quaternion w x y z (a
viewer normalises it). Axes: glTF's (+Y up), as the GLB beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUFFIX = ".splat.ply"          # <stem>.splat.ply: beside a job's GLB, and the add-on's export's default name
UNTEXTURED = (0.8, 0.8, 0.8)   # sRGB grey: the colour of an object with nothing to take a colour from
SH_C0 = 0.28209479177387814  # the degree-0 real spherical harmonic, 1 / (2 sqrt(pi))
SH_REST = 45                 # f_rest_*: 3 colours x 15 coefficients of degrees 1..3
PLY_PROPERTIES: tuple[str, ...] = (
    "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
    *(f"f_rest_{i}" for i in range(SH_REST)),
    "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
# A Gaussian with a triangle's own covariance is transparent past about one sigma (its edge at
# about 1.7 sigma); widened by this much, neighbours overlap into a surface that reads as opaque.
COVER = 2.0
OPACITY = 0.99               # each splat's opacity (1 would be an infinite logit)
NORMAL_THICKNESS = 0.01      # the normal axis's scale, as a fraction of the smaller in-plane one
MAX_SPLATS = 500_000         # about 124 MB of PLY; a face always gets at least one splat
MAX_SPLIT = 64               # a face is cut into at most this many sub-triangles a side


class SplatError(ValueError):
    """A mesh that cannot be made into splats, said in one sentence."""


@dataclass(frozen=True)
class SplatCloud:
    """Gaussians with their activated values: what a renderer uses."""

    positions: np.ndarray    # (N, 3)
    normals: np.ndarray      # (N, 3) unit, the flat axis
    colours: np.ndarray      # (N, 3) RGB 0..1, as the texture stores it (sRGB)
    opacities: np.ndarray    # (N,) 0..1
    scales: np.ndarray       # (N, 3) standard deviations along the rotation's axes
    rotations: np.ndarray    # (N, 4) unit quaternions, w x y z

    def __len__(self) -> int:
        return len(self.positions)


def splats_from_mesh(vertices: np.ndarray, faces: np.ndarray, corner_uvs: np.ndarray | None = None,
                     texture: np.ndarray | None = None, colour: tuple[float, float, float] = (0.8, 0.8, 0.8),
                     spacing: float | None = None, max_splats: int = MAX_SPLATS) -> SplatCloud:
    """Flat Gaussians covering the triangles ``faces`` of ``vertices``.

    ``corner_uvs`` (F, 3, 2): each face corner's UV, v up (Blender's and trimesh's convention);
    ``texture`` (H, W, 3 or 4): its pixels, row 0 the image's top, 0..255 or 0..1. Without both,
    every splat is ``colour`` (sRGB 0..1). ``spacing``: a patch's side in the mesh's units; None:
    one patch per texel the UVs cover, or ``max_splats`` patches, whichever is fewer.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise SplatError("the mesh has no faces to make splats from")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise SplatError("the mesh's faces name vertices it does not have")
    corners = vertices[faces]                                     # (F, 3, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    doubled = np.linalg.norm(cross, axis=1)
    keep = np.isfinite(doubled) & (doubled > 1e-12 * max(float(np.abs(vertices).max()), 1e-12) ** 2)
    if not keep.any():
        raise SplatError("the mesh's faces all have zero area: there is no surface to cover")
    textured = corner_uvs is not None and texture is not None
    uvs = np.asarray(corner_uvs, dtype=np.float64).reshape(-1, 3, 2)[keep] if textured else None
    corners, cross, area = corners[keep], cross[keep], doubled[keep] / 2
    splits = _splits(area, _patch_area(area, uvs, texture, spacing, max_splats), max_splats)
    normals = cross / (2 * area)[:, None]
    axes, sigmas = _in_plane_frames(corners, normals)
    parts = [_split(k, np.flatnonzero(splits == k), corners, uvs) for k in np.unique(splits)]
    owner = np.concatenate([p[0] for p in parts])
    positions = np.concatenate([p[1] for p in parts])
    colours = (_sample(texture, np.concatenate([p[2] for p in parts])) if textured
               else np.tile(np.clip(np.asarray(colour, dtype=np.float64), 0, 1), (len(owner), 1)))
    in_plane = sigmas[owner] * (COVER / splits[owner])[:, None]
    thin = np.maximum(in_plane[:, 1] * NORMAL_THICKNESS, 1e-9)
    return SplatCloud(positions=positions, normals=normals[owner], colours=colours,
                      opacities=np.full(len(owner), OPACITY), scales=np.column_stack([in_plane, thin]),
                      rotations=quaternions(np.stack([axes[owner, 0], axes[owner, 1], normals[owner]], axis=2)))


def _patch_area(area: np.ndarray, uvs: np.ndarray | None, texture: np.ndarray | None, spacing: float | None,
                max_splats: int) -> float:
    """The area one splat covers: a ``spacing`` square, else a texel's share of the surface."""
    total = float(area.sum())
    if spacing is not None:
        if not (math.isfinite(spacing) and spacing > 0):
            raise SplatError(f"the splat spacing must be a positive length, not {spacing!r}")
        return max(spacing * spacing, total / max(max_splats, 1))
    count = max_splats
    if uvs is not None and texture is not None:
        edges = uvs[:, 1:] - uvs[:, :1]
        uv_area = float(np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]).sum()) / 2
        texels = uv_area * texture.shape[0] * texture.shape[1]
        count = int(min(max(texels, 1), max_splats))
    return total / max(count, 1)


def _splits(area: np.ndarray, patch: float, max_splats: int) -> np.ndarray:
    """Each face's k (cut into k x k): about ``patch`` in area each, at most ``max_splats`` in all
    (or one a face, when there are more faces). Rounding each face's k up overshoots the count, so
    the patch grows by the overshoot until it fits; rounding down, at the last, always does."""
    allowed = max(max_splats, len(area))
    for _ in range(8):
        splits = np.clip(np.ceil(np.sqrt(area / patch)), 1, MAX_SPLIT).astype(np.int64)
        count = int(np.sum(splits ** 2))
        if count <= allowed:
            return splits
        patch *= count / allowed
    return np.clip(np.floor(np.sqrt(area / patch)), 1, MAX_SPLIT).astype(np.int64)


def _in_plane_frames(corners: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each face's principal in-plane axes (F, 2, 3: the second is normal x first, so the frame
    with the normal is right-handed) and its standard deviations along them (F, 2)."""
    centred = corners - corners.mean(axis=1, keepdims=True)
    covariance = np.einsum("fki,fkj->fij", centred, centred) / 12  # a uniform triangle's
    first = centred[:, 1] - centred[:, 0]
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    second = np.cross(normals, first)
    basis = np.stack([first, second], axis=1)                       # (F, 2, 3)
    planar = np.einsum("fai,fij,fbj->fab", basis, covariance, basis)
    values, vectors = np.linalg.eigh(planar)                        # ascending
    major = np.einsum("fa,fai->fi", vectors[:, :, 1], basis)
    major /= np.linalg.norm(major, axis=1, keepdims=True)
    minor = np.cross(normals, major)
    return np.stack([major, minor], axis=1), np.sqrt(np.maximum(values[:, ::-1], 0))


def _split(k: int, which: np.ndarray, corners: np.ndarray, uvs: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The faces ``which``, each cut into k x k similar sub-triangles: each one's face, centroid and UV."""
    a, b = _centroid_weights(k)
    chosen = corners[which]
    points = (chosen[:, None, 0] + a[None, :, None] * (chosen[:, None, 1] - chosen[:, None, 0])
              + b[None, :, None] * (chosen[:, None, 2] - chosen[:, None, 0]))
    owner = np.repeat(which, len(a))
    if uvs is None:
        return owner, points.reshape(-1, 3), np.zeros((len(owner), 2))
    corner_uv = uvs[which]
    uv = (corner_uv[:, None, 0] + a[None, :, None] * (corner_uv[:, None, 1] - corner_uv[:, None, 0])
          + b[None, :, None] * (corner_uv[:, None, 2] - corner_uv[:, None, 0]))
    return owner, points.reshape(-1, 3), uv.reshape(-1, 2)


def _centroid_weights(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k x k sub-triangles' centroids as weights of a face's two edges from its first corner."""
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    up = (i + j) <= k - 1
    down = (i + j) <= k - 2
    a = np.concatenate([(3 * i[up] + 1), (3 * i[down] + 2)]) / (3 * k)
    b = np.concatenate([(3 * j[up] + 1), (3 * j[down] + 2)]) / (3 * k)
    return a, b


def _sample(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """The texture's RGB (0..1) at each UV, bilinear, repeating past 0..1 as glTF's default sampler."""
    pixels = np.asarray(texture)
    scale = 255.0 if pixels.dtype == np.uint8 or pixels.max(initial=0) > 1.0 else 1.0
    rgb = pixels[..., :3].astype(np.float64) / scale if pixels.ndim == 3 else \
        np.repeat(pixels[..., None].astype(np.float64) / scale, 3, axis=2)
    height, width = rgb.shape[:2]
    x = np.mod(uv[:, 0], 1.0) * width - 0.5
    y = (1.0 - np.mod(uv[:, 1], 1.0)) * height - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    xs, ys = np.mod([x0, x0 + 1], width), np.mod([y0, y0 + 1], height)
    top = rgb[ys[0], xs[0]] * (1 - fx) + rgb[ys[0], xs[1]] * fx
    bottom = rgb[ys[1], xs[0]] * (1 - fx) + rgb[ys[1], xs[1]] * fx
    return np.clip(top * (1 - fy) + bottom * fy, 0.0, 1.0)


def quaternions(frames: np.ndarray) -> np.ndarray:
    """Unit quaternions (w x y z, w >= 0) of rotation matrices (N, 3, 3) whose columns are the axes
    of scale_0, scale_1, scale_2, as 3DGS's ``build_rotation`` reads them back."""
    m = frames
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    candidates = np.stack([
        np.stack([1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], 1),
        np.stack([m[:, 2, 1] - m[:, 1, 2], 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], m[:, 0, 1] + m[:, 1, 0],
                  m[:, 0, 2] + m[:, 2, 0]], 1),
        np.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0], 1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2],
                  m[:, 1, 2] + m[:, 2, 1]], 1),
        np.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1],
                  1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2]], 1)], axis=1)
    # Of the four formulas, the one with the largest pivot is the stable one for each matrix.
    pivots = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    best = candidates[np.arange(len(m)), np.argmax(pivots, axis=1)]
    best /= np.linalg.norm(best, axis=1, keepdims=True)
    return best * np.where(best[:, :1] < 0, -1.0, 1.0)


def logit(p: np.ndarray) -> np.ndarray:
    """The inverse of the sigmoid 3DGS applies to ``opacity``."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / (1 - p))


def ply_header(count: int) -> bytes:
    """The PLY header of ``count`` splats: ASCII, lines ending in a bare newline (antimatter15/splat's
    reader splits on ``\\n`` and finds ``element vertex N\\n`` by a pattern)."""
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {count}",
             *(f"property float {name}" for name in PLY_PROPERTIES), "end_header"]
    return ("\n".join(lines) + "\n").encode("ascii")


def ply_rows(cloud: SplatCloud) -> np.ndarray:
    """The cloud's rows as stored: (N, 62) float32 in ``PLY_PROPERTIES``' order, before activations."""
    rows = np.zeros((len(cloud), len(PLY_PROPERTIES)), dtype=np.float64)
    rows[:, 0:3] = cloud.positions
    rows[:, 3:6] = cloud.normals
    rows[:, 6:9] = (cloud.colours - 0.5) / SH_C0
    rest = 9 + SH_REST
    rows[:, rest] = logit(np.clip(cloud.opacities, 1e-6, 1 - 1e-6))
    rows[:, rest + 1:rest + 4] = np.log(np.maximum(cloud.scales, 1e-12))
    rows[:, rest + 4:rest + 8] = cloud.rotations
    return rows.astype("<f4")


def write_ply(path: Path, cloud: SplatCloud) -> Path:
    """Write ``cloud`` as a 3DGS PLY at ``path`` (a partial file never stays: it is written beside
    and renamed over)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(ply_header(len(cloud)))
            handle.write(ply_rows(cloud).tobytes())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
