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
centroid's UV. A mesh with more faces than its splats (``MAX_SPLATS`` at most) is sampled instead:
points spread over its surface by area (the same points every time), each a flat round Gaussian of
its share of the surface. Faces with a corner (or a UV) that is not a finite number, or with no area,
are left out and counted (``SplatCloud.skipped``). Memory follows the splat count, not the face
count: faces are measured ``CHUNK`` at a time, and the file is written ``CHUNK`` rows at a time.

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
BYTES_PER_SPLAT = 4 * len(PLY_PROPERTIES)  # 248: 62 float32s a row
# How many splats an object gets. Viewers hold and depth-sort every splat each frame: SuperSplat keeps
# a splat of under a million Gaussians as one file and builds levels of detail above that (PlayCanvas's
# "Streaming & Performance" page), and antimatter15/splat reads the whole PLY into memory before it
# draws. An object is one of a scene's several: at 200,000 (49.6 MB of this PLY) five objects stay
# under that million and each file loads in a second or two; a 1024-px texture's texels are about
# five times as many, so the colour is sampled a little coarser than the texture at the most.
MAX_SPLATS = 200_000
# An object of one colour (no texture) has only its shape to show: 40,000 splats (9.9 MB) make
# patches about 1% of its size, a rim at its edges that thin.
PLAIN_SPLATS = 40_000
MAX_SPLIT = 64               # a face is cut into at most this many sub-triangles a side
CHUNK = 1 << 15              # faces measured, or rows written, at a time: memory follows the cap
SAMPLE_SEED = 0              # a sampled mesh's points: the same file every time


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
    skipped: int = 0         # faces left out: a corner or UV not a finite number, or no area

    def __len__(self) -> int:
        return len(self.positions)

    def part(self, start: int, stop: int) -> "SplatCloud":
        """Splats ``start`` to ``stop`` (views, no copies): what one chunk of the file holds."""
        return SplatCloud(*(getattr(self, name)[start:stop] for name in ARRAYS))

    @staticmethod
    def joined(clouds: "list[SplatCloud]") -> "SplatCloud":
        """One cloud of several (an object of several meshes), their skipped faces added up."""
        return SplatCloud(*(np.concatenate([getattr(c, name) for c in clouds]) for name in ARRAYS),
                          skipped=sum(c.skipped for c in clouds))


ARRAYS = ("positions", "normals", "colours", "opacities", "scales", "rotations")


def splats_from_mesh(vertices: np.ndarray, faces: np.ndarray, corner_uvs: np.ndarray | None = None,
                     texture: np.ndarray | None = None, colour: tuple[float, float, float] = UNTEXTURED,
                     spacing: float | None = None, max_splats: int = MAX_SPLATS,
                     plain_splats: int = PLAIN_SPLATS) -> SplatCloud:
    """Flat Gaussians covering the triangles ``faces`` of ``vertices``.

    ``corner_uvs`` (F, 3, 2): each face corner's UV, v up (Blender's and trimesh's convention);
    ``texture`` (H, W, 3 or 4): its pixels, row 0 the image's top, 0..255 or 0..1. Without both,
    every splat is ``colour`` (sRGB 0..1). ``spacing``: a patch's side in the mesh's units; None:
    one patch per texel the UVs cover, or ``plain_splats`` without a texture. Never more than
    ``max_splats``: a mesh with more faces than its splats is sampled by area.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise SplatError("the mesh has no faces to make splats from")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise SplatError("the mesh's faces name vertices it does not have")
    if max_splats < 1:
        raise SplatError(f"the most splats must be at least 1, not {max_splats!r}")
    textured = corner_uvs is not None and texture is not None
    uvs = np.asarray(corner_uvs, dtype=np.float64).reshape(-1, 3, 2) if textured else None
    area = face_areas(vertices, faces, uvs)
    area[area <= 1e-12 * _extent(vertices) ** 2] = 0.0  # too small to tell from rounding: no area
    kept = int(np.count_nonzero(area))
    if kept == 0:
        raise SplatError("the mesh's faces all have zero area (or a corner that is not a number): "
                         "there is no surface to cover")
    total = float(area.sum())
    count = _count(total, area, uvs, texture, spacing, min(max_splats, plain_splats), max_splats)
    if kept > count:
        cloud = _sampled(vertices, faces, area, uvs, count)
    else:
        which = np.flatnonzero(area)
        cloud = _cut(vertices[faces[which]], area[which], uvs[which] if textured else None, total / count, count)
    positions, normals, axes, sigmas, sample_uv = cloud
    colours = (_sample(texture, sample_uv) if textured
               else np.tile(np.clip(np.asarray(colour, dtype=np.float64), 0, 1), (len(positions), 1)))
    thin = np.maximum(sigmas[:, 1] * NORMAL_THICKNESS, 1e-9)
    return SplatCloud(positions=positions, normals=normals, colours=colours,
                      opacities=np.full(len(positions), OPACITY), scales=np.column_stack([sigmas, thin]),
                      rotations=quaternions(np.stack([axes[:, 0], axes[:, 1], normals], axis=2)),
                      skipped=len(faces) - kept)


def face_areas(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray | None = None) -> np.ndarray:
    """Each face's area (F,), ``CHUNK`` faces at a time so that no (F, 3, 3) array is ever held; a face
    with a corner (or, given ``uvs``, a UV) that is not a finite number reads 0."""
    area = np.zeros(len(faces))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: that face reads 0 below
        for start in range(0, len(faces), CHUNK):
            corners = vertices[faces[start:start + CHUNK]]
            cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
            doubled = np.sqrt(np.einsum("fi,fi->f", cross, cross))
            if uvs is not None:
                doubled[~np.isfinite(uvs[start:start + CHUNK]).all(axis=(1, 2))] = np.nan
            area[start:start + CHUNK] = np.where(np.isfinite(doubled), doubled / 2, 0.0)
    return area


def _extent(vertices: np.ndarray) -> float:
    """The largest finite coordinate's size, ``CHUNK`` vertices at a time."""
    largest = 0.0
    for start in range(0, len(vertices), CHUNK):
        part = np.abs(vertices[start:start + CHUNK])
        largest = max(largest, float(np.max(part, where=np.isfinite(part), initial=0.0)))
    return largest


def _count(total: float, area: np.ndarray, uvs: np.ndarray | None, texture: np.ndarray | None,
           spacing: float | None, default: int, max_splats: int) -> int:
    """How many splats: one a ``spacing`` square, else one a texel the UVs cover, else ``default``."""
    if spacing is not None:
        if not (math.isfinite(spacing) and spacing > 0):
            raise SplatError(f"the splat spacing must be a positive length, not {spacing!r}")
        return int(min(max_splats, max(total / (spacing * spacing), 1)))
    if uvs is None or texture is None:
        return max(default, 1)
    uv_area = 0.0
    for start in range(0, len(uvs), CHUNK):
        edges = uvs[start:start + CHUNK, 1:] - uvs[start:start + CHUNK, :1]
        doubled = np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0])
        uv_area += float(doubled[area[start:start + CHUNK] > 0].sum()) / 2
    texels = uv_area * texture.shape[0] * texture.shape[1]
    return int(min(max(texels, 1), max_splats))


Patches = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # positions, normals, axes, sigmas, uvs


def _cut(corners: np.ndarray, area: np.ndarray, uvs: np.ndarray | None, patch: float, allowed: int) -> Patches:
    """Each face cut into k x k similar sub-triangles of about ``patch`` in area (``allowed`` in all),
    one splat each with its sub-triangle's own spread, widened by ``COVER``."""
    splits = _splits(area, patch, allowed)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = cross / (2 * area)[:, None]
    axes, sigmas = _in_plane_frames(corners, normals)
    parts = [_split(k, np.flatnonzero(splits == k), corners, uvs) for k in np.unique(splits)]
    owner = np.concatenate([p[0] for p in parts])
    positions = np.concatenate([p[1] for p in parts])
    sample_uv = np.concatenate([p[2] for p in parts])
    return positions, normals[owner], axes[owner], sigmas[owner] * (COVER / splits[owner])[:, None], sample_uv


def _sampled(vertices: np.ndarray, faces: np.ndarray, area: np.ndarray, uvs: np.ndarray | None,
             count: int) -> Patches:
    """``count`` points spread over the surface by area: the faces' areas laid end to end, cut into
    ``count`` equal strata, one point at a seeded random place in each (so a face gets its share of
    points, never a cluster, and the file is the same every time). Each is a round flat Gaussian of
    its stratum's area, widened by ``COVER`` as a cut face's is. ``area`` is used up (summed in place)."""
    rng = np.random.default_rng(SAMPLE_SEED)
    cumulative = np.cumsum(area, out=area)
    total = float(cumulative[-1])
    targets = (np.arange(count) + rng.random(count)) * (total / count)
    last = int(np.searchsorted(cumulative, total, side="left"))  # the last face with an area
    # side="right": a face of no area ends where the one before it does, so no target falls in it.
    chosen = np.minimum(np.searchsorted(cumulative, targets, side="right"), last)
    del cumulative, area
    corners = vertices[faces[chosen]]
    a, b = rng.random((2, count))
    flip = a + b > 1
    a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
    positions = corners[:, 0] + a[:, None] * (corners[:, 1] - corners[:, 0]) + b[:, None] * (corners[:, 2] - corners[:, 0])
    first = corners[:, 1] - corners[:, 0]
    normals = np.cross(first, corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    axes = np.stack([first, np.cross(normals, first)], axis=1)
    # An equilateral triangle of area A spreads sqrt(A / (6 sqrt 3)) along any in-plane axis.
    sigma = COVER * math.sqrt(total / count / (6 * math.sqrt(3)))
    sample_uv = np.zeros((count, 2))
    if uvs is not None:
        corner_uv = uvs[chosen]
        sample_uv = corner_uv[:, 0] + a[:, None] * (corner_uv[:, 1] - corner_uv[:, 0]) + b[:, None] * (
            corner_uv[:, 2] - corner_uv[:, 0])
    return positions, normals, axes, np.full((count, 2), sigma), sample_uv


def _splits(area: np.ndarray, patch: float, allowed: int) -> np.ndarray:
    """Each face's k (cut into k x k): about ``patch`` in area each, at most ``allowed`` in all (the
    caller has at most ``allowed`` faces). Rounding each face's k up overshoots the count, so the patch
    grows by the overshoot until it fits; rounding down, at the last, always does."""
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
    """The texture's RGB (0..1) at each UV, bilinear, repeating past 0..1 as glTF's default sampler.
    Only the four texels around each UV are converted to float: never a float copy of the texture."""
    pixels = np.asarray(texture)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    scale = 255.0 if pixels.dtype == np.uint8 or pixels.max(initial=0) > 1.0 else 1.0
    height, width = pixels.shape[:2]

    def texel(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        rgb = pixels[ys, xs, :3].astype(np.float64) / scale
        return np.repeat(rgb, 3, axis=1) if rgb.shape[1] == 1 else rgb

    uv = np.nan_to_num(uv)  # a UV that is not a number is left out before here; this keeps indices valid
    x = np.mod(uv[:, 0], 1.0) * width - 0.5
    y = (1.0 - np.mod(uv[:, 1], 1.0)) * height - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    xs, ys = np.mod([x0, x0 + 1], width), np.mod([y0, y0 + 1], height)
    top = texel(ys[0], xs[0]) * (1 - fx) + texel(ys[0], xs[1]) * fx
    bottom = texel(ys[1], xs[0]) * (1 - fx) + texel(ys[1], xs[1]) * fx
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


def ply_size(count: int) -> int:
    """The bytes of a PLY of ``count`` splats: what a writer checks the disk's free space against."""
    return len(ply_header(count)) + count * BYTES_PER_SPLAT


def ply_rows(cloud: SplatCloud) -> np.ndarray:
    """The cloud's rows as stored: (N, 62) float32 in ``PLY_PROPERTIES``' order, before activations
    (each value computed in float64, rounded once as it is stored)."""
    rows = np.zeros((len(cloud), len(PLY_PROPERTIES)), dtype="<f4")
    rows[:, 0:3] = cloud.positions
    rows[:, 3:6] = cloud.normals
    rows[:, 6:9] = (cloud.colours - 0.5) / SH_C0
    rest = 9 + SH_REST
    rows[:, rest] = logit(np.clip(cloud.opacities, 1e-6, 1 - 1e-6))
    rows[:, rest + 1:rest + 4] = np.log(np.maximum(cloud.scales, 1e-12))
    rows[:, rest + 4:rest + 8] = cloud.rotations
    return rows


def write_ply(path: Path, cloud: SplatCloud) -> Path:
    """Write ``cloud`` as a 3DGS PLY at ``path``, ``CHUNK`` rows at a time (a partial file never stays:
    it is written beside and renamed over)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(ply_header(len(cloud)))
            for start in range(0, len(cloud), CHUNK):
                handle.write(ply_rows(cloud.part(start, start + CHUNK)).tobytes())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
