"""Reading the user's image into one normal form, whatever it was on disk.

Everything downstream sees 8-bit RGB, or RGBA when the file has a real alpha channel,
with EXIF rotation applied and the longer side at most ``MAX_SIDE``. Every way a file can
be unusable ends here as ``image_unreadable`` with a sentence a user can act on.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .protocol import ErrorCode, ProtocolError

MIN_SIDE = 16
MAX_SIDE = 4096          # larger images are downscaled: models work at 1024 or less anyway
MAX_PIXELS = 600_000_000  # refuse to decode beyond this (about 1.8 GB as RGB)


@dataclass
class LoadedImage:
    image: Image.Image          # mode "RGB" or "RGBA"
    source: Path
    original_size: tuple[int, int]
    scale: float                # size of ``image`` / original size (1.0 when not downscaled)
    has_alpha: bool             # a real alpha channel: some pixels transparent, some not
    source_mode: str
    sha256: str = ""            # of the file's bytes as they were read

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def load_image(path: str | Path, max_side: int = MAX_SIDE) -> LoadedImage:
    """Open, validate and normalise an image file."""
    path = Path(path)
    if not path.exists():
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"no file at {path}")
    if not path.is_file():
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path} is not a file")
    try:
        with warnings.catch_warnings():
            # Pillow's decompression-bomb guard is for untrusted web input; we apply our own limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                image = _open_and_decode(path, max_side)
            finally:
                Image.MAX_IMAGE_PIXELS = previous_limit
    except ProtocolError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is not an image file Pillow can read",
                            str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} could not be decoded (damaged file?)",
                            str(exc)) from exc
    except MemoryError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is too large to decode in memory") from exc
    return image


def _open_and_decode(path: Path, max_side: int) -> LoadedImage:
    # Read the bytes once: the hash and the decode see the same file even if it changes meanwhile.
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        if width < MIN_SIDE or height < MIN_SIDE:
            raise ProtocolError(ErrorCode.IMAGE_UNREADABLE,
                                f"{path.name} is {width}x{height} pixels; need at least {MIN_SIDE}x{MIN_SIDE}")
        if width * height > MAX_PIXELS:
            raise ProtocolError(ErrorCode.IMAGE_UNREADABLE,
                                f"{path.name} is {width}x{height} pixels; at most {MAX_PIXELS:,} pixels are read")
        source_mode = opened.mode
        # EXIF orientations 5-8 turn the picture a quarter: boxes live in the turned frame.
        turned = opened.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        original_size = (height, width) if turned else (width, height)
        # JPEG can decode straight at a reduced scale: no full-size buffer for huge photos.
        opened.draft("RGB", (max_side, max_side))
        opened.load()
        image = ImageOps.exif_transpose(opened)
    if image.mode in _RESAMPLE_BEFORE_CONVERT:
        # Shrink first: converting a huge grey image to RGB would triple its memory, and
        # resampling three channels instead of one triples the time.
        image = _downscale(image, max_side)
    image = _to_8bit_rgb_or_rgba(image)
    has_alpha = image.mode == "RGBA" and _alpha_is_real(image)
    if image.mode == "RGBA" and not has_alpha:
        image = image.convert("RGB")
    image = _downscale(image, max_side)
    scale = image.size[0] / original_size[0]
    return LoadedImage(image=image, source=path, original_size=original_size, scale=scale,
                       has_alpha=has_alpha, source_mode=source_mode, sha256=hashlib.sha256(data).hexdigest())


# Modes Pillow resamples with the requested filter and that need no rescaling of values.
_RESAMPLE_BEFORE_CONVERT = ("L", "LA", "RGB", "RGBA")


def _downscale(image: Image.Image, max_side: int) -> Image.Image:
    longest = max(image.size)
    if longest <= max_side:
        return image
    factor = max_side / longest
    new_size = (max(1, round(image.size[0] * factor)), max(1, round(image.size[1] * factor)))
    # reducing_gap=2 (Pillow's thumbnail default): an integer box reduce first, then Lanczos.
    return image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _to_8bit_rgb_or_rgba(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grey: scale to 8 bits by the actual range of the format, not by clipping.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        span = hi - lo if hi > lo else 1.0
        grey = np.clip((np.nan_to_num(array, nan=lo) - lo) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return image


def _alpha_is_real(image: Image.Image) -> bool:
    """True when the alpha channel actually separates something from a background."""
    alpha = np.asarray(image.getchannel("A"))
    transparent = np.count_nonzero(alpha < 128)
    # All opaque: a plain RGB saved as RGBA. All transparent: a broken export; matting will do better.
    # bool(): numpy 2 returns numpy integers here, and a numpy bool is not JSON.
    return bool(0 < transparent < alpha.size and np.count_nonzero(alpha >= 128) > 0)
