"""Every photo colours what it sees: given pictures projected onto a painted mesh's texture.

After painting, each photo of the object (the front one and the views from its sides) is fitted to
the mesh's silhouette from its side (``silhouette_fit``) and projected onto the texture: each texel
of the mesh's UV atlas (located on the surface by a rasterization in UV space, with the
licence-clean family's rasterizer) takes the photo's colour where the photo sees it and sees it
well, and keeps the painted colour elsewhere. A photo's weight at a texel is

* visibility: the texel is the surface nearest the camera at its pixel (a depth test against the
  camera's own rasterization of the mesh);
* the angle: ``(cos - MIN_COSINE) / (FULL_COSINE - MIN_COSINE)`` clipped to [0, 1], the cosine
  between the surface's normal and the ray toward the camera, so grazing surfaces keep their paint;
* feathering: a ramp over ``FEATHER`` of the picture's width away from every depth edge in the
  camera's view (where one part hides another), and over ``CUTOUT_FEATHER`` inside the cut-out's own
  edge, so where a photo stops colouring, the change fades instead of showing a seam.

Where several photos see a texel, the one that sees it most squarely rules: their colours are averaged by
weight to the power ``SQUARENESS``, so a slightly-off side photo never outvotes what the front sees head-on;
the strongest weight says how much of that colour replaces the paint. The photos are placed in turn
(``PLACING``: the front, the sides next to it, the back), and before each side photo is used its pose is
told by its colours where its outline cannot tell it (a barrel: ``colour_turn``), and its exposure and
white balance are matched to the pictures placed before it (the front's tone) where both see the surface
well (``gain_to_front``: one gain per channel from their mean colours there, bounded by ``MAX_GAIN``), so a
darker or warmer photo neither darkens nor tints the texels it shares with them, nor makes a seam where
it takes over; a photo whose colours there still disagree with theirs (``MAX_DISAGREEMENT``) is another
side's, or another object's, and is left out in one sentence. The photo's colour is carried into the atlas's gutter
(texels outside every UV island take their nearest inside texel's photo colour, as strongly), so
filtering at island edges shows no line. The metallic-roughness map is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from img23d_protocol import FRONT, SIDE_AZIMUTH_DEGREES, SIDES
from PIL import Image
from scipy import ndimage

from ..clean_raster import rasterizer
from .cameras import ViewRaster
from .colour_turn import colour_pose
from .silhouette_fit import MAX_RESIDUAL, SilhouetteFit, fit_photo, looks_like, photo_mask, posed

MIN_COSINE = 0.15      # below this the photo sees the surface too obliquely to colour it
FULL_COSINE = 0.5      # from this on the photo's weight is full
FEATHER = 0.02         # the ramp's width away from depth edges, as a fraction of the view's width
CUTOUT_FEATHER = 0.01  # the ramp's width inside the cut-out's edge, as a fraction of the view's width
GUTTER = 8             # texels the change is carried out of each UV island
ORDER = (FRONT, *SIDES)
# The order photos are placed in: the sides next to the front before the back, so that each is fitted and
# matched against what the pictures placed before it show of the same surface (the back shares surface
# with the left and right, hardly any with the front).
PLACING = (FRONT, *sorted(SIDES, key=lambda side: abs((SIDE_AZIMUTH_DEGREES[side] + 180) % 360 - 180)))
SQUARENESS = 4         # weights to this power when photos share a texel: the squarest view rules
MAX_GAIN = 1.6         # a photo's gain per channel is bounded to [1 / MAX_GAIN, MAX_GAIN]
OVERLAP_WEIGHT = 0.3   # both photos see a texel at least this well to compare their colours there
SCORE_TEXELS = 16384   # about this many texels judge each pose the colours try (views/colour_turn.py)
MIN_OVERLAP = 50       # texels both must see so to match a photo's exposure to the front's
LOOKS_LIKE_FROM = 0.05 # a fit leaving more of the outline unshared is checked against the other sides
MAX_DISAGREEMENT = 0.06  # mean colour difference (0..1 a channel) with the front, exposure matched, past which
                         # a side is not the same object's (measured: true sides 0.002-0.011, another side's
                         # photo 0.13-0.15, tests/backend/views/test_view_projection.py's meshes)


@dataclass(frozen=True)
class ViewOutcome:
    """What became of one photo: used (its fit and how much of the texture it coloured) or left out."""

    side: str
    used: bool
    residual: float | None = None      # 1 - IoU of the photo's cut-out and the mesh's outline, once fitted
    perspective: bool = False          # a close-up camera fitted better than an orthographic one
    coverage: float = 0.0              # the share of the UV islands' texels it coloured (any weight)
    left_out: str | None = None        # the one sentence why, when not used
    gain: tuple[float, float, float] | None = None   # its colours' gain per channel, matched to the front's
    yaw: float = 0.0                   # degrees its fitted camera is turned from its side (about +Z)
    pitch: float = 0.0                 # degrees it is raised above the side's level

    def to_dict(self) -> dict[str, Any]:
        return {"side": self.side, "used": self.used, "residual": self.residual, "perspective": self.perspective,
                "coverage": self.coverage, "left_out": self.left_out,
                "gain": list(self.gain) if self.gain is not None else None, "yaw": self.yaw, "pitch": self.pitch}


@dataclass(frozen=True)
class ProjectionResult:
    """The new colour texture and, per photo in ``ORDER``, what became of it."""

    texture: Image.Image
    views: dict[str, ViewOutcome] = field(default_factory=dict)

    @property
    def used(self) -> list[str]:
        return [side for side, outcome in self.views.items() if outcome.used]

    @property
    def left_out(self) -> dict[str, str]:
        return {side: outcome.left_out for side, outcome in self.views.items() if outcome.left_out}


@dataclass(frozen=True)
class Texels:
    """The texels of a UV atlas that lie on the surface: where they are (image rows), and there the
    surface's point and normal."""

    covered: np.ndarray       # (H, W) bool, image rows (row 0 is v = 1)
    points: np.ndarray        # (N, 3) for the covered texels, in row-major order
    normals: np.ndarray       # (N, 3) unit face normals


def base_colour(mesh: Any) -> Image.Image:
    """The painted mesh's colour texture (a glTF material's base colour, or a simple one's image)."""
    material = getattr(mesh.visual, "material", None)
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if image is None:
        raise ValueError("the mesh has no colour texture to project onto")
    return image


def colour_from_photos(mesh: Any, photos: dict[str, Image.Image],
                       texture: Image.Image | None = None) -> ProjectionResult:
    """Project ``photos`` ({side: RGBA cut-out}, "front" among them) onto ``mesh`` (a trimesh with
    UVs, painted: its base colour texture is the painted colour unless ``texture`` is given)."""
    painted = (texture if texture is not None else base_colour(mesh)).convert("RGB")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    uvs = np.asarray(mesh.visual.uv, dtype=np.float64)
    texels = locate_texels(vertices, faces, uvs, painted.size)
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    radius = float(np.linalg.norm(vertices - centre, axis=1).max()) if len(vertices) else 1.0
    seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    outcomes: dict[str, ViewOutcome] = {}
    for side in [side for side in PLACING if side in photos]:
        rgba = np.asarray(photos[side].convert("RGBA"), dtype=np.float32) / 255.0
        fit = fit_photo(side, vertices, faces, rgba[..., 3], centre, radius)
        if fit is None:
            outcomes[side] = ViewOutcome(side, False, left_out=f"the {side} picture's cut-out is empty, so it "
                                                                  "colours nothing and was left out")
            continue
        other = looks_like(side, vertices, faces, rgba[..., 3], centre, fit.residual) \
            if fit.residual > LOOKS_LIKE_FROM else None
        if other is not None:
            outcomes[side] = ViewOutcome(side, False, round(fit.residual, 4), fit.perspective, left_out=(
                f"the {side} picture looks like {other.words()} (it shares {1 - other.residual:.0%} of that "
                f"outline and {1 - fit.residual:.0%} of the {side}'s), so it was left out"))
            continue
        if fit.residual > MAX_RESIDUAL:
            outcomes[side] = ViewOutcome(side, False, round(fit.residual, 4), fit.perspective, left_out=(
                f"the {side} picture does not match the mesh's outline from the {side} (it shares only "
                f"{1 - fit.residual:.0%} of it once fitted), so it was left out"))
            continue
        placed = _placed(seen) if side != FRONT else None
        if placed is not None:
            mask = photo_mask(rgba[..., 3])
            # The poses are judged on a sample of the texels (every k-th): the same comparison, cheaper.
            every = max(1, len(texels.points) // SCORE_TEXELS)
            scored = Texels(texels.covered, texels.points[::every], texels.normals[::every])
            sample = (placed[0][::every], placed[1][::every])
            fit = colour_pose(fit, lambda yaw, pitch, distance, quick, start=fit: posed(
                start, yaw, pitch, distance, vertices, faces, mask, quick),
                lambda candidate: _apart(sample, *photo_weights(candidate, scored, rgba)))
        weight, colour = photo_weights(fit, texels, rgba)
        gain = gain_to_front(placed, weight, colour)
        matched = colour * np.asarray(gain) if gain is not None else colour
        apart = disagreement(placed, weight, matched) if gain is not None else None
        if apart is not None and apart > MAX_DISAGREEMENT:
            outcomes[side] = ViewOutcome(side, False, round(fit.residual, 4), fit.perspective, gain=gain,
                                         yaw=fit.camera.yaw, pitch=fit.camera.pitch, left_out=(
                f"the {side} picture's colours disagree with the {_named(seen)} where both see the surface "
                f"({apart:.2f} apart on average, its exposure matched), so it is not the {side} of this object "
                f"as the front shows it and was left out"))
            continue
        seen[side] = (weight, matched)
        outcomes[side] = ViewOutcome(side, True, round(fit.residual, 4), fit.perspective,
                                     round(float((weight > 0).mean()) if len(weight) else 0.0, 4), gain=gain,
                                     yaw=fit.camera.yaw, pitch=fit.camera.pitch)
    outcomes = {side: outcomes[side] for side in ORDER if side in outcomes}
    colour_sum = np.zeros((len(texels.points), 3))
    weight_sum = np.zeros(len(texels.points))
    strongest = np.zeros(len(texels.points))
    for weight, colour in seen.values():
        square = weight ** SQUARENESS
        colour_sum += square[:, None] * colour
        weight_sum += square
        strongest = np.maximum(strongest, weight)
    image = np.asarray(painted, dtype=np.float64) / 255.0
    photo = colour_sum / np.maximum(weight_sum, 1e-12)[:, None]
    result = blend_with_gutter(image, texels.covered, photo, strongest)
    return ProjectionResult(Image.fromarray((np.clip(result, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB"), outcomes)


def gain_to_front(front: tuple[np.ndarray, np.ndarray] | None, weight: np.ndarray,
                  colour: np.ndarray) -> tuple[float, float, float] | None:
    """The gain per channel that brings a side photo's colours to ``front``'s (the front's, or the pictures
    placed so far, each already in the front's tone) where both see the surface well (their mean colours
    there), bounded by ``MAX_GAIN``; None without ``front`` or enough overlap."""
    both = _overlap(front, weight)
    if front is None or both is None:
        return None
    gain = _gain(front[1][both], colour[both])
    return (round(float(gain[0]), 4), round(float(gain[1]), 4), round(float(gain[2]), 4))


def disagreement(front: tuple[np.ndarray, np.ndarray] | None, weight: np.ndarray,
                 colour: np.ndarray) -> float | None:
    """How far a side photo's colours (its gain applied) lie from the front's where both see the surface
    well: the mean absolute difference per channel (0..1); None without the front or enough overlap."""
    both = _overlap(front, weight)
    if front is None or both is None:
        return None
    return float(np.abs(colour[both] - front[1][both]).mean())


def _gain(reference: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The gain per channel that brings ``colour``'s mean to ``reference``'s (both (N, 3), the same texels),
    bounded by ``MAX_GAIN``."""
    return np.clip(reference.mean(axis=0) / np.maximum(colour.mean(axis=0), 1e-3), 1.0 / MAX_GAIN, MAX_GAIN)


def _apart(placed: tuple[np.ndarray, np.ndarray], weight: np.ndarray, colour: np.ndarray) -> float | None:
    """How far a photo's colours lie from the placed pictures' once its exposure is matched to theirs, for
    the colour pose's judge: their mean difference over the placed colours' own spread there (so a pose that
    shares only a plain patch, where any photo agrees, is not taken for a good one); None where they share
    too little."""
    both = _overlap(placed, weight)
    if both is None:
        return None
    reference, ours = placed[1][both], colour[both]
    ours = ours * _gain(reference, ours)
    spread = float(np.abs(reference - reference.mean(axis=0)).mean())
    return float(np.abs(ours - reference).mean()) / max(spread, 1e-3)


def _placed(seen: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The pictures placed so far as one: each texel's strongest weight, and their colours averaged by weight
    to the power ``SQUARENESS`` (as the texture takes them); None before the front is placed."""
    if FRONT not in seen:
        return None
    weights = np.stack([weight for weight, _ in seen.values()])
    square = weights ** SQUARENESS
    colour = np.einsum("pn,pnc->nc", square, np.stack([colour for _, colour in seen.values()]))
    return weights.max(axis=0), colour / np.maximum(square.sum(axis=0), 1e-12)[:, None]


def _named(seen: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """The pictures placed so far, as a sentence names them: "front picture's", "front and left pictures'"."""
    sides = list(seen)
    return f"{sides[0]} picture's" if len(sides) == 1 else f"{', '.join(sides[:-1])} and {sides[-1]} pictures'"


def _overlap(front: tuple[np.ndarray, np.ndarray] | None, weight: np.ndarray) -> np.ndarray | None:
    """The texels the front and a side photo both see well (``OVERLAP_WEIGHT``); None without the front or
    with fewer than ``MIN_OVERLAP`` of them: too few to compare colours on."""
    if front is None:
        return None
    both = (front[0] >= OVERLAP_WEIGHT) & (weight >= OVERLAP_WEIGHT)
    return both if int(both.sum()) >= MIN_OVERLAP else None


def locate_texels(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, size: tuple[int, int]) -> Texels:
    """Each texel of a ``size`` (width, height) atlas that lies on a face: its surface point and the
    face's normal. UVs as trimesh keeps them (v up); texel (row, col) is at u = col / (W - 1),
    v = 1 - row / (H - 1), as the paint stage's bake places them."""
    width, height = size
    clip = np.concatenate([uvs * 2 - 1, np.zeros((len(uvs), 1)), np.ones((len(uvs), 1))], axis=1)
    findices, bary = rasterizer.rasterize(torch.as_tensor(clip, dtype=torch.float32),
                                          torch.as_tensor(faces, dtype=torch.int64), (height, width))
    face = findices.numpy()[::-1].astype(np.int64) - 1        # the rasterizer's row 0 is v = 0
    weights = bary.numpy()[::-1].astype(np.float64)
    covered = face >= 0
    corners = faces[face[covered]]
    points = (weights[covered][..., None] * vertices[corners]).sum(axis=1)
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    return Texels(covered, points, normals[face[covered]])


def photo_weights(fit: SilhouetteFit, texels: Texels, rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each texel's weight for this photo (0..1) and the photo's colour there (N, 3)."""
    camera, raster, window = fit.camera, fit.raster, fit.raster.window
    plane, depth = camera.project(texels.points)
    pixels = window.to_pixels(plane)
    column = np.clip(np.rint(pixels[:, 0]).astype(np.int64), 0, window.size - 1)
    row = np.clip(np.rint(pixels[:, 1]).astype(np.int64), 0, window.size - 1)
    # Depth test with a slack of two pixels' width (the texel and the pixel centre differ by up to
    # half a pixel on a surface that may slope) and a little of the mesh's size.
    extent = float(np.ptp(depth)) if len(depth) else 0.0
    slack = 2 * window.pixel + 0.005 * extent
    visible = depth <= raster.depth[row, column] + slack
    toward = _toward_camera(camera, texels.points)
    cosine = np.einsum("ij,ij->i", texels.normals, toward)
    angle = np.clip((cosine - MIN_COSINE) / (FULL_COSINE - MIN_COSINE), 0.0, 1.0)
    ramp = _edge_ramp(raster)[row, column]
    photo_xy = fit.placement.to_photo(plane)
    # Sampled premultiplied, so the transparent pixels' colour never bleeds in at the cut-out's edge.
    layers = [rgba[..., channel] * rgba[..., 3] for channel in range(3)] + [rgba[..., 3]]
    colour = np.stack([ndimage.map_coordinates(layer, [photo_xy[:, 1], photo_xy[:, 0]], order=1, mode="constant",
                                               cval=0.0) for layer in layers], axis=1)
    cutout = _cutout_ramp(rgba[..., 3], CUTOUT_FEATHER * window.size * window.pixel / fit.placement.scale)
    inside = ndimage.map_coordinates(cutout, [photo_xy[:, 1], photo_xy[:, 0]], order=1, mode="constant", cval=0.0)
    weight = np.where(visible, angle * ramp * inside, 0.0)
    return weight, colour[:, :3] / np.maximum(colour[:, 3:4], 1e-6)


def _toward_camera(camera: Any, points: np.ndarray) -> np.ndarray:
    """Unit rays from each point toward the camera."""
    if camera.distance is None:
        return np.broadcast_to(-camera.forward, points.shape)
    rays = camera.centre - camera.forward * camera.distance - points
    return rays / np.maximum(np.linalg.norm(rays, axis=1, keepdims=True), 1e-20)


def _edge_ramp(raster: ViewRaster) -> np.ndarray:
    """0 on depth edges in the view (where one part of the mesh hides another), rising to 1 over
    ``FEATHER``. The outline is not an edge here: the cut-out's own ramp fades a photo there, and a
    surface seen edge-on there has the angle's weight."""
    mask = raster.mask
    depth = np.where(mask, raster.depth, 0.0)
    # A step between neighbours of more than a few pixels' width (a surface would have to lie within
    # about 10 degrees of the view ray to slope that much) is one part in front of another.
    jump = 4 * raster.window.pixel
    edges = np.zeros_like(mask)
    for axis in (0, 1):
        both = np.logical_and(np.delete(mask, 0, axis=axis), np.delete(mask, -1, axis=axis))
        step = (np.abs(np.diff(depth, axis=axis)) > jump) & both
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        edges |= np.pad(step, pad)
        pad[axis] = (1, 0)
        edges |= np.pad(step, pad)
    distance = cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(distance / max(FEATHER * raster.window.size, 1.0), 0.0, 1.0)


def _cutout_ramp(alpha: np.ndarray, width: float) -> np.ndarray:
    """0 at and outside the cut-out's edge, rising to 1 over ``width`` photo pixels inside it."""
    inside = (alpha > 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    return np.clip(distance / max(width, 1.0), 0.0, 1.0).astype(np.float64)


def blend_with_gutter(image: np.ndarray, covered: np.ndarray, photo: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """``image`` with its covered texels moved toward ``photo`` by ``strength``, and each uncovered texel
    within ``GUTTER`` of them moved toward its nearest covered texel's photo colour by that texel's
    strength: filtering across an island's edge then reads the photo's colour on both sides."""
    result = image.copy()
    result[covered] = image[covered] + strength[:, None] * (photo - image[covered])
    if covered.any() and not covered.all():
        full_photo = np.zeros_like(image)
        full_photo[covered] = photo
        full_strength = np.zeros(covered.shape)
        full_strength[covered] = strength
        distance, (rows, columns) = ndimage.distance_transform_edt(~covered, return_indices=True)
        near = ~covered & (distance <= GUTTER)
        nearest_strength = full_strength[rows[near], columns[near]][:, None]
        result[near] = image[near] + nearest_strength * (full_photo[rows[near], columns[near]] - image[near])
    return result
