"""Reading the user's image into one normal form, whatever it was on disk.

Everything downstream sees 8-bit RGB, or RGBA when the file has a real alpha channel,
with EXIF rotation applied and the longer side at most ``MAX_SIDE``. Every way a file can
be unusable ends here as ``image_unreadable`` with a sentence a user can act on.

Memory stays near what the decoded pixels themselves take, in every mode: the format and size
come from the header before anything else is read (a 4 GB file that is not an image costs
nothing), the decoded size is checked against a limit in bytes (a 16-bit pixel is two bytes,
an RGB pixel four in Pillow's storage), and a big image is converted to 8-bit RGB in bands of
rows, each shrunk at once, never as a full-size copy in another mode. Pillow reads through a
budget: a header may not go on for ever (a PNG chunk that claims 4 GB, a JPEG of junk read
byte by byte), and decoding may not read much more than its pixels can need.

A picture file is at most ``MAX_PICTURE_FILE_BYTES``, the largest file a transfer carries, however
it is read: here (``load_image``), or whole by ``read_picture_file`` for a worker on another
machine (a Ray batch's driver sends the bytes it read and hashed), with the same sentences.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import psutil
from PIL import Image, UnidentifiedImageError

from img23d_protocol import MAX_FILE_BYTES, ErrorCode, ProtocolError
from img23d_protocol.bounded_read import FileTooLarge, NotAFile, read_bounded

from .budgeted_file import BudgetedFile, OverBudget, amount
from .png_data import missing_pixel_data

# A JPEG needs at least a byte for this many pixels: a Huffman-coded flat grey one at quality 1 takes a byte per
# 170, an arithmetic-coded studio shot (a small object on white) one per 5,500 and a flat one per 28,000; the
# lie this catches (64 x 64 pixels' data under a 60,000 x 60,000 header) claims 5 million.
JPEG_PIXELS_PER_BYTE = 1 << 20
MIN_SIDE = 16
# The models' processors resize a picture's shorter side up to their patch size: past this ratio of
# its sides (20000 x 20) that overflows or leaves no patch, so such a picture is refused on reading.
MAX_ASPECT = 200
MAX_SIDE = 4096                  # larger images are downscaled: models work at 1024 or less anyway
MAX_DECODE_BYTES = 2_400_000_000  # refuse to decode beyond this (600 Mpx of RGB, 1.2 Gpx of 16-bit grey)
BAND_PIXELS = 4_000_000          # pixels converted at a time when shrinking a big image
HEADER_READ_BYTES = 64 << 20     # what reading a header may take (Pillow keeps all text chunks: 64 MB)
HEADER_READ_CALLS = 1_000_000    # ... and in how many reads (a JPEG's junk is skipped a byte at a time)
WHOLE_FILE_HEADER_BYTES = 1 << 30  # WebP's reader takes the whole file as its "header"
MAX_PICTURE_FILE_BYTES = MAX_FILE_BYTES  # a picture file, here or sent to another machine: what a transfer carries

# Bytes per pixel in Pillow's own storage; every mode not listed takes four.
_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# EXIF orientation -> the transposition that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
_GREY_MODES = ("1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass
class LoadedImage:
    image: Image.Image          # mode "RGB" or "RGBA"
    source: Path
    original_size: tuple[int, int]
    scale: float                # size of ``image`` / original size (1.0 when not downscaled)
    has_alpha: bool             # a real alpha channel: some pixels transparent, some not
    source_mode: str
    sha256: str = ""            # of the file's bytes as they were read
    permissions: int = 0o777    # the file's permission bits: no copy of it may be readable by more people

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def to_original(self, box: Sequence[float]) -> list[float]:
        """A box in the working picture's pixels in the file's, each axis by its own factor: a shrunk picture's
        height is rounded apart from its width, so one factor put a box on the bottom edge of a 5000 x 3004
        picture past it (and ``--box`` then refused Detect's own box)."""
        across, down = self.original_size[0] / self.size[0], self.original_size[1] / self.size[1]
        return [round(box[0] * across, 2), round(box[1] * down, 2), round(box[2] * across, 2), round(box[3] * down, 2)]

    def to_working(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """A box in the file's pixels in the working picture's (``to_original``'s inverse)."""
        across, down = self.size[0] / self.original_size[0], self.size[1] / self.original_size[1]
        return (box[0] * across, box[1] * down, box[2] * across, box[3] * down)

    def manifest_fields(self) -> dict[str, Any]:
        """What a run's manifest keeps of the picture it read: which bytes (the artist may change or delete the file
        after Generate), its size as read and as it was, and how it was read."""
        return {"sha256": self.sha256, "size": list(self.size), "original_size": list(self.original_size),
                "scale": self.scale, "has_alpha": self.has_alpha, "source_mode": self.source_mode}


@dataclass(frozen=True)
class PictureFile:
    """A picture file's bytes as one read found them, and their sha256."""

    data: bytes = field(repr=False)
    sha256: str
    permissions: int = 0o777    # the file's permission bits: no copy of it may be readable by more people


def read_picture_file(path: str | Path, limit: int | None = None) -> PictureFile:
    """The whole file at ``path`` and its sha256, from one bounded read (``img23d_protocol.bounded_read``: a
    FIFO put where the picture was does not hold the batch until someone writes to it), for a worker that has not
    this machine's files: ``image_unreadable`` in ``load_image``'s sentence when it is gone, not a file, cannot be
    read or is over ``limit`` (default ``MAX_PICTURE_FILE_BYTES``). Its contents are not checked: the job that
    decodes them does that."""
    path = Path(path)
    limit = MAX_PICTURE_FILE_BYTES if limit is None else limit
    try:
        read = read_bounded(path, limit)
    except NotAFile as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path} is not a file") from exc
    except FileTooLarge as exc:  # no size: it grew while it was read, and limit + 1 bytes were
        raise _too_large(path, limit + 1 if exc.size is None else exc.size, limit) from exc
    except FileNotFoundError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"no file at {path}", str(exc)) from exc
    except PermissionError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} cannot be read: permission denied",
                            str(exc)) from exc
    except OSError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} cannot be read: {exc.strerror or exc}",
                            str(exc)) from exc
    return PictureFile(data=read.data, sha256=hashlib.sha256(read.data).hexdigest(), permissions=read.permissions)


def _check_file_size(path: Path, size: int, limit: int) -> None:
    if size > limit:
        raise _too_large(path, size, limit)


def _too_large(path: Path, size: int, limit: int) -> ProtocolError:
    return ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is {amount(size)}; a picture file may be at most "
                                                     f"{amount(limit)}")


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
                with open(path, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    _check_file_size(path, info.st_size, MAX_PICTURE_FILE_BYTES)
                    image = _open_and_decode(path, BudgetedFile(handle), max_side)
                    image.permissions = stat.S_IMODE(info.st_mode)
            finally:
                Image.MAX_IMAGE_PIXELS = previous_limit
    except ProtocolError:
        raise
    except OverBudget as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is not an image file Pillow can read "
                            f"({exc})", str(exc)) from exc
    except PermissionError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} cannot be read: permission denied",
                            str(exc)) from exc
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is not an image file Pillow can read",
                            str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt data
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} could not be decoded (damaged file?)",
                            str(exc)) from exc
    except MemoryError as exc:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is too large to decode in memory") from exc
    return image


def _open_and_decode(path: Path, handle: "BudgetedFile", max_side: int) -> LoadedImage:
    # Image.open reads only the header: whether it is an image, its format, mode and size.
    whole_file_header = handle.peek_start(12)[8:12] == b"WEBP"
    handle.allow(WHOLE_FILE_HEADER_BYTES if whole_file_header else HEADER_READ_BYTES, HEADER_READ_CALLS,
                 "its header")
    with Image.open(handle) as opened:
        width, height = opened.size
        if width < MIN_SIDE or height < MIN_SIDE:
            raise ProtocolError(ErrorCode.IMAGE_UNREADABLE,
                                f"{path.name} is {width}x{height} pixels; need at least {MIN_SIDE}x{MIN_SIDE}")
        if max(width, height) > MAX_ASPECT * min(width, height):
            raise ProtocolError(ErrorCode.IMAGE_UNREADABLE,
                                f"{path.name} is {width}x{height} pixels: one side is more than {MAX_ASPECT} times "
                                f"the other, which no model here can see; crop it to the object")
        source_mode = opened.mode
        if opened.format == "JPEG":
            _check_jpeg_bytes(path, handle, width, height)
        # JPEG can decode straight at a reduced scale: no full-size buffer for huge photos.
        opened.draft("RGB", (max_side, max_side))
        _check_decode_size(path, opened)
        # Only now: a PNG decodes all its pixels to find an EXIF chunk that follows them.
        # Pillow turns a TIFF itself (its size is already the turned one, its load transposes): not twice.
        orientation = 1 if opened.format == "TIFF" else opened.getexif().get(0x0112, 1)
        # EXIF orientations 5-8 turn the picture a quarter: boxes live in the turned frame.
        original_size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        # Compressed pixels take fewer bytes than decoded ones: twice that, and room for metadata.
        handle.allow(handle.used + 2 * _decoded_bytes(opened) + HEADER_READ_BYTES, None, "its data")
        opened.load()
        if opened.format == "PNG":
            _check_pixel_data(path, handle)
        image = _shrink_to_8_bit(opened, max_side)
    image = image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image
    has_alpha = image.mode == "RGBA" and _alpha_is_real(image)
    if image.mode == "RGBA" and not has_alpha:
        image = image.convert("RGB")
    scale = image.size[0] / original_size[0]
    return LoadedImage(image=image, source=path, original_size=original_size, scale=scale,
                       has_alpha=has_alpha, source_mode=source_mode, sha256=_sha256(handle))


def _decoded_bytes(opened: Image.Image) -> int:
    width, height = opened.size  # after draft(): what will really be decoded
    return width * height * _STORAGE_BYTES.get(opened.mode, 4)


def _check_decode_size(path: Path, opened: Image.Image) -> None:
    """Refuse, before decoding, an image whose pixels would not fit: by bytes, not pixels."""
    width, height = opened.size
    needed = _decoded_bytes(opened)
    what = f"{path.name} is {width}x{height} pixels of {opened.mode} ({amount(needed)} decoded)"
    if needed > MAX_DECODE_BYTES:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{what}; at most {amount(MAX_DECODE_BYTES)} are read")
    available = psutil.virtual_memory().available
    if 2 * needed > available:  # the pixels, and room to shrink them
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{what}; only {amount(available)} of memory are free")


def _check_pixel_data(path: Path, handle: "BudgetedFile") -> None:
    # The same open file Pillow decoded (as _sha256 reads it): Pillow fills what never came with black.
    short = missing_pixel_data(handle.raw)
    if short is not None:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is cut short: its pixel data ends "
                            f"{short.fraction:.0%} of the way through the picture (damaged or incomplete "
                            f"file?)", f"{short.found} of {short.needed} bytes of pixel data")


def _check_jpeg_bytes(path: Path, handle: "BudgetedFile", width: int, height: int) -> None:
    """Refuse a JPEG too small for the picture its header declares: libjpeg fills what never came with grey and
    only warns (64 x 64 pixels' data under a 60,000 x 60,000 header read as a grey picture). The bound is far
    below any real JPEG's (``JPEG_PIXELS_PER_BYTE``)."""
    raw = handle.raw
    where = raw.tell()
    size = raw.seek(0, os.SEEK_END)  # the file's, or the bytes' a batch read into memory
    raw.seek(where)
    if size * JPEG_PIXELS_PER_BYTE < width * height:
        raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{path.name} is cut short: its {size:,} bytes cannot hold "
                            f"the {width:,} x {height:,} pixels its header declares (damaged or incomplete file?)")


def _sha256(handle: "BudgetedFile") -> str:
    # The same open file Pillow decoded: the same bytes even if the path was replaced meanwhile.
    raw = handle.raw
    raw.seek(0)
    digest = hashlib.sha256()
    while chunk := raw.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


# --- shrinking and converting --------------------------------------------------------------------

def _shrink_to_8_bit(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` as 8-bit L, RGB or RGBA (L becomes RGB last), longer side at most ``max_side``.

    The image is converted in bands of rows, each box-reduced at once by a whole factor (rows in
    multiples of it, so the result equals reducing the whole) that leaves at most twice the
    target; Lanczos takes that to the final size. No full-size copy in another mode exists.
    """
    width, height = image.size
    longest = max(width, height)
    levels = _grey_levels(image)
    reduce_by = max(1, math.ceil(longest / (2 * max_side)))
    rows = reduce_by * max(1, BAND_PIXELS // (width * reduce_by))
    reduced: Image.Image | None = None
    for top in range(0, height, rows):
        band = _to_8_bit(image.crop((0, top, width, min(height, top + rows))), levels)
        band = band.reduce(reduce_by) if reduce_by > 1 else band
        if reduced is None:
            reduced = Image.new(band.mode, (math.ceil(width / reduce_by), math.ceil(height / reduce_by)))
        reduced.paste(band, (0, top // reduce_by))
    assert reduced is not None
    if longest > max_side:
        factor = max_side / longest
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        reduced = reduced.resize(size, Image.Resampling.LANCZOS)
    return _rgb(reduced)


def _rgb(image: Image.Image) -> Image.Image:
    return image.convert("RGB") if image.mode == "L" else image


def _grey_levels(image: Image.Image) -> tuple[float, float] | None:
    """The value range that maps to 0..255 for 16/32-bit and float grey, from the whole image."""
    mode = image.mode
    if mode.startswith("I;16"):
        return 0.0, 65535.0  # scale by the format's range, not by clipping
    if mode == "I":
        low, high = image.getextrema()
        return 0.0, 65535.0 if high > 255 else 255.0  # 32-bit ints: as 16-bit when they use the range
    if mode == "F":
        low, high = math.inf, -math.inf
        width, height = image.size
        rows = max(1, BAND_PIXELS // width)
        for top in range(0, height, rows):  # band by band: NaN-aware, no full-size float64 copy
            band = np.asarray(image.crop((0, top, width, min(height, top + rows))), dtype=np.float32)
            if np.isfinite(band).any():
                low = min(low, float(np.nanmin(band)))
                high = max(high, float(np.nanmax(band)))
        return (low, high) if low <= high else (0.0, 1.0)
    return None


def _to_8_bit(image: Image.Image, levels: tuple[float, float] | None) -> Image.Image:
    """One image (or band) as 8-bit L (grey modes), RGB or RGBA."""
    mode = image.mode
    if levels is not None:
        low, high = levels
        array = np.asarray(image, dtype=np.float64)  # a band at a time: bounded
        span = high - low if high > low else 1.0
        grey = np.clip((np.nan_to_num(array, nan=low) - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L")
    if mode in ("L", "RGB") and "transparency" in image.info:
        # A tRNS chunk's key colour (what optipng makes of an RGBA cut-out whose alpha is 0 or 255): the
        # artist's cut-out, read as one without, was matted again.
        return image.convert("RGBA")
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode in _GREY_MODES:  # "1": grey levels appear where pixels are averaged
        return image.convert("L")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in _ALPHA_MODES:
        return image.convert("RGBA")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def _alpha_is_real(image: Image.Image) -> bool:
    """True when the alpha channel actually separates something from a background."""
    alpha = np.asarray(image.getchannel("A"))
    transparent = np.count_nonzero(alpha < 128)
    # All opaque: a plain RGB saved as RGBA. All transparent: a broken export; matting will do better.
    # bool(): numpy 2 returns numpy integers here, and a numpy bool is not JSON.
    return bool(0 < transparent < alpha.size and np.count_nonzero(alpha >= 128) > 0)
