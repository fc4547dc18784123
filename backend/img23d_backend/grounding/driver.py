"""Grounding, whichever model grounds: the manager's loader for the grounding role (``grounding_loader``: the spec's
model's, ``table.grounder_of``, what it loads held with its code), the one search every job makes (``find``: the
picture and the names in; the model's boxes, in the picture's pixels, and each name's boxes out), the model's own
list of the picture's objects (``name_objects``) and the boxes drawn on the picture (``draw_matches``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..env.room_table import Held, held_loader
from ..models.specs import ModelSpec
from .grounder import Detection, Grounder, GroundingAnswer, GroundingOptions, StopReason
from .matching import TargetMatch, match_targets, one_name_twice
from .table import grounder_of

__all__ = ["Detection", "TargetMatch", "GroundingOptions", "GroundingAnswer", "StopReason", "Found",
           "grounding_loader", "ask", "find", "name_objects", "match_targets", "one_name_twice", "draw_matches",
           "PALETTE"]


def grounding_loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    """The manager's loader for the grounding role: the spec's model's, what it loads held with its code."""
    return held_loader(grounder_of(spec), spec)


def ask(grounder: Held[Grounder], picture: Image.Image, names: list[str], *, options: GroundingOptions,
        cancel: CancelToken, progress: ProgressFn | None = None) -> GroundingAnswer:
    """The loaded model's boxes for ``names`` in ``picture``, in its pixels, and how its answer ended."""
    return grounder.code.find(grounder.model, picture, names, options=options, cancel=cancel, progress=progress)


@dataclass(frozen=True)
class Found:
    """What a search found: the model's answer (every box it gave, how it ended) and each name's boxes."""

    answer: GroundingAnswer
    matches: list[TargetMatch]   # one per name, in the names' order; no boxes: the name was not found


def find(grounder: Held[Grounder], picture: Image.Image, names: list[str], *, options: GroundingOptions,
         cancel: CancelToken, progress: ProgressFn | None = None, keep: str = "largest") -> Found:
    """Where ``names`` are in ``picture``: the model's boxes (``ask``), each given to the name it means
    (``matching``: the largest per name, or with ``keep="all"`` every one, largest first)."""
    answer = ask(grounder, picture, names, options=options, cancel=cancel, progress=progress)
    return Found(answer, match_targets(answer.detections, names, keep=keep))


def name_objects(grounder: Held[Grounder], picture: Image.Image, *, options: GroundingOptions, cancel: CancelToken,
                 progress: ProgressFn | None = None) -> GroundingAnswer:
    """Each distinct object the loaded model sees in ``picture``: a box each, labelled with a short name."""
    return grounder.code.name_objects(grounder.model, picture, options=options, cancel=cancel, progress=progress)


PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


def draw_matches(image: Image.Image, matches: list[TargetMatch]) -> Image.Image:
    """The picture with each name's boxes and label drawn on it, one colour per name."""
    from PIL import ImageDraw

    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    for index, match in enumerate(matches):
        colour = PALETTE[index % len(PALETTE)]
        for number, detection in enumerate(match.detections, start=1):
            x0, y0, x1, y1 = detection.box
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
            label = match.target if len(match.detections) == 1 else f"{match.target} {number}"
            text_box = draw.textbbox((x0, y0), label)
            draw.rectangle((x0, y0, text_box[2] + 4, text_box[3] + 2), fill=colour)
            draw.text((x0 + 2, y0), label, fill=(255, 255, 255))
    return canvas
