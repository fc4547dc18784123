"""AutoPartGen's part loop: ``generate_parts(request, networks, progress, cancel)`` -> one mesh per part.

As the release runs it (facebookresearch/AutoPartGen, ``autopartgen.py``'s ``_run``, read only):

1. features of the picture (of a black one without a picture) and of the black picture (``dropped``);
2. the whole object's latent: the given mesh encoded (fitted into [-1, 1] first), or drawn from the
   picture with guidance 7; times the scale factor, it is the history's first entry;
3. the history's second entry starts as the encoding of an empty surface (all-zero points);
4. each part: image features [whole; part's masked picture] with a mask, [whole; dropped] without;
   three guided passes per step (``denoise.sample_part``); without a mask the loop stops when the new
   latent's mean magnitude is under 0.1 and a part whose surface voxels overlap the parts so far by more
   than 0.3 (or that decodes to nothing) is drawn again with the seed + 1009 x try, at most 3 more tries;
   with a mask, one part per region, bottom to top then left to right, no stop and no overlap check;
5. each accepted part decoded, cleaned, and the history's second entry re-encoded from the union of the
   parts so far (not after the last part: nothing reads it); at the end each part moved back into the input
   mesh's frame.

Every part draws from the same seed (the release's part seed stride is 0): the history makes them differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from ...env.job_control import CancelToken
from ...surfaces.volume import GridStats
from ..part import PartMesh, PartProgress, PartsRequest
from .conditioner import ImageConditioner, foreground_box, prepare
from .denoise import sample_part, sample_whole
from .guidance import MODES, mode
from .loader import AutoPartGenNetworks
from .sampling import surface_cloud, surface_samples
from .surface import OVERLAP_LIMIT, Frame, clean, decode, overlap

STOP_MAGNITUDE = 0.1
RETRIES = 3
RETRY_SEED_STRIDE = 1009


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def mask_regions(mask: np.ndarray) -> list[np.ndarray]:
    """One boolean mask per non-zero value, ordered bottom to top (lowest box bottom first), then left to right."""
    return [mask == value for value in region_values(mask)]


def region_values(mask: np.ndarray) -> list[int]:
    """The mask's non-zero values in the order the model takes their regions: bottom to top, then left to right."""
    keyed = []
    for value in np.unique(mask):
        if value == 0:
            continue
        ys, xs = np.nonzero(mask == value)
        keyed.append(((-int(ys.max()), int(xs.min())), int(value)))
    return [value for _, value in sorted(keyed)]


def part_name(names: tuple[str, ...], index: int) -> str:
    """The ``index``-th name (from 0), or ``part_01``, ``part_02``... past the names given, none of them a name
    given (``--names part_02`` with a mask of three values made two parts called part_02)."""
    if index < len(names):
        return names[index]
    given = {name.casefold() for name in names}
    name, n = f"part_{index + 1:02d}", 2
    while name.casefold() in given:
        name, n = f"part_{index + 1:02d}_{n}", n + 1
    return name


def check_request(request: PartsRequest) -> None:
    """``bad_request`` in one sentence for a request the loop cannot run."""
    if request.image is None and request.vertices is None:
        raise _bad("give a picture, a mesh of the whole object, or both")
    if request.max_parts < 1:
        raise _bad(f"at most {request.max_parts} parts were asked for: ask for at least one")
    if len(request.names) > request.max_parts:
        raise _bad(f"{len(request.names)} names were given for at most {request.max_parts} parts")
    if request.grid < 8:
        raise _bad(f"a decoding grid of {request.grid} cells is too coarse: use 256 or 512")
    if request.vertices is not None:
        try:
            surface_samples(request.vertices, request.faces if request.faces is not None else np.zeros((0, 3), int),
                            1, np.random.default_rng(0))
        except (ValueError, IndexError) as exc:
            raise _bad("the mesh has no surface: its triangles have no area") from exc
    if request.mask is not None:
        if request.image is None:
            raise _bad("a mask needs the picture it was drawn on")
        height, width = np.asarray(request.mask).shape[:2]
        if (width, height) != tuple(request.image.size):
            raise _bad(f"the mask is {width} x {height} pixels and the picture {request.image.size[0]} x "
                       f"{request.image.size[1]}: they must be the same size")
        if not np.any(request.mask):
            raise _bad("the mask marks no part: every value in it is zero")


def _masked_pictures(image: Image.Image, mask: np.ndarray, names: tuple[str, ...]
                     ) -> tuple[list[tuple[str, Image.Image]], tuple | None]:
    """Each region's name and picture (the object on white with everything outside the region white), in the
    model's order; names go to the mask's values in increasing order (the first name to the smallest)."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:4] / 255.0 if image.mode in ("RGBA", "LA") else np.ones_like(rgba[..., 3:4])
    rgb = (rgba[..., :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    box = foreground_box(rgba[..., 3]) if image.mode in ("RGBA", "LA") else None
    mask = np.asarray(mask)
    rank = {int(value): index for index, value in enumerate(v for v in np.unique(mask) if v != 0)}
    pictures = []
    for value in region_values(mask):
        picture = rgb.copy()
        picture[mask != value] = 255
        pictures.append((part_name(names, rank[value]), Image.fromarray(picture)))
    return pictures, box


def _encode(networks: AutoPartGenNetworks, meshes: list[tuple[np.ndarray, np.ndarray]], seed: int) -> torch.Tensor:
    """The scaled latent of a union of meshes (in [-1, 1]); of an empty surface when there are none."""
    cfg = networks.config
    if meshes:
        offsets = np.cumsum([0] + [len(v) for v, _ in meshes[:-1]])
        vertices = np.concatenate([v for v, _ in meshes])
        faces = np.concatenate([f + o for (_, f), o in zip(meshes, offsets)])
        cloud = surface_cloud(vertices, faces, cfg.surface_samples, cfg.fps_pool, cfg.surface_points, seed,
                              networks.device)
    else:
        cloud = torch.zeros((cfg.surface_points, 6), device=networks.device)
    with torch.no_grad():
        latent = networks.vae.encode(cloud[None].to(networks.device), torch.Generator().manual_seed(seed))
    return latent.float() * cfg.dit.scale_factor


@dataclass(frozen=True)
class Conditioning:
    """What the image conditioner gives the loop, all it needs of it: the dropped (black) picture's features,
    the whole object's (the dropped ones without a picture) and each mask region's, named, in the model's order."""

    dropped: torch.Tensor
    whole: torch.Tensor
    parts: list[tuple[str, torch.Tensor]] | None


def condition(request: PartsRequest, conditioner: ImageConditioner) -> Conditioning:
    """The conditioner's one phase: every picture the loop will read, read now (so it can be released after)."""
    check_request(request)
    size = conditioner.config.image_size
    with torch.no_grad():
        dropped = conditioner.dropped().float()
        whole = conditioner.features(prepare(request.image, size)[None]).float() if request.image else dropped
        parts = None
        if request.mask is not None:
            pictures, box = _masked_pictures(request.image, request.mask, request.names)
            parts = [(name, conditioner.features(prepare(p, size, box)[None]).float()) for name, p in pictures]
    return Conditioning(dropped, whole, parts)


def generate_parts(request: PartsRequest, networks: AutoPartGenNetworks,
                   progress: Callable[[PartProgress], None], cancel: CancelToken,
                   conditioning: Conditioning | None = None) -> list[PartMesh]:
    """The request's parts, each a mesh in the input mesh's frame (the model's [-1, 1] without one);
    ``conditioning`` read before (``condition``), else read here with ``networks.conditioner``."""
    check_request(request)
    started = time.monotonic()
    if conditioning is None:
        if networks.conditioner is None:
            raise ValueError("the part loop needs the conditioner, or what it read (conditioning)")
        conditioning = condition(request, networks.conditioner)
    dropped, whole, part_features = conditioning.dropped, conditioning.whole, conditioning.parts
    frame = Frame.of(np.asarray(request.vertices, np.float64)) if request.vertices is not None else None
    if frame is not None:
        whole_latent = _encode(networks, [(frame.into(request.vertices), np.asarray(request.faces))], request.seed)
    else:
        progress(PartProgress(0, time.monotonic() - started, 0.0))
        whole_latent = sample_whole(networks, whole, dropped, request.seed, request.steps, cancel) \
            * networks.config.dit.scale_factor
    guidance = MODES[mode(request.image is not None, frame is not None, part_features is not None)]
    total = len(part_features) if part_features is not None else request.max_parts
    history = _encode(networks, [], request.seed)
    both_dropped = torch.cat([dropped, dropped], -1)
    parts: list[tuple[str, tuple[np.ndarray, np.ndarray], str]] = []
    for index in range(total):
        name, features = part_features[index] if part_features is not None else \
            (part_name(request.names, len(parts)), dropped)
        image = torch.cat([whole, features], -1)
        geometry = torch.stack([whole_latent, history], dim=1)
        accepted = None
        for attempt in range(1 if part_features is not None else 1 + RETRIES):
            seed = request.seed + attempt * RETRY_SEED_STRIDE
            latent = sample_part(networks, image, both_dropped, geometry, guidance, seed, request.steps, cancel)
            if part_features is None and float(latent.abs().mean()) < STOP_MAGNITUDE:
                return _finish(parts, frame)   # the model's end of the sequence
            stats = GridStats()
            mesh = decode(networks, latent, request.grid, stats)
            if mesh is None:
                continue
            if part_features is None and overlap(mesh, [m for _, m, _ in parts], request.seed + index) > OVERLAP_LIMIT:
                continue
            accepted = clean(*mesh)
            break
        if accepted is None:
            if part_features is None:
                break       # no new part after every try: the release stops here too
            continue        # a region that decodes to nothing: its part is left out
        parts.append((name, accepted, stats.stopped))
        elapsed = time.monotonic() - started
        progress(PartProgress(len(parts), elapsed, elapsed / (index + 1) * total))
        if index + 1 < total:
            history = _encode(networks, [m for _, m, _ in parts], request.seed + index + 1)
    return _finish(parts, frame)


def _finish(parts: list[tuple[str, tuple[np.ndarray, np.ndarray], str]], frame: Frame | None) -> list[PartMesh]:
    return [PartMesh(i, name, frame.back(v) if frame is not None else v, f, note)
            for i, (name, (v, f), note) in enumerate(parts)]
