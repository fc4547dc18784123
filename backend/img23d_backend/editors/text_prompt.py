"""What a picture made from text starts from (``generate --prompt``): the template the artist's text is
put in, the picture's side and which image editor may make it (the object's name when no names are given is the
protocol's ``name_from_prompt``, by which the add-on names a run from a picked picture too).

Light to import (the standard library, the protocol, the editors' table: the command line checks a prompt's
side before anything heavy is loaded); the picture itself is ``text_picture``'s.

The template (``PICTURE_TEMPLATE``) asks for what the chain reads well: the object or the scene whole in
the frame, on a plain light background (grounding finds it, matting cuts it out cleanly), in soft even
light (no hard shadows for the shape and the texture to take as form or colour). Its framing comes
before the artist's text: the text encoder reads a bounded number of tokens (512 for FLUX.2 [klein]'s
pipeline, ``max_sequence_length``), so a long text loses its own tail, never the framing. The run record
keeps the artist's text and the template apart (``PromptRecord``).

Only an editor whose row says it makes pictures (``EditorRow.makes_pictures``: FLUX.2 [klein] 4B,
Apache-2.0; its 9B variants are non-commercial and not offered) is used; another is refused in one
sentence naming those that do (``check_maker``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from img23d_protocol import OPTION_RANGES, ErrorCode, ProtocolError

from .table import EDITOR_ROWS, row_of

PICTURE_TEMPLATE = ("A clear picture on a plain light grey background, in soft even light, showing all of "
                    "the following whole inside the frame, nothing cut off at the edges: {text}")
# The picture is a square whose side is the area the image editor paints at (the job's ``edit_size``: a
# crop of the picture is completed at the same area), within that option's range (256 to 2,048: 4
# megapixels, the most the FLUX.2 family is offered at), a multiple of the picture-making editor's latent
# patch (its VAE's 8 times the transformer's 2 x 2 patches: the pipeline cuts a side of another length down).
PICTURE_MULTIPLE = 16
PICTURE_SIDES = OPTION_RANGES["edit_size"]


@dataclass(frozen=True)
class PromptRecord:
    """What the run record keeps of a picture made from text: the artist's text, the template it was put in,
    the text the model read (the two together), the seed and the size it was made at."""

    prompt: str
    template: str
    model_text: str
    seed: int
    size: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "template": self.template, "model_text": self.model_text,
                "seed": self.seed, "size": list(self.size)}


def picture_prompt(text: str) -> str:
    """The text the model reads for the artist's ``text``: ``PICTURE_TEMPLATE`` around it, stripped."""
    return PICTURE_TEMPLATE.format(text=text.strip())


def check_side(side: int) -> int:
    """``side``, the square picture's (0: the model's own), when it is a multiple of ``PICTURE_MULTIPLE`` within
    the editor's area (``edit_size``'s range); ``ProtocolError(bad_request)`` in one sentence naming the nearest
    that is."""
    low, high = int(PICTURE_SIDES.low), int(PICTURE_SIDES.high)
    if side == 0 or (low <= side <= high and side % PICTURE_MULTIPLE == 0):
        return side
    nearest = min(high, max(low, round(side / PICTURE_MULTIPLE) * PICTURE_MULTIPLE))
    raise ProtocolError(ErrorCode.BAD_REQUEST,
                        f"a picture of {side} x {side} pixels cannot be made: its side must be a multiple of "
                        f"{PICTURE_MULTIPLE} from {low:,} to {high:,} (the nearest is {nearest})")


def default_size(working_pixels: int) -> tuple[int, int]:
    """The model's own size: a square of the area its row edits at (1,024 x 1,024 for FLUX.2 [klein] 4B, its
    pipeline's default too; 96 x 96 for its tiny replica), its side cut to ``PICTURE_MULTIPLE``."""
    side = max(PICTURE_MULTIPLE, math.isqrt(working_pixels) // PICTURE_MULTIPLE * PICTURE_MULTIPLE)
    return side, side


def makers() -> list[str]:
    """The editors that make pictures from text, by choice name."""
    return [name for name, row in EDITOR_ROWS.items() if row.makes_pictures]


def check_maker(spec: Any) -> None:
    """``ProtocolError(bad_request)`` in one sentence when the editor ``spec`` (real or a replica) cannot make a
    picture from text."""
    row = row_of(spec)
    if not row.makes_pictures:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the image editor {row.name} edits pictures but does not make one from text: choose "
                            f"--editor {' or '.join(makers())} for a picture from a prompt")
