"""What a job's views take in memory, counted before the job starts (``jobs/kinds/generate.py``'s preflight).

Views are read, matted and let go one at a time (``given.read_views``), so their peak is the largest one's:
about 290 MB for a 4096 x 4096 view while it is read and matted (measured for issue 66: decoded RGBA, its
float copy for the matting model and the cut-out), some 17 bytes a pixel, and a larger picture is shrunk
to ``readers.images.MAX_SIDE`` a side as it is read. Only each file's header is read here (its size);
a file that is no picture counts nothing: the job says so in its own sentence when it reads it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

from PIL import Image

from ..models.preflight import Need, Phase, Room, check_phases
from ..readers.images import MAX_SIDE

BYTES_PER_PIXEL = 290_000_000 // (4096 * 4096)   # 17: a 4096 x 4096 view read and matted


def view_pixels(path: str | Path) -> int:
    """The pixels a view is read at (its header's size, shrunk to ``MAX_SIDE`` a side); 0 for no picture
    (a FIFO or a device is none: opened, it held the backend for ever before the job could say so)."""
    try:
        if not Path(path).is_file():
            return 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return int(width * scale) * int(height * scale)


def views_phase(paths: Iterable[str | Path]) -> Phase | None:
    """The views' peak as a preflight phase (host memory: they are read and matted on the CPU side), or None
    without views."""
    largest = max((view_pixels(path) for path in paths), default=0)
    if not largest:
        return None
    return Phase("reading the largest view", Need(host=largest * BYTES_PER_PIXEL))


def check_views_memory(views: Mapping[str, Mapping[str, str]], device: Any, room: Room | None = None) -> None:
    """``out_of_memory`` in one sentence, before the job starts, when the largest of a Generate's views
    (name -> side -> picture) cannot be read on this machine at all."""
    phase = views_phase(path for sides in views.values() for path in sides.values())
    if phase is not None:
        check_phases("reading the views", (phase,), device, "give smaller pictures as views, or close other programs",
                     room)


__all__ = ["BYTES_PER_PIXEL", "check_views_memory", "view_pixels", "views_phase"]
