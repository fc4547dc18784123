"""Indexed part masks: one part per non-zero value, the picture's size. Read from the artist's file, made from
the names' cut-outs, and drawn in colour for the run folder and the add-on's preview. numpy and Pillow only.

An artist's mask comes as painting programs save one: a palette picture (its indices are the values where index
0 is black, as segmentation tools write them; else its colours), a grey picture (8 or 16 bits: its levels), or a
colour picture (each colour a part, black none); a pixel more than half transparent is no part. It is never
resampled smoothly: a value is a label, so a mask on a downscaled picture is scaled by nearest neighbour.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from ..readers.images import read_picture_file
from ..grounding.driver import PALETTE

ALPHA_THRESHOLD = 0.5   # a pixel belongs to a name's cut-out where its alpha is at least this
# A mask is labels, read whole at its own size (never shrunk as a picture is): 8192² pixels at most, 512 MB
# as the int64 array the part loop reads.
MAX_MASK_PIXELS = 8192 * 8192


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def read_mask(path: str | Path) -> np.ndarray:
    """The mask file at ``path`` as [H, W] integers (0: no part); one sentence for a file that is none."""
    picture = read_picture_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(picture.data))
            if opened.size[0] * opened.size[1] > MAX_MASK_PIXELS:
                raise _bad(f"the mask {Path(path).name} is {opened.size[0]} x {opened.size[1]} pixels: at most "
                           f"{MAX_MASK_PIXELS:,} pixels in all")
            opened.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _bad(f"the mask {Path(path).name} is not a picture Pillow can read ({exc})") from exc
    return mask_values(opened)


def mask_values(picture: Image.Image) -> np.ndarray:
    """A picture's part values: a palette's indices (where index 0 is black and none is transparent, as
    segmentation tools write them), a grey picture's levels, or one value per colour (black none); a pixel
    more than half transparent is no part. A palette of another order is read by its colours: one whose
    index 0 was red lost its red part and made the black background one; and a colour mask painted on a
    transparent layer made its hidden white background a part."""
    if picture.mode == "P" and not _indices_are_values(picture):
        picture = picture.convert("RGBA")
    if picture.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
        return np.asarray(picture if picture.mode != "1" else picture.convert("L"), dtype=np.int64)
    if picture.mode in ("LA", "PA"):
        values = np.asarray(picture.getchannel(0), dtype=np.int64)
        return np.where(np.asarray(picture.getchannel(1)) >= 128, values, 0)
    rgba = np.asarray(picture.convert("RGBA"), dtype=np.int64)
    packed = np.where(rgba[..., 3] >= 128, (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2], 0)
    colours, index = np.unique(packed, return_inverse=True)
    values = index.reshape(packed.shape) + (0 if colours[0] == 0 else 1)  # black (or see-through) is no part
    return values.astype(np.int64)


def _indices_are_values(picture: Image.Image) -> bool:
    """Whether a palette picture's indices are its parts: its index 0 black, no index transparent."""
    palette = picture.getpalette() or [0, 0, 0]
    return list(palette[:3]) == [0, 0, 0] and "transparency" not in picture.info


def check_mask(mask: np.ndarray, size: tuple[int, int], most: int, name: str = "the mask") -> np.ndarray:
    """``mask`` checked against the picture's original ``size`` (width, height): one sentence for another size,
    no part at all, or more parts than the model makes (``most``)."""
    height, width = mask.shape[:2]
    if (width, height) != tuple(size):
        raise _bad(f"{name} is {width} x {height} pixels and the picture {size[0]} x {size[1]}: they must be "
                   "the same size")
    values = np.unique(mask)
    count = int((values != 0).sum())
    if count == 0:
        raise _bad(f"{name} marks no part: every value in it is zero")
    if count > most:
        raise _bad(f"{name} has {count} values, and the parts model makes at most {most} parts")
    return mask


def scaled(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` at ``size`` (width, height) by nearest neighbour, as the picture the model reads was scaled."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    rows = np.minimum((np.arange(size[1]) + 0.5) * mask.shape[0] / size[1], mask.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(size[0]) + 0.5) * mask.shape[1] / size[0], mask.shape[1] - 1).astype(int)
    return mask[rows][:, cols]


def from_alphas(alphas: list[np.ndarray | None], inside: np.ndarray | None = None) -> np.ndarray:
    """An indexed mask from each name's alpha (0..1, the picture's size; None: the name was not found, at least
    one found): value ``i + 1`` where name ``i`` is the strongest at ``ALPHA_THRESHOLD`` or more, and only
    ``inside`` the object. Where alphas tie (two opaque mattes: a door's, and the house's round it), the name
    whose matte covers less wins: the part within the whole. The first name listed won, so "house, door" gave
    the door nothing, and "door, house" gave it its pixels."""
    shape = next(alpha.shape for alpha in alphas if alpha is not None)
    stack = np.stack([alpha if alpha is not None else np.zeros(shape) for alpha in alphas])
    smallest_first = np.argsort(stack.sum(axis=(1, 2)), kind="stable")
    strongest = smallest_first[stack[smallest_first].argmax(axis=0)]
    mask = np.where(stack.max(axis=0) >= ALPHA_THRESHOLD, strongest + 1, 0)
    if inside is not None:
        mask[~inside] = 0
    return mask.astype(np.int64)


def coloured(mask: np.ndarray) -> Image.Image:
    """The mask drawn for people: each value in the grounding overlay's colours (by rank), no part transparent."""
    picture = np.zeros((*mask.shape, 4), dtype=np.uint8)
    for rank, value in enumerate(v for v in np.unique(mask) if v != 0):
        picture[mask == value] = (*PALETTE[rank % len(PALETTE)], 255)
    return Image.fromarray(picture, "RGBA")


__all__ = ["ALPHA_THRESHOLD", "check_mask", "coloured", "from_alphas", "mask_values", "read_mask", "scaled"]
