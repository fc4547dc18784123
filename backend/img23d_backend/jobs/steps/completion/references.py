"""A name's views as the image editor's references when it is completed (issue 55 item 6): which of
its sides go (``chosen``), and each view as the editor is shown it (``on_white``).

The editor is shown each view cut out, on white, trimmed to the object: not the photo as taken. It
is asked for the object "on a plain white background", and a picture it is given is something to
draw from: a photo's own background (another room, the hand holding the object, the table under
it) would be a second scene to copy into the completed front, or be read as part of the same
object. Cut out, each view shows the object alone and as large as its canvas allows.

The editor takes a few pictures at most (``EditorOptions.pictures``: the default editor 4, the crop and
three views; the large one 3, the crop and two). When a name has more views than there is room
for, the back goes first: seen from behind, an object shows the outline it shows from the front,
mirrored, which is what completion redraws where something hides it; the left and right show its
depth. The order the views are given in is the order the instruction names them in.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

PREFERENCE = ("back", "left", "right")  # which sides go first when the editor has room for fewer
WHITE = (255, 255, 255)
OPAQUE = 128  # alpha from which a pixel is the object's, for trimming


def chosen(sides: Sequence[str], room: int) -> tuple[str, ...]:
    """The sides (of ``sides``) the editor is given, at most ``room``, in ``PREFERENCE`` order."""
    return tuple(side for side in PREFERENCE if side in sides)[:max(0, room)]


def on_white(cutout: Image.Image) -> Image.Image | None:
    """A view's cut-out (RGBA) over white, trimmed to the object's box (RGB); None when its matte holds
    nothing of an object."""
    rgba = cutout.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    rows, columns = np.nonzero(alpha >= OPAQUE)
    if rows.size == 0:
        return None
    white = Image.new("RGBA", rgba.size, WHITE + (255,))
    box = (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
    return Image.alpha_composite(white, rgba).convert("RGB").crop(box)


def described(sides: Sequence[str]) -> str:
    """The sides as the instruction names them: "back", "back and left", "back, left and right"."""
    named = list(sides)
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
